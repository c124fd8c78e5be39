"""Lineage benchmark: upstream depth-10 queries on a 100k-node / 300k-edge graph, and ingest rate.

    .venv/bin/python benchmarks/lineage_queries.py [--nodes 100000] [--edges 300000] [--queries 200]
        [--events 2000] [--pg postgresql://postgres@127.0.0.1:5432/postgres | --no-pg]

The graph is shaped like real lineage: many independent pipelines (domains) of layered assets,
each asset derived from three assets of the layer before it, plus some edges that skip a layer.
Queries go through ``lineage.query.walk`` (transaction, recursive CTE, node and edge fetch), from
random assets of the last layers. Ingest goes through the same path as ``POST /api/v1/lineage``
after authentication: schema validation, then one transaction per event with its audit entry.
Prints a table; targets are p50 <= 50 ms and >= 500 events/s on SQLite.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from governance.audit.service import record_audit
from governance.core.db import Database, normalise_url
from lineage import query
from lineage.graph import Direction
from lineage.models import EdgeRow, NodeRow
from lineage.olschema import validate_event
from lineage.openlineage import apply_events
from lineage.stores.graph import SqlGraphStore
from steward.migrations import upgrade

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PROJECT = "bench"
LAYER_WIDTH = 20
LAYERS = 50


@dataclass
class Row:
    """One line of the result table."""

    backend: str
    metric: str
    value: float
    unit: str
    target: str
    ok: bool


def build_graph(db: Database, nodes: int, edges: int, seed: int = 7) -> list[uuid.UUID]:
    """Insert the generated graph in one transaction; returns the node ids in layer order."""
    rng = random.Random(seed)
    per_domain = LAYER_WIDTH * LAYERS
    domains = max(1, nodes // per_domain)
    ids = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(domains * per_domain)]
    node_rows = [
        {
            "id": nid,
            "project": PROJECT,
            "kind": "dataset",
            "namespace": f"d{i // per_domain}",
            "name": f"t{i % per_domain}",
            "version": "",
            "parent_id": None,
            "created_at": T0,
            "updated_at": T0,
            "attrs": {},
        }
        for i, nid in enumerate(ids)
    ]
    pairs: set[tuple[int, int]] = set()
    for d in range(domains):
        base = d * per_domain
        for layer in range(1, LAYERS):
            for k in range(LAYER_WIDTH):
                dst = base + layer * LAYER_WIDTH + k
                for src in rng.sample(range(LAYER_WIDTH), 3):
                    pairs.add((base + (layer - 1) * LAYER_WIDTH + src, dst))
    while len(pairs) < edges:
        d, layer = rng.randrange(domains), rng.randrange(2, LAYERS)
        base = d * per_domain
        pairs.add(
            (
                base + (layer - 2) * LAYER_WIDTH + rng.randrange(LAYER_WIDTH),
                base + layer * LAYER_WIDTH + rng.randrange(LAYER_WIDTH),
            )
        )
    edge_rows = [
        {
            "id": uuid.UUID(int=rng.getrandbits(128)),
            "project": PROJECT,
            "src_id": ids[s],
            "dst_id": ids[t],
            "kind": "consumed",
            "valid_from": T0,
            "valid_to": None,
            "attrs": {},
        }
        for s, t in sorted(pairs)
    ]
    with db.transaction() as session:
        for start in range(0, len(node_rows), 5000):
            session.execute(insert(NodeRow), node_rows[start : start + 5000])
        for start in range(0, len(edge_rows), 5000):
            session.execute(insert(EdgeRow), edge_rows[start : start + 5000])
        record_audit(session, actor="benchmark", action="benchmark.graph", project=PROJECT)
    if not db.is_sqlite:
        with db.engine.begin() as conn:
            conn.execute(text("ANALYZE lineage_nodes; ANALYZE lineage_edges"))
    else:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    return ids


def time_queries(db: Database, ids: list[uuid.UUID], count: int) -> dict[str, float]:
    """Upstream depth-10 timings (ms): the whole use case, and the recursive CTE alone."""
    rng = random.Random(11)
    per_domain = LAYER_WIDTH * LAYERS
    tail = [i for i in range(len(ids)) if i % per_domain >= (LAYERS - 5) * LAYER_WIDTH]
    picks = [ids[rng.choice(tail)] for _ in range(count)]
    full, cte, sizes = [], [], []
    for node in picks:
        start = time.perf_counter()
        graph = query.walk(
            db, project=PROJECT, node_id=node, direction=Direction.upstream, depth=10, at=T0
        )
        full.append((time.perf_counter() - start) * 1000)
        sizes.append(len(graph.nodes))
    with db.read() as session:
        store = SqlGraphStore(session)
        for node in picks:
            start = time.perf_counter()
            store.reach(seeds=[node], direction=Direction.upstream, max_depth=10, at=T0)
            cte.append((time.perf_counter() - start) * 1000)
    full.sort()
    return {
        "p50": statistics.median(full),
        "p95": full[int(len(full) * 0.95) - 1],
        "cte": statistics.median(cte),
        "size": statistics.mean(sizes),
    }


def event(run: uuid.UUID, state: str, i: int) -> dict[str, object]:
    """One OpenLineage RunEvent: two inputs and one output, with a schema facet."""
    facet = {
        "_producer": "https://example.com/bench",
        "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json",
        "fields": [{"name": "id", "type": "BIGINT"}, {"name": "v", "type": "DOUBLE"}],
    }
    when = T0 + timedelta(seconds=i)
    return {
        "eventType": state,
        "eventTime": when.isoformat(),
        "producer": "https://example.com/bench",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": str(run)},
        "job": {"namespace": PROJECT, "name": f"job{i % 50}"},
        "inputs": [
            {"namespace": "s3", "name": f"raw/{i % 97}", "facets": {"schema": facet}},
            {"namespace": "s3", "name": f"ref/{i % 13}"},
        ],
        "outputs": [{"namespace": "s3", "name": f"out/{i % 101}", "facets": {"schema": facet}}],
    }


def time_ingest(db: Database, count: int, batch: int, salt: int) -> float:
    """Events per second through validation and audited transactions of ``batch`` events."""
    rng = random.Random(salt)
    events = []
    for i in range(count // 2):
        run = uuid.UUID(int=rng.getrandbits(128))
        events += [event(run, "START", i), event(run, "COMPLETE", i)]
    start = time.perf_counter()
    for first in range(0, len(events), batch):
        chunk = [(p, validate_event(p), PROJECT) for p in events[first : first + batch]]
        apply_events(db, events=chunk, actor="benchmark")
    return len(events) / (time.perf_counter() - start)


def run_backend(name: str, url: str, args: argparse.Namespace) -> list[Row]:
    """Build, query and ingest on one backend."""
    db = Database(url)
    upgrade(db)
    t = time.perf_counter()
    ids = build_graph(db, args.nodes, args.edges)
    print(f"[{name}] graph of {len(ids)} nodes built in {time.perf_counter() - t:.1f}s", flush=True)
    q = time_queries(db, ids, args.queries)
    single = time_ingest(db, args.events // 4, 1, 5)
    batched = time_ingest(db, args.events, 100, 6)
    db.dispose()
    return [
        Row(name, "upstream depth-10 p50", q["p50"], "ms", "<= 50", q["p50"] <= 50),
        Row(name, "upstream depth-10 p95", q["p95"], "ms", "", True),
        Row(name, "  of which CTE alone, p50", q["cte"], "ms", "", True),
        Row(name, "nodes per answer (mean)", q["size"], "", "", True),
        Row(name, "ingest, 1 event/txn", single, "events/s", "", True),
        Row(name, "ingest, 100 events/txn", batched, "events/s", ">= 500", batched >= 500),
    ]


def _pg_database(url: str) -> tuple[str, str]:
    name = f"steward_bench_{os.getpid()}"
    admin = create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return name, normalise_url(url).rsplit("/", 1)[0] + f"/{name}"


def _drop_pg(url: str, name: str) -> None:
    admin = create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--edges", type=int, default=300_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument(
        "--pg",
        default=os.environ.get(
            "STEWARD_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        rows += run_backend("sqlite", f"sqlite:///{tmp}/bench.db", args)
    if not args.no_pg:
        name, url = _pg_database(args.pg)
        try:
            rows += run_backend("postgresql", url, args)
        finally:
            _drop_pg(args.pg, name)
    print(f"\nload average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"\n{'backend':<11} {'metric':<26} {'value':>10} {'unit':<9} {'target':<7} ok")
    for r in rows:
        print(
            f"{r.backend:<11} {r.metric:<26} {r.value:>10.1f} {r.unit:<9} {r.target:<7} "
            f"{'yes' if r.ok else 'NO'}"
        )


if __name__ == "__main__":
    main()
