"""Use cases of the registry: datasets, models, aliases, endpoints, deployments, runs.

Every public function taking ``db`` owns its transaction and writes its audit entry in it.
Functions taking ``session`` (``record_run`` and the ``*_ref`` helpers) work inside the caller's
transaction, so that a monitor or retrain job links its run into the graph atomically with its
own writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from governance.audit.service import record_audit
from governance.core.clock import Clock, SystemClock, isoformat, to_utc
from governance.core.db import Database
from governance.core.errors import Conflict, InvalidInput, NotFound
from governance.core.principal import Principal
from lineage.datafile import inspect_path
from lineage.models import NodeRow
from lineage.schemas import (
    TERMINAL_STATES,
    DatasetCreate,
    DatasetVersion,
    Deployment,
    EdgeKind,
    Endpoint,
    EndpointCreate,
    ModelAlias,
    ModelCreate,
    ModelVersion,
    NodeKind,
    NodeRef,
    Run,
    RunState,
)
from lineage.store import SqlLineageStore, to_dataset_version, to_model_version

_WALL = SystemClock()


# ---------------------------------------------------------------- endpoints


def create_endpoint(
    db: Database, *, project: str, data: EndpointCreate, actor: Principal, clock: Clock = _WALL
) -> Endpoint:
    """Create an endpoint (nothing is served until a model version is deployed to it)."""
    with db.transaction() as session:
        store = SqlLineageStore(session)
        if store.node(project, NodeKind.endpoint, project, data.name) is not None:
            raise Conflict(f"endpoint {data.name!r} already exists")
        store.add_node(
            project=project,
            kind=NodeKind.endpoint,
            namespace=project,
            name=data.name,
            attrs={"description": data.description},
            at=clock.now(),
        )
        record_audit(
            session,
            actor=actor,
            action="endpoint.create",
            project=project,
            target=f"endpoint:{data.name}",
        )
        return _endpoint(store, project, data.name)


def _endpoint_row(store: SqlLineageStore, project: str, name: str) -> NodeRow:
    row = store.node(project, NodeKind.endpoint, project, name)
    if row is None:
        raise NotFound(f"endpoint {name!r} not found")
    return row


def _endpoint(store: SqlLineageStore, project: str, name: str) -> Endpoint:
    row = _endpoint_row(store, project, name)
    live = [e for e in store.deployments(row.id) if e.valid_to is None]
    version = None
    if live:
        vrow = store.node_by_id(live[-1].src_id)
        assert vrow is not None
        version = _model_version(store, vrow)
    return Endpoint(
        id=row.id,
        project=project,
        name=name,
        description=row.attrs.get("description", ""),
        created_at=row.created_at,
        model_version=version,
        deployed_at=live[-1].valid_from if live else None,
    )


def get_endpoint(db: Database, *, project: str, name: str) -> Endpoint:
    """The endpoint and the model version (with its signature) it serves now; raises NotFound."""
    with db.read() as session:
        return _endpoint(SqlLineageStore(session), project, name)


def find_endpoint(db: Database, *, project: str, name: str) -> Endpoint | None:
    """Like ``get_endpoint`` but None when there is no such endpoint."""
    try:
        return get_endpoint(db, project=project, name=name)
    except NotFound:
        return None


def list_endpoints(
    db: Database, *, project: str, after: str = "", limit: int = 100
) -> list[Endpoint]:
    """Endpoints of a project by name."""
    with db.read() as session:
        store = SqlLineageStore(session)
        rows = store.list_nodes(project, NodeKind.endpoint, after=after, limit=limit)
        return [_endpoint(store, project, r.name) for r in rows]


# ---------------------------------------------------------------- datasets


def register_dataset_version(
    db: Database,
    *,
    project: str,
    name: str,
    path: Path,
    namespace: str | None = None,
    version: str | None = None,
    facets: dict[str, Any] | None = None,
    description: str = "",
    actor: Principal,
    clock: Clock = _WALL,
) -> DatasetVersion:
    """Register a file or Parquet folder as a dataset version (hash, schema, rows computed)."""
    facts = inspect_path(path)
    data = DatasetCreate(
        name=name,
        namespace=namespace,
        uri=facts.uri,
        version=version,
        sha256=facts.sha256,
        columns=facts.columns,
        row_count=facts.row_count,
        facets=facets or {},
        description=description,
    )
    return record_dataset_version(db, project=project, data=data, actor=actor, clock=clock)


def record_dataset_version(
    db: Database, *, project: str, data: DatasetCreate, actor: Principal, clock: Clock = _WALL
) -> DatasetVersion:
    """Register a dataset version described by the caller; the same content twice is a no-op."""
    namespace = data.namespace or project
    version = data.version or data.sha256[:16]
    with db.transaction() as session:
        store = SqlLineageStore(session)
        existing = store.node(project, NodeKind.dataset_version, namespace, data.name, version)
        if existing is not None:
            if existing.attrs.get("sha256") != data.sha256:
                raise Conflict(
                    f"dataset {data.name!r} version {version!r} exists with other content"
                )
            return to_dataset_version(existing)
        now = clock.now()
        parent, _ = store.ensure_node(
            project=project,
            kind=NodeKind.dataset,
            namespace=namespace,
            name=data.name,
            attrs={"description": data.description},
            at=now,
        )
        attrs = {
            "uri": data.uri,
            "sha256": data.sha256,
            "row_count": data.row_count,
            "columns": [c.model_dump(mode="json") for c in data.columns],
            "facets": data.facets,
        }
        row = store.add_node(
            project=project,
            kind=NodeKind.dataset_version,
            namespace=namespace,
            name=data.name,
            version=version,
            parent_id=parent.id,
            attrs=attrs,
            at=now,
        )
        record_audit(
            session,
            actor=actor,
            action="dataset.register",
            project=project,
            target=f"dataset:{namespace}/{data.name}@{version}",
            details={"sha256": data.sha256, "rows": data.row_count},
        )
        return to_dataset_version(row)


def get_dataset_version(
    db: Database,
    *,
    project: str,
    name: str,
    version: str | None = None,
    namespace: str | None = None,
) -> DatasetVersion:
    """One version of a dataset (the newest when ``version`` is None)."""
    with db.read() as session:
        return to_dataset_version(
            _dataset_version_row(SqlLineageStore(session), project, name, version, namespace)
        )


def _dataset_version_row(
    store: SqlLineageStore, project: str, name: str, version: str | None, namespace: str | None
) -> NodeRow:
    parent = (
        store.node(project, NodeKind.dataset, namespace, name)
        if namespace is not None
        else store.node_named(project, NodeKind.dataset, name)
    )
    versions = store.children(parent.id) if parent is not None else []
    if version is not None:
        versions = [v for v in versions if v.version == version]
    if not versions:
        raise NotFound(f"dataset {name!r} version {version or 'latest'!r} not found")
    return versions[-1]


def list_dataset_versions(db: Database, *, project: str, name: str) -> list[DatasetVersion]:
    """Every version of a dataset, oldest first."""
    with db.read() as session:
        store = SqlLineageStore(session)
        parent = store.node_named(project, NodeKind.dataset, name)
        if parent is None:
            raise NotFound(f"dataset {name!r} not found")
        return [to_dataset_version(r) for r in store.children(parent.id)]


# ---------------------------------------------------------------- models


def _model_version(store: SqlLineageStore, row: NodeRow) -> ModelVersion:
    parent = store.node_by_id(row.parent_id) if row.parent_id else None
    names = (
        [a.alias for a in store.aliases_of_model(parent.id) if a.version_id == row.id]
        if (parent)
        else []
    )
    return to_model_version(row, names)


def register_model_version(
    db: Database,
    *,
    project: str,
    name: str,
    data: ModelCreate,
    actor: Principal,
    clock: Clock = _WALL,
) -> ModelVersion:
    """Register the next version of a model, linked to the run and data that produced it."""
    with db.transaction() as session:
        store = SqlLineageStore(session)
        now = clock.now()
        model, _ = store.ensure_node(
            project=project,
            kind=NodeKind.model,
            namespace=project,
            name=name,
            attrs={"description": data.description},
            at=now,
        )
        number = store.count_children(model.id) + 1
        attrs = {
            "artifact_uri": data.artifact_uri,
            "sha256": data.sha256,
            "flavor": data.flavor,
            "signature": data.signature.model_dump(mode="json"),
            "metrics": data.metrics,
            "tags": data.tags,
            "run_id": str(data.run_id) if data.run_id else None,
        }
        try:
            with session.begin_nested():
                row = store.add_node(
                    project=project,
                    kind=NodeKind.model_version,
                    namespace=project,
                    name=name,
                    version=str(number),
                    parent_id=model.id,
                    attrs=attrs,
                    at=now,
                )
        except IntegrityError as exc:
            raise Conflict(f"model {name!r} got a new version concurrently; retry") from exc
        _link_model_version(store, project, row, data, now)
        record_audit(
            session,
            actor=actor,
            action="model.register",
            project=project,
            target=f"model:{name}@{number}",
            details={"sha256": data.sha256},
        )
        return _model_version(store, row)


def _link_model_version(
    store: SqlLineageStore, project: str, row: NodeRow, data: ModelCreate, at: datetime
) -> None:
    if data.run_id is not None:
        run = store.node_by_id(data.run_id, project)
        if run is None or run.kind != NodeKind.run:
            raise NotFound("run not found", field="run_id")
        store.add_edge(project=project, src=run.id, dst=row.id, kind=EdgeKind.produced, at=at)
    for dataset_id in data.training_data:
        src = store.node_by_id(dataset_id, project)
        if src is None or src.kind not in (NodeKind.dataset, NodeKind.dataset_version):
            raise NotFound("training dataset not found", field="training_data")
        store.add_edge(project=project, src=src.id, dst=row.id, kind=EdgeKind.derived_from, at=at)
    if data.derived_from is not None:
        prior = store.node(
            project, NodeKind.model_version, project, row.name, str(data.derived_from)
        )
        if prior is None:
            raise NotFound("prior model version not found", field="derived_from")
        store.add_edge(project=project, src=prior.id, dst=row.id, kind=EdgeKind.derived_from, at=at)


def _version_row(
    store: SqlLineageStore, project: str, model: str, version: int | None, alias: str | None
) -> NodeRow:
    parent = store.node(project, NodeKind.model, project, model)
    if parent is None:
        raise NotFound(f"model {model!r} not found")
    if alias is not None:
        found = store.alias(parent.id, alias)
        row = store.node_by_id(found.version_id) if found else None
    elif version is not None:
        row = store.node(project, NodeKind.model_version, project, model, str(version))
    else:
        children = store.children(parent.id)
        row = children[-1] if children else None
    if row is None:
        raise NotFound(f"model {model!r} version {alias or version or 'latest'!r} not found")
    return row


def get_model_version(
    db: Database, *, project: str, model: str, version: int | None = None, alias: str | None = None
) -> ModelVersion:
    """A model version by number or alias (the newest when neither is given)."""
    with db.read() as session:
        store = SqlLineageStore(session)
        return _model_version(store, _version_row(store, project, model, version, alias))


def list_model_versions(db: Database, *, project: str, model: str) -> list[ModelVersion]:
    """Every version of a model, oldest first."""
    with db.read() as session:
        store = SqlLineageStore(session)
        parent = store.node(project, NodeKind.model, project, model)
        if parent is None:
            raise NotFound(f"model {model!r} not found")
        return [_model_version(store, r) for r in store.children(parent.id)]


def set_alias(
    db: Database,
    *,
    project: str,
    model: str,
    alias: str,
    version: int,
    actor: Principal,
    clock: Clock = _WALL,
) -> ModelAlias:
    """Point ``alias`` at ``version`` atomically (the move and its audit entry commit together)."""
    with db.transaction() as session:
        store = SqlLineageStore(session)
        row = _version_row(store, project, model, version, None)
        assert row.parent_id is not None
        now = clock.now()
        previous_id = store.set_alias(
            project=project, model_id=row.parent_id, alias=alias, version_id=row.id, at=now
        )
        previous = store.node_by_id(previous_id) if previous_id else None
        prev_number = int(previous.version) if previous else None
        record_audit(
            session,
            actor=actor,
            action="model.alias",
            project=project,
            target=f"model:{model}#{alias}",
            details={"version": version, "previous": prev_number},
        )
    return ModelAlias(
        model=model, alias=alias, version=version, previous=prev_number, updated_at=now
    )


def delete_alias(db: Database, *, project: str, model: str, alias: str, actor: Principal) -> None:
    """Remove an alias."""
    with db.transaction() as session:
        store = SqlLineageStore(session)
        parent = store.node(project, NodeKind.model, project, model)
        row = store.alias(parent.id, alias) if parent else None
        if row is None:
            raise NotFound(f"alias {alias!r} of model {model!r} not found")
        store.delete_alias(row)
        record_audit(
            session,
            actor=actor,
            action="model.alias.delete",
            project=project,
            target=f"model:{model}#{alias}",
        )


# ---------------------------------------------------------------- deployments


def deploy(
    db: Database,
    *,
    project: str,
    endpoint: str,
    model: str,
    version: int | None = None,
    alias: str | None = None,
    note: str = "",
    actor: Principal,
    clock: Clock = _WALL,
) -> Deployment:
    """Serve a model version at an endpoint from now on, ending the previous deployment."""
    with db.transaction() as session:
        store = SqlLineageStore(session)
        target = _endpoint_row(store, project, endpoint)
        row = _version_row(store, project, model, version, alias)
        now = clock.now()
        store.close_deployments(target.id, now)
        store.add_edge(
            project=project,
            src=row.id,
            dst=target.id,
            kind=EdgeKind.deployed,
            at=now,
            attrs={"actor": actor.ref, "note": note},
        )
        record_audit(
            session,
            actor=actor,
            action="endpoint.deploy",
            project=project,
            target=f"endpoint:{endpoint}",
            details={"model": model, "version": int(row.version), "alias": alias, "note": note},
        )
        return store.to_deployment(store.deployments(target.id, now)[-1], endpoint)


def list_deployments(db: Database, *, project: str, endpoint: str) -> list[Deployment]:
    """The endpoint's production history, oldest first."""
    with db.read() as session:
        store = SqlLineageStore(session)
        target = _endpoint_row(store, project, endpoint)
        return [store.to_deployment(e, endpoint) for e in store.deployments(target.id)]


def find_deployment_at(
    db: Database, *, project: str, endpoint: str, at: datetime
) -> Deployment | None:
    """Which model version served ``endpoint`` at time ``at`` (None if nothing did)."""
    with db.read() as session:
        store = SqlLineageStore(session)
        target = _endpoint_row(store, project, endpoint)
        live = store.deployments(target.id, to_utc(at))
        return store.to_deployment(live[-1], endpoint) if live else None


# ---------------------------------------------------------------- refs (caller's transaction)


def endpoint_ref(session: Session, *, project: str, name: str) -> NodeRef:
    """Handle on an endpoint node, for ``record_run`` inputs and outputs."""
    return _ref(_endpoint_row(SqlLineageStore(session), project, name))


def dataset_version_ref(
    session: Session,
    *,
    project: str,
    name: str,
    version: str | None = None,
    namespace: str | None = None,
) -> NodeRef:
    """Handle on a dataset version (the newest when ``version`` is None)."""
    return _ref(_dataset_version_row(SqlLineageStore(session), project, name, version, namespace))


def model_version_ref(
    session: Session,
    *,
    project: str,
    model: str,
    version: int | None = None,
    alias: str | None = None,
) -> NodeRef:
    """Handle on a model version by number or alias (the newest when neither is given)."""
    return _ref(_version_row(SqlLineageStore(session), project, model, version, alias))


def node_ref(session: Session, *, project: str, node_id: UUID) -> NodeRef:
    """Handle on any node of the project by id."""
    row = SqlLineageStore(session).node_by_id(node_id, project)
    if row is None:
        raise NotFound("node not found")
    return _ref(row)


def _ref(row: NodeRow) -> NodeRef:
    return NodeRef(
        id=row.id,
        project=row.project,
        kind=NodeKind(row.kind),
        namespace=row.namespace,
        name=row.name,
        version=row.version,
    )


# ---------------------------------------------------------------- runs


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
    from sqlalchemy import select

    stmt = select(NodeRow).where(
        NodeRow.project == project, NodeRow.kind == str(NodeKind.run), NodeRow.version == run_id
    )
    row = store.session.scalars(stmt).first()
    if row is None:
        try:
            row = store.node_by_id(UUID(run_id), project)
        except ValueError:
            row = None
    if row is None or row.kind != NodeKind.run:
        raise NotFound(f"run {run_id!r} not found")
    return row
