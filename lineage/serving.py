"""Endpoints and deployments: what serves where, and since when (each owns its transaction)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from governance.audit.service import record_audit
from governance.core.clock import Clock, SystemClock, to_utc
from governance.core.db import Database
from governance.core.errors import Conflict, InvalidInput, NotFound
from governance.core.principal import Principal
from lineage.registry import resolve_model_version
from lineage.schemas import (
    Deployment,
    Endpoint,
    EndpointCreate,
    EndpointKind,
    ModelVersion,
    Node,
    NodeKind,
)
from lineage.stores import sql_stores
from lineage.stores.endpoints import EndpointStore
from lineage.stores.nodes import NodeStore

_WALL = SystemClock()


def create_endpoint(
    db: Database, *, project: str, data: EndpointCreate, actor: Principal, clock: Clock = _WALL
) -> Endpoint:
    """Create an endpoint (nothing is served until a model version is deployed to it)."""
    with db.transaction() as session:
        store = sql_stores(session).endpoints
        if store.find(project, data.name) is not None:
            raise Conflict(f"endpoint {data.name!r} already exists")
        created = store.add(
            project=project, name=data.name, description=data.description, at=clock.now(),
            kind=data.kind,
        )  # fmt: skip
        record_audit(
            session,
            actor=actor,
            action="endpoint.create",
            project=project,
            target=f"endpoint:{data.name}",
            details={"kind": str(data.kind)},
        )
        return created


def resolve_endpoint(store: EndpointStore, project: str, name: str) -> Endpoint:
    """The endpoint called ``name``; raises NotFound."""
    found = store.find(project, name)
    if found is None:
        raise NotFound(f"endpoint {name!r} not found")
    return found


def endpoint_node(store: NodeStore, project: str, name: str) -> Node:
    """The node of the endpoint called ``name`` (cheaper than the endpoint); raises NotFound."""
    found = store.find(project, NodeKind.endpoint, project, name)
    if found is None:
        raise NotFound(f"endpoint {name!r} not found")
    return found


def get_endpoint(db: Database, *, project: str, name: str) -> Endpoint:
    """The endpoint and the model version (with its signature) it serves now; raises NotFound."""
    with db.read() as session:
        return resolve_endpoint(sql_stores(session).endpoints, project, name)


def serving_version_id(db: Database, *, project: str, name: str) -> UUID | None:
    """The node id of the model version an endpoint serves now (None: nothing deployed).

    Raises NotFound for an unknown endpoint. Versions are immutable, so a caller may keep what
    it looked up by this id (``get_model_version_by_id``).
    """
    with db.read() as session:
        exists, version = sql_stores(session).endpoints.serving(project, name)
    if not exists:
        raise NotFound(f"endpoint {name!r} not found")
    return version


def get_model_version_by_id(db: Database, *, project: str, version: UUID) -> ModelVersion:
    """A model version of ``project`` by node id; raises NotFound."""
    with db.read() as session:
        found = sql_stores(session).registry.model_version_by_id(version)
    if found is None or found.project != project:
        raise NotFound("model version not found")
    return found


def find_endpoint(db: Database, *, project: str, name: str) -> Endpoint | None:
    """Like ``get_endpoint`` but None when there is no such endpoint."""
    with db.read() as session:
        return sql_stores(session).endpoints.find(project, name)


def list_endpoints(
    db: Database, *, project: str, after: str = "", limit: int = 100
) -> list[Endpoint]:
    """Endpoints of a project by name."""
    with db.read() as session:
        return sql_stores(session).endpoints.page(project, after=after, limit=limit)


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
        stores = sql_stores(session)
        target = endpoint_node(stores.nodes, project, endpoint)
        if target.attrs.get("kind") == EndpointKind.llm:
            raise InvalidInput(
                f"endpoint {endpoint!r} is an LLM endpoint: it records traces and serves no "
                "model version",
                code="llm_endpoint",
            )
        served = resolve_model_version(stores.registry, project, model, version, alias)
        deployment = stores.endpoints.record_deployment(
            endpoint=target.id, version=served.id, actor=actor.ref, note=note, at=clock.now()
        )
        record_audit(
            session,
            actor=actor,
            action="endpoint.deploy",
            project=project,
            target=f"endpoint:{endpoint}",
            details={"model": model, "version": served.version, "alias": alias, "note": note},
        )
        return deployment


def list_deployments(db: Database, *, project: str, endpoint: str) -> list[Deployment]:
    """The endpoint's production history, oldest first."""
    with db.read() as session:
        stores = sql_stores(session)
        target = endpoint_node(stores.nodes, project, endpoint)
        return stores.endpoints.deployments(target.id)


def find_deployment_at(
    db: Database, *, project: str, endpoint: str, at: datetime
) -> Deployment | None:
    """Which model version served ``endpoint`` at time ``at`` (None if nothing did)."""
    with db.read() as session:
        stores = sql_stores(session)
        target = endpoint_node(stores.nodes, project, endpoint)
        return stores.endpoints.deployment_at(target.id, to_utc(at))
