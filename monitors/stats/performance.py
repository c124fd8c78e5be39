"""Model performance with labels, compared with a baseline under MLflow MetricThreshold rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from monitors.stats.schemas import Serializable, Verdict

HIGHER_IS_BETTER = {
    "accuracy": True,
    "precision": True,
    "recall": True,
    "f1": True,
    "roc_auc": True,
    "log_loss": False,
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
) -> tuple[dict[str, float], list[Any], np.ndarray]:
    """Accuracy, precision, recall and F1 (binary, or macro over labels), ROC AUC, log loss."""
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
        metrics.update(_score_metrics(y_true, y_score, labels, pos_label, binary))
    return metrics, labels, matrix


def _score_metrics(
    y_true: np.ndarray, y_score: np.ndarray, labels: list[Any], pos_label: Any, binary: bool
) -> dict[str, float]:
    from sklearn import metrics

    if binary and y_score.ndim == 1:
        positive = (y_true == pos_label).astype(int)
        return {
            "roc_auc": float(metrics.roc_auc_score(positive, y_score)),
            "log_loss": float(metrics.log_loss(positive, y_score, labels=[0, 1])),
        }
    return {
        "roc_auc": float(metrics.roc_auc_score(y_true, y_score, multi_class="ovr", labels=labels)),
        "log_loss": float(metrics.log_loss(y_true, y_score, labels=labels)),
    }


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """MAE, MSE, RMSE and R-squared (sklearn's r2_score, finite when the target is constant)."""
    errors = y_true - y_pred
    mse = float(np.mean(errors**2))
    residual = float(np.sum(errors**2))
    total = float(np.sum((y_true - np.mean(y_true)) ** 2))
    if total == 0:
        r2 = 1.0 if residual == 0 else 0.0
    else:
        r2 = 1 - residual / total
    return {"mae": float(np.mean(np.abs(errors))), "mse": mse, "rmse": mse**0.5, "r2": r2}


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
            truth, predicted, y_score=score, pos_label=pos_label
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
    failed = threshold.failures(value, baseline) if threshold else ()
    return MetricResult(
        name=name, value=value, baseline=baseline, failed_checks=failed, degraded=bool(failed)
    )
