"""Assets of the graph by identity: find, create once, page; never commits."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from lineage.models import NodeRow
from lineage.schemas import Node, NodeKind, NodeRecord
from lineage.stores.rows import GraphCache, NodeRows


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


class NodeStore(Protocol):
    """Nodes (assets) of the graph by their identity.

    A node's identity is (project, kind, namespace, name, version), with ``version`` empty for
    unversioned assets; ``ensure`` creates a node at most once per identity. Every node found
    or made is remembered for the rest of the transaction, so that a batch naming the same asset
    again costs no query, and ``prefetch`` loads many identities in a few queries ahead of such a
    batch. Lookups by id only see the given project when one is given. Nothing here commits.
    """

    def find(
        self, project: str, kind: NodeKind, namespace: str, name: str, version: str = ""
    ) -> Node | None:
        """The node with this identity."""
        ...

    def find_named(self, project: str, kind: NodeKind, name: str, version: str = "") -> Node | None:
        """The node of ``kind`` called ``name`` in any namespace (the oldest if several)."""
        ...

    def find_by_id(self, node_id: uuid.UUID, project: str | None = None) -> Node | None:
        """The node with this id (only if it belongs to ``project`` when given)."""
        ...

    def prefetch(self, project: str, kind: NodeKind, keys: Iterable[tuple[str, str, str]]) -> None:
        """Load the nodes with these (namespace, name, version) keys in a few queries."""
        ...

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
    ) -> Node:
        """Insert a node (its identity must be new)."""
        ...

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
    ) -> tuple[Node, bool]:
        """The node with this identity, created if missing; True when created."""
        ...

    def replace_facets(self, node_id: uuid.UUID, facets: dict[str, Any], at: datetime) -> None:
        """Replace the facets of a node; raises LookupError when there is no such node."""
        ...

    def page(
        self, project: str, kind: NodeKind, *, after: str = "", limit: int = 100
    ) -> list[Node]:
        """Nodes of one kind in a project, by name, in pages keyed by name."""
        ...

    def records(self, project: str, kind: NodeKind) -> list[NodeRecord]:
        """Every node of one kind in a project, oldest first, with its parent and last change."""
        ...


class SqlNodeStore:
    """NodeStore on SQLAlchemy (SQLite and PostgreSQL)."""

    def __init__(self, session: Session, cache: GraphCache | None = None) -> None:
        self.session = session
        self.rows = NodeRows(session, cache if cache is not None else GraphCache())

    def find(
        self, project: str, kind: NodeKind, namespace: str, name: str, version: str = ""
    ) -> Node | None:
        """The node with this identity."""
        row = self.rows.get(project, kind, namespace, name, version)
        return None if row is None else to_node(row)

    def find_named(self, project: str, kind: NodeKind, name: str, version: str = "") -> Node | None:
        """The node of ``kind`` called ``name`` in any namespace (the oldest if several)."""
        row = self.rows.named(project, kind, name, version)
        return None if row is None else to_node(row)

    def find_by_id(self, node_id: uuid.UUID, project: str | None = None) -> Node | None:
        """The node with this id (only if it belongs to ``project`` when given)."""
        row = self.rows.by_id(node_id)
        if row is None or (project is not None and row.project != project):
            return None
        return to_node(row)

    def prefetch(self, project: str, kind: NodeKind, keys: Iterable[tuple[str, str, str]]) -> None:
        """Load the nodes with these (namespace, name, version) keys in a few queries."""
        self.rows.prefetch(project, kind, keys)

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
    ) -> Node:
        """Insert a node (its identity must be new)."""
        row = self.rows.add(
            project=project,
            kind=kind,
            namespace=namespace,
            name=name,
            version=version,
            parent=parent,
            attrs=attrs,
            at=at,
        )
        return to_node(row)

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
    ) -> tuple[Node, bool]:
        """The node with this identity, created if missing; True when created."""
        row, created = self.rows.ensure(
            project=project,
            kind=kind,
            namespace=namespace,
            name=name,
            version=version,
            parent=parent,
            attrs=attrs,
            at=at,
        )
        return to_node(row), created

    def replace_facets(self, node_id: uuid.UUID, facets: dict[str, Any], at: datetime) -> None:
        """Replace the facets of a node; raises LookupError when there is no such node."""
        row = self.rows.by_id(node_id)
        if row is None:
            raise LookupError(f"node {node_id} not found")
        row.attrs = {**(row.attrs or {}), "facets": facets}
        row.updated_at = at

    def page(
        self, project: str, kind: NodeKind, *, after: str = "", limit: int = 100
    ) -> list[Node]:
        """Nodes of one kind in a project, by name, in pages keyed by name."""
        return [to_node(r) for r in self.rows.page(project, kind, after=after, limit=limit)]

    def records(self, project: str, kind: NodeKind) -> list[NodeRecord]:
        """Every node of one kind in a project, oldest first, with its parent and last change."""
        stmt = (
            select(NodeRow)
            .where(NodeRow.project == project, NodeRow.kind == str(kind))
            .order_by(NodeRow.created_at, NodeRow.id)
        )
        return [
            NodeRecord(node=to_node(r), parent=r.parent_id, updated_at=r.updated_at)
            for r in self.session.scalars(stmt)
        ]
