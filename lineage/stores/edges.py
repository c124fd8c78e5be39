"""Timed edges along the flow of data, and column-level lineage; never commits."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance.core.ids import new_id
from lineage.models import ColumnEdgeRow, EdgeRow, NodeRow
from lineage.schemas import ColumnEdge, Edge, EdgeKind, Node
from lineage.stores.nodes import to_node
from lineage.stores.rows import GraphCache


def to_edge(row: EdgeRow) -> Edge:
    """Serve an edge row."""
    return Edge(
        src=row.src_id,
        dst=row.dst_id,
        kind=EdgeKind(row.kind),
        valid_from=row.valid_from,
        valid_to=row.valid_to,
    )


class EdgeStore(Protocol):
    """Edges between nodes, in the direction data flows, and column lineage between datasets.

    ``link`` keeps at most one live edge of a kind between two nodes: reporting it again adds
    nothing, except that an earlier time moves its start back (events arrive out of order, and
    an edge exists from the earliest event that reported it). Deployments are edges too, but
    they open and close over time: ``EndpointStore`` records them, ``link`` refuses them.
    Column edges are recorded once per (source field, target field). Nothing here commits.
    """

    def link(
        self, *, project: str, src: uuid.UUID, dst: uuid.UUID, kind: EdgeKind, at: datetime
    ) -> bool:
        """Link two nodes unless a live edge of that kind already links them; True if added."""
        ...

    def edges_of(self, node_id: uuid.UUID, *, incoming: bool) -> list[Edge]:
        """Every edge into (or out of) one node."""
        ...

    def flow_neighbours(self, node_id: uuid.UUID, *, incoming: bool) -> list[Node]:
        """Nodes one data-flow edge away (deployments aside), by namespace, name and version."""
        ...

    def link_columns(
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
        """Record that one column feeds another (once); True if added."""
        ...

    def column_edges(self, node_id: uuid.UUID, *, incoming: bool) -> list[ColumnEdge]:
        """Column lineage into (or out of) one dataset."""
        ...


class SqlEdgeStore:
    """EdgeStore on SQLAlchemy (SQLite and PostgreSQL)."""

    def __init__(self, session: Session, cache: GraphCache | None = None) -> None:
        self.session = session
        self.cache = cache if cache is not None else GraphCache()

    def link(
        self, *, project: str, src: uuid.UUID, dst: uuid.UUID, kind: EdgeKind, at: datetime
    ) -> bool:
        """Link two nodes unless a live edge of that kind already links them; True if added."""
        if kind == EdgeKind.deployed:
            raise ValueError("deployments are recorded by EndpointStore.record_deployment")
        found = self._live(src, dst, kind)
        if found is not None:
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
            attrs={},
        )
        self.session.add(row)
        self.cache.edges[(src, dst, str(kind))] = row
        return True

    def _live(self, src: uuid.UUID, dst: uuid.UUID, kind: EdgeKind) -> EdgeRow | None:
        found = self.cache.edges.get((src, dst, str(kind)))
        # A node made in this transaction has no edges but the ones cached here.
        if found is None and src not in self.cache.created and dst not in self.cache.created:
            found = self.session.scalars(
                select(EdgeRow).where(
                    EdgeRow.src_id == src,
                    EdgeRow.dst_id == dst,
                    EdgeRow.kind == str(kind),
                    EdgeRow.valid_to.is_(None),
                )
            ).first()
            if found is not None:
                self.cache.edges[(src, dst, str(kind))] = found
        return found

    def edges_of(self, node_id: uuid.UUID, *, incoming: bool) -> list[Edge]:
        """Every edge into (or out of) one node."""
        col = EdgeRow.dst_id if incoming else EdgeRow.src_id
        return [to_edge(r) for r in self.session.scalars(select(EdgeRow).where(col == node_id))]

    def flow_neighbours(self, node_id: uuid.UUID, *, incoming: bool) -> list[Node]:
        """Nodes one data-flow edge away (deployments aside), by namespace, name and version."""
        col, other = (
            (EdgeRow.dst_id, EdgeRow.src_id) if incoming else (EdgeRow.src_id, EdgeRow.dst_id)
        )
        stmt = (
            select(NodeRow)
            .join(EdgeRow, other == NodeRow.id)
            .where(col == node_id, EdgeRow.kind != str(EdgeKind.deployed))
            .order_by(NodeRow.namespace, NodeRow.name, NodeRow.version)
        )
        return [to_node(r) for r in self.session.scalars(stmt).unique()]

    def link_columns(
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
        """Record that one column feeds another (once); True if added."""
        key = (src, src_field, dst, dst_field)
        if key in self.cache.columns:
            return False
        self.cache.columns.add(key)
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
