"""Use cases of the graph: upstream, downstream, impact, path, column lineage, lookups."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from uuid import UUID

from governance.core.clock import Clock, SystemClock, to_utc
from governance.core.db import Database
from governance.core.errors import InvalidInput, NotFound
from lineage.graph import MAX_DEPTH, MAX_NODES, Direction
from lineage.schemas import ColumnEdge, Graph, Node, NodeKind, PathResult
from lineage.stores import sql_stores
from lineage.stores.nodes import NodeStore

_WALL = SystemClock()
IMPACT_KINDS = frozenset({NodeKind.model, NodeKind.model_version, NodeKind.endpoint})


def _node(store: NodeStore, project: str, node_id: UUID) -> Node:
    found = store.find_by_id(node_id, project)
    if found is None:
        raise NotFound("node not found")
    return found


def _when(at: datetime | None, history: bool, clock: Clock) -> datetime | None:
    # None means "every edge that ever existed": history mode ignores validity intervals.
    if history:
        return None
    return to_utc(at) if at is not None else clock.now()


def _kinds(kinds: Collection[NodeKind] | None) -> frozenset[NodeKind] | None:
    # No kinds, or none named, means every kind: an empty filter would show the root alone.
    return frozenset(kinds) if kinds else None


def _check_depth(depth: int) -> None:
    if not 0 <= depth <= MAX_DEPTH:
        raise InvalidInput(f"depth must be between 0 and {MAX_DEPTH}", field="depth")


def get_node(db: Database, *, project: str, node_id: UUID) -> Node:
    """One node of the project."""
    with db.read() as session:
        return _node(sql_stores(session).nodes, project, node_id)


def find_node(
    db: Database,
    *,
    project: str,
    kind: NodeKind,
    name: str,
    version: str = "",
    namespace: str | None = None,
) -> Node | None:
    """A node by kind, name, version (and namespace, when names repeat across namespaces)."""
    with db.read() as session:
        store = sql_stores(session).nodes
        if namespace is not None:
            return store.find(project, kind, namespace, name, version)
        return store.find_named(project, kind, name, version)


def list_nodes(
    db: Database, *, project: str, kind: NodeKind, after: str = "", limit: int = 100
) -> list[Node]:
    """Nodes of one kind in a project, by name."""
    with db.read() as session:
        return sql_stores(session).nodes.page(project, kind, after=after, limit=limit)


def walk(
    db: Database,
    *,
    project: str,
    node_id: UUID,
    direction: Direction,
    depth: int = 10,
    at: datetime | None = None,
    history: bool = False,
    kinds: Collection[NodeKind] | None = None,
    limit: int = MAX_NODES,
    clock: Clock = _WALL,
) -> Graph:
    """The upstream or downstream subgraph of a node, as of ``at`` (default: now).

    With ``kinds``, only nodes of those kinds are shown besides the root; the walk still goes
    through the others (filtering hides nodes, it does not cut paths).
    """
    _check_depth(depth)
    with db.read() as session:
        stores = sql_stores(session)
        return stores.graph.subgraph(
            root=_node(stores.nodes, project, node_id),
            direction=direction,
            max_depth=depth,
            at=_when(at, history, clock),
            kinds=_kinds(kinds),
            limit=limit,
        )


def upstream(
    db: Database,
    *,
    project: str,
    node_id: UUID,
    depth: int = 10,
    at: datetime | None = None,
    kinds: Collection[NodeKind] | None = None,
    clock: Clock = _WALL,
) -> Graph:
    """Everything a node was derived from, up to ``depth`` hops, as of ``at``."""
    return walk(
        db,
        project=project,
        node_id=node_id,
        direction=Direction.upstream,
        depth=depth,
        at=at,
        kinds=kinds,
        clock=clock,
    )


def downstream(
    db: Database,
    *,
    project: str,
    node_id: UUID,
    depth: int = 10,
    at: datetime | None = None,
    kinds: Collection[NodeKind] | None = None,
    clock: Clock = _WALL,
) -> Graph:
    """Everything derived from a node, up to ``depth`` hops, as of ``at``."""
    return walk(
        db,
        project=project,
        node_id=node_id,
        direction=Direction.downstream,
        depth=depth,
        at=at,
        kinds=kinds,
        clock=clock,
    )


def impact(
    db: Database,
    *,
    project: str,
    node_id: UUID,
    at: datetime | None = None,
    history: bool = False,
    kinds: Collection[NodeKind] | None = None,
    clock: Clock = _WALL,
) -> Graph:
    """Every model, model version and endpoint (or node of ``kinds``) downstream of a node."""
    with db.read() as session:
        stores = sql_stores(session)
        return stores.graph.subgraph(
            root=_node(stores.nodes, project, node_id),
            direction=Direction.downstream,
            max_depth=MAX_DEPTH,
            at=_when(at, history, clock),
            kinds=_kinds(kinds) or IMPACT_KINDS,
        )


def path(
    db: Database,
    *,
    project: str,
    src: UUID,
    dst: UUID,
    depth: int = 20,
    at: datetime | None = None,
    history: bool = False,
    clock: Clock = _WALL,
) -> PathResult:
    """A shortest path from ``src`` downstream to ``dst``."""
    _check_depth(depth)
    with db.read() as session:
        stores = sql_stores(session)
        a, b = _node(stores.nodes, project, src), _node(stores.nodes, project, dst)
        when = _when(at, history, clock)
        return stores.graph.shortest_path(src=a.id, dst=b.id, max_depth=depth, at=when)


def column_lineage(
    db: Database, *, project: str, node_id: UUID, field: str | None = None, depth: int = 10
) -> list[ColumnEdge]:
    """Column lineage into a dataset: direct edges, or the transitive sources of one field."""
    _check_depth(depth)
    with db.read() as session:
        stores = sql_stores(session)
        node = _node(stores.nodes, project, node_id)
        if field is None:
            return stores.edges.column_edges(node.id, incoming=True)
        return stores.graph.column_upstream(node_id=node.id, field=field, max_depth=depth)
