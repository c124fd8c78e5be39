"""Through the app: logged probabilities give ROC AUC and log loss equal to sklearn's on the
same rows; a signal that needs probabilities fails alone on an endpoint that logs none; a
fairness signal comparing with a reference that already breaches the four-fifths rule pages
only when a window is worse than the reference, and says the reference breaches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from governance.core.settings import Settings
from lineage.schemas import ColumnSpec, Signature
from steward.api.deps import Services
from tests.builders import World
from tests.monitors.runs.traffic import apply_yaml, deploy, register_reference, run_day, send

T0 = datetime(2026, 3, 1, tzinfo=UTC)
ROWS = 1000
DAYS = 3
CLASSES = ["<=50K", ">50K"]
PROJECT = "/api/v1/projects/alpha"
MONITOR = """
name: scores
target: {name: scorer}
reference: {dataset: ref}
schedule: {interval: P1D, start: "2026-03-01T00:00:00Z"}
signals:
  - {kind: performance, name: auc, threshold: 0.99, options: {metric: roc_auc, pos_label: ">50K"}}
  - {kind: performance, name: loss, threshold: 0.3, options: {metric: log_loss, pos_label: ">50K"}}
  - kind: performance
    name: calibration
    threshold: 0.5
    options: {metric: calibration_error, pos_label: ">50K", calibration_bins: 5}
  - {kind: fairness, name: fair-absolute, options: {sensitive_features: [sex], pos_label: ">50K"}}
  - kind: fairness
    name: fair-reference
    options: {sensitive_features: [sex], pos_label: ">50K", compare: reference}
"""
PLAIN = """
name: plain
target: {name: plain}
reference: {dataset: ref}
schedule: {interval: P1D, start: "2026-03-01T00:00:00Z"}
signals:
  - {kind: performance, name: auc, threshold: 0.7, options: {metric: roc_auc, pos_label: ">50K"}}
  - {kind: performance, name: accuracy, threshold: 0.7}
"""


def _high(k: int, women_every: int) -> bool:
    # Men (odd k) are predicted >50K half the time, women one in ``women_every``.
    return (k // 2) % 2 == 0 if k % 2 else (k // 2) % women_every == 0


def _label(k: int, women_every: int) -> str:
    high = _high(k, women_every)
    return CLASSES[high] if k % 5 != 4 else CLASSES[not high]


def _reference() -> pa.Table:
    """The reference: women selected at 0.2, men at 0.5 (ratio 0.4, below four fifths)."""
    return pa.table(
        {
            "age": [20.0 + k % 50 for k in range(ROWS)],
            "sex": ["M" if k % 2 else "F" for k in range(ROWS)],
            "prediction": [CLASSES[_high(k, 5)] for k in range(ROWS)],
            "label": [_label(k, 5) for k in range(ROWS)],
        }
    )


def _day(day: int, rng: np.random.Generator) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A day's records and labels: as the reference, except the last day (women at 0.05)."""
    every = 20 if day == DAYS - 1 else 5
    records, labels = [], []
    for k in range(ROWS):
        label = _label(k, every)
        p = float(np.clip(rng.normal(0.65 if label == CLASSES[1] else 0.35, 0.2), 0.01, 0.99))
        records.append(
            {
                "correlation_id": f"d{day}c{k}",
                "timestamp": (T0 + timedelta(days=day, minutes=k)).isoformat(),
                "features": {"age": 20.0 + k % 50, "sex": "M" if k % 2 else "F"},
                "prediction": CLASSES[_high(k, every)],
                "probabilities": [1 - p, p],
            }
        )
        labels.append({"correlation_id": f"d{day}c{k}", "label": label})
    return records, labels


def _signature(*, probabilities: bool) -> Signature:
    return Signature(
        inputs=[ColumnSpec(name="age", type="float"), ColumnSpec(name="sex", type="str")],
        outputs=[ColumnSpec(name="prediction", type="str")],
        task="binary",
        probabilities=probabilities,
        classes=CLASSES,
    )


@pytest.fixture
def staged(
    client: TestClient, world: World, services: Services, settings: Settings
) -> dict[str, Any]:
    """Three days captured on both endpoints; the monitors run on each day: their runs."""
    deploy(services, _signature(probabilities=True), endpoint="scorer", model="scorer")
    deploy(services, _signature(probabilities=False), endpoint="plain", model="plain")
    register_reference(client, world, settings, _reference())
    rng = np.random.default_rng(11)
    days = []
    for day in range(DAYS):
        records, labels = _day(day, rng)
        send(client, world, records, endpoint="scorer", labels=labels)
        bare = [{k: v for k, v in r.items() if k != "probabilities"} for r in records]
        send(client, world, bare, endpoint="plain", labels=labels)
        days.append((records, labels))
    for text in (MONITOR, PLAIN):
        r = apply_yaml(client, world, text)
        assert r.status_code == 200, r.text
    return {
        "days": days,
        "scores": [run_day(client, world, "scores", d) for d in range(DAYS)],
        "plain": run_day(client, world, "plain", 0),
    }


def _results(client: TestClient, world: World, signal: str) -> list[dict[str, Any]]:
    r = client.get(
        f"{PROJECT}/monitors/scores/results",
        params={"signal": signal, "limit": 500},
        headers=world.headers("viewer"),
    )
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def test_roc_auc_and_log_loss_equal_sklearn_on_the_same_rows(
    client: TestClient, world: World, staged: dict[str, Any]
) -> None:
    from sklearn import metrics

    records, labels = staged["days"][0]
    truth = np.array([item["label"] == CLASSES[1] for item in labels], dtype=int)
    score = np.array([r["probabilities"][1] for r in records])
    first = str(staged["scores"][0]["window_end"])

    def stored(signal: str, metric: str) -> float:
        [point] = [
            p
            for p in _results(client, world, signal)
            if p["metric"] == metric and p["window_end"] == first
        ]
        return float(point["value"])

    assert stored("auc", "roc_auc") == pytest.approx(metrics.roc_auc_score(truth, score), 1e-12)
    assert stored("loss", "log_loss") == pytest.approx(metrics.log_loss(truth, score), 1e-12)
    summary = staged["scores"][0]["summary"]
    assert summary["auc"]["breached"] is True  # far below 0.99
    assert summary["auc"]["scored_rows"] == ROWS
    assert summary["loss"]["breached"] is True  # log loss above 0.3
    assert summary["calibration"]["calibration_error"] < 0.5
    assert summary["calibration"]["breached"] is False


def test_a_score_metric_without_probabilities_fails_alone(staged: dict[str, Any]) -> None:
    run = staged["plain"]
    assert run["status"] == "partial", run
    auc, accuracy = run["summary"]["auc"], run["summary"]["accuracy"]
    assert auc["status"] == "failed"
    assert (
        "roc_auc needs the logged probabilities: the endpoint logs no probabilities"
        in (auc["error"])
    )
    assert accuracy["status"] == "succeeded" and accuracy["accuracy"] == pytest.approx(0.8)


def test_fairness_against_a_breaching_reference_pages_only_when_worse(
    staged: dict[str, Any],
) -> None:
    absolute = [run["summary"]["fair-absolute"] for run in staged["scores"]]
    reference = [run["summary"]["fair-reference"] for run in staged["scores"]]
    # The absolute four-fifths limit pages every window, the reference's too, and says so.
    assert [s["breached"] for s in absolute] == [True, True, True]
    assert absolute[0]["reference_breaches"] == ["demographic_parity_ratio"]
    assert "compare: reference" in absolute[0]["note"]
    # Compared with the reference: the two days like it do not page; the worse one does.
    assert [s["breached"] for s in reference] == [False, False, True]
    assert reference[0]["reference_breaches"] == ["demographic_parity_ratio"]
    assert "already breaches demographic_parity_ratio" in reference[0]["note"]
    assert reference[0]["demographic_parity_ratio"] == pytest.approx(0.4)
    assert reference[0]["demographic_parity_ratio_reference"] == pytest.approx(0.4)
    assert reference[0]["demographic_parity_ratio_z"] == pytest.approx(0.0, abs=1e-12)
    assert reference[2]["alerts"] == ["demographic_parity_ratio"]
    assert reference[2]["demographic_parity_ratio"] == pytest.approx(0.1)
    assert reference[2]["demographic_parity_ratio_z"] > 3


def test_fairness_results_carry_every_group_metric(
    client: TestClient, world: World, staged: dict[str, Any]
) -> None:
    first = str(staged["scores"][0]["window_end"])
    points = [p for p in _results(client, world, "fair-reference") if p["window_end"] == first]
    by = {(p["metric"], p["feature"]): p["value"] for p in points}
    assert by[("group_count", "sex=F")] == by[("group_count", "sex=M")] == ROWS / 2
    assert by[("small_group", "sex=F")] == 0.0
    assert by[("selection_rate", "sex=F")] == pytest.approx(0.2)
    assert by[("selection_rate", "sex=M")] == pytest.approx(0.5)
    for metric in ("accuracy", "true_positive_rate", "false_positive_rate", "precision"):
        assert (metric, "sex=F") in by, metric
    assert by[("accuracy", "sex=M")] == pytest.approx(0.8)
    groups = staged["scores"][0]["summary"]["fair-reference"]["groups"]
    assert [(g["group"], g["count"], g["small"]) for g in groups] == [
        (["F"], 500, False),
        (["M"], 500, False),
    ]
