"""Quality metrics of a model on a holdout, and MLflow's ``MetricThreshold`` checks.

The metrics follow scikit-learn's definitions (``accuracy_score``, ``precision_score``,
``recall_score``, ``f1_score`` with ``zero_division=0``, binary with the positive class or
macro-averaged over the classes, ``roc_auc_score`` one-vs-rest macro, ``log_loss`` with its
clipping, ``mean_absolute_error``, root mean squared error, ``r2_score``); the tests prove the
parity. A metric that is undefined on the rows (ROC AUC with one class present, R² of a
constant target) is None with its reason, never a number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from retrain.gate.schemas import CLASSIFICATION_METRICS, REGRESSION_METRICS, MetricThreshold

# MLflow's fallback step when the champion's value is 0 and a relative change is asked for.
ZERO_BASELINE_STEP = 1e-10


@dataclass(frozen=True, kw_only=True, slots=True)
class Scores:
    """Every metric of one model; None where undefined, with the reason in ``errors``."""

    values: dict[str, float | None]
    errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class Labelled:
    """Rows scored by one model: classes as indices into ``classes`` (classification)."""

    classes: tuple[str, ...]
    truth: np.ndarray
    predicted: np.ndarray
    probabilities: np.ndarray | None = None
    positive: int | None = None  # binary: the positive class's index


def classification_scores(rows: Labelled) -> Scores:
    """accuracy, precision, recall, f1, roc_auc, log_loss of classified rows."""
    values: dict[str, float | None] = dict.fromkeys(CLASSIFICATION_METRICS)
    errors: dict[str, str] = {}
    if rows.truth.size == 0:
        return Scores(values=values, errors=dict.fromkeys(values, "no rows"))
    values["accuracy"] = float(np.mean(rows.truth == rows.predicted))
    values.update(_precision_recall_f1(rows))
    if rows.probabilities is None:
        errors |= dict.fromkeys(("roc_auc", "log_loss"), "the model gives no probabilities")
    else:
        values["roc_auc"], reason = _roc_auc(rows)
        if reason:
            errors["roc_auc"] = reason
        values["log_loss"] = _log_loss(rows.truth, rows.probabilities)
    return Scores(values=values, errors=errors)


def _precision_recall_f1(rows: Labelled) -> dict[str, float | None]:
    labels = [rows.positive] if rows.positive is not None else range(len(rows.classes))
    precision, recall, f1 = [], [], []
    for k in labels:
        actual, chosen = rows.truth == k, rows.predicted == k
        tp = float(np.sum(actual & chosen))
        p = tp / chosen.sum() if chosen.any() else 0.0
        r = tp / actual.sum() if actual.any() else 0.0
        precision.append(p)
        recall.append(r)
        f1.append(2 * p * r / (p + r) if p + r > 0 else 0.0)
    return {
        "precision": float(np.mean(precision)),
        "recall": float(np.mean(recall)),
        "f1": float(np.mean(f1)),
    }


def _binary_auc(actual: np.ndarray, score: np.ndarray) -> float:
    """Mann-Whitney U over average ranks (ties count one half), as ``roc_auc_score``."""
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(score.size, dtype=np.float64)
    sorted_scores = score[order]
    # average ranks of tied scores
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], score.size]
    average = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(average, ends - starts)
    n_pos = int(actual.sum())
    n_neg = actual.size - n_pos
    u = ranks[actual].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def _roc_auc(rows: Labelled) -> tuple[float | None, str]:
    assert rows.probabilities is not None
    present = np.unique(rows.truth)
    if present.size < 2:
        return None, "ROC AUC needs both classes among the labels"
    if rows.positive is not None:
        actual = rows.truth == rows.positive
        return _binary_auc(actual, rows.probabilities[:, rows.positive]), ""
    if present.size < len(rows.classes):
        return None, "one-vs-rest ROC AUC needs every class among the labels"
    aucs = [
        _binary_auc(rows.truth == k, rows.probabilities[:, k]) for k in range(len(rows.classes))
    ]
    return float(np.mean(aucs)), ""


def _log_loss(truth: np.ndarray, probabilities: np.ndarray) -> float:
    probs = np.asarray(probabilities, dtype=np.float64)
    eps = np.finfo(probs.dtype).eps
    probs = np.clip(probs, eps, 1 - eps)
    probs = probs / probs.sum(axis=1, keepdims=True)
    picked = probs[np.arange(truth.size), truth]
    return float(-np.mean(np.log(picked)))


def regression_scores(truth: np.ndarray, predicted: np.ndarray) -> Scores:
    """mae, rmse and r2 of numeric predictions."""
    values: dict[str, float | None] = dict.fromkeys(REGRESSION_METRICS)
    if truth.size == 0:
        return Scores(values=values, errors=dict.fromkeys(values, "no rows"))
    residual = truth - predicted
    values["mae"] = float(np.mean(np.abs(residual)))
    values["rmse"] = float(np.sqrt(np.mean(residual**2)))
    spread = float(np.sum((truth - truth.mean()) ** 2))
    if spread == 0:
        return Scores(values=values, errors={"r2": "R² is undefined on a constant target"})
    values["r2"] = 1.0 - float(np.sum(residual**2)) / spread
    return Scores(values=values)


@dataclass(frozen=True, kw_only=True, slots=True)
class ThresholdCheck:
    """One MetricThreshold judged: the values, each bound's outcome, and why it failed."""

    metric: str
    greater_is_better: bool
    challenger: float | None
    champion: float | None
    checks: dict[str, dict[str, Any]]
    passed: bool
    reasons: list[str]


def check_threshold(
    bar: MetricThreshold,
    challenger: float | None,
    champion: float | None,
    *,
    has_champion: bool,
    errors: tuple[str, str] = ("", ""),
) -> ThresholdCheck:
    """Judge ``bar`` as ``mlflow.models.evaluation.validation`` does, with two changes.

    MLflow fails a relative or absolute check without a baseline; the gate skips it when there
    is no champion (and says so), but fails it when the champion's value is undefined. MLflow
    divides the relative change by the signed baseline, which inverts the check for a negative
    baseline (an R² below 0); the gate divides by its magnitude (the same for positive ones).
    """
    checks: dict[str, dict[str, Any]] = {}
    reasons: list[str] = []
    if challenger is None or not math.isfinite(challenger):
        why = errors[0] or "not computed"
        reasons.append(f"{bar.metric}: the challenger's value cannot be computed ({why})")
    elif bar.threshold is not None:
        ok = _better_or_equal(challenger, bar.threshold, bar.greater_is_better)
        checks["threshold"] = {"bound": bar.threshold, "passed": ok}
        if not ok:
            reasons.append(_fail(bar, "threshold", challenger, bar.threshold))
    if has_champion:
        reasons += _comparisons(bar, challenger, champion, checks, errors[1])
    else:
        for name, change in _changes(bar).items():
            checks[name] = {"change": change, "skipped": "no champion", "passed": True}
    return ThresholdCheck(
        metric=bar.metric, greater_is_better=bar.greater_is_better, challenger=challenger,
        champion=champion, checks=checks, passed=not reasons, reasons=reasons,
    )  # fmt: skip


def _changes(bar: MetricThreshold) -> dict[str, float]:
    named = {"min_absolute_change": bar.min_absolute_change,
             "min_relative_change": bar.min_relative_change}  # fmt: skip
    return {name: change for name, change in named.items() if change is not None}


def _comparisons(
    bar: MetricThreshold,
    challenger: float | None,
    champion: float | None,
    checks: dict[str, dict[str, Any]],
    error: str,
) -> list[str]:
    """The champion comparisons of ``bar`` into ``checks``; their failures."""
    changes = _changes(bar)
    if not changes:
        return []
    if champion is None or not math.isfinite(champion):
        checks.update({name: {"change": c, "passed": False} for name, c in changes.items()})
        return [
            f"{bar.metric}: the champion's value cannot be computed ({error or 'not computed'})"
        ]
    if challenger is None or not math.isfinite(challenger):
        return []  # already failed: the challenger's value is missing
    reasons = []
    for name, change in changes.items():
        checks[name] = _relative(bar, name, change, challenger, champion)
        if not checks[name]["passed"]:
            reasons.append(_fail(bar, name, challenger, checks[name]["bound"]))
    return reasons


def _better_or_equal(value: float, bound: float, greater_is_better: bool) -> bool:
    return value >= bound if greater_is_better else value <= bound


def _relative(
    bar: MetricThreshold, name: str, change: float, challenger: float, champion: float
) -> dict[str, Any]:
    sign = 1.0 if bar.greater_is_better else -1.0
    if name == "min_absolute_change":
        bound = champion + sign * change
    elif champion == 0:  # MLflow: no relative change of 0; the challenger must just be better
        bound = champion + sign * ZERO_BASELINE_STEP
    else:
        bound = champion + sign * change * abs(champion)
    if name == "min_relative_change" and champion != 0:
        achieved = sign * (challenger - champion) / abs(champion)
        return {
            "change": change,
            "bound": bound,
            "achieved": achieved,
            "passed": achieved >= change,
        }
    ok = _better_or_equal(challenger, bound, bar.greater_is_better)
    return {"change": change, "bound": bound, "passed": ok}


def _fail(bar: MetricThreshold, check: str, value: float, bound: float) -> str:
    side = ">=" if bar.greater_is_better else "<="
    return f"{bar.metric} {check} failed: challenger {value:.6g}, needed {side} {bound:.6g}"
