"""Inference ingest through the real app: rows per second as JSON, Arrow IPC and Parquet.

Run: ``.venv/bin/python benchmarks/ingest.py [--json-rows 100000] [--bulk-rows 1000000]``.
Each body goes through authentication, RBAC, the endpoint's signature check, the atomic Parquet
write (with fsync) and the idempotency record, exactly as a client's POST would.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from governance.access import service as access
from governance.core.db import Database
from governance.core.principal import SYSTEM
from governance.core.settings import Settings
from lineage import service as lineage
from lineage.schemas import ColumnSpec, EndpointCreate, ModelCreate, Signature
from monitors.capture.service import read_window
from steward.api.app import build_services, create_app
from steward.migrations import upgrade

T0 = datetime(2026, 3, 1, tzinfo=UTC)
_BASE = np.datetime64("2026-03-01T00:00:00", "us")
_MS = np.timedelta64(1, "ms")
NUMERIC = ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
CATEGORICAL = ["workclass", "education", "marital-status", "occupation", "relationship", "race",
               "sex", "native-country"]  # fmt: skip
CLASSES = ["<=50K", ">50K"]
URL = "/api/v1/projects/bench/endpoints/income/inferences"
TARGETS = {"json": 20_000, "arrow": 500_000, "parquet": 500_000}


def _signature() -> Signature:
    inputs = [ColumnSpec(name=c, type="float") for c in NUMERIC]
    inputs += [ColumnSpec(name=c, type="str") for c in CATEGORICAL]
    return Signature(inputs=inputs, outputs=[ColumnSpec(name="prediction", type="str")],
                     task="binary", probabilities=True, classes=CLASSES)  # fmt: skip


def _table(n: int, offset: int, rng: np.random.Generator) -> pa.Table:
    cols: dict[str, object] = {
        "correlation_id": [f"r{offset + i}" for i in range(n)],
        "timestamp": pa.array(
            _BASE + np.timedelta64(offset % 80_000, "s") + np.arange(n) * _MS,
            pa.timestamp("us", tz="UTC"),
        ),
    }
    for c in NUMERIC:
        cols[c] = rng.normal(40, 12, n).round(1)
    for c in CATEGORICAL:
        cols[c] = pa.array(np.array([f"{c[:3]}-{k}" for k in range(9)])[rng.integers(0, 9, n)])
    p = rng.random(n)
    cols["prediction"] = np.where(p > 0.5, CLASSES[1], CLASSES[0])
    cols["probabilities"] = pa.FixedSizeListArray.from_arrays(
        np.column_stack([1 - p, p]).ravel(), 2
    ).cast(pa.list_(pa.float64()))
    return pa.table(cols)


def _json_body(table: pa.Table) -> bytes:
    rows = table.to_pylist()
    records = [
        {
            "correlation_id": r["correlation_id"],
            "timestamp": r["timestamp"].isoformat(),
            "features": {c: r[c] for c in NUMERIC + CATEGORICAL},
            "prediction": r["prediction"],
            "probabilities": r["probabilities"],
        }
        for r in rows
    ]
    return json.dumps({"records": records}).encode()


def _arrow_body(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def _parquet_body(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def _setup(home: Path) -> tuple[TestClient, str, Settings]:
    settings = Settings(home=home, rate_limit_per_minute=1_000_000, rate_limit_burst=100_000)
    upgrade(Database(settings.database_url))
    svc = build_services(settings)
    issued = access.bootstrap(svc.db, owner="bench", project="bench", actor=SYSTEM)
    assert issued is not None
    data = ModelCreate(sha256="0" * 64, signature=_signature())
    lineage.register_model_version(svc.db, project="bench", name="income", data=data, actor=SYSTEM)
    lineage.create_endpoint(
        svc.db, project="bench", data=EndpointCreate(name="income"), actor=SYSTEM
    )
    lineage.deploy(svc.db, project="bench", endpoint="income", model="income", actor=SYSTEM)
    client = TestClient(create_app(services=svc, seal_in_background=False))
    return client, issued.token, settings


def _run(
    client: TestClient, headers: dict[str, str], bodies: list[tuple[bytes, int]]
) -> tuple[float, float]:
    started, cpu = time.perf_counter(), time.process_time()
    for body, _ in bodies:
        r = client.post(URL, content=body, headers=headers)
        assert r.status_code == 201, r.text
    return time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    """Ingest the same synthetic Adult-shaped traffic three ways and print rows per second."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--json-rows", type=int, default=100_000)
    parser.add_argument("--json-batch", type=int, default=5_000)
    parser.add_argument("--bulk-rows", type=int, default=1_000_000)
    parser.add_argument("--bulk-batch", type=int, default=250_000)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    bulk = (args.bulk_rows, args.bulk_batch)
    plans: dict[str, tuple[int, int, Callable[[pa.Table], bytes], str]] = {
        "json": (args.json_rows, args.json_batch, _json_body, "application/json"),
        "arrow": (*bulk, _arrow_body, "application/vnd.apache.arrow.stream"),
        "parquet": (*bulk, _parquet_body, "application/x-parquet"),
    }
    results = []
    offset = 0
    with tempfile.TemporaryDirectory() as tmp:
        client, token, settings = _setup(Path(tmp))
        with client:
            for name, (rows, batch, encode, media) in plans.items():
                bodies = []
                for start in range(0, rows, batch):
                    table = _table(min(batch, rows - start), offset, rng)
                    offset += table.num_rows
                    bodies.append((encode(table), table.num_rows))
                headers = {"Authorization": f"Bearer {token}", "Content-Type": media}
                seconds, cpu = _run(client, headers, bodies)
                mb = sum(len(b) for b, _ in bodies) / 1e6
                results.append((name, rows, len(bodies), mb, seconds, cpu, TARGETS[name]))
            started = time.perf_counter()
            window = read_window(settings, project="bench", endpoint="income", start=T0,
                                 end=T0 + timedelta(days=2))  # fmt: skip
            read_s = time.perf_counter() - started
    # CPU seconds (all threads of this process) show what the wall clock hides on a busy host.
    print(f"{'body':<8}{'rows':>10}{'batches':>9}{'MB':>8}{'wall s':>8}{'rows/s':>11}"
          f"{'target':>9}{'ratio':>7}{'cpu s':>7}{'rows/cpu-s':>12}")  # fmt: skip
    for name, rows, n, mb, seconds, cpu, target in results:
        rate = rows / seconds
        print(f"{name:<8}{rows:>10,}{n:>9}{mb:>8.1f}{seconds:>8.2f}{rate:>11,.0f}{target:>9,}"
              f"{rate / target:>7.2f}{cpu:>7.2f}{rows / cpu:>12,.0f}")  # fmt: skip
    print(f"read_window: {window.num_rows:,} rows in {read_s:.2f} s "
          f"({window.num_rows / read_s:,.0f} rows/s)")  # fmt: skip


if __name__ == "__main__":
    main()
