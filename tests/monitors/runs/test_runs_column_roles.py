"""Columns by role, through the app: only the signature's inputs are tested as features.

The reference files carry an id, a timestamp (as text), a per-class probability, the label
(under the model's output name, as training data stores it) and, in one of them, the model's
predictions. Data drift and data quality test the signature's inputs only; prediction drift
compares the window's predictions with the reference's predictions when it has them, else with
its labels, and says which.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from governance.core.settings import Settings
from lineage import service as lineage
from lineage.schemas import ColumnSpec, EndpointCreate, ModelCreate, Signature
from steward.api.deps import Services
from tests.builders import OPERATOR, World
from tests.monitors.runs.traffic import register_reference, send

T0 = datetime(2026, 3, 1, tzinfo=UTC)
DAY = timedelta(days=1)
ROWS = 400
CLASSES = ["<=50K", ">50K"]
PROJECT = "/api/v1/projects/alpha"
MONITORS = f"{PROJECT}/monitors"
ENDPOINT = f"{PROJECT}/endpoints/scorer"
SIGNATURE = Signature(
    inputs=[ColumnSpec(name="age", type="float"), ColumnSpec(name="sex", type="str")],
    outputs=[ColumnSpec(name="income", type="str")],
    task="binary",
    probabilities=True,
    classes=CLASSES,
)
NOT_FEATURES = {"id", "timestamp", "proba_>50K", "income", "prediction"}


def _monitor(name: str, reference: str) -> str:
    return f"""
name: {name}
target: {{name: scorer}}
reference: {{dataset: {reference}}}
schedule: {{interval: P1D, start: "2026-03-01T00:00:00Z"}}
signals:
  - {{kind: data_drift}}
  - {{kind: data_quality}}
  - {{kind: prediction_drift}}
"""


def _positive(k: int, every: int) -> str:
    return CLASSES[k % every == 0]


def _reference_table(*, predictions: bool) -> pa.Table:
    """Labels half >50K, predictions a quarter; the non-features look nothing like a window."""
    i = range(2 * ROWS)
    columns: dict[str, Any] = {
        "id": pa.array(list(i), pa.int64()),
        "timestamp": [(T0 - DAY + timedelta(seconds=k)).isoformat() for k in i],
        "age": pa.array([20.0 + k % 50 for k in i]),
        "sex": ["M" if k % 2 else "F" for k in i],
        "proba_>50K": pa.array([0.25 + (k % 7) / 100 for k in i]),
        "income": [_positive(k, 2) for k in i],
    }
    if predictions:
        columns["prediction"] = [_positive(k, 4) for k in i]
    return pa.table(columns)


def _send_day(client: TestClient, world: World) -> None:
    """A day of traffic like the reference's inputs, predicting >50K a quarter of the time."""
    records = [
        {
            "correlation_id": f"r{k}",
            "timestamp": (T0 + timedelta(minutes=3 * k)).isoformat(),
            "features": {"age": 20.0 + k % 50, "sex": "M" if k % 2 else "F"},
            "prediction": _positive(k, 4),
            "probabilities": [0.7, 0.3],
        }
        for k in range(ROWS)
    ]
    send(client, world, records)


@pytest.fixture
def runs(
    client: TestClient, world: World, services: Services, settings: Settings
) -> dict[str, dict[str, Any]]:
    """One day run by two monitors: against a reference with predictions, and with labels only."""
    data = ModelCreate(sha256="0" * 64, signature=SIGNATURE)
    lineage.register_model_version(
        services.db, project="alpha", name="income", data=data, actor=OPERATOR
    )
    lineage.create_endpoint(
        services.db, project="alpha", data=EndpointCreate(name="scorer"), actor=OPERATOR
    )
    lineage.deploy(services.db, project="alpha", endpoint="scorer", model="income", actor=OPERATOR)
    register_reference(
        client, world, settings, _reference_table(predictions=True), "with-predictions"
    )
    register_reference(client, world, settings, _reference_table(predictions=False), "labels-only")
    _send_day(client, world)
    yaml = world.headers("data-scientist") | {"Content-Type": "application/yaml"}
    out: dict[str, dict[str, Any]] = {}
    for name, reference in (("vs-predictions", "with-predictions"), ("vs-labels", "labels-only")):
        r = client.post(f"{MONITORS}/apply", content=_monitor(name, reference), headers=yaml)
        assert r.status_code == 200, r.text
        body = {"window_end": (T0 + DAY).isoformat()}
        r = client.post(f"{MONITORS}/{name}/run", json=body, headers=world.headers("ml-engineer"))
        assert r.status_code == 200, r.text
        out[name] = r.json()["run"]
    return out


def _features_tested(client: TestClient, world: World, monitor: str, signal: str) -> set[str]:
    r = client.get(
        f"{MONITORS}/{monitor}/results", params={"signal": signal}, headers=world.headers("viewer")
    )
    assert r.status_code == 200, r.text
    return {p["feature"] for p in r.json()["items"] if p["feature"]}


def test_data_drift_and_quality_test_only_the_signatures_inputs(
    client: TestClient, world: World, runs: dict[str, dict[str, Any]]
) -> None:
    for name, run in runs.items():
        assert run["status"] == "succeeded", run
        assert _features_tested(client, world, name, "data_drift") == {"age", "sex"}
        assert _features_tested(client, world, name, "data_quality") == {"age", "sex"}
        drift = run["summary"]["data_drift"]
        assert not drift["breached"] and drift["drifted"] == []
        assert set(drift["not_features"]) == NOT_FEATURES & set(_reference_columns(name))
        assert not run["summary"]["data_quality"]["breached"], run["summary"]["data_quality"]


def _reference_columns(monitor: str) -> list[str]:
    return list(_reference_table(predictions=monitor == "vs-predictions").column_names)


def test_prediction_drift_says_what_it_compared_with(
    client: TestClient, world: World, runs: dict[str, dict[str, Any]]
) -> None:
    with_predictions = runs["vs-predictions"]["summary"]["prediction_drift"]
    assert with_predictions["compared_with"] == "reference_predictions"
    assert with_predictions["reference_column"] == "prediction"
    assert not with_predictions["breached"]  # the model predicts as it did on its reference
    labels_only = runs["vs-labels"]["summary"]["prediction_drift"]
    assert labels_only["compared_with"] == "reference_labels"
    assert labels_only["reference_column"] == "income"  # the label, under the output's name
    assert labels_only["breached"]  # a quarter predicted >50K where half the labels are
    for name in runs:
        assert _features_tested(client, world, name, "prediction_drift") == {"prediction"}


def test_without_a_signature_bookkeeping_columns_are_known_by_name() -> None:
    from monitors.stats.columns import ColumnRoles

    roles = ColumnRoles()
    columns = ["id", "Timestamp", "age", "label", "prediction", "proba_yes", "probabilities", "x"]
    assert roles.features_among(columns) == ("age", "x")
    assert roles.label_in(["target", "label"]) == "label"
    declared = ColumnRoles(features=("x", "id"), sensitive=("race",))
    assert declared.features_among(columns) == ("x", "id")  # a declared input is a feature
    assert (declared.role_of("race"), declared.role_of("age")) == ("sensitive", "other")
