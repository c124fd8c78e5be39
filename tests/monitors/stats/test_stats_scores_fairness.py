"""Score metrics (ROC AUC, log loss, calibration error) equal sklearn's; fairness results carry
every per-group metric (fairlearn's) and compare disparities with a reference's."""

from __future__ import annotations

import numpy as np
import pytest

from monitors.stats.fairness import (
    FairnessThresholds,
    compare_with_reference,
    compute_fairness,
    standard_error,
)
from monitors.stats.performance import (
    TaskType,
    compute_performance,
    expected_calibration_error,
    score_metrics,
)


def _sklearn_ece(correct: np.ndarray, confidence: np.ndarray, bins: int) -> float:
    """ECE from sklearn's calibration_curve (uniform bins), weighted by each bin's share."""
    from sklearn.calibration import calibration_curve

    observed, predicted = calibration_curve(correct, confidence, n_bins=bins, strategy="uniform")
    # calibration_curve drops empty bins; their counts, in its own binning, give the weights
    edges = np.linspace(0.0, 1.0, bins + 1)
    counts = np.bincount(np.searchsorted(edges[1:-1], confidence), minlength=bins)
    counts = counts[counts > 0]
    return float(np.sum(counts / confidence.size * np.abs(observed - predicted)))


def _binary(seed: int, n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.choice(["no", "yes"], n, p=[0.7, 0.3])
    score = np.clip(0.3 * (truth == "yes") + 0.7 * rng.random(n) ** 1.5, 0.0, 1.0)
    score[:5] = [0.0, 1.0, 0.1, 0.5, 0.9]  # bin edges land in the bin sklearn puts them in
    return truth, score


@pytest.mark.parametrize("bins", [2, 10, 15])
def test_binary_score_metrics_equal_sklearn(bins: int) -> None:
    from sklearn import metrics

    truth, score = _binary(bins)
    predicted = np.where(score > 0.5, "yes", "no")
    result = compute_performance(
        truth,
        predicted,
        task=TaskType.classification,
        y_score=np.column_stack([1 - score, score]),
        score_classes=["no", "yes"],
        pos_label="yes",
        calibration_bins=bins,
    )
    positive = (truth == "yes").astype(int)
    expected = {
        "roc_auc": metrics.roc_auc_score(positive, score),
        "log_loss": metrics.log_loss(truth, np.column_stack([1 - score, score])),
        "calibration_error": _sklearn_ece(positive, score, bins),
    }
    for name, value in expected.items():
        assert result.metric(name).value == pytest.approx(value, rel=1e-12, abs=1e-15), name


def test_positive_class_column_follows_the_given_classes() -> None:
    truth, score = _binary(3)
    flipped = score_metrics(truth, np.column_stack([score, 1 - score]), ["yes", "no"], "yes")
    direct = score_metrics(truth, score, ["no", "yes"], "yes")
    assert flipped == pytest.approx(direct, rel=1e-12)


def test_multiclass_score_metrics_equal_sklearn() -> None:
    from sklearn import metrics

    rng = np.random.default_rng(4)
    classes = ["a", "b", "c"]
    truth = rng.choice(classes, 2000)
    logits = rng.normal(size=(2000, 3)) + 1.5 * (truth[:, None] == np.array(classes))
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    ours = score_metrics(truth, probabilities, classes, "a")
    top = np.array(classes)[probabilities.argmax(axis=1)]
    assert ours["roc_auc"] == pytest.approx(
        metrics.roc_auc_score(truth, probabilities, multi_class="ovr", labels=classes), rel=1e-12
    )
    assert ours["log_loss"] == pytest.approx(
        metrics.log_loss(truth, probabilities, labels=classes), rel=1e-12
    )
    assert ours["calibration_error"] == pytest.approx(
        _sklearn_ece((top == truth).astype(int), probabilities.max(axis=1), 10), rel=1e-12
    )


def test_calibration_error_of_perfect_and_constant_scores() -> None:
    outcomes = np.array([1, 0, 1, 0])
    assert expected_calibration_error(outcomes, outcomes.astype(float)) == 0.0
    # every score 0.9 while half come true: off by 0.4
    assert expected_calibration_error(outcomes, np.full(4, 0.9)) == pytest.approx(0.4)


def test_roc_auc_of_one_class_is_undefined_and_not_judged() -> None:
    from monitors.stats.performance import MetricThreshold

    truth = np.array(["yes"] * 40)
    result = compute_performance(
        truth,
        truth,
        task=TaskType.classification,
        y_score=np.linspace(0.1, 0.9, 40),
        pos_label="yes",
        thresholds={"roc_auc": MetricThreshold(threshold=0.7)},
    )
    assert np.isnan(result.metric("roc_auc").value)
    assert not result.metric("roc_auc").degraded


def test_regression_metrics_use_sklearn_on_a_constant_target() -> None:
    from sklearn import metrics

    truth = np.full(50, 3.0)
    predicted = truth + np.linspace(-1, 1, 50)
    result = compute_performance(truth, predicted, task=TaskType.regression)
    assert result.metric("r2").value == metrics.r2_score(truth, predicted) == 0.0
    assert result.metric("rmse").value == pytest.approx(
        metrics.root_mean_squared_error(truth, predicted), rel=1e-12
    )


def _groups(seed: int, n: int, rates: dict[str, float]) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    group = rng.choice(list(rates), n)
    truth = (rng.random(n) < 0.4).astype(int)
    chance = np.array([rates[g] for g in group])
    predicted = np.where(rng.random(n) < 0.8, (rng.random(n) < chance).astype(int), truth)
    return truth, predicted, group


def test_every_group_metric_and_count_equals_fairlearn() -> None:
    from fairlearn.metrics import (
        MetricFrame,
        count,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score, precision_score

    truth, predicted, group = _groups(5, 1500, {"a": 0.5, "b": 0.3, "c": 0.4})
    group[:10] = "tiny"
    result = compute_fairness(
        truth, predicted, sensitive_features={"g": group}, thresholds=FairnessThresholds()
    )
    frame = MetricFrame(
        metrics={
            "count": count,
            "selection_rate": selection_rate,
            "accuracy": accuracy_score,
            "true_positive_rate": true_positive_rate,
            "false_positive_rate": false_positive_rate,
            "precision": lambda t, p: precision_score(t, p, zero_division=0),
            "positives": lambda t, p: int(np.sum(t == 1)),
        },
        y_true=truth,
        y_pred=predicted,
        sensitive_features={"g": group},
    ).by_group
    assert [g.group[0] for g in result.groups] == list(frame.index)
    for g in result.groups:
        row = frame.loc[g.group[0]]
        assert (g.count, g.positives, g.small) == (row["count"], row["positives"], g.count < 30)
        for name in ("selection_rate", "accuracy", "true_positive_rate", "false_positive_rate"):
            assert getattr(g, name) == pytest.approx(row[name], rel=1e-12), name
        assert g.precision == pytest.approx(row["precision"], rel=1e-12)


def test_standard_error_of_a_difference_is_the_two_group_formula() -> None:
    truth, predicted, group = _groups(6, 4000, {"a": 0.5, "b": 0.3})
    result = compute_fairness(truth, predicted, sensitive_features={"g": group})
    low, high = sorted(result.groups, key=lambda g: g.selection_rate)
    expected = sum(
        p * (1 - p) / g.count
        for g in (low, high)
        for p in [(g.selection_rate * g.count + 0.5) / (g.count + 1)]
    )
    error = standard_error(result, "demographic_parity_difference", 30)
    assert error == pytest.approx(np.sqrt(expected), rel=1e-12)


def test_a_window_like_a_breaching_reference_is_not_worse() -> None:
    unfair = {"a": 0.5, "b": 0.25}
    limits = FairnessThresholds(demographic_parity_ratio=0.8, equalized_odds_difference=0.05)
    truth, predicted, group = _groups(7, 5000, unfair)
    reference = compute_fairness(
        truth, predicted, sensitive_features={"g": group}, thresholds=limits
    )
    names = ("demographic_parity_ratio", "equalized_odds_difference")
    assert set(names) <= set(reference.alerts)  # the reference already breaches both limits
    worse_seen = 0
    for seed in range(20):
        t, p, g = _groups(100 + seed, 800, unfair)
        window = compute_fairness(t, p, sensitive_features={"g": g}, thresholds=limits)
        assert "demographic_parity_ratio" in window.alerts  # an absolute limit pages each time
        changes = compare_with_reference(window, reference, names=names, limits=limits, z=1.645)
        assert all(c.reference_breaches_limit for c in changes)
        worse_seen += any(c.worse for c in changes)
    assert worse_seen <= 5  # two one-sided 5% tests over 20 windows: a few at most
    t, p, g = _groups(200, 800, {"a": 0.6, "b": 0.1})
    window = compute_fairness(t, p, sensitive_features={"g": g}, thresholds=limits)
    changes = compare_with_reference(window, reference, names=names, limits=limits, z=1.645)
    assert changes[0].worse and changes[0].z > 5
