"""Scoring through the app vs calling the loaded model in-process, on Adult.

A scikit-learn pipeline (scaling, one-hot, logistic regression) is registered, uploaded as a
skops artifact and deployed; the same rows are then scored (a) by the loaded model directly,
(b) through ``POST .../score`` of the real app (in-process ASGI with TestClient: token
authentication, rate limiting, input checks against the signature, the model cache, capture
into the buffer), with Arrow and with JSON bodies. Prints throughput on 1,000-row batches as
a ratio to (a), and the median latency a single-row request adds to the model call.

    python benchmarks/scoring_throughput.py [--batches 30] [--singles 300]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
from fastapi.testclient import TestClient
from rich.console import Console
from rich.table import Table

from governance.access import service as access
from governance.core.db import Database
from governance.core.principal import SYSTEM
from governance.core.settings import Settings
from lineage import service as lineage
from lineage.schemas import ColumnSpec, ColumnType, EndpointCreate, ModelCreate, Signature, TaskType
from retrain.artifacts.store import find_artifact, load_artifact
from steward.api.app import build_services, create_app
from steward.demo.data import load_adult
from steward.migrations import upgrade

NUMERIC = ("age", "education-num", "hours-per-week", "capital-gain")
CATEGORICAL = ("workclass", "marital-status", "occupation", "sex", "race")
URL = "/api/v1/projects/bench/endpoints/income/score"


def _model(table: pa.Table) -> Any:
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = table.select([*NUMERIC, *CATEGORICAL]).to_pandas()
    encode = OneHotEncoder(handle_unknown="ignore")
    steps = make_column_transformer((StandardScaler(), list(NUMERIC)), (encode, list(CATEGORICAL)))
    return make_pipeline(steps, LogisticRegression(max_iter=500)).fit(
        frame, table.column("income").to_pylist()
    )


def _signature() -> Signature:
    inputs = [ColumnSpec(name=n, type=ColumnType.int) for n in NUMERIC]
    inputs += [ColumnSpec(name=n, type=ColumnType.str) for n in CATEGORICAL]
    return Signature(
        inputs=inputs, outputs=[ColumnSpec(name="prediction", type=ColumnType.str)],
        task=TaskType.binary, probabilities=True, classes=["<=50K", ">50K"],
    )  # fmt: skip


def _setup(home: Path, adult: pa.Table) -> tuple[TestClient, dict[str, str], Any]:
    import skops.io as sio

    settings = Settings(home=home, rate_limit_per_minute=10_000_000, rate_limit_burst=1_000_000)
    upgrade(Database(settings.database_url))
    svc = build_services(settings)
    issued = access.bootstrap(svc.db, owner="bench", project="bench", actor=SYSTEM)
    assert issued is not None
    data = bytes(sio.dumps(_model(adult.slice(0, 20_000))))
    create = ModelCreate(
        sha256=hashlib.sha256(data).hexdigest(), flavor="sklearn", signature=_signature()
    )
    lineage.register_model_version(
        svc.db, project="bench", name="income", data=create, actor=SYSTEM
    )
    lineage.create_endpoint(
        svc.db, project="bench", data=EndpointCreate(name="income"), actor=SYSTEM
    )
    lineage.deploy(svc.db, project="bench", endpoint="income", model="income", actor=SYSTEM)
    client = TestClient(create_app(services=svc, seal_in_background=False))
    headers = {"Authorization": f"Bearer {issued.token}"}
    url = "/api/v1/projects/bench/models/income/versions/1/artifact"
    put = client.put(
        url, content=data, headers={**headers, "Content-Type": "application/octet-stream"}
    )
    assert put.status_code == 201, put.text
    assert settings.artifact_dir is not None
    stored = find_artifact(
        svc.db, project="bench", model="income", version=1, root=settings.artifact_dir
    )
    return client, headers, load_artifact(stored)


def _arrow(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as stream:
        stream.write_table(table)
    return sink.getvalue()


def _json(table: pa.Table) -> dict[str, Any]:
    return {"records": [{"features": row} for row in table.to_pylist()]}


def _timed(call: Callable[[], object], repeat: int) -> list[float]:
    call()  # warm: caches, first allocation
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    """Score the same rows directly and through the app; print the ratios."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--singles", type=int, default=300)
    args = parser.parse_args()
    adult = load_adult()
    rows = adult.slice(20_000, 1000).select([*NUMERIC, *CATEGORICAL])
    one = rows.slice(0, 1)
    with tempfile.TemporaryDirectory(prefix="steward-bench-") as tmp:
        client, headers, model = _setup(Path(tmp), adult)
        arrow = {**headers, "Content-Type": "application/vnd.apache.arrow.stream"}
        with client:
            runs = {
                "direct, 1,000 rows": _timed(lambda: model.predict(rows), args.batches),
                "API Arrow, 1,000 rows": _timed(
                    lambda: client.post(URL, content=_arrow(rows), headers=arrow), args.batches
                ),
                "API JSON, 1,000 rows": _timed(
                    lambda: client.post(URL, json=_json(rows), headers=headers), args.batches
                ),
                "direct, 1 row": _timed(lambda: model.predict(one), args.singles),
                "API JSON, 1 row": _timed(
                    lambda: client.post(URL, json=_json(one), headers=headers), args.singles
                ),
            }
    _report(runs)


def _report(runs: dict[str, list[float]]) -> None:
    table = Table(title="scoring: through the app vs the loaded model in-process")
    for column in ("path", "median ms", "rows/s", "vs direct"):
        table.add_column(column, justify="right" if column != "path" else "left")
    medians = {name: statistics.median(times) for name, times in runs.items()}
    for name, median in medians.items():
        rows = 1000 if "1,000" in name else 1
        base = medians["direct, 1,000 rows" if rows == 1000 else "direct, 1 row"]
        table.add_row(name, f"{median * 1e3:.2f}", f"{rows / median:,.0f}", f"{base / median:.2f}")
    console = Console()
    console.print(table)
    added = (medians["API JSON, 1 row"] - medians["direct, 1 row"]) * 1e3
    console.print(f"single-row request adds {added:.2f} ms (p50) to the model call")
    console.print("targets: throughput >= 0.70 of direct on 1,000-row batches; added p50 <= 3 ms")


if __name__ == "__main__":
    main()
