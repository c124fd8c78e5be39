"""Scoring through the app vs calling the loaded model in-process, on Adult.

A scikit-learn pipeline (scaling, one-hot, logistic regression) is registered, uploaded as a
skops artifact and deployed; the same rows are then scored (a) by the loaded model directly,
(b) by the app's ``Scorer`` without HTTP (checks against the signature, the model cache,
capture into the buffer), and through ``POST .../score`` of the real app (token
authentication, authorisation, rate limiting, the middleware) with Arrow and with JSON bodies,
(c) in-process with TestClient and (d) over a socket to uvicorn on 127.0.0.1 with a keep-alive
httpx client. Prints throughput on 1,000-row batches as a ratio to (a), and the median
latency a single-row request adds to the model call.

    python benchmarks/scoring_throughput.py [--batches 40] [--singles 300]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import uvicorn
from fastapi import FastAPI
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
from steward.api.deps import Services
from steward.api.routes.scoring import scorer
from steward.demo.data import load_adult
from steward.migrations import upgrade

NUMERIC = ("age", "education-num", "hours-per-week", "capital-gain")
CATEGORICAL = ("workclass", "marital-status", "occupation", "sex", "race")
URL = "/api/v1/projects/bench/endpoints/income/score"
ARROW = "application/vnd.apache.arrow.stream"
Call = Callable[[], object]


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


def _setup(home: Path, adult: pa.Table) -> tuple[Services, dict[str, str], Any]:
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
    headers = {"Authorization": f"Bearer {issued.token}"}
    url = "/api/v1/projects/bench/models/income/versions/1/artifact"
    with TestClient(create_app(services=svc, seal_in_background=False)) as client:
        put = client.put(
            url, content=data, headers={**headers, "Content-Type": "application/octet-stream"}
        )
    assert put.status_code == 201, put.text
    svc.scorer = None  # that app's capture buffer stopped with it
    assert settings.artifact_dir is not None
    stored = find_artifact(
        svc.db, project="bench", model="income", version=1, root=settings.artifact_dir
    )
    return svc, headers, load_artifact(stored)


@contextmanager
def _uvicorn(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free port of 127.0.0.1 in a thread; its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join()
        sock.close()


def _arrow(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as stream:
        stream.write_table(table)
    return sink.getvalue()


def _json(table: pa.Table) -> bytes:
    return json.dumps({"records": [{"features": row} for row in table.to_pylist()]}).encode()


def _post(client: TestClient | httpx.Client, body: bytes, headers: dict[str, str]) -> Call:
    def call() -> None:
        response = client.post(URL, content=body, headers=headers)
        assert response.status_code == 200, response.text

    return call


def _timed(
    cases: dict[str, Call], repeat: int, quiet: Call, rounds: int = 5
) -> dict[str, list[tuple[float, float]]]:
    """Wall and CPU seconds of each call, the cases taking turns in ``rounds`` blocks.

    These machines change speed from minute to minute: cases measured in turns see the same
    machine, so their ratios hold where one case after the other would not. Before each block
    the rows captured so far are written (``quiet``, untimed): the capture buffer's writes in
    the background are part of scoring through the app, and land on the block whose rows they
    are. CPU time is the whole process's (every thread: the server's, the client's, the
    capture buffer's), so it stays comparable when other programs load the machine.
    """
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    for call in cases.values():
        call()  # warm: caches, first allocation, connections
    for _ in range(rounds):
        for name, call in cases.items():
            quiet()
            for _ in range(max(1, repeat // rounds)):
                wall, cpu = time.perf_counter(), time.process_time()
                call()
                times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    return times


def _cases(
    model: Any, svc: Services, clients: dict[str, TestClient | httpx.Client],
    headers: dict[str, str], rows: pa.Table,
) -> tuple[dict[str, Call], dict[str, Call]]:  # fmt: skip
    """The 1,000-row cases and the single-row cases, by name."""
    one = rows.slice(0, 1)
    arrow, json_body, single = _arrow(rows), _json(rows), _json(one)
    as_arrow = {**headers, "Content-Type": ARROW, "Accept": ARROW}
    as_json = {**headers, "Content-Type": "application/json"}
    score = scorer(svc).score
    batches: dict[str, Call] = {
        "direct": lambda: model.predict(rows),
        "Scorer, no HTTP": lambda: score(
            project="bench", endpoint="income", body=arrow, content_type=ARROW
        ),
    }
    singles: dict[str, Call] = {"direct": lambda: model.predict(one)}
    for name, client in clients.items():
        batches[f"{name} Arrow"] = _post(client, arrow, as_arrow)
        batches[f"{name} JSON"] = _post(client, json_body, as_json)
        singles[f"{name} JSON"] = _post(client, single, as_json)
    return batches, singles


def main() -> None:
    """Score the same rows directly and through the app; print the ratios."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--singles", type=int, default=300)
    args = parser.parse_args()
    adult = load_adult()
    rows = adult.slice(20_000, 1000).select([*NUMERIC, *CATEGORICAL])
    with tempfile.TemporaryDirectory(prefix="steward-bench-") as tmp:
        svc, headers, model = _setup(Path(tmp), adult)
        # two apps on the same services: one in-process, one behind a socket
        in_process = TestClient(create_app(services=svc, seal_in_background=False))
        served = create_app(services=svc, seal_in_background=False)
        with _uvicorn(served) as base, in_process, httpx.Client(base_url=base) as remote:
            clients = {"TestClient": in_process, "uvicorn": remote}
            batches, singles = _cases(model, svc, clients, headers, rows)
            quiet = scorer(svc).capture.flush
            batch_times = _timed(batches, args.batches, quiet)
            single_times = _timed(singles, args.singles, quiet)
    _report(batch_times, single_times)


def _report(
    batches: dict[str, list[tuple[float, float]]], singles: dict[str, list[tuple[float, float]]]
) -> None:
    table = Table(title="scoring: through the app vs the loaded model in-process")
    for column in ("path", "median ms", "CPU ms", "rows/s", "vs direct"):
        table.add_column(column, justify="right" if column != "path" else "left")
    walls: dict[str, float] = {}
    for runs, rows, label in ((batches, 1000, "1,000 rows"), (singles, 1, "1 row")):
        base = statistics.median(wall for wall, _ in runs["direct"])
        for name, times in runs.items():
            wall = statistics.median(w for w, _ in times)
            cpu = statistics.median(c for _, c in times)
            walls[f"{name}, {label}"] = wall
            table.add_row(
                f"{name}, {label}", f"{wall * 1e3:.2f}", f"{cpu * 1e3:.2f}",
                f"{rows / wall:,.0f}", f"{base / wall:.2f}",
            )  # fmt: skip
    console = Console()
    console.print(table)
    for name in ("TestClient", "uvicorn"):
        added = (walls[f"{name} JSON, 1 row"] - walls["direct, 1 row"]) * 1e3
        console.print(f"{name}: a single-row request adds {added:.2f} ms (p50) to the model call")
    console.print("targets: throughput >= 0.70 of direct on 1,000-row batches; added p50 <= 3 ms")


if __name__ == "__main__":
    main()
