"""The vocabulary of graph walks: directions, limits, and picking one path among shortest ones.

The walks themselves run in SQL (``lineage.stores.graph``); what is here works in memory on
the little they return.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from enum import StrEnum
from uuid import UUID

from lineage.schemas import Edge

MAX_DEPTH = 50
MAX_NODES = 10_000


class Direction(StrEnum):
    """Which way to walk: against the flow of data (upstream) or with it (downstream)."""

    upstream = "upstream"
    downstream = "downstream"


def pick_path(src: UUID, dst: UUID, edges: Sequence[Edge]) -> list[UUID]:
    """The node ids of one path from ``src`` to ``dst`` over ``edges`` (which must join them).

    Breadth-first with successors in id order, so that the same edges always give the same path.
    """
    nxt: dict[UUID, list[UUID]] = {}
    for e in edges:
        nxt.setdefault(e.src, []).append(e.dst)
    prev: dict[UUID, UUID] = {}
    queue = deque([src])
    while queue and dst not in prev:
        node = queue.popleft()
        for succ in sorted(nxt.get(node, []), key=str):
            if succ not in prev:
                prev[succ] = node
                queue.append(succ)
    chain = [dst]
    while chain[-1] != src:
        chain.append(prev[chain[-1]])
    return chain[::-1]
