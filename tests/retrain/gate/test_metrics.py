"""The gate's quality metrics match scikit-learn, and thresholds follow MLflow's semantics."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError
from sklearn import metrics as skm

from retrain.gate.metrics import (
    Labelled,
    check_threshold,
    classification_scores,
    regression_scores,
)
from retrain.gate.schemas import FairnessLimit, GateSpec, MetricThreshold
from steward.demo.data import load_adult
from tests.retrain.test_artifacts_api import CATEGORICAL, NUMERIC, _pipeline

CLASSES = ("<=50K", ">50K")

# MLflow's validation table (mlflow.models.evaluation.validation._validate), one row per case:
# (threshold kwargs, candidate, baseline, passes).
MLFLOW_CASES: list[tuple[dict[str, Any], float, float | None, bool]] = [
    # threshold: >= when higher is better, <= when lower is better (equality passes)
    ({"metric": "accuracy", "threshold": 0.8}, 0.8, None, True),
    ({"metric": "accuracy", "threshold": 0.8}, 0.79, None, False),
    ({"metric": "log_loss", "threshold": 0.5}, 0.5, None, True),
    ({"metric": "log_loss", "threshold": 0.5}, 0.51, None, False),
    # min_absolute_change: candidate >= baseline + change (higher better) / <= baseline - change
    ({"metric": "accuracy", "min_absolute_change": 0.05}, 0.86, 0.8, True),
    ({"metric": "accuracy", "min_absolute_change": 0.05}, 0.84, 0.8, False),
    ({"metric": "mae", "min_absolute_change": 1.0}, 8.5, 10.0, True),
    ({"metric": "mae", "min_absolute_change": 1.0}, 9.5, 10.0, False),
    # min_relative_change: (candidate - baseline) / baseline >= change, reversed when lower wins
    ({"metric": "accuracy", "min_relative_change": 0.05}, 0.85, 0.8, True),
    ({"metric": "accuracy", "min_relative_change": 0.05}, 0.83, 0.8, False),
    ({"metric": "rmse", "min_relative_change": 0.1}, 8.9, 10.0, True),
    ({"metric": "rmse", "min_relative_change": 0.1}, 9.5, 10.0, False),
    # a zero relative change: no worse than the baseline passes
    ({"metric": "accuracy", "min_relative_change": 0.0}, 0.8, 0.8, True),
    ({"metric": "accuracy", "min_relative_change": 0.0}, 0.79, 0.8, False),
    # baseline 0: MLflow falls back to "strictly better by 1e-10"
    ({"metric": "r2", "min_relative_change": 0.5}, 1e-9, 0.0, True),
    ({"metric": "r2", "min_relative_change": 0.5}, 0.0, 0.0, False),
    ({"metric": "mae", "min_relative_change": 0.5}, -1e-9, 0.0, True),
    # every bound must hold
    ({"metric": "accuracy", "threshold": 0.9, "min_absolute_change": 0.01}, 0.95, 0.8, True),
    ({"metric": "accuracy", "threshold": 0.9, "min_absolute_change": 0.01}, 0.85, 0.8, False),
    ({"metric": "accuracy", "threshold": 0.7, "min_absolute_change": 0.01}, 0.8, 0.8, False),
]


@pytest.mark.parametrize(("bar", "candidate", "baseline", "passes"), MLFLOW_CASES)
def test_thresholds_follow_mlflows_table(
    bar: dict[str, Any], candidate: float, baseline: float | None, passes: bool
) -> None:
    check = check_threshold(
        MetricThreshold(**bar), candidate, baseline, has_champion=baseline is not None
    )
    assert check.passed is passes, check
    assert bool(check.reasons) is not passes


def test_without_a_champion_relative_checks_are_skipped_and_said_so() -> None:
    bar = MetricThreshold(metric="accuracy", threshold=0.7, min_relative_change=0.1)
    check = check_threshold(bar, 0.75, None, has_champion=False)
    assert check.passed and check.checks["min_relative_change"]["skipped"] == "no champion"
    assert check.checks["threshold"] == {"bound": 0.7, "passed": True}
    failing = check_threshold(bar, 0.65, None, has_champion=False)
    assert not failing.passed and "threshold failed" in failing.reasons[0]


def test_a_metric_that_cannot_be_computed_fails_with_its_reason() -> None:
    bar = MetricThreshold(metric="roc_auc", min_absolute_change=0.01)
    check = check_threshold(bar, None, 0.8, has_champion=True, errors=("one class", ""))
    assert not check.passed and "one class" in check.reasons[0]
    champion_missing = check_threshold(bar, 0.9, None, has_champion=True, errors=("", "nan"))
    assert not champion_missing.passed and "champion" in champion_missing.reasons[0]


def test_a_negative_baseline_is_judged_by_its_magnitude() -> None:
    # MLflow divides by the signed baseline: -0.5 against -1.0 (a 50% better R²) would fail
    bar = MetricThreshold(metric="r2", min_relative_change=0.2)
    assert check_threshold(bar, -0.5, -1.0, has_champion=True).passed
    assert not check_threshold(bar, -0.9, -1.0, has_champion=True).passed


@pytest.mark.parametrize(
    ("bar", "message"),
    [
        ({"metric": "accuracy"}, "no threshold"),
        ({"metric": "accuracy", "min_absolute_change": 0}, "greater than 0"),
        ({"metric": "accuracy", "min_relative_change": 1.5}, "less than or equal to 1"),
        ({"metric": "log_loss", "threshold": 1, "greater_is_better": True}, "lower value"),
        ({"metric": "auc", "threshold": 1}, "unknown metric"),
    ],
)
def test_thresholds_are_validated_like_mlflows(bar: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        MetricThreshold(**bar)


def test_gate_specs_refuse_unknown_disparities_and_duplicates() -> None:
    assert not MetricThreshold(metric="mae", threshold=1).greater_is_better
    with pytest.raises(ValidationError, match="unknown disparity"):
        FairnessLimit(metric="demographic_parity_ratio", sensitive_feature="sex", max_difference=1)
    twice = [{"metric": "accuracy", "threshold": 0.5}] * 2
    with pytest.raises(ValidationError, match="named twice"):
        GateSpec.model_validate({"metrics": twice})


def _labelled(truth: list[str], predicted: list[str], probs: np.ndarray, classes: tuple[str, ...],
              positive: int | None) -> Labelled:  # fmt: skip
    index = {c: i for i, c in enumerate(classes)}
    return Labelled(
        classes=classes,
        truth=np.array([index[v] for v in truth]),
        predicted=np.array([index[v] for v in predicted]),
        probabilities=probs,
        positive=positive,
    )


def test_binary_metrics_match_sklearn_on_adult() -> None:
    table = load_adult().slice(0, 4000)
    model = _pipeline(table.slice(0, 2000))
    held = table.slice(2000)
    frame = held.select([*NUMERIC, *CATEGORICAL]).to_pandas()
    truth = held.column("income").to_pylist()
    predicted, probs = model.predict(frame).tolist(), model.predict_proba(frame)
    scores = classification_scores(_labelled(truth, predicted, probs, CLASSES, 1))
    pos = ">50K"
    expected = {
        "accuracy": skm.accuracy_score(truth, predicted),
        "precision": skm.precision_score(truth, predicted, pos_label=pos),
        "recall": skm.recall_score(truth, predicted, pos_label=pos),
        "f1": skm.f1_score(truth, predicted, pos_label=pos),
        "roc_auc": skm.roc_auc_score([t == pos for t in truth], probs[:, 1]),
        "log_loss": skm.log_loss(truth, probs, labels=list(CLASSES)),
    }
    assert scores.errors == {}
    for name, value in expected.items():
        assert scores.values[name] == pytest.approx(value, rel=1e-12, abs=1e-12), name


def test_multiclass_metrics_match_sklearn_macro_averages() -> None:
    rng = np.random.default_rng(3)
    classes = ("a", "b", "c")
    truth = rng.choice(classes, 600).tolist()
    probs = rng.dirichlet([1, 1, 1], 600)
    probs[:, 0] = np.round(probs[:, 0], 2)  # ties, which ROC AUC ranks by their average
    probs /= probs.sum(axis=1, keepdims=True)
    predicted = [classes[i] for i in probs.argmax(axis=1)]
    scores = classification_scores(_labelled(truth, predicted, probs, classes, None))
    for name, fn in {"precision": skm.precision_score, "recall": skm.recall_score,
                     "f1": skm.f1_score}.items():  # fmt: skip
        expected = fn(truth, predicted, average="macro", zero_division=0)
        assert scores.values[name] == pytest.approx(expected, rel=1e-12), name
    auc = skm.roc_auc_score(truth, probs, multi_class="ovr", average="macro", labels=classes)
    assert scores.values["roc_auc"] == pytest.approx(auc, rel=1e-12)
    assert scores.values["log_loss"] == pytest.approx(skm.log_loss(truth, probs), rel=1e-12)


def test_regression_metrics_match_sklearn_and_undefined_ones_say_why() -> None:
    rng = np.random.default_rng(5)
    truth = rng.normal(10, 3, 500)
    predicted = truth + rng.normal(0, 1, 500)
    scores = regression_scores(truth, predicted)
    assert scores.values["mae"] == pytest.approx(skm.mean_absolute_error(truth, predicted))
    rmse = np.sqrt(skm.mean_squared_error(truth, predicted))
    assert scores.values["rmse"] == pytest.approx(rmse, rel=1e-12)
    assert scores.values["r2"] == pytest.approx(skm.r2_score(truth, predicted), rel=1e-12)
    flat = regression_scores(np.ones(10), np.ones(10))
    assert flat.values["r2"] is None and "constant" in flat.errors["r2"]
    one_class = classification_scores(
        _labelled(["<=50K"] * 5, ["<=50K"] * 5, np.full((5, 2), 0.5), CLASSES, 1)
    )
    assert one_class.values["roc_auc"] is None and "both classes" in one_class.errors["roc_auc"]
