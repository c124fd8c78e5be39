"""Data quality against the reference, and performance against sklearn and MLflow rules."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from monitors.stats.drift import build_reference_profile
from monitors.stats.performance import MetricThreshold, TaskType, compute_performance
from monitors.stats.quality import QualityThresholds, compute_data_quality
from monitors.stats.schemas import Verdict


def test_quality_reports_nulls_types_ranges_categories_and_schema() -> None:
    reference = pa.table(
        {
            "age": pa.array([20.0, 30.0, 40.0, 50.0] * 25),
            "city": pa.array(["a", "b", "c", None] * 25),
            "gone": pa.array([1] * 100),
        }
    )
    current = pa.table(
        {
            "age": pa.array(["25", "x", "60", None, "inf"] * 20),
            "city": pa.array(["a", "d", "e", None, None] * 20),
            "extra": pa.array([1.0] * 100),
        }
    )
    result = compute_data_quality(build_reference_profile(reference), current)
    assert result.schema.missing == ("gone",) and result.schema.new == ("extra",)
    assert [(r.column, r.current_type) for r in result.schema.retyped] == [("age", "string")]
    age = {c.column: c for c in result.columns}["age"]
    assert (age.null_rate, age.type_error_rate, age.infinity_rate) == (0.2, 0.2, 0.2)
    assert age.out_of_range_rate == 0.2
    city = {c.column: c for c in result.columns}["city"]
    assert (city.reference_null_rate, city.null_rate) == (0.25, 0.4)
    assert city.unseen_category_rate == 0.4 and set(city.unseen_categories) == {"d", "e"}
    checks = {(i.column, i.check) for i in result.issues}
    assert checks >= {
        ("age", "type_error_rate"),
        ("age", "out_of_range_rate"),
        ("city", "unseen_category_rate"),
        ("city", "null_rate_increase"),
    }
    json.dumps(result.to_dict(), allow_nan=False)


def test_quality_of_a_clean_window_has_no_issues(adult: pd.DataFrame) -> None:
    profile = build_reference_profile(adult)
    result = compute_data_quality(profile, adult.sample(3000, random_state=0))
    assert not result.schema.changed
    assert result.issues == ()
    thresholds = QualityThresholds(null_rate_increase=-1.0)
    assert {i.check for i in compute_data_quality(profile, adult, thresholds).issues} == {
        "null_rate_increase"
    }


def _binary(seed: int, n: int = 2000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, n)
    score = np.clip(0.35 * truth + 0.65 * rng.random(n), 1e-6, 1 - 1e-6)
    return truth, (score > 0.5).astype(int), score


def test_classification_metrics_equal_sklearn() -> None:
    from sklearn import metrics

    truth, predicted, score = _binary(0)
    result = compute_performance(truth, predicted, task=TaskType.classification, y_score=score)
    expected = {
        "accuracy": metrics.accuracy_score(truth, predicted),
        "precision": metrics.precision_score(truth, predicted),
        "recall": metrics.recall_score(truth, predicted),
        "f1": metrics.f1_score(truth, predicted),
        "roc_auc": metrics.roc_auc_score(truth, score),
        "log_loss": metrics.log_loss(truth, score),
    }
    for name, value in expected.items():
        assert result.metric(name).value == pytest.approx(value, rel=1e-12), name
    assert result.confusion_matrix == tuple(
        map(tuple, metrics.confusion_matrix(truth, predicted).tolist())
    )


def test_multiclass_metrics_are_macro_averages_like_sklearn() -> None:
    from sklearn import metrics

    rng = np.random.default_rng(1)
    truth, predicted = rng.choice(["a", "b", "c"], 900), rng.choice(["a", "b", "c"], 900)
    result = compute_performance(truth, predicted, task=TaskType.classification)
    for name, function in (
        ("precision", metrics.precision_score),
        ("recall", metrics.recall_score),
        ("f1", metrics.f1_score),
    ):
        expected = function(truth, predicted, average="macro")
        assert result.metric(name).value == pytest.approx(expected, rel=1e-12)
    assert result.labels == ("a", "b", "c")


def test_regression_metrics_equal_sklearn() -> None:
    from sklearn import metrics

    rng = np.random.default_rng(2)
    truth = rng.normal(size=500)
    predicted = truth + rng.normal(0, 0.3, 500)
    result = compute_performance(truth, predicted, task=TaskType.regression)
    assert result.metric("mae").value == pytest.approx(
        metrics.mean_absolute_error(truth, predicted)
    )
    assert result.metric("mse").value == pytest.approx(metrics.mean_squared_error(truth, predicted))
    assert result.metric("rmse").value == pytest.approx(
        metrics.root_mean_squared_error(truth, predicted)
    )
    assert result.metric("r2").value == pytest.approx(metrics.r2_score(truth, predicted))


@pytest.mark.parametrize(
    ("threshold", "value", "baseline", "failed"),
    [
        (MetricThreshold(threshold=0.8), 0.79, None, ("threshold",)),
        (MetricThreshold(threshold=0.8), 0.80, None, ()),
        (MetricThreshold(threshold=0.3, greater_is_better=False), 0.31, None, ("threshold",)),
        (MetricThreshold(min_absolute_change=0.05), 0.84, 0.80, ("min_absolute_change",)),
        (MetricThreshold(min_absolute_change=0.05), 0.86, 0.80, ()),
        (MetricThreshold(min_absolute_change=-0.02), 0.79, 0.80, ()),
        (MetricThreshold(min_absolute_change=-0.02), 0.77, 0.80, ("min_absolute_change",)),
        (MetricThreshold(min_relative_change=0.1), 0.87, 0.80, ("min_relative_change",)),
        (MetricThreshold(min_relative_change=0.1), 0.89, 0.80, ()),
        (
            MetricThreshold(min_relative_change=0.1, greater_is_better=False),
            0.46,
            0.50,
            ("min_relative_change",),
        ),
        (MetricThreshold(min_relative_change=0.1, greater_is_better=False), 0.44, 0.50, ()),
        (MetricThreshold(min_relative_change=0.1), 0.01, 0.0, ()),
    ],
)
def test_metric_threshold_follows_mlflow_semantics(
    threshold: MetricThreshold, value: float, baseline: float | None, failed: tuple[str, ...]
) -> None:
    assert threshold.failures(value, baseline) == failed


def test_performance_degradation_against_baseline_is_drift() -> None:
    truth, predicted, _ = _binary(3)
    tolerance = {"accuracy": MetricThreshold(min_absolute_change=-0.02)}
    good = compute_performance(
        truth,
        predicted,
        task=TaskType.classification,
        baseline={"accuracy": 0.70},
        thresholds=tolerance,
    )
    bad = compute_performance(
        truth,
        predicted,
        task=TaskType.classification,
        baseline={"accuracy": 0.95},
        thresholds=tolerance,
    )
    assert good.verdict is Verdict.no_drift and bad.verdict is Verdict.drift
    assert bad.metric("accuracy").failed_checks == ("min_absolute_change",)
    tiny = compute_performance(truth[:10], predicted[:10], task=TaskType.classification)
    assert tiny.verdict is Verdict.insufficient_data
    json.dumps(bad.to_dict(), allow_nan=False)
