"""Use cases of the graph: upstream, downstream, impact, path, column lineage, lookups."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy.orm import Session

from governance.core.clock import Clock, SystemClock, to_utc
from governance.core.db import Database
from governance.core.errors import InvalidInput, NotFound
from lineage.graph import MAX_DEPTH, MAX_NODES, Direction, column_upstream, shortest_path, subgraph
from lineage.models import NodeRow
from lineage.schemas import ColumnEdge, Graph, Node, NodeKind, PathResult
from lineage.store import SqlLineageStore, to_node

_WALL = SystemClock()
IMPACT_KINDS = frozenset({NodeKind.model, NodeKind.model_version, NodeKind.endpoint})


def _row(session: Session, project: str, node_id: UUID) -> NodeRow:
    row = SqlLineageStore(session).node_by_id(node_id, project)
    if row is None:
        raise NotFound("node not found")
    return row


def _when(at: datetime | None, history: bool, clock: Clock) -> datetime | None:
    # None means "every edge that ever existed": history mode ignores validity intervals.
    if history:
        return None
    return to_utc(at) if at is not None else clock.now()


def _check_depth(depth: int) -> None:
    if not 0 <= depth <= MAX_DEPTH:
        raise InvalidInput(f"depth must be between 0 and {MAX_DEPTH}", field="depth")


def get_node(db: Database, *, project: str, node_id: UUID) -> Node:
    """One node of the project."""
    with db.read() as session:
        return to_node(_row(session, project, node_id))


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
        store = SqlLineageStore(session)
        row = (
            store.node(project, kind, namespace, name, version)
            if namespace is not None
            else store.node_named(project, kind, name, version)
        )
        return to_node(row) if row else None


def list_nodes(
    db: Database, *, project: str, kind: NodeKind, after: str = "", limit: int = 100
) -> list[Node]:
    """Nodes of one kind in a project, by name."""
    with db.read() as session:
        rows = SqlLineageStore(session).list_nodes(project, kind, after=after, limit=limit)
        return [to_node(r) for r in rows]


def walk(
    db: Database,
    *,
    project: str,
    node_id: UUID,
    direction: Direction,
    depth: int = 10,
    at: datetime | None = None,
    history: bool = False,
    limit: int = MAX_NODES,
    clock: Clock = _WALL,
) -> Graph:
    """The upstream or downstream subgraph of a node, as of ``at`` (default: now)."""
    _check_depth(depth)
    with db.read() as session:
        root = _row(session, project, node_id)
        return subgraph(
            session,
            root=root,
            direction=direction,
            max_depth=depth,
            at=_when(at, history, clock),
            limit=limit,
        )


def upstream(
    db: Database,
    *,
    project: str,
    node_id: UUID,
    depth: int = 10,
    at: datetime | None = None,
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
        clock=clock,
    )


def downstream(
    db: Database,
    *,
    project: str,
    node_id: UUID,
    depth: int = 10,
    at: datetime | None = None,
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
        clock=clock,
    )


def impact(
    db: Database,
    *,
    project: str,
    node_id: UUID,
    at: datetime | None = None,
    history: bool = False,
    clock: Clock = _WALL,
) -> Graph:
    """Every model version and endpoint downstream of a node (e.g. a bad dataset version)."""
    with db.read() as session:
        root = _row(session, project, node_id)
        return subgraph(
            session,
            root=root,
            direction=Direction.downstream,
            max_depth=MAX_DEPTH,
            at=_when(at, history, clock),
            kinds=IMPACT_KINDS,
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
        a, b = _row(session, project, src), _row(session, project, dst)
        return shortest_path(session, src=a, dst=b, max_depth=depth, at=_when(at, history, clock))


def column_lineage(
    db: Database, *, project: str, node_id: UUID, field: str | None = None, depth: int = 10
) -> list[ColumnEdge]:
    """Column lineage into a dataset: direct edges, or the transitive sources of one field."""
    _check_depth(depth)
    with db.read() as session:
        row = _row(session, project, node_id)
        if field is None:
            return SqlLineageStore(session).column_edges(row.id, incoming=True)
        return column_upstream(session, node_id=row.id, field=field, max_depth=depth)
