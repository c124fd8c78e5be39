"""Scoring through a Steward server vs calling the loaded model in-process, on Adult.

A scikit-learn pipeline (scaling, one-hot, logistic regression) is registered, uploaded as a
skops artifact and deployed. The same 1,000 rows are then scored (a) by the loaded model in
this process, (b) by the app's ``Scorer`` in this process (the checks against the signature,
the model cache, the capture of every row), and (c) by ``POST .../score`` of a server running
in its own process as ``steward serve`` runs it (uvicorn, token authentication, authorisation,
rate limiting, the middleware), with Arrow and JSON bodies, from a keep-alive client here.

Throughput is rows per CPU-second: of this process for (a) and (b), of the server process for
(c), every thread counted, the capture's writes of the block's rows included (each block waits
until the database has recorded them). That is what a server's capacity is made of when
clients keep it busy, and it leaves out the client's own work, which shares no CPU with a real
server. The rows per second one sequential client sees (its work, the socket and waiting for
the capture's next write included) are printed beside it. Single-row requests report the
median time a client waits beyond the model call.

    python benchmarks/scoring_throughput.py [--calls 100] [--rounds 5] [--singles 300]
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
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
from monitors.capture.service import ingest_counts
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


def _arrow(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as stream:
        stream.write_table(table)
    return sink.getvalue()


def _json(table: pa.Table) -> bytes:
    return json.dumps({"records": [{"features": row} for row in table.to_pylist()]}).encode()


@contextmanager
def _server(home: Path) -> Iterator[tuple[int, int]]:
    """``steward serve`` on a free port of 127.0.0.1, in its own process; (port, pid)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "STEWARD_HOME": str(home),
        "STEWARD_RATE_LIMIT_PER_MINUTE": "10000000",
        "STEWARD_RATE_LIMIT_BURST": "1000000",
    }
    command = [str(Path(sys.executable).parent / "steward"), "serve", "--port", str(port)]
    with subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as proc:
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    httpx.get(f"{base}/health", timeout=1)
                    break
                except httpx.TransportError:
                    if proc.poll() is not None:
                        raise RuntimeError("steward serve exited") from None
                    time.sleep(0.1)
            yield port, proc.pid
        finally:
            proc.terminate()
            proc.wait(30)


def _cpu_seconds(pid: int) -> float:
    """User and system CPU of process ``pid``, all its threads (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Case:
    """One way of scoring: ``call`` scores once; ``cpu`` reads the CPU clock that pays for it;
    ``settle`` waits until the rows scored so far are stored."""

    call: Callable[[], object]
    cpu: Callable[[], float]
    settle: Callable[[], object]


def _stored(db: Database) -> int:
    return sum(c.rows for c in ingest_counts(db) if c.project == "bench")


def _settled(db: Database, scored: Callable[[], int]) -> Callable[[], None]:
    """Wait (polling the database) until every row scored so far is recorded as stored."""

    def wait() -> None:
        deadline = time.monotonic() + 30
        while _stored(db) < scored() and time.monotonic() < deadline:
            time.sleep(0.005)

    return wait


def _blocks(
    cases: dict[str, Case], calls: int, rounds: int
) -> dict[str, list[tuple[float, float]]]:
    """(wall, CPU) seconds per call of each case, from blocks of ``calls`` calls in a row.

    The wall clock stops at the last answer; the CPU clock after the block's rows are stored.
    These machines change speed from minute to minute: the cases take turns, so their ratios
    hold where one case after the other would not.
    """
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    for case in cases.values():
        for _ in range(3):
            case.call()  # warm: caches, first allocation, connections
        case.settle()
    for _ in range(rounds):
        for name, case in cases.items():
            cpu, wall = case.cpu(), time.perf_counter()
            for _ in range(calls):
                case.call()
            wall = time.perf_counter() - wall
            case.settle()
            times[name].append((wall / calls, (case.cpu() - cpu) / calls))
    return times


def _latencies(cases: dict[str, Callable[[], object]], repeat: int) -> dict[str, list[float]]:
    """Wall seconds of each single call, the cases taking turns."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for call in cases.values():
        call()
    for _ in range(5):
        for name, call in cases.items():
            for _ in range(max(1, repeat // 5)):
                wall = time.perf_counter()
                call()
                times[name].append(time.perf_counter() - wall)
    return times


class Client:
    """Posts to the score route over one keep-alive connection and counts the rows scored.

    The standard library's client: what a request costs a server is measured, not what a
    client library costs its caller (httpx added most of a millisecond per request here).
    """

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self.http = http.client.HTTPConnection("127.0.0.1", port)
        self.headers, self.rows = headers, 0

    def post(self, body: bytes, content_type: str, rows: int) -> Callable[[], None]:
        headers = {**self.headers, "Content-Type": content_type, "Accept": content_type}

        def call() -> None:
            self.http.request("POST", URL, body=body, headers=headers)
            response = self.http.getresponse()
            answer = response.read()
            assert response.status == 200, answer[:500]
            self.rows += rows

        return call


def main() -> None:
    """Score the same rows directly and through a server; print the ratios."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=100, help="1,000-row calls per block")
    parser.add_argument("--rounds", type=int, default=5, help="blocks per case")
    parser.add_argument("--singles", type=int, default=300, help="single-row calls per case")
    args = parser.parse_args()
    adult = load_adult()
    rows = adult.slice(20_000, 1000).select([*NUMERIC, *CATEGORICAL])
    one = rows.slice(0, 1)
    with tempfile.TemporaryDirectory(prefix="steward-bench-") as tmp:
        svc, headers, model = _setup(Path(tmp), adult)
        here = scorer(svc)  # the app's scorer, in this process
        in_process = {"n": 0}

        def score_here() -> None:
            here.score(project="bench", endpoint="income", body=arrow, content_type=ARROW)
            in_process["n"] += 1000

        arrow = _arrow(rows)
        with _server(Path(tmp)) as (port, pid):
            client = Client(port, headers)
            # both write to the same database: settled when it holds every row scored so far
            served = _settled(svc.db, lambda: client.rows + in_process["n"])

            def settle_here() -> None:
                here.capture.flush()
                served()

            batch = {
                "direct": Case(lambda: model.predict(rows), time.process_time, lambda: None),
                "Scorer, no HTTP": Case(score_here, time.process_time, settle_here),
                "server, Arrow": Case(
                    client.post(arrow, ARROW, 1000), lambda: _cpu_seconds(pid), served
                ),
                "server, JSON": Case(
                    client.post(_json(rows), "application/json", 1000),
                    lambda: _cpu_seconds(pid),
                    served,
                ),
            }
            batch_times = _blocks(batch, args.calls, args.rounds)
            json_floor = _json_alone(_json(rows), client)
            single_times = _latencies(
                {"direct": lambda: model.predict(one),
                 "server, JSON": client.post(_json(one), "application/json", 1)},
                args.singles,
            )  # fmt: skip
            here.close()
            client.http.close()
    _report(batch_times, single_times, json_floor)


def _json_alone(body: bytes, client: Client) -> float:
    """CPU seconds the standard library takes to parse a 1,000-row JSON body and to encode its
    answer, with nothing else: the floor under scoring JSON batches in Python."""
    client.http.request(
        "POST", URL, body=body, headers={**client.headers, "Content-Type": "application/json"}
    )
    answer = json.loads(client.http.getresponse().read())
    times = []
    for _ in range(50):
        cpu = time.process_time()
        json.loads(body)
        json.dumps(answer)
        times.append(time.process_time() - cpu)
    return statistics.median(times)


def _report(
    batches: dict[str, list[tuple[float, float]]],
    singles: dict[str, list[float]],
    json_floor: float,
) -> None:
    console = Console(width=100)
    table = Table(
        title="1,000-row batches: scoring with capture vs the loaded model in-process",
        caption="CPU: of the process that scores, per call; wall: what one sequential client sees",
    )
    for column in ("path", "CPU ms", "rows/CPU-s", "ratio", "wall ms", "rows/s", "ratio "):
        table.add_column(column, justify="right" if column != "path" else "left")
    cpu_base = statistics.median(c for _, c in batches["direct"])
    wall_base = statistics.median(w for w, _ in batches["direct"])
    for name, times in batches.items():
        wall = statistics.median(w for w, _ in times)
        cpu = statistics.median(c for _, c in times)
        table.add_row(
            name, f"{cpu * 1e3:.2f}", f"{1000 / cpu:,.0f}", f"{cpu_base / cpu:.2f}",
            f"{wall * 1e3:.2f}", f"{1000 / wall:,.0f}", f"{wall_base / wall:.2f}",
        )  # fmt: skip
    console.print(table)
    console.print(
        f"JSON alone: parsing a 1,000-row body and encoding its answer take {json_floor * 1e3:.2f}"
        f" ms ({json_floor / cpu_base:.0%} of the model call) before any check or model"
    )
    table = Table(title="single-row requests: what a client waits")
    for column in ("path", "p50 ms", "p90 ms", "added p50 ms"):
        table.add_column(column, justify="right" if column != "path" else "left")
    direct = statistics.median(singles["direct"])
    for name, times in singles.items():
        p50, p90 = statistics.median(times), statistics.quantiles(times, n=10)[-1]
        added = "" if name == "direct" else f"{(p50 - direct) * 1e3:.2f}"
        table.add_row(name, f"{p50 * 1e3:.2f}", f"{p90 * 1e3:.2f}", added)
    console.print(table)
    console.print(
        "targets: throughput >= 0.70 of direct on 1,000-row batches (rows/s one client gets; "
        "rows per CPU-second, the capacity, is the stricter reading); added p50 <= 3 ms"
    )


if __name__ == "__main__":
    main()
