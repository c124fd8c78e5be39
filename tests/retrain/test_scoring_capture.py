"""What scoring captures when callers repeat themselves or the endpoint changes signature."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from lineage.schemas import ColumnSpec, ColumnType
from steward.api.deps import Services
from steward.demo.data import load_adult
from tests.builders import World
from tests.retrain.test_artifacts_api import NUMERIC, _pipeline
from tests.retrain.test_scoring_api import SCORE, P, _publish, _records, _signature

WINDOW = {"start": "2000-01-01T00:00:00Z", "end": "2200-01-01T00:00:00Z"}


@pytest.fixture
def adult() -> pa.Table:
    return load_adult().slice(0, 2100)


def _stored(client: TestClient, world: World) -> list[dict[str, Any]]:
    url = f"{P}/endpoints/income/inferences"
    logged = client.get(url, params=WINDOW, headers=world.headers("ml-engineer"))
    assert logged.status_code == 200, logged.text
    return list(logged.json()["rows"])


def test_a_retried_request_is_captured_with_the_rows_of_everyone_else(
    client: TestClient, world: World, services: Services, adult: pa.Table
) -> None:
    """Two requests naming the same correlation ids end up in one buffered batch: that is a
    client retrying, not a batch to refuse (which once held back every row behind it)."""
    _publish(client, world, _pipeline(adult.slice(0, 2000)))
    app = world.headers("app-developer")
    records = _records(adult.slice(2000, 5))
    for i, record in enumerate(records):
        record["correlation_id"] = f"order-{i}"
    others = _records(adult.slice(2005, 3))
    for body in (records, records, others):
        r = client.post(SCORE, json={"records": body}, headers=app)
        assert r.status_code == 200, r.text
    assert services.scorer is not None
    services.scorer.capture.flush()
    stats = services.scorer.capture.stats
    assert (stats.written_rows, stats.refused_rows, stats.failed_writes) == (13, 0, 0)
    ids = [row["correlation_id"] for row in _stored(client, world)]
    assert sorted(ids).count("order-0") == 2 and len(ids) == 13
    scrape = client.get("/metrics", headers=world.headers("viewer")).text
    assert 'steward_capture_buffer_rows_total{outcome="written"} 13.0' in scrape
    assert 'steward_capture_buffer_rows_total{outcome="refused"} 0.0' in scrape
    assert "steward_capture_buffer_pending_rows 0.0" in scrape


def test_rows_scored_before_a_new_signature_are_stored_under_the_old_one(
    client: TestClient, world: World, services: Services, adult: pa.Table
) -> None:
    """A deployment that drops two inputs while rows of the old version wait in the buffer."""
    from sklearn.linear_model import LogisticRegression

    _publish(client, world, _pipeline(adult.slice(0, 2000)))
    app = world.headers("app-developer")
    rows = adult.slice(2000, 4)
    assert client.post(SCORE, json={"records": _records(rows)}, headers=app).status_code == 200
    train = adult.slice(0, 2000)
    numeric = LogisticRegression(max_iter=500).fit(
        train.select(list(NUMERIC)).to_pandas(), train.column("income").to_pylist()
    )
    narrower = _signature().model_copy(
        update={"inputs": [ColumnSpec(name=n, type=ColumnType.int) for n in NUMERIC]}
    )
    version = _publish(client, world, numeric, signature=narrower)
    features = [{"features": {n: r["features"][n] for n in NUMERIC}} for r in _records(rows)]
    r = client.post(SCORE, json={"records": features}, headers=app)
    assert r.status_code == 200 and r.json()["version"] == version, r.text
    assert services.scorer is not None
    services.scorer.capture.flush()
    stats = services.scorer.capture.stats
    assert (stats.written_rows, stats.refused_rows, stats.failed_writes) == (8, 0, 0)
    stored = _stored(client, world)
    assert len(stored) == 8
    assert sum(1 for row in stored if row.get("sex") is not None) == 4, stored[0]


def test_the_pace_of_large_bodies_decides_which_score_on_the_event_loop() -> None:
    """Small bodies say nothing about time per byte (the model's fixed cost dominates)."""
    from retrain.scoring import Pace

    pace = Pace(min_bytes=1000, weight=0.5)
    key = ("alpha", "income", "application/json")
    pace.note(key, 10, 0.010)  # a single row: 1 ms per byte, were it counted
    assert pace.expected(key, 100_000) is None and pace.expected(key, 10) is None
    assert pace.quick(key, 10, within=0.001) and not pace.quick(key, 100_000, within=1.0)
    pace.note(key, 10_000, 0.010)
    assert pace.expected(key, 20_000) == pytest.approx(0.020)
    pace.note(key, 10_000, 0.030)  # slower now: the average moves half way
    assert pace.expected(key, 10_000) == pytest.approx(0.020)
    assert pace.quick(key, 10_000, within=0.025) and not pace.quick(key, 20_000, within=0.025)
    assert pace.expected(("alpha", "income", "application/vnd.apache.arrow.stream"), 10**6) is None
