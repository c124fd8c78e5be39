"""Storage of the asset graph: one store per capability, each a Protocol beside its SQL twin.

| module | Protocol | holds |
| --- | --- | --- |
| ``nodes`` | ``NodeStore`` | assets by identity (project, kind, namespace, name, version) |
| ``edges`` | ``EdgeStore`` | data-flow edges and column lineage |
| ``graph`` | ``GraphStore`` | walks: reach, subgraphs, shortest paths (recursive CTEs) |
| ``runs`` | ``RunStore`` | runs of jobs, their reported state; jobs |
| ``registry`` | ``RegistryStore`` | dataset versions, model versions, aliases |
| ``endpoints`` | ``EndpointStore`` | endpoints and their deployment history |
| ``events`` | ``EventStore`` | raw OpenLineage events |

Services take the stores of one transaction from ``sql_stores(session)`` (``batch_stores`` for
bulk writes): they share what the transaction has already found or made, so that a batch never
looks up the same node twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.orm import Session

from lineage.stores.edges import EdgeStore, SqlEdgeStore
from lineage.stores.endpoints import EndpointStore, SqlEndpointStore
from lineage.stores.events import EventStore, SqlEventStore
from lineage.stores.graph import GraphStore, SqlGraphStore
from lineage.stores.nodes import NodeStore, SqlNodeStore
from lineage.stores.registry import RegistryStore, SqlRegistryStore
from lineage.stores.rows import GraphCache
from lineage.stores.runs import RunStore, SqlRunStore


@dataclass(frozen=True, kw_only=True, slots=True)
class LineageStores:
    """The stores of one transaction."""

    nodes: NodeStore
    edges: EdgeStore
    graph: GraphStore
    runs: RunStore
    registry: RegistryStore
    endpoints: EndpointStore
    events: EventStore


def sql_stores(session: Session) -> LineageStores:
    """The SQL stores of one transaction, sharing one cache of what it found or made."""
    cache = GraphCache()
    return LineageStores(
        nodes=SqlNodeStore(session, cache),
        edges=SqlEdgeStore(session, cache),
        graph=SqlGraphStore(session),
        runs=SqlRunStore(session, cache),
        registry=SqlRegistryStore(session, cache),
        endpoints=SqlEndpointStore(session, cache),
        events=SqlEventStore(session),
    )


@contextmanager
def batch_stores(session: Session) -> Iterator[LineageStores]:
    """``sql_stores`` for a batch of writes: nothing is flushed before each lookup.

    The stores' cache knows every row the batch made, so lookups need not see them in the
    database; the unit of work then inserts each table's rows in one go at the end.
    """
    with session.no_autoflush:
        yield sql_stores(session)
