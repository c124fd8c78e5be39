"""Every signal option takes effect: one staged day, many signals that differ by one option each.

The day is sent through the real app (inferences, labels, the reference dataset, the monitor
as YAML) and run over HTTP; each signal's outcome is compared with a signal that leaves the
option at its default. Options that captured traffic cannot exercise (type errors, a
regression task) are shown on tables given to the signal directly.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from governance.core.settings import Settings
from lineage.schemas import ColumnSpec, Signature
from monitors.runs.signals import SignalInput, compute_signal
from monitors.specs.document import load_specs
from monitors.stats.reference import build_reference_profile
from steward.api.deps import Services
from tests.builders import World
from tests.monitors.runs.traffic import deploy, register_reference

T0 = datetime(2026, 3, 1, tzinfo=UTC)
ROWS = 1000
CLASSES = ["<=50K", ">50K"]
PROJECT = "/api/v1/projects/alpha"
ENDPOINT = f"{PROJECT}/endpoints/scorer"
SIGNATURE = Signature(
    inputs=[
        ColumnSpec(name="age", type="float"),
        ColumnSpec(name="hours", type="int"),
        ColumnSpec(name="job", type="str"),
        ColumnSpec(name="sex", type="str"),
    ],
    outputs=[ColumnSpec(name="prediction", type="str")],
    task="binary",
    classes=CLASSES,
)
# One signal per option (and its default twin); names are the keys of the run's summary.
MONITOR = """
name: options
target: {name: scorer}
reference: {dataset: ref}
schedule: {interval: P1D, start: "2026-03-01T00:00:00Z"}
signals:
  - {kind: prediction_drift, name: pd-default}
  - {kind: prediction_drift, name: pd-job, options: {column: job}}
  - {kind: data_quality, name: q-default}
  - kind: data_quality
    name: q-options
    options: {out_of_range_rate: 0.02, null_rate_increase: 0.02, unseen_category_rate: 0.05}
  - {kind: performance, name: perf-default, threshold: 0.78}
  - {kind: performance, name: perf-f1, threshold: 0.78, options: {metric: f1, pos_label: ">50K"}}
  - {kind: performance, name: perf-pos-high, options: {pos_label: ">50K"}}
  - {kind: performance, name: perf-pos-low, options: {pos_label: "<=50K"}}
  - {kind: fairness, name: fair-default, options: {sensitive_features: [sex], pos_label: ">50K"}}
  - kind: fairness
    name: fair-ratio
    options: {sensitive_features: [sex], pos_label: ">50K", demographic_parity_ratio: 0.3}
  - kind: fairness
    name: fair-small
    options: {sensitive_features: [sex], pos_label: ">50K", min_group_size: 600}
  - kind: fairness
    name: fair-pos-high
    options: {sensitive_features: [sex], pos_label: ">50K", demographic_parity_ratio: 0.5}
  - kind: fairness
    name: fair-pos-low
    options: {sensitive_features: [sex], pos_label: "<=50K", demographic_parity_ratio: 0.5}
  - kind: fairness
    name: fair-none
    options: {sensitive_features: [sex], pos_label: ">50K", demographic_parity_ratio: null}
  - kind: fairness
    name: fair-differences
    options:
      sensitive_features: [sex]
      pos_label: ">50K"
      demographic_parity_ratio: null
      demographic_parity_difference: 0.2
      equalized_odds_difference: 0.01
      equalized_odds_ratio: 0.99
  - {kind: fairness, name: fair-job, options: {sensitive_features: [job], pos_label: ">50K"}}
"""


def _reference() -> pa.Table:
    """1000 rows: ages 20-69, whole hours, three jobs, two sexes, 35% predicted >50K."""
    i = range(ROWS)
    return pa.table(
        {
            "age": pa.array([20.0 + k % 50 for k in i]),
            "hours": pa.array([40 + k % 7 for k in i], pa.int64()),
            "job": [f"j{k % 3}" for k in i],
            "sex": ["M" if k % 2 else "F" for k in i],
            "prediction": [CLASSES[k % 20 < 7] for k in i],
        }
    )


def _prediction(k: int) -> str:
    # Men are predicted >50K half the time, women a fifth: 35% overall, as in the reference.
    high = (k // 2) % 2 == 0 if k % 2 else (k // 2) % 5 == 0
    return CLASSES[high]


def _label(k: int) -> str:
    return _prediction(k) if k % 5 != 4 else CLASSES[_prediction(k) == CLASSES[0]]


def _job(k: int) -> str:
    # 3% unseen, else mostly j0: the job column drifts, the prediction column does not.
    slot = k % 100
    return "j9" if 6 <= slot < 9 else "j0" if slot < 90 else "j1" if slot < 95 else "j2"


def _records() -> list[dict[str, Any]]:
    """The day's traffic: 3% of ages out of range, 3% of hours missing, 3% unseen jobs."""
    return [
        {
            "correlation_id": f"c{k}",
            "timestamp": (T0 + timedelta(minutes=k)).isoformat(),
            "features": {
                "age": 95.0 if k % 100 < 3 else 20.0 + k % 50,
                "hours": None if 3 <= k % 100 < 6 else 40 + k % 7,
                "job": _job(k),
                "sex": "M" if k % 2 else "F",
            },
            "prediction": _prediction(k),
        }
        for k in range(ROWS)
    ]


@pytest.fixture
def ran(client: TestClient, world: World, services: Services, settings: Settings) -> dict[str, Any]:
    """The day staged over HTTP and the monitor run once: its summary per signal."""
    deploy(services, SIGNATURE)
    register_reference(client, world, settings, _reference())
    app = world.headers("app-developer")
    body = json.dumps({"records": _records()})
    r = client.post(f"{ENDPOINT}/inferences", content=body, headers=app)
    assert r.status_code == 201, r.text
    labels = [{"correlation_id": f"c{k}", "label": _label(k)} for k in range(ROWS)]
    assert (
        client.post(f"{ENDPOINT}/labels", json={"labels": labels}, headers=app).status_code == 201
    )
    yaml = {"Content-Type": "application/yaml"}
    r = client.post(
        f"{PROJECT}/monitors/apply", content=MONITOR, headers=world.headers("data-scientist") | yaml
    )
    assert r.status_code == 200, r.text
    end = (T0 + timedelta(days=1)).isoformat()
    r = client.post(
        f"{PROJECT}/monitors/options/run",
        json={"window_end": end},
        headers=world.headers("ml-engineer"),
    )
    assert r.status_code == 200, r.text
    run = r.json()["run"]
    assert run["status"] == "succeeded" and run["row_count"] == ROWS, run
    return dict(run["summary"])


def _features(client: TestClient, world: World, signal: str, metric: str) -> set[str]:
    r = client.get(
        f"{PROJECT}/monitors/options/results",
        params={"signal": signal},
        headers=world.headers("viewer"),
    )
    assert r.status_code == 200, r.text
    return {p["feature"] for p in r.json()["items"] if p["metric"] == metric}


def test_prediction_drift_column(client: TestClient, world: World, ran: dict[str, Any]) -> None:
    assert ran["pd-default"]["breached"] is False
    assert ran["pd-job"]["breached"] is True
    assert _features(client, world, "pd-job", "chi2_contingency_p_value") == {"job"}
    assert _features(client, world, "pd-default", "chi2_contingency_p_value") == {"prediction"}


def test_data_quality_rates(ran: dict[str, Any]) -> None:
    assert set(ran["q-default"]["issues"]) == {"job:unseen_category_rate"}
    assert set(ran["q-options"]["issues"]) == {
        "age:out_of_range_rate",
        "hours:null_rate_increase",
    }


def _recall(positive: str) -> float:
    hits = [_prediction(k) == positive for k in range(ROWS) if _label(k) == positive]
    return sum(hits) / len(hits)


def test_performance_metric_and_pos_label(ran: dict[str, Any]) -> None:
    default, f1 = ran["perf-default"], ran["perf-f1"]
    assert default["accuracy"] == pytest.approx(0.8) and default["breached"] is False
    # The same threshold bounds f1 of the >50K class, which is below it.
    assert f1["f1"] == pytest.approx(0.75) and f1["accuracy"] > 0.78 and f1["breached"] is True
    high, low = ran["perf-pos-high"], ran["perf-pos-low"]
    assert high["recall"] == pytest.approx(_recall(">50K"))
    assert low["recall"] == pytest.approx(_recall("<=50K"))
    assert high["recall"] != pytest.approx(low["recall"])


def test_fairness_limits_group_size_and_pos_label(ran: dict[str, Any]) -> None:
    default = ran["fair-default"]
    assert default["demographic_parity_ratio"] == pytest.approx(0.4)
    assert default["alerts"] == ["demographic_parity_ratio"] and default["breached"] is True
    assert ran["fair-ratio"]["breached"] is False and ran["fair-ratio"]["alerts"] == []
    assert ran["fair-small"]["verdict"] == "insufficient_data"
    assert ran["fair-small"]["breached"] is False
    assert ran["fair-pos-high"]["breached"] is True
    low = ran["fair-pos-low"]
    assert low["demographic_parity_ratio"] == pytest.approx(0.625) and low["breached"] is False
    assert ran["fair-none"]["alerts"] == [] and ran["fair-none"]["breached"] is False
    differences = ran["fair-differences"]
    assert differences["demographic_parity_difference"] == pytest.approx(0.3)
    assert set(differences["alerts"]) == {
        "demographic_parity_difference",
        "equalized_odds_difference",
        "equalized_odds_ratio",
    }


def test_fairness_sensitive_features(client: TestClient, world: World, ran: dict[str, Any]) -> None:
    assert _features(client, world, "fair-default", "selection_rate") == {"sex=F", "sex=M"}
    assert _features(client, world, "fair-job", "selection_rate") == {
        "job=j0",
        "job=j1",
        "job=j2",
        "job=j9",
    }


# What captured traffic cannot show: the signature keeps types, and these labels are classes.


def _signal(yaml: str) -> Any:
    [spec] = load_specs(f"name: m\ntarget: {{name: e}}\nsignals: [{yaml}]\n")
    return spec.signals[0]


def test_data_quality_type_error_rate() -> None:
    reference = pa.table({"hours": pa.array([float(k % 7) for k in range(ROWS)])})
    texts = ["x" if k % 100 < 3 else str(k % 7) for k in range(ROWS)]
    data = SignalInput(
        profile=build_reference_profile(reference),
        reference=reference,
        current=pa.table({"hours": texts}),
    )
    default = compute_signal(_signal("{kind: data_quality}"), data)
    lenient = compute_signal(
        _signal("{kind: data_quality, options: {type_error_rate: 0.05}}"), data
    )
    assert default.summary["issues"] == ["hours:type_error_rate"]
    assert lenient.summary["issues"] == [] and not lenient.breached


def test_performance_regression_task() -> None:
    truth = [float(k % 10) for k in range(ROWS)]
    data = SignalInput(
        profile=build_reference_profile(pa.table({"x": [1.0]})),
        reference=pa.table({"x": [1.0]}),
        current=pa.table({"label": truth, "prediction": [t + 0.5 for t in truth]}),
    )
    outcome = compute_signal(
        _signal("{kind: performance, threshold: 0.4, options: {task: regression, metric: mae}}"),
        data,
    )
    values = {m.metric: m.value for m in outcome.metrics}
    assert values["mae"] == pytest.approx(0.5) and values["rmse"] == pytest.approx(0.5)
    assert "accuracy" not in values and outcome.breached  # mae 0.5 is above 0.4
    default = compute_signal(_signal("{kind: performance, options: {task: regression}}"), data)
    assert not default.breached
