"""Features that are not features, through the app: refused at apply once the signature is known.

The endpoint serves a model whose inputs are ``age`` and ``sex`` and whose output is ``income``.
A drift or quality signal naming the label, the prediction, an id or a probability among its
features is a 422 naming the monitor, the signal and the column; a monitor stored before the
model was deployed still runs, without those columns, and its result names them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from governance.core.settings import Settings
from lineage.schemas import ColumnSpec, Signature
from steward.api.deps import Services
from tests.builders import World
from tests.monitors.runs.traffic import deploy, register_reference, send

MONITORS = "/api/v1/projects/alpha/monitors"
T0 = datetime(2026, 3, 1, tzinfo=UTC)
ROWS = 200
SIGNATURE = Signature(
    inputs=[ColumnSpec(name="age", type="float"), ColumnSpec(name="sex", type="str")],
    outputs=[ColumnSpec(name="income", type="str")],
    task="binary",
    probabilities=True,
    classes=["<=50K", ">50K"],
)
MIXED = [
    {"kind": "data_drift", "features": ["age", "income", "correlation_id"]},
    {"kind": "data_quality", "name": "checks", "features": ["sex", "proba_>50K"]},
    {"kind": "fairness", "features": ["sex"]},  # sensitive attributes, not inputs
]


def _body(name: str, signals: list[dict[str, Any]]) -> dict[str, Any]:
    schedule = {"interval": "P1D", "start": T0.isoformat()}
    return {"name": name, "target": {"name": "scorer"}, "schedule": schedule, "signals": signals}


def _create(client: TestClient, world: World, body: dict[str, Any]) -> Any:
    return client.post(MONITORS, json=body, headers=world.headers("data-scientist"))


@pytest.fixture
def deployed(services: Services) -> None:
    deploy(services, SIGNATURE)


def _expect_refused(response: Any) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "invalid_input"
    assert [(e["loc"], e["name"]) for e in body["errors"]] == [
        ("signals.0.features.1", "mixed"),
        ("signals.0.features.2", "mixed"),
        ("signals.1.features.1", "mixed"),
    ]
    messages = [e["msg"] for e in body["errors"]]
    assert "'data_drift'" in messages[0] and "'income' is the label column" in messages[0]
    assert "'correlation_id' is the id column" in messages[1]
    assert "'checks'" in messages[2] and "'proba_>50K' is the probability" in messages[2]
    assert body["detail"].startswith("monitor 'mixed': signals.0.features.1: ")


@pytest.mark.usefixtures("deployed")
def test_create_apply_and_validate_refuse_non_features(client: TestClient, world: World) -> None:
    _expect_refused(_create(client, world, _body("mixed", MIXED)))
    yaml = world.headers("data-scientist") | {"Content-Type": "application/json"}
    apply = client.post(f"{MONITORS}/apply", json=[_body("mixed", MIXED)], headers=yaml)
    _expect_refused(apply)
    _expect_refused(client.post(f"{MONITORS}/validate", json=[_body("mixed", MIXED)], headers=yaml))
    r = client.get(f"{MONITORS}/mixed", headers=world.headers("viewer"))
    assert r.status_code == 404  # nothing stored
    inputs = [{"kind": "data_drift", "features": ["age", "sex"]}, MIXED[2]]
    assert _create(client, world, _body("inputs", inputs)).status_code == 201


@pytest.mark.usefixtures("deployed")
def test_a_change_of_signals_is_checked_like_a_new_spec(client: TestClient, world: World) -> None:
    assert _create(client, world, _body("m", [{"kind": "data_drift"}])).status_code == 201
    headers = world.headers("data-scientist")
    r = client.patch(f"{MONITORS}/m", json={"signals": MIXED}, headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"] == "signals.0.features.1"


def _reference() -> pa.Table:
    i = range(2 * ROWS)
    return pa.table(
        {
            "age": pa.array([20.0 + k % 50 for k in i]),
            "sex": ["M" if k % 2 else "F" for k in i],
            "income": ["<=50K" if k % 3 else ">50K" for k in i],
        }
    )


def test_a_monitor_stored_before_the_model_runs_without_them_and_says_so(
    client: TestClient, world: World, services: Services, settings: Settings
) -> None:
    # no model serves the endpoint yet: the signature is unknown, the spec is accepted
    signals = [{"kind": "data_drift", "features": ["age", "income"]}]
    assert _create(client, world, _body("before", signals)).status_code == 201
    deploy(services, SIGNATURE)
    register_reference(client, world, settings, _reference())
    r = client.patch(
        f"{MONITORS}/before", json={"reference": {"dataset": "ref"}, "enabled": True},
        headers=world.headers("data-scientist"),
    )  # fmt: skip
    assert r.status_code == 200, r.text  # its stored signals are not re-judged
    records = [
        {
            "correlation_id": f"r{k}",
            "timestamp": (T0 + timedelta(minutes=5 * k)).isoformat(),
            "features": {"age": 20.0 + k % 50, "sex": "M" if k % 2 else "F"},
            "prediction": "<=50K",
            "probabilities": [0.7, 0.3],
        }
        for k in range(ROWS)
    ]
    send(client, world, records)
    body = {"window_end": (T0 + timedelta(days=1)).isoformat()}
    r = client.post(f"{MONITORS}/before/run", json=body, headers=world.headers("ml-engineer"))
    assert r.status_code == 200, r.text
    drift = r.json()["run"]["summary"]["data_drift"]
    assert drift["named_not_features"] == {"income": "label"}
    assert "income" in drift["not_features"]
    r = client.get(f"{MONITORS}/before/results", headers=world.headers("viewer"))
    assert {p["feature"] for p in r.json()["items"] if p["feature"]} == {"age"}
