"""Property: recursive-CTE traversal equals a plain in-memory breadth-first search."""

from __future__ import annotations

import itertools
from collections import deque
from datetime import timedelta
from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from governance.audit.service import record_audit
from governance.core.db import Database
from lineage.graph import Direction
from lineage.schemas import EdgeKind, NodeKind
from lineage.stores import sql_stores
from lineage.stores.graph import SqlGraphStore
from tests.lineage.conftest import ACTOR, T0

_projects = itertools.count()


@st.composite
def dags(draw: st.DrawFn) -> tuple[int, list[tuple[int, int, int]]]:
    """A node count and edges (i -> j with i < j, so acyclic) with a validity start hour."""
    n = draw(st.integers(min_value=1, max_value=18))
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=40)) if pairs else []
    return n, [(i, j, draw(st.integers(0, 5))) for i, j in chosen]


def bfs(
    n: int, edges: list[tuple[int, int, int]], seed: int, up: bool, depth: int, hour: int | None
) -> dict[int, int]:
    adj: dict[int, list[int]] = {i: [] for i in range(n)}
    for i, j, h in edges:
        if hour is not None and h > hour:
            continue
        if up:
            adj[j].append(i)
        else:
            adj[i].append(j)
    dist = {seed: 0}
    queue = deque([seed])
    while queue:
        node = queue.popleft()
        if dist[node] == depth:
            continue
        for nxt in adj[node]:
            if nxt not in dist:
                dist[nxt] = dist[node] + 1
                queue.append(nxt)
    return dist


def build(db: Database, n: int, edges: list[tuple[int, int, int]]) -> tuple[str, list[UUID]]:
    project = f"p{next(_projects)}"
    with db.transaction() as session:
        stores = sql_stores(session)
        ids = [
            stores.nodes.add(
                project=project, kind=NodeKind.dataset, namespace="ns", name=f"d{i}", at=T0
            ).id
            for i in range(n)
        ]
        for i, j, h in edges:
            stores.edges.link(
                project=project,
                src=ids[i],
                dst=ids[j],
                kind=EdgeKind.consumed,
                at=T0 + timedelta(hours=h),
            )
        record_audit(session, actor=ACTOR, action="test.graph", project=project)
    return project, ids


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    dag=dags(),
    seed=st.integers(0, 17),
    depth=st.integers(0, 6),
    up=st.booleans(),
    hour=st.one_of(st.none(), st.integers(0, 5)),
)
def test_reach_equals_bfs(
    db: Database,
    dag: tuple[int, list[tuple[int, int, int]]],
    seed: int,
    depth: int,
    up: bool,
    hour: int | None,
) -> None:
    n, edges = dag
    seed %= n
    _, ids = build(db, n, edges)
    at = None if hour is None else T0 + timedelta(hours=hour, minutes=30)
    direction = Direction.upstream if up else Direction.downstream
    with db.read() as session:
        store = SqlGraphStore(session)
        got, truncated = store.reach(seeds=[ids[seed]], direction=direction, max_depth=depth, at=at)
        among = store.edges_among(got, at)
    want = bfs(n, edges, seed, up, depth, hour)
    assert not truncated
    assert got == {ids[i]: d for i, d in want.items()}
    index = {u: i for i, u in enumerate(ids)}
    expected_edges = {
        (i, j) for i, j, h in edges if i in want and j in want and (hour is None or h <= hour)
    }
    assert {(index[e.src], index[e.dst]) for e in among} == expected_edges
