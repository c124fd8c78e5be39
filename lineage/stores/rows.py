"""Node rows of one transaction, each looked up once; for the stores of this package only."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, tuple_
from sqlalchemy.orm import Session

from governance.core.ids import new_id
from lineage.models import EdgeRow, NodeRow
from lineage.schemas import NodeKind

NodeKey = tuple[str, str, str, str, str]
"""(project, kind, namespace, name, version): a node's identity."""


@dataclass(slots=True)
class GraphCache:
    """Rows one transaction found or made, so that a batch never looks the same one up twice.

    A batch of events names the same datasets and edges over and over. The stores of one
    transaction share one cache (``lineage.stores.sql_stores`` builds them so); it must not
    outlive the transaction, nor survive a rolled-back savepoint whose rows it remembers.
    """

    nodes: dict[NodeKey, NodeRow] = field(default_factory=dict)
    by_id: dict[uuid.UUID, NodeRow] = field(default_factory=dict)
    absent: set[NodeKey] = field(default_factory=set)
    created: set[uuid.UUID] = field(default_factory=set)
    edges: dict[tuple[uuid.UUID, uuid.UUID, str], EdgeRow] = field(default_factory=dict)
    columns: set[tuple[uuid.UUID, str, uuid.UUID, str]] = field(default_factory=set)

    def remember(self, row: NodeRow) -> None:
        """Keep a node found in (or added to) the session."""
        key = (row.project, row.kind, row.namespace, row.name, row.version)
        self.nodes[key] = row
        self.by_id[row.id] = row
        self.absent.discard(key)


class NodeRows:
    """Finds and adds node rows through a transaction's cache."""

    def __init__(self, session: Session, cache: GraphCache) -> None:
        self.session = session
        self.cache = cache

    def get(
        self, project: str, kind: NodeKind, namespace: str, name: str, version: str = ""
    ) -> NodeRow | None:
        """The row with this identity."""
        key = (project, str(kind), namespace, name, version)
        if key in self.cache.nodes:
            return self.cache.nodes[key]
        if key in self.cache.absent:
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
            self.cache.remember(row)
        return row

    def by_id(self, node_id: uuid.UUID) -> NodeRow | None:
        """The row with this id, even one added in this transaction and not yet flushed."""
        row = self.cache.by_id.get(node_id)
        return row if row is not None else self.session.get(NodeRow, node_id)

    def named(self, project: str, kind: NodeKind, name: str, version: str = "") -> NodeRow | None:
        """The row of ``kind`` called ``name`` in any namespace (the oldest if several)."""
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

    def prefetch(self, project: str, kind: NodeKind, keys: Iterable[tuple[str, str, str]]) -> None:
        """Load the rows with these (namespace, name, version) keys in a few queries."""
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
                row = found.get((ns, name, version))
                if row is None:
                    self.cache.absent.add((project, str(kind), ns, name, version))
                else:
                    self.cache.remember(row)

    def _identity_in(self, keys: Sequence[tuple[str, str, str]]) -> ColumnElement[bool]:
        cols = (NodeRow.namespace, NodeRow.name, NodeRow.version)
        if self.session.get_bind().dialect.name == "postgresql":
            return tuple_(*cols).in_(keys)
        # SQLite scans the table for a row-value IN list, but answers an OR of equalities
        # with one unique-index lookup per term.
        return or_(*(and_(*(c == v for c, v in zip(cols, key, strict=True))) for key in keys))

    def add(
        self,
        *,
        project: str,
        kind: NodeKind,
        namespace: str,
        name: str,
        version: str = "",
        parent: uuid.UUID | None = None,
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
            parent_id=parent,
            created_at=at,
            updated_at=at,
            attrs=attrs or {},
        )
        self.session.add(row)
        self.cache.remember(row)
        self.cache.created.add(row.id)
        return row

    def ensure(
        self,
        *,
        project: str,
        kind: NodeKind,
        namespace: str,
        name: str,
        version: str = "",
        parent: uuid.UUID | None = None,
        attrs: dict[str, Any] | None = None,
        at: datetime,
    ) -> tuple[NodeRow, bool]:
        """The row with this identity, added if missing; True when added."""
        row = self.get(project, kind, namespace, name, version)
        if row is not None:
            return row, False
        return self.add(
            project=project,
            kind=kind,
            namespace=namespace,
            name=name,
            version=version,
            parent=parent,
            attrs=attrs,
            at=at,
        ), True

    def children(self, parent_id: uuid.UUID) -> list[NodeRow]:
        """Versions of a dataset or model, oldest first."""
        stmt = select(NodeRow).where(NodeRow.parent_id == parent_id).order_by(NodeRow.created_at)
        return list(self.session.scalars(stmt))

    def count_children(self, parent_id: uuid.UUID) -> int:
        """How many versions a dataset or model has."""
        stmt = select(func.count()).select_from(NodeRow).where(NodeRow.parent_id == parent_id)
        return int(self.session.scalar(stmt) or 0)

    def page(
        self, project: str, kind: NodeKind, *, after: str = "", limit: int = 100
    ) -> list[NodeRow]:
        """Rows of one kind in a project, by name, in pages keyed by name."""
        stmt = (
            select(NodeRow)
            .where(NodeRow.project == project, NodeRow.kind == str(kind), NodeRow.name > after)
            .order_by(NodeRow.name, NodeRow.namespace)
            .limit(limit)
        )
        return list(self.session.scalars(stmt))
