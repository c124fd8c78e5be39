"""Endpoints and their deployment history; never commits."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from governance.core.ids import new_id
from lineage.models import EdgeRow, NodeRow
from lineage.schemas import Deployment, EdgeKind, Endpoint, EndpointKind, NodeKind
from lineage.stores.registry import SqlRegistryStore
from lineage.stores.rows import GraphCache, NodeRows


class EndpointStore(Protocol):
    """Endpoints, and which model version served each one when.

    An endpoint is a node of kind ``endpoint`` in its project's namespace. A deployment is a
    ``deployed`` edge from a model version to the endpoint, live from its start until it is
    closed; ``record_deployment`` closes the live one and opens the next at the same instant,
    so at most one is live at any time. Nothing here commits.
    """

    def find(self, project: str, name: str) -> Endpoint | None:
        """The endpoint with the model version it serves now."""
        ...

    def add(
        self,
        *,
        project: str,
        name: str,
        description: str,
        at: datetime,
        kind: EndpointKind = EndpointKind.model,
    ) -> Endpoint:
        """Insert an endpoint (its name must be new); it serves nothing yet."""
        ...

    def page(self, project: str, *, after: str = "", limit: int = 100) -> list[Endpoint]:
        """Endpoints of a project by name, in pages keyed by name."""
        ...

    def record_deployment(
        self, *, endpoint: uuid.UUID, version: uuid.UUID, actor: str, note: str, at: datetime
    ) -> Deployment:
        """Serve a model version (by node id) at an endpoint from ``at``, ending the previous."""
        ...

    def deployments(self, endpoint: uuid.UUID) -> list[Deployment]:
        """The endpoint's deployments, oldest first."""
        ...

    def deployment_at(self, endpoint: uuid.UUID, at: datetime) -> Deployment | None:
        """The deployment live at ``at``, if any."""
        ...

    def serving(self, project: str, name: str) -> tuple[bool, uuid.UUID | None]:
        """Whether the endpoint exists, and the node id of the version it serves now."""
        ...


class SqlEndpointStore:
    """EndpointStore on SQLAlchemy (SQLite and PostgreSQL)."""

    def __init__(self, session: Session, cache: GraphCache | None = None) -> None:
        self.session = session
        cache = cache if cache is not None else GraphCache()
        self.rows = NodeRows(session, cache)
        self.registry = SqlRegistryStore(session, cache)

    def _serve(self, row: NodeRow) -> Endpoint:
        live = [e for e in self._edges(row.id) if e.valid_to is None]
        version = self.registry.model_version_by_id(live[-1].src_id) if live else None
        return Endpoint(
            id=row.id,
            project=row.project,
            name=row.name,
            description=row.attrs.get("description", ""),
            created_at=row.created_at,
            model_version=version,
            deployed_at=live[-1].valid_from if live else None,
            kind=EndpointKind(row.attrs.get("kind", EndpointKind.model)),
        )

    def find(self, project: str, name: str) -> Endpoint | None:
        """The endpoint with the model version it serves now."""
        row = self.rows.get(project, NodeKind.endpoint, project, name)
        return None if row is None else self._serve(row)

    def add(
        self,
        *,
        project: str,
        name: str,
        description: str,
        at: datetime,
        kind: EndpointKind = EndpointKind.model,
    ) -> Endpoint:
        """Insert an endpoint (its name must be new); it serves nothing yet."""
        # The kind lives with the description in the node's attributes (absent: a model).
        attrs = {"description": description}
        if kind is not EndpointKind.model:
            attrs["kind"] = str(kind)
        row = self.rows.add(
            project=project,
            kind=NodeKind.endpoint,
            namespace=project,
            name=name,
            attrs=attrs,
            at=at,
        )
        return self._serve(row)

    def page(self, project: str, *, after: str = "", limit: int = 100) -> list[Endpoint]:
        """Endpoints of a project by name, in pages keyed by name."""
        rows = self.rows.page(project, NodeKind.endpoint, after=after, limit=limit)
        return [self._serve(r) for r in rows]

    def record_deployment(
        self, *, endpoint: uuid.UUID, version: uuid.UUID, actor: str, note: str, at: datetime
    ) -> Deployment:
        """Serve a model version (by node id) at an endpoint from ``at``, ending the previous."""
        self.session.execute(
            update(EdgeRow)
            .where(
                EdgeRow.dst_id == endpoint,
                EdgeRow.kind == str(EdgeKind.deployed),
                EdgeRow.valid_to.is_(None),
            )
            .values(valid_to=at)
        )
        row = EdgeRow(
            id=new_id(),
            project=self._endpoint(endpoint).project,
            src_id=version,
            dst_id=endpoint,
            kind=str(EdgeKind.deployed),
            valid_from=at,
            valid_to=None,
            attrs={"actor": actor, "note": note},
        )
        self.session.add(row)
        return self._deployment(row)

    def serving(self, project: str, name: str) -> tuple[bool, uuid.UUID | None]:
        """Whether the endpoint exists, and the node id of the version it serves now.

        One query (scoring asks on every request), where ``find`` builds the whole endpoint.
        """
        live = and_(
            EdgeRow.dst_id == NodeRow.id,
            EdgeRow.kind == str(EdgeKind.deployed),
            EdgeRow.valid_to.is_(None),
        )
        stmt = (
            select(NodeRow.id, EdgeRow.src_id)
            .outerjoin(EdgeRow, live)
            .where(
                NodeRow.project == project,
                NodeRow.kind == str(NodeKind.endpoint),
                NodeRow.namespace == project,
                NodeRow.name == name,
            )
            .order_by(EdgeRow.valid_from.desc())
            .limit(1)
        )
        found = self.session.execute(stmt).first()
        return (False, None) if found is None else (True, found[1])

    def _endpoint(self, endpoint: uuid.UUID) -> NodeRow:
        row = self.rows.by_id(endpoint)
        if row is None or row.kind != NodeKind.endpoint:
            raise LookupError(f"endpoint {endpoint} not found")
        return row

    def _edges(self, endpoint: uuid.UUID, at: datetime | None = None) -> list[EdgeRow]:
        conds = [EdgeRow.dst_id == endpoint, EdgeRow.kind == str(EdgeKind.deployed)]
        if at is not None:
            conds += [
                EdgeRow.valid_from <= at,
                or_(EdgeRow.valid_to.is_(None), EdgeRow.valid_to > at),
            ]
        stmt = select(EdgeRow).where(and_(*conds)).order_by(EdgeRow.valid_from, EdgeRow.id)
        return list(self.session.scalars(stmt))

    def _deployment(self, edge: EdgeRow) -> Deployment:
        version = self.rows.by_id(edge.src_id)
        if version is None:
            raise LookupError(f"model version {edge.src_id} not found")
        return Deployment(
            endpoint=self._endpoint(edge.dst_id).name,
            model=version.name,
            version=int(version.version),
            model_version_id=version.id,
            started_at=edge.valid_from,
            ended_at=edge.valid_to,
            actor=(edge.attrs or {}).get("actor", ""),
            note=(edge.attrs or {}).get("note", ""),
        )

    def deployments(self, endpoint: uuid.UUID) -> list[Deployment]:
        """The endpoint's deployments, oldest first."""
        return [self._deployment(e) for e in self._edges(endpoint)]

    def deployment_at(self, endpoint: uuid.UUID, at: datetime) -> Deployment | None:
        """The deployment live at ``at``, if any."""
        live = self._edges(endpoint, at)
        return self._deployment(live[-1]) if live else None
