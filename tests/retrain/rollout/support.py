"""What the rollout tests share: models of Adult, registering versions, scoring, a receiver."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from fastapi.testclient import TestClient

from tests.builders import World
from tests.retrain.test_artifacts_api import CATEGORICAL, NUMERIC, _pipeline
from tests.retrain.test_scoring_api import _publish, _records, register_version

P = "/api/v1/projects/alpha"
E = f"{P}/endpoints/income"
SCORE = f"{E}/score"

__all__ = ["CATEGORICAL", "NUMERIC", "_pipeline", "_publish", "_records"]


def register(client: TestClient, world: World, model: Any) -> int:
    """Register and upload ``model`` as a new version of 'income' (not deployed)."""
    return register_version(client, world, model)


def flipped(table: pa.Table) -> Any:
    """A model trained on the opposite labels: it disagrees with the champion on most rows."""
    income = table.column("income")
    swapped = pc.if_else(pc.equal(income, ">50K"), "<=50K", ">50K")
    return _pipeline(table.set_column(table.schema.get_field_index("income"), "income", swapped))


def broken(table: pa.Table) -> Any:
    """A model fitted on columns the signature lacks: every prediction raises (ValueError)."""
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frame = table.select(["fnlwgt", "capital-loss"]).to_pandas()
    steps = make_column_transformer((StandardScaler(), ["fnlwgt", "capital-loss"]))
    model = make_pipeline(steps, LogisticRegression(max_iter=200))
    return model.fit(frame, table.column("income").to_pylist())


def start(
    client: TestClient, world: World, version: int, strategy: str, percent: int | None = None
) -> dict[str, Any]:
    """Start a rollout of 'income' v``version`` as the ML engineer; the rollout."""
    body: dict[str, Any] = {"model": "income", "version": version, "strategy": strategy}
    if percent is not None:
        body["percent"] = percent
    r = client.post(f"{E}/rollouts", json=body, headers=world.headers("ml-engineer"))
    assert r.status_code == 201, r.text
    return dict(r.json())


def score_one(client: TestClient, world: World, row: dict[str, Any], key: str | None = None) -> Any:
    """Score one row as the app developer (with a stickiness key when given)."""
    headers = world.headers("app-developer")
    if key is not None:
        headers["X-Steward-Request-Key"] = key
    return client.post(SCORE, json={"records": [row]}, headers=headers)


@dataclass
class Received:
    """Requests a receiver got: (headers, body)."""

    items: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)


@contextmanager
def receiver() -> Iterator[tuple[str, Received]]:
    """An HTTP server on 127.0.0.1 recording every POST; its URL and what it received."""
    got = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            got.items.append((dict(self.headers.items()), body))
            got.arrived.set()
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", got
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
