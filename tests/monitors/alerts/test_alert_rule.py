"""The monitor's alert rule (N breached of the last M windows, with a cooldown), through the app.

Hourly windows of traffic go in over HTTP; a noisy window has every age far outside the
reference's range, so its data quality signal breaches; a clean one repeats the reference.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from governance.core.clock import ManualClock
from governance.core.settings import Settings
from lineage import service as lineage
from lineage.schemas import ColumnSpec, EndpointCreate, ModelCreate, Signature
from steward.api.deps import Services
from tests.builders import OPERATOR, World
from tests.conftest import make_settings
from tests.monitors.alerts.conftest import SECRET, Hook

T0 = datetime(2026, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
ROWS = 60
PROJECT = "/api/v1/projects/alpha"
SIGNATURE = Signature(
    inputs=[ColumnSpec(name="age", type="float"), ColumnSpec(name="sex", type="str")],
    outputs=[ColumnSpec(name="prediction", type="str")],
    task="binary",
    classes=["no", "yes"],
)
MONITOR = {
    "name": "quality",
    "target": {"name": "scorer"},
    "reference": {"dataset": "ref"},
    "schedule": {"interval": "PT1H", "start": T0.isoformat()},
    "signals": [{"kind": "data_quality", "name": "q"}],
    "alert": {"breaches": 2, "of": 5, "cooldown": "PT3H"},
}


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """The test settings, with webhooks to loopback allowed (the recording receiver)."""
    return make_settings(tmp_path / "home", db_url, webhook_allowlist=["127.0.0.1"])


def _records(window: int, noisy: bool) -> list[dict[str, Any]]:
    start = T0 + window * HOUR
    return [
        {
            "correlation_id": f"w{window}-{k}",
            "timestamp": (start + timedelta(seconds=30 * k)).isoformat(),
            "features": {"age": 500.0 if noisy else 20.0 + k % 50, "sex": "MF"[k % 2]},
            "prediction": ["no", "yes"][k % 3 == 0],
        }
        for k in range(ROWS)
    ]


def _stage(client: TestClient, world: World, services: Services, noisy: Sequence[int]) -> None:
    """Deploy a model, register the reference and send eight hourly windows of traffic."""
    data = ModelCreate(sha256="0" * 64, signature=SIGNATURE)
    db = services.db
    lineage.register_model_version(db, project="alpha", name="m", data=data, actor=OPERATOR)
    lineage.create_endpoint(db, project="alpha", data=EndpointCreate(name="scorer"), actor=OPERATOR)
    lineage.deploy(db, project="alpha", endpoint="scorer", model="m", actor=OPERATOR)
    path = services.settings.dataset_roots[0] / "alpha" / "ref.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = range(500)
    reference = {"age": [20.0 + k % 50 for k in rows], "sex": ["MF"[k % 2] for k in rows]}
    pq.write_table(pa.table({**reference, "prediction": ["no", "yes"] * 250}), path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    body = {"name": "ref", "uri": str(path), "sha256": digest}
    scientist = world.headers("data-scientist")
    assert client.post(f"{PROJECT}/datasets", json=body, headers=scientist).status_code == 201
    records = [r for w in range(8) for r in _records(w, w in noisy)]
    sent = client.post(
        f"{PROJECT}/endpoints/scorer/inferences",
        content=json.dumps({"records": records}),
        headers=world.headers("app-developer"),
    )
    assert sent.status_code == 201, sent.text
    r = client.post(f"{PROJECT}/monitors", json=MONITOR, headers=scientist)
    assert r.status_code == 201, r.text


def _run(client: TestClient, world: World, window: int) -> dict[str, Any]:
    end = (T0 + (window + 1) * HOUR).isoformat()
    r = client.post(
        f"{PROJECT}/monitors/quality/run",
        json={"window_end": end},
        headers=world.headers("ml-engineer"),
    )
    assert r.status_code == 200, r.text
    report: dict[str, Any] = r.json()
    return report


def _alerts(client: TestClient, world: World) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.get(
        f"{PROJECT}/alerts", headers=world.headers("viewer")
    ).json()
    return found


@pytest.fixture
def clock(services: Services) -> ManualClock:
    """The app's clock, a day after the windows."""
    services.clock = ManualClock(T0 + timedelta(days=1))
    return services.clock


def test_one_noisy_window_of_five_opens_no_alert(
    client: TestClient, world: World, services: Services, clock: ManualClock
) -> None:
    _stage(client, world, services, noisy=[2])
    reports = [_run(client, world, w) for w in range(5)]
    assert [r["run"]["breached"] for r in reports] == [False, False, True, False, False]
    assert all(r["alerts"] == [] for r in reports)
    assert _alerts(client, world) == []


def test_two_noisy_windows_of_five_open_one(
    client: TestClient, world: World, services: Services, clock: ManualClock
) -> None:
    _stage(client, world, services, noisy=[0, 4])
    reports = [_run(client, world, w) for w in range(5)]
    assert [bool(r["alerts"]) for r in reports] == [False, False, False, False, True]
    (alert,) = _alerts(client, world)
    assert alert["signal"] == "q" and alert["state"] == "open"
    assert alert["details"]["rule"] == {
        "breaches": 2, "of": 5, "breached": 2, "windows": 5,
        "message": "2 of the last 5 windows breached",
    }  # fmt: skip
    applied = client.get(f"{PROJECT}/monitors/quality", headers=world.headers("viewer")).json()
    assert applied["spec"]["alert"] == {"breaches": 2, "of": 5, "cooldown": "PT3H"}


def test_the_cooldown_holds_back_repeats_then_lets_one_through(
    client: TestClient, world: World, services: Services, clock: ManualClock, hook: Hook
) -> None:
    _stage(client, world, services, noisy=range(8))
    channel = {"name": "ops", "url": hook.url, "secret": SECRET}
    assert (
        client.post(f"{PROJECT}/channels", json=channel, headers=world.headers("owner")).status_code
        == 201
    )
    assert _run(client, world, 0)["alerts"] == []  # 1 of the last 1: held back
    opened = _run(client, world, 1)["alerts"]
    clock.advance(2 * HOUR)
    assert _run(client, world, 2)["alerts"] == opened  # updated, inside the cooldown
    clock.advance(HOUR)
    assert _run(client, world, 3)["alerts"] == opened  # the cooldown is over
    deliveries = client.get(
        f"{PROJECT}/alerts/{opened[0]}/deliveries", headers=world.headers("viewer")
    ).json()
    assert sorted(d["event"] for d in deliveries) == ["opened", "updated"]
    sent = [json.loads(r.body) for r in hook.received]
    assert [s["event"] for s in sent] == ["opened", "updated"]
    assert sent[0]["alert"]["rule"]["message"] == "2 of the last 2 windows breached"
    assert sent[1]["alert"]["rule"]["message"] == "4 of the last 4 windows breached"


@pytest.mark.parametrize(
    "rule",
    [{"breaches": 3, "of": 2}, {"breaches": 1, "of": 101}, {"breaches": 0}, {"cooldown": "-PT1H"},
     {"breaches": 1, "window": 3}],
)  # fmt: skip
def test_a_bad_rule_is_refused_at_apply(
    client: TestClient, world: World, rule: dict[str, Any]
) -> None:
    body = {**MONITOR, "alert": rule}
    r = client.post(f"{PROJECT}/monitors", json=body, headers=world.headers("data-scientist"))
    assert r.status_code == 422, r.text
    assert "alert" in r.text, r.text
