"""Runs and node handles, inside the caller's transaction (monitors and retrain link in here)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session

from governance.audit.service import record_audit
from governance.core.clock import Clock, SystemClock, isoformat
from governance.core.db import Database
from governance.core.errors import InvalidInput, NotFound
from governance.core.ids import new_id
from governance.core.principal import Principal
from lineage.models import NodeRow
from lineage.registry import dataset_version_row, version_row
from lineage.schemas import TERMINAL_STATES, EdgeKind, Job, NodeKind, NodeRef, Run, RunState
from lineage.serving import endpoint_row
from lineage.store import SqlLineageStore

_WALL = SystemClock()


def endpoint_ref(session: Session, *, project: str, name: str) -> NodeRef:
    """Handle on an endpoint node, for ``record_run`` inputs and outputs."""
    return ref_of(endpoint_row(SqlLineageStore(session), project, name))


def dataset_version_ref(
    session: Session,
    *,
    project: str,
    name: str,
    version: str | None = None,
    namespace: str | None = None,
) -> NodeRef:
    """Handle on a dataset version (the newest when ``version`` is None)."""
    return ref_of(dataset_version_row(SqlLineageStore(session), project, name, version, namespace))


def model_version_ref(
    session: Session,
    *,
    project: str,
    model: str,
    version: int | None = None,
    alias: str | None = None,
) -> NodeRef:
    """Handle on a model version by number or alias (the newest when neither is given)."""
    return ref_of(version_row(SqlLineageStore(session), project, model, version, alias))


def node_ref(session: Session, *, project: str, node_id: UUID) -> NodeRef:
    """Handle on any node of the project by id."""
    row = SqlLineageStore(session).node_by_id(node_id, project)
    if row is None:
        raise NotFound("node not found")
    return ref_of(row)


def ref_of(row: NodeRow) -> NodeRef:
    return NodeRef(
        id=row.id,
        project=row.project,
        kind=NodeKind(row.kind),
        namespace=row.namespace,
        name=row.name,
        version=row.version,
    )


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
    actor: Principal | str,
    clock: Clock = _WALL,
) -> Run:
    """Record (or update) a run with its inputs and outputs inside the caller's transaction."""
    store = SqlLineageStore(session)
    now = clock.now()
    for ref in (*inputs, *outputs):
        if ref.project != project:
            raise InvalidInput("inputs and outputs must belong to the run's project")
    job, _ = store.ensure_node(
        project=project, kind=NodeKind.job, namespace=job_namespace, name=job_name, at=now
    )
    row, _ = store.ensure_node(
        project=project,
        kind=NodeKind.run,
        namespace=job_namespace,
        name=job_name,
        version=str(run_id),
        parent_id=job.id,
        at=started_at or now,
    )
    attrs = merge_run_attrs(
        dict(row.attrs or {}),
        state=state,
        started_at=started_at,
        ended_at=ended_at,
        facets=facets,
        parameters=parameters,
        code_version=code_version,
    )
    store.set_attrs(row, attrs, now)
    at = started_at or now
    for ref in inputs:
        store.add_edge(project=project, src=ref.id, dst=row.id, kind=EdgeKind.consumed, at=at)
    for ref in outputs:
        store.add_edge(project=project, src=row.id, dst=ref.id, kind=EdgeKind.produced, at=at)
    record_audit(
        session,
        actor=actor,
        action="run.record",
        project=project,
        target=f"run:{job_namespace}/{job_name}@{run_id}",
        details={"state": str(state)},
    )
    return run_of(store, row)


def merge_run_attrs(
    attrs: dict[str, Any],
    *,
    state: RunState,
    started_at: datetime | None,
    ended_at: datetime | None,
    facets: dict[str, Any] | None = None,
    parameters: dict[str, Any] | None = None,
    code_version: str | None = None,
) -> dict[str, Any]:
    """Fold one state report into a run's attributes; late START never undoes COMPLETE."""
    current = attrs.get("state")
    if current is None or RunState(current) not in TERMINAL_STATES or state in TERMINAL_STATES:
        attrs["state"] = str(state)
    if started_at is not None:
        old = attrs.get("started_at")
        attrs["started_at"] = min(old, isoformat(started_at)) if old else isoformat(started_at)
    if ended_at is not None:
        attrs["ended_at"] = isoformat(ended_at)
    if facets:
        attrs["facets"] = {**attrs.get("facets", {}), **facets}
    if parameters:
        attrs["parameters"] = {**attrs.get("parameters", {}), **parameters}
    if code_version:
        attrs["code_version"] = code_version
    return attrs


def run_of(store: SqlLineageStore, row: NodeRow) -> Run:
    """Serve a run node with its inputs and outputs."""
    a = row.attrs or {}
    inputs = [e.src_id for e in store.edges_of(row.id, incoming=True)]
    outputs = [e.dst_id for e in store.edges_of(row.id, incoming=False)]
    return Run(
        id=row.id,
        project=row.project,
        job_namespace=row.namespace,
        job=row.name,
        run_id=row.version,
        state=RunState(a.get("state", RunState.other)),
        started_at=a.get("started_at"),
        ended_at=a.get("ended_at"),
        parameters=a.get("parameters", {}),
        code_version=a.get("code_version"),
        facets=a.get("facets", {}),
        inputs=inputs,
        outputs=outputs,
    )


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
        store = SqlLineageStore(session)
        row = _run_row(store, project, run_id)
        return run_of(store, row)


def _run_row(store: SqlLineageStore, project: str, run_id: str) -> NodeRow:
    row = store.run(project, run_id)
    if row is None:
        raise NotFound(f"run {run_id!r} not found")
    return row


def list_jobs(db: Database, *, project: str, after: str = "", limit: int = 100) -> list[Job]:
    """Jobs of a project by name."""
    with db.read() as session:
        rows = SqlLineageStore(session).list_nodes(project, NodeKind.job, after=after, limit=limit)
        return [
            Job(
                id=r.id,
                project=project,
                namespace=r.namespace,
                name=r.name,
                created_at=r.created_at,
                facets=(r.attrs or {}).get("facets", {}),
            )
            for r in rows
        ]


def new_run_id() -> UUID:
    """A fresh run id (OpenLineage run ids are UUIDs)."""
    return new_id()
