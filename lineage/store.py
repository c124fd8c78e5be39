"""SQL storage of the asset graph; never commits (services own the transaction)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, tuple_, update
from sqlalchemy.orm import Session

from governance.core.ids import new_id
from lineage.models import AliasRow, ColumnEdgeRow, EdgeRow, EventRow, NodeRow
from lineage.schemas import (
    ColumnEdge,
    ColumnSpec,
    DatasetVersion,
    Deployment,
    Edge,
    EdgeKind,
    ModelVersion,
    Node,
    NodeKind,
    Signature,
)


def to_node(row: NodeRow) -> Node:
    """Serve a node row."""
    return Node(
        id=row.id,
        project=row.project,
        kind=NodeKind(row.kind),
        namespace=row.namespace,
        name=row.name,
        version=row.version,
        created_at=row.created_at,
        attrs=row.attrs or {},
    )


def to_edge(row: EdgeRow) -> Edge:
    """Serve an edge row."""
    return Edge(
        src=row.src_id,
        dst=row.dst_id,
        kind=EdgeKind(row.kind),
        valid_from=row.valid_from,
        valid_to=row.valid_to,
    )


def to_dataset_version(row: NodeRow) -> DatasetVersion:
    """Serve a dataset-version node."""
    a = row.attrs or {}
    return DatasetVersion(
        id=row.id,
        project=row.project,
        namespace=row.namespace,
        name=row.name,
        version=row.version,
        uri=a.get("uri", ""),
        sha256=a.get("sha256", ""),
        columns=[ColumnSpec.model_validate(c) for c in a.get("columns", [])],
        row_count=a.get("row_count"),
        facets=a.get("facets", {}),
        created_at=row.created_at,
    )


def to_model_version(row: NodeRow, aliases: Sequence[str] = ()) -> ModelVersion:
    """Serve a model-version node."""
    a = row.attrs or {}
    run_id = a.get("run_id")
    return ModelVersion(
        id=row.id,
        project=row.project,
        model=row.name,
        version=int(row.version),
        artifact_uri=a.get("artifact_uri", ""),
        sha256=a.get("sha256", ""),
        flavor=a.get("flavor", ""),
        signature=Signature.model_validate(a["signature"]),
        metrics=a.get("metrics", {}),
        tags=a.get("tags", {}),
        run_id=uuid.UUID(run_id) if run_id else None,
        aliases=sorted(aliases),
        created_at=row.created_at,
    )


class SqlLineageStore:
    """Nodes, edges, aliases and raw events in the metadata database."""

    def __init__(self, session: Session) -> None:
        self.session = session
        # Per-transaction caches: a batch of events names the same datasets and edges over and
        # over; rows found or made once are not looked up again.
        self._nodes: dict[tuple[str, str, str, str, str], NodeRow] = {}
        self._edges: dict[tuple[uuid.UUID, uuid.UUID, str], EdgeRow] = {}
        self._columns: set[tuple[uuid.UUID, str, uuid.UUID, str]] = set()
        self._created: set[uuid.UUID] = set()
        self._absent: set[tuple[str, str, str, str, str]] = set()

    # nodes
    def node(
        self, project: str, kind: NodeKind, namespace: str, name: str, version: str = ""
    ) -> NodeRow | None:
        """The node with this identity."""
        key = (project, str(kind), namespace, name, version)
        if key in self._nodes:
            return self._nodes[key]
        if key in self._absent:
            return None
        stmt = select(NodeRow).where(
            NodeRow.project == project,
            NodeRow.kind == str(kind),
            NodeRow.namespace == namespace,
            NodeRow.name == name,
            NodeRow.version == version,
        )
        row = self.session.scalars(stmt).first()
        if row is not None:
            self._nodes[key] = row
        return row

    def prefetch(self, project: str, kind: NodeKind, keys: Iterable[tuple[str, str, str]]) -> None:
        """Load the nodes with these (namespace, name, version) keys in a few queries."""
        wanted = sorted(set(keys))
        for start in range(0, len(wanted), 200):
            chunk = wanted[start : start + 200]
            stmt = select(NodeRow).where(
                NodeRow.project == project,
                NodeRow.kind == str(kind),
                self._identity_in(chunk),
            )
            found = {(r.namespace, r.name, r.version): r for r in self.session.scalars(stmt)}
            for ns, name, version in chunk:
                key = (project, str(kind), ns, name, version)
                row = found.get((ns, name, version))
                if row is None:
                    self._absent.add(key)
                else:
                    self._nodes[key] = row

    def _identity_in(self, keys: Sequence[tuple[str, str, str]]) -> ColumnElement[bool]:
        cols = (NodeRow.namespace, NodeRow.name, NodeRow.version)
        if self.session.get_bind().dialect.name == "postgresql":
            return tuple_(*cols).in_(keys)
        # SQLite scans the table for a row-value IN list, but answers an OR of equalities
        # with one unique-index lookup per term.
        return or_(*(and_(*(c == v for c, v in zip(cols, key, strict=True))) for key in keys))

    def node_named(
        self, project: str, kind: NodeKind, name: str, version: str = ""
    ) -> NodeRow | None:
        """The node of ``kind`` called ``name`` in any namespace (the oldest if several)."""
        stmt = (
            select(NodeRow)
            .where(
                NodeRow.project == project,
                NodeRow.kind == str(kind),
                NodeRow.name == name,
                NodeRow.version == version,
            )
            .order_by(NodeRow.created_at, NodeRow.id)
        )
        return self.session.scalars(stmt).first()

    def node_by_id(self, node_id: uuid.UUID, project: str | None = None) -> NodeRow | None:
        """The node with this id (only if it belongs to ``project`` when given)."""
        row = self.session.get(NodeRow, node_id)
        if row is None or (project is not None and row.project != project):
            return None
        return row

    def run(self, project: str, run_id: str) -> NodeRow | None:
        """A run node by its run id (OpenLineage ``runId``) or by its node id."""
        stmt = select(NodeRow).where(
            NodeRow.project == project,
            NodeRow.kind == str(NodeKind.run),
            NodeRow.version == run_id,
        )
        row = self.session.scalars(stmt).first()
        if row is None:
            try:
                row = self.node_by_id(uuid.UUID(run_id), project)
            except ValueError:
                return None
        return row if row is not None and row.kind == NodeKind.run else None

    def nodes_by_ids(self, ids: Iterable[uuid.UUID]) -> list[NodeRow]:
        """Nodes by id, in no particular order."""
        wanted = list(ids)
        if not wanted:
            return []
        return list(self.session.scalars(select(NodeRow).where(NodeRow.id.in_(wanted))))

    def add_node(
        self,
        *,
        project: str,
        kind: NodeKind,
        namespace: str,
        name: str,
        version: str = "",
        parent_id: uuid.UUID | None = None,
        attrs: dict[str, Any] | None = None,
        at: datetime,
    ) -> NodeRow:
        """Insert a node."""
        row = NodeRow(
            id=new_id(),
            project=project,
            kind=str(kind),
            namespace=namespace,
            name=name,
            version=version,
            parent_id=parent_id,
            created_at=at,
            updated_at=at,
            attrs=attrs or {},
        )
        self.session.add(row)
        self._nodes[(project, str(kind), namespace, name, version)] = row
        self._created.add(row.id)
        return row

    def ensure_node(
        self,
        *,
        project: str,
        kind: NodeKind,
        namespace: str,
        name: str,
        version: str = "",
        parent_id: uuid.UUID | None = None,
        attrs: dict[str, Any] | None = None,
        at: datetime,
    ) -> tuple[NodeRow, bool]:
        """The node with this identity, created if missing; True when created."""
        row = self.node(project, kind, namespace, name, version)
        if row is not None:
            return row, False
        return self.add_node(
            project=project,
            kind=kind,
            namespace=namespace,
            name=name,
            version=version,
            parent_id=parent_id,
            attrs=attrs,
            at=at,
        ), True

    def set_attrs(self, row: NodeRow, attrs: dict[str, Any], at: datetime) -> None:
        """Replace a node's attributes."""
        row.attrs = attrs
        row.updated_at = at

    def children(self, parent_id: uuid.UUID) -> list[NodeRow]:
        """Versions of a dataset or model, oldest first."""
        stmt = select(NodeRow).where(NodeRow.parent_id == parent_id).order_by(NodeRow.created_at)
        return list(self.session.scalars(stmt))

    def count_children(self, parent_id: uuid.UUID) -> int:
        """How many versions a dataset or model has."""
        stmt = select(func.count()).select_from(NodeRow).where(NodeRow.parent_id == parent_id)
        return int(self.session.scalar(stmt) or 0)

    def list_nodes(
        self, project: str, kind: NodeKind, *, after: str = "", limit: int = 100
    ) -> list[NodeRow]:
        """Nodes of one kind in a project, by name, in pages keyed by name."""
        stmt = (
            select(NodeRow)
            .where(NodeRow.project == project, NodeRow.kind == str(kind), NodeRow.name > after)
            .order_by(NodeRow.name, NodeRow.namespace)
            .limit(limit)
        )
        return list(self.session.scalars(stmt))

    # edges
    def add_edge(
        self,
        *,
        project: str,
        src: uuid.UUID,
        dst: uuid.UUID,
        kind: EdgeKind,
        at: datetime,
        attrs: dict[str, Any] | None = None,
    ) -> bool:
        """Link two nodes unless a live edge of that kind already links them; True if added.

        An existing edge reported again with an earlier time is moved back to that time: events
        may arrive out of order, and an edge exists from the earliest event that reported it.
        """
        if kind != EdgeKind.deployed:
            found = self._edges.get((src, dst, str(kind)))
            # A node made in this transaction has no edges but the ones cached here.
            if found is None and src not in self._created and dst not in self._created:
                found = self.session.scalars(
                    select(EdgeRow).where(
                        EdgeRow.src_id == src,
                        EdgeRow.dst_id == dst,
                        EdgeRow.kind == str(kind),
                        EdgeRow.valid_to.is_(None),
                    )
                ).first()
            if found is not None:
                self._edges[(src, dst, str(kind))] = found
                if found.valid_from > at:
                    found.valid_from = at
                return False
        row = EdgeRow(
            id=new_id(),
            project=project,
            src_id=src,
            dst_id=dst,
            kind=str(kind),
            valid_from=at,
            valid_to=None,
            attrs=attrs or {},
        )
        self.session.add(row)
        if kind != EdgeKind.deployed:
            self._edges[(src, dst, str(kind))] = row
        return True

    def edges_of(self, node_id: uuid.UUID, *, incoming: bool) -> list[EdgeRow]:
        """Edges into (or out of) one node."""
        col = EdgeRow.dst_id if incoming else EdgeRow.src_id
        return list(self.session.scalars(select(EdgeRow).where(col == node_id)))

    def close_deployments(self, endpoint_id: uuid.UUID, at: datetime) -> int:
        """End every live deployment of an endpoint at ``at``."""
        stmt = (
            update(EdgeRow)
            .where(
                EdgeRow.dst_id == endpoint_id,
                EdgeRow.kind == str(EdgeKind.deployed),
                EdgeRow.valid_to.is_(None),
            )
            .values(valid_to=at)
        )
        return int(self.session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]

    def deployments(self, endpoint_id: uuid.UUID, at: datetime | None = None) -> list[EdgeRow]:
        """Deployment edges of an endpoint, oldest first (only the one live at ``at`` if given)."""
        conds = [EdgeRow.dst_id == endpoint_id, EdgeRow.kind == str(EdgeKind.deployed)]
        if at is not None:
            conds += [
                EdgeRow.valid_from <= at,
                or_(EdgeRow.valid_to.is_(None), EdgeRow.valid_to > at),
            ]
        stmt = select(EdgeRow).where(and_(*conds)).order_by(EdgeRow.valid_from, EdgeRow.id)
        return list(self.session.scalars(stmt))

    def to_deployment(self, edge: EdgeRow, endpoint: str) -> Deployment:
        """Serve a deployment edge."""
        version = self.session.get(NodeRow, edge.src_id)
        assert version is not None
        return Deployment(
            endpoint=endpoint,
            model=version.name,
            version=int(version.version),
            model_version_id=version.id,
            started_at=edge.valid_from,
            ended_at=edge.valid_to,
            actor=(edge.attrs or {}).get("actor", ""),
            note=(edge.attrs or {}).get("note", ""),
        )

    # column lineage
    def add_column_edge(
        self,
        *,
        project: str,
        src: uuid.UUID,
        src_field: str,
        dst: uuid.UUID,
        dst_field: str,
        run_id: uuid.UUID | None,
        transformations: list[Any],
        at: datetime,
    ) -> bool:
        """Record that one column feeds another (once)."""
        key = (src, src_field, dst, dst_field)
        if key in self._columns:
            return False
        self._columns.add(key)
        found = self.session.scalar(
            select(ColumnEdgeRow.id).where(
                ColumnEdgeRow.src_id == src,
                ColumnEdgeRow.src_field == src_field,
                ColumnEdgeRow.dst_id == dst,
                ColumnEdgeRow.dst_field == dst_field,
            )
        )
        if found is not None:
            return False
        self.session.add(
            ColumnEdgeRow(
                id=new_id(),
                project=project,
                src_id=src,
                src_field=src_field,
                dst_id=dst,
                dst_field=dst_field,
                run_id=run_id,
                transformations=transformations,
                created_at=at,
            )
        )
        return True

    def column_edges(self, node_id: uuid.UUID, *, incoming: bool) -> list[ColumnEdge]:
        """Column lineage into (or out of) one dataset."""
        col = ColumnEdgeRow.dst_id if incoming else ColumnEdgeRow.src_id
        stmt = (
            select(ColumnEdgeRow)
            .where(col == node_id)
            .order_by(ColumnEdgeRow.dst_field, ColumnEdgeRow.src_field)
        )
        return [
            ColumnEdge(
                src=r.src_id,
                src_field=r.src_field,
                dst=r.dst_id,
                dst_field=r.dst_field,
                transformations=list(r.transformations or []),
            )
            for r in self.session.scalars(stmt)
        ]

    # aliases
    def aliases_of_model(self, model_id: uuid.UUID) -> list[AliasRow]:
        """Every alias of a model."""
        return list(self.session.scalars(select(AliasRow).where(AliasRow.model_id == model_id)))

    def alias(self, model_id: uuid.UUID, alias: str) -> AliasRow | None:
        """One alias of a model."""
        stmt = select(AliasRow).where(AliasRow.model_id == model_id, AliasRow.alias == alias)
        return self.session.scalars(stmt).first()

    def set_alias(
        self, *, project: str, model_id: uuid.UUID, alias: str, version_id: uuid.UUID, at: datetime
    ) -> uuid.UUID | None:
        """Point ``alias`` at a version; returns the version it pointed at before."""
        row = self.alias(model_id, alias)
        if row is None:
            self.session.add(
                AliasRow(
                    id=new_id(),
                    project=project,
                    model_id=model_id,
                    alias=alias,
                    version_id=version_id,
                    updated_at=at,
                )
            )
            self.session.flush()
            return None
        previous = row.version_id
        row.version_id = version_id
        row.updated_at = at
        self.session.flush()
        return previous

    def delete_alias(self, row: AliasRow) -> None:
        """Remove an alias."""
        self.session.delete(row)
        self.session.flush()

    # raw events
    def seen_fingerprints(self, fingerprints: Sequence[str]) -> set[str]:
        """Which of these event fingerprints were already applied."""
        stmt = select(EventRow.fingerprint).where(EventRow.fingerprint.in_(list(fingerprints)))
        return set(self.session.scalars(stmt))

    def add_event(self, row: EventRow) -> None:
        """Keep a raw event."""
        self.session.add(row)

    def events(self, project: str, *, after: datetime | None, limit: int) -> list[EventRow]:
        """Raw events of a project in the order they were received."""
        stmt = select(EventRow).where(EventRow.project == project)
        if after is not None:
            stmt = stmt.where(EventRow.received_at > after)
        stmt = stmt.order_by(EventRow.received_at, EventRow.id).limit(limit)
        return list(self.session.scalars(stmt))
