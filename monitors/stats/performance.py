"""Model performance with labels, compared with a baseline under MLflow MetricThreshold rules."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from monitors.stats.schemas import Serializable, Verdict

CALIBRATION_BINS = 10
HIGHER_IS_BETTER = {
    "accuracy": True,
    "precision": True,
    "recall": True,
    "f1": True,
    "roc_auc": True,
    "log_loss": False,
    "calibration_error": False,
    "mae": False,
    "mse": False,
    "rmse": False,
    "r2": True,
}


class TaskType(StrEnum):
    """Kind of model being evaluated."""

    classification = "classification"
    regression = "regression"


@dataclass(frozen=True, kw_only=True, slots=True)
class MetricThreshold(Serializable):
    """MLflow's MetricThreshold: absolute bound, and minimum change against the baseline.

    With ``greater_is_better`` the value must be >= ``threshold``, >= baseline +
    ``min_absolute_change`` and >= baseline * (1 + ``min_relative_change``); otherwise the
    mirrored <= checks apply. Negative changes express a tolerated degradation (MLflow only
    accepts positive ones, which demand an improvement).
    """

    threshold: float | None = None
    min_absolute_change: float | None = None
    min_relative_change: float | None = None
    greater_is_better: bool = True

    def failures(self, value: float, baseline: float | None) -> tuple[str, ...]:
        """Names of the checks that ``value`` fails."""
        sign = 1.0 if self.greater_is_better else -1.0
        failed = []
        if self.threshold is not None and not self._passes(value, self.threshold):
            failed.append("threshold")
        if baseline is not None and self.min_absolute_change is not None:
            if not self._passes(value, baseline + sign * self.min_absolute_change):
                failed.append("min_absolute_change")
        if baseline is not None and self.min_relative_change is not None:
            if baseline == 0:
                # MLflow falls back to a plain comparison when the baseline is zero
                passed = value > 0 if self.greater_is_better else value < 0
            else:
                target = baseline + sign * abs(baseline) * self.min_relative_change
                passed = self._passes(value, target)
            if not passed:
                failed.append("min_relative_change")
        return tuple(failed)

    def _passes(self, value: float, bound: float) -> bool:
        return value >= bound if self.greater_is_better else value <= bound


@dataclass(frozen=True, kw_only=True, slots=True)
class MetricResult(Serializable):
    """One metric, its baseline, and the outcome of its threshold."""

    name: str
    value: float
    baseline: float | None = None
    failed_checks: tuple[str, ...] = ()
    degraded: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class PerformanceResult(Serializable):
    """Metrics of a labelled window; ``verdict`` is drift when any threshold fails."""

    task: TaskType
    rows: int
    metrics: tuple[MetricResult, ...]
    verdict: Verdict
    labels: tuple[str, ...] = ()
    confusion_matrix: tuple[tuple[int, ...], ...] = ()

    def metric(self, name: str) -> MetricResult:
        """Return a metric by name."""
        for item in self.metrics:
            if item.name == name:
                return item
        raise KeyError(name)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[list[Any], np.ndarray]:
    """Sorted labels and counts of (true, predicted) pairs, rows true, as sklearn's."""
    labels, codes = np.unique(np.concatenate([y_true, y_pred]), return_inverse=True)
    k, n = labels.size, y_true.size
    matrix = np.bincount(codes[:n] * k + codes[n:], minlength=k * k).reshape(k, k)
    return labels.tolist(), matrix


def classification_metrics(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    *,
    y_score: np.ndarray | None = None,
    pos_label: Any = 1,
    score_classes: list[Any] | None = None,
    calibration_bins: int = CALIBRATION_BINS,
) -> tuple[dict[str, float], list[Any], np.ndarray]:
    """Accuracy, precision, recall, F1 (binary, or macro over labels); with scores ROC AUC,
    log loss and expected calibration error."""
    labels, matrix = confusion_matrix(y_true, y_pred)
    tp = np.diag(matrix).astype(np.float64)
    predicted, actual = matrix.sum(axis=0), matrix.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(actual > 0, tp / actual, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    binary = len(labels) <= 2 and pos_label in labels
    position = labels.index(pos_label) if binary else None

    def pick(per_label: np.ndarray) -> float:
        # binary: the positive label's value; otherwise the unweighted (macro) mean
        return float(per_label[position] if position is not None else per_label.mean())

    metrics = {
        "accuracy": float(tp.sum() / matrix.sum()),
        "precision": pick(precision),
        "recall": pick(recall),
        "f1": pick(f1),
    }
    if y_score is not None:
        classes = score_classes if score_classes is not None else sorted(set(labels), key=str)
        metrics.update(score_metrics(y_true, y_score, classes, pos_label, calibration_bins))
    return metrics, labels, matrix


def expected_calibration_error(
    correct: np.ndarray, confidence: np.ndarray, bins: int = CALIBRATION_BINS
) -> float:
    """Sum over equal-width bins of |observed rate - mean probability| weighted by bin share.

    Bins are those of sklearn's ``calibration_curve(strategy="uniform")``: ``bins`` equal
    intervals of [0, 1], each closed on the right (the first also holds 0); empty bins count 0.
    """
    edges = np.linspace(0.0, 1.0, bins + 1)
    ids = np.searchsorted(edges[1:-1], confidence)
    counts = np.bincount(ids, minlength=bins)
    observed = np.bincount(ids, weights=correct.astype(np.float64), minlength=bins)
    predicted = np.bincount(ids, weights=confidence, minlength=bins)
    filled = counts > 0
    gaps = np.abs(observed[filled] - predicted[filled])  # count * |rate - mean probability|
    return float(gaps.sum() / confidence.size)


def score_metrics(
    y_true: np.ndarray,
    y_score: np.ndarray,
    classes: list[Any],
    pos_label: Any,
    bins: int = CALIBRATION_BINS,
) -> dict[str, float]:
    """ROC AUC, log loss and calibration error from probabilities (sklearn's definitions).

    ``y_score`` is the positive class's probability (1-D), or one column per class in the
    order of ``classes``. Two classes are scored on the positive class (calibration of its
    probability); more are one-vs-rest ROC AUC and top-label calibration. A metric sklearn
    cannot define on these rows (one class only) is NaN.
    """
    from sklearn import metrics

    scores = np.asarray(y_score, dtype=np.float64)
    if scores.ndim == 2 and scores.shape[1] == 2 and pos_label in classes:
        scores = scores[:, classes.index(pos_label)]
    if scores.ndim == 1:
        positive = (y_true == pos_label).astype(int)
        return {
            "roc_auc": _defined(metrics.roc_auc_score, positive, scores),
            "log_loss": float(metrics.log_loss(positive, scores, labels=[0, 1])),
            "calibration_error": expected_calibration_error(positive, scores, bins),
        }
    top = np.asarray(classes, dtype=object)[np.argmax(scores, axis=1)]
    return {
        "roc_auc": _defined(
            metrics.roc_auc_score, y_true, scores, multi_class="ovr", labels=classes
        ),
        "log_loss": float(metrics.log_loss(y_true, scores, labels=classes)),
        "calibration_error": expected_calibration_error(top == y_true, scores.max(axis=1), bins),
    }


def _defined(function: Any, *args: Any, **kwargs: Any) -> float:
    from sklearn.exceptions import UndefinedMetricWarning

    # one class only in the labels: ROC AUC is undefined (sklearn warns or raises, by version)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        try:
            return float(function(*args, **kwargs))
        except ValueError:
            return float("nan")


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """MAE, MSE, RMSE and R-squared with sklearn.metrics (R-squared is finite on a constant
    target: 1 when every prediction is exact, else 0)."""
    from sklearn import metrics

    mse = float(metrics.mean_squared_error(y_true, y_pred))
    return {
        "mae": float(metrics.mean_absolute_error(y_true, y_pred)),
        "mse": mse,
        "rmse": float(metrics.root_mean_squared_error(y_true, y_pred)),
        "r2": float(metrics.r2_score(y_true, y_pred)),
    }


def compute_performance(
    y_true: Any,
    y_pred: Any,
    *,
    task: TaskType,
    y_score: Any = None,
    pos_label: Any = 1,
    baseline: Mapping[str, float] | None = None,
    thresholds: Mapping[str, MetricThreshold] | None = None,
    min_sample_size: int = 30,
    score_classes: list[Any] | None = None,
    calibration_bins: int = CALIBRATION_BINS,
) -> PerformanceResult:
    """Compute a window's metrics and check each against its baseline and threshold."""
    truth, predicted = np.asarray(y_true), np.asarray(y_pred)
    if truth.size < max(min_sample_size, 1):
        return PerformanceResult(
            task=task, rows=int(truth.size), metrics=(), verdict=Verdict.insufficient_data
        )
    labels: list[Any] = []
    matrix = np.zeros((0, 0), dtype=np.int64)
    if task is TaskType.classification:
        score = None if y_score is None else np.asarray(y_score, dtype=np.float64)
        values, labels, matrix = classification_metrics(
            truth,
            predicted,
            y_score=score,
            pos_label=pos_label,
            score_classes=score_classes,
            calibration_bins=calibration_bins,
        )
    else:
        values = regression_metrics(truth.astype(np.float64), predicted.astype(np.float64))
    results = tuple(
        _judge(name, value, (baseline or {}).get(name), (thresholds or {}).get(name))
        for name, value in values.items()
    )
    degraded = any(r.degraded for r in results)
    return PerformanceResult(
        task=task,
        rows=int(truth.size),
        metrics=results,
        verdict=Verdict.drift if degraded else Verdict.no_drift,
        labels=tuple(str(label) for label in labels),
        confusion_matrix=tuple(tuple(int(c) for c in row) for row in matrix),
    )


def _judge(
    name: str, value: float, baseline: float | None, threshold: MetricThreshold | None
) -> MetricResult:
    # an undefined metric (ROC AUC of one class) is reported, not judged
    failed = threshold.failures(value, baseline) if threshold and math.isfinite(value) else ()
    return MetricResult(
        name=name, value=value, baseline=baseline, failed_checks=failed, degraded=bool(failed)
    )
