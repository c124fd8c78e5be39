"""Runs and node handles, inside the caller's transaction (monitors and retrain link in here)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session

from governance.audit.service import record_audit
from governance.core.clock import Clock, SystemClock, isoformat, to_utc
from governance.core.cursor import decode_cursor, encode_cursor
from governance.core.db import Database
from governance.core.errors import InvalidInput, NotFound
from governance.core.ids import new_id
from governance.core.principal import Principal
from lineage.registry import resolve_dataset_version, resolve_model_version
from lineage.schemas import EdgeKind, Job, NodeKind, NodeRef, Run, RunPage, RunReport, RunState
from lineage.serving import endpoint_node
from lineage.stores import sql_stores
from lineage.stores.runs import RunCursor

_WALL = SystemClock()


def endpoint_ref(session: Session, *, project: str, name: str) -> NodeRef:
    """Handle on an endpoint node, for ``record_run`` inputs and outputs."""
    return endpoint_node(sql_stores(session).nodes, project, name).ref


def dataset_version_ref(
    session: Session,
    *,
    project: str,
    name: str,
    version: str | None = None,
    namespace: str | None = None,
) -> NodeRef:
    """Handle on a dataset version (the newest when ``version`` is None)."""
    store = sql_stores(session).registry
    found = resolve_dataset_version(store, project, name, version, namespace)
    return NodeRef(
        id=found.id,
        project=found.project,
        kind=NodeKind.dataset_version,
        namespace=found.namespace,
        name=found.name,
        version=found.version,
    )


def model_version_ref(
    session: Session,
    *,
    project: str,
    model: str,
    version: int | None = None,
    alias: str | None = None,
) -> NodeRef:
    """Handle on a model version by number or alias (the newest when neither is given)."""
    found = resolve_model_version(sql_stores(session).registry, project, model, version, alias)
    return NodeRef(
        id=found.id,
        project=found.project,
        kind=NodeKind.model_version,
        namespace=found.project,
        name=found.model,
        version=str(found.version),
    )


def node_ref(session: Session, *, project: str, node_id: UUID) -> NodeRef:
    """Handle on any node of the project by id."""
    found = sql_stores(session).nodes.find_by_id(node_id, project)
    if found is None:
        raise NotFound("node not found")
    return found.ref


def record_run(
    session: Session,
    *,
    project: str,
    job_namespace: str,
    job_name: str,
    run_id: str | UUID,
    state: RunState,
    inputs: Sequence[NodeRef] = (),
    outputs: Sequence[NodeRef] = (),
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
    facets: dict[str, Any] | None = None,
    parameters: dict[str, Any] | None = None,
    code_version: str | None = None,
    as_history: bool = False,
    actor: Principal | str,
    clock: Clock = _WALL,
) -> Run:
    """Record (or update) a run with its inputs and outputs inside the caller's transaction.

    With ``as_history`` the inputs and outputs are linked to the job node (one edge each,
    however many runs) and the run only names them: the job is one node of the graph and its
    runs are its history, which suits jobs that run over and over (monitors). A job's runs
    recorded earlier with edges of their own have those edges moved onto the job then.
    """
    stores = sql_stores(session)
    now = clock.now()
    for ref in (*inputs, *outputs):
        if ref.project != project:
            raise InvalidInput("inputs and outputs must belong to the run's project")
    job, _ = stores.nodes.ensure(
        project=project, kind=NodeKind.job, namespace=job_namespace, name=job_name, at=now
    )
    if as_history:
        for e in stores.runs.keep_history(job.id):
            stores.edges.link(project=project, src=e.src, dst=e.dst, kind=e.kind, at=e.valid_from)
    run, _ = stores.nodes.ensure(
        project=project,
        kind=NodeKind.run,
        namespace=job_namespace,
        name=job_name,
        version=str(run_id),
        parent=job.id,
        at=started_at or now,
    )
    report = RunReport(
        state=state,
        started_at=started_at,
        ended_at=ended_at,
        facets=facets,
        parameters=parameters,
        code_version=code_version,
    )
    stores.runs.merge_report(run.id, report, now)
    at = started_at or now
    holder = job.id if as_history else run.id
    for ref in inputs:
        stores.edges.link(project=project, src=ref.id, dst=holder, kind=EdgeKind.consumed, at=at)
    for ref in outputs:
        stores.edges.link(project=project, src=holder, dst=ref.id, kind=EdgeKind.produced, at=at)
    if as_history:
        stores.runs.name_links(run.id, [r.id for r in inputs], [r.id for r in outputs])
    record_audit(
        session,
        actor=actor,
        action="run.record",
        project=project,
        target=f"run:{job_namespace}/{job_name}@{run_id}",
        details={"state": str(state)},
    )
    return stores.runs.run(run.id)


def log_run(
    db: Database,
    *,
    project: str,
    job_namespace: str,
    job_name: str,
    run_id: str | UUID,
    state: RunState,
    inputs: Sequence[UUID] = (),
    outputs: Sequence[UUID] = (),
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
    facets: dict[str, Any] | None = None,
    parameters: dict[str, Any] | None = None,
    code_version: str | None = None,
    actor: Principal,
    clock: Clock = _WALL,
) -> Run:
    """Record a run whose inputs and outputs are given as node ids (REST and the client)."""
    with db.transaction() as session:
        ins = [node_ref(session, project=project, node_id=i) for i in inputs]
        outs = [node_ref(session, project=project, node_id=o) for o in outputs]
        return record_run(
            session,
            project=project,
            job_namespace=job_namespace,
            job_name=job_name,
            run_id=run_id,
            state=state,
            inputs=ins,
            outputs=outs,
            started_at=started_at,
            ended_at=ended_at,
            facets=facets,
            parameters=parameters,
            code_version=code_version,
            actor=actor,
            clock=clock,
        )


def get_run(db: Database, *, project: str, run_id: str) -> Run:
    """A run by its run id (or node id)."""
    with db.read() as session:
        store = sql_stores(session).runs
        found = store.find(project, run_id)
        if found is None:
            raise NotFound(f"run {run_id!r} not found")
        return store.run(found.id)


def list_job_runs(
    db: Database, *, project: str, job: UUID, cursor: str | None = None, limit: int = 100
) -> RunPage:
    """A job's runs (its history), newest first, in cursor pages; the job is given by node id."""
    with db.read() as session:
        stores = sql_stores(session)
        found = stores.nodes.find_by_id(job, project)
        if found is None:
            raise NotFound("node not found")
        if found.kind is not NodeKind.job:
            raise InvalidInput(
                f"node is a {found.kind}, not a job: only jobs have runs", field="node_id"
            )
        page = stores.runs.list_runs(job, before=_decode(cursor), limit=limit + 1)
    more = len(page) > limit
    page = page[:limit]
    nxt = encode_cursor(isoformat(page[-1][1][0]), str(page[-1][1][1])) if more else None
    return RunPage(items=[run for run, _ in page], next_cursor=nxt)


def _decode(cursor: str | None) -> RunCursor | None:
    if not cursor:
        return None
    when, ident = decode_cursor(cursor, arity=2)
    try:
        return to_utc(datetime.fromisoformat(when)), UUID(ident)
    except ValueError as exc:
        raise InvalidInput("malformed cursor", field="cursor") from exc


def list_jobs(db: Database, *, project: str, after: str = "", limit: int = 100) -> list[Job]:
    """Jobs of a project by name."""
    with db.read() as session:
        return sql_stores(session).runs.list_jobs(project, after=after, limit=limit)


def new_run_id() -> UUID:
    """A fresh run id (OpenLineage run ids are UUIDs)."""
    return new_id()
