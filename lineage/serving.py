"""Endpoints and deployments: what serves where, and since when (each owns its transaction)."""

from __future__ import annotations

from datetime import datetime

from governance.audit.service import record_audit
from governance.core.clock import Clock, SystemClock, to_utc
from governance.core.db import Database
from governance.core.errors import Conflict, NotFound
from governance.core.principal import Principal
from lineage.models import NodeRow
from lineage.registry import model_version_of, version_row
from lineage.schemas import Deployment, EdgeKind, Endpoint, EndpointCreate, NodeKind
from lineage.store import SqlLineageStore

_WALL = SystemClock()


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
        return endpoint_of(store, project, data.name)


def endpoint_row(store: SqlLineageStore, project: str, name: str) -> NodeRow:
    row = store.node(project, NodeKind.endpoint, project, name)
    if row is None:
        raise NotFound(f"endpoint {name!r} not found")
    return row


def endpoint_of(store: SqlLineageStore, project: str, name: str) -> Endpoint:
    row = endpoint_row(store, project, name)
    live = [e for e in store.deployments(row.id) if e.valid_to is None]
    version = None
    if live:
        vrow = store.node_by_id(live[-1].src_id)
        assert vrow is not None
        version = model_version_of(store, vrow)
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
        return endpoint_of(SqlLineageStore(session), project, name)


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
        return [endpoint_of(store, project, r.name) for r in rows]


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
        target = endpoint_row(store, project, endpoint)
        row = version_row(store, project, model, version, alias)
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
        target = endpoint_row(store, project, endpoint)
        return [store.to_deployment(e, endpoint) for e in store.deployments(target.id)]


def find_deployment_at(
    db: Database, *, project: str, endpoint: str, at: datetime
) -> Deployment | None:
    """Which model version served ``endpoint`` at time ``at`` (None if nothing did)."""
    with db.read() as session:
        store = SqlLineageStore(session)
        target = endpoint_row(store, project, endpoint)
        live = store.deployments(target.id, to_utc(at))
        return store.to_deployment(live[-1], endpoint) if live else None
