"""Performance without labels: confidence-based estimation (CBPE) for binary classifiers.

NannyML 0.13's method: calibrated scores give each row's chance of being positive, so the
expected confusion matrix (hence accuracy, precision, recall, F1 and ROC AUC) of a window
follows from its scores alone. Bands come from the realised metric over reference chunks
(mean +/- 3 sigma, NannyML's StandardDeviationThreshold) and the estimate's confidence interval
from NannyML's analytic sampling errors. Shared pieces (bands, the fit cache) serve DLE too.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from monitors.stats.thresholds import SIGMAS

CBPE_METRICS = ("roc_auc", "accuracy", "f1", "precision", "recall")
# NannyML's calibration check: ECE before and after isotonic calibration over these folds.
CALIBRATION_BINS = 10
CALIBRATION_SPLITS = 10
# ROC AUC this close to 1 needs no calibration (NannyML's rule).
SEPARABLE_AUC = 0.999


@dataclass(frozen=True, kw_only=True, slots=True)
class Band:
    """The realised metric over reference chunks: its mean and spread at the chunks' size."""

    mean: float
    std: float
    chunk_rows: int
    chunks: int
    lower_limit: float | None = 0.0
    upper_limit: float | None = 1.0

    def at(self, rows: int) -> tuple[float | None, float | None]:
        """Lower and upper thresholds for a window of ``rows`` (the std scales as 1/sqrt(n)).

        At ``rows == chunk_rows`` these are NannyML's thresholds; a threshold beyond the
        metric's range becomes that limit, as NannyML's ``calculate_threshold_values`` does.
        """
        spread = SIGMAS * self.std * math.sqrt(self.chunk_rows / max(rows, 1))
        lower, upper = self.mean - spread, self.mean + spread
        if self.lower_limit is not None and lower <= self.lower_limit:
            lower = self.lower_limit
        if self.upper_limit is not None and upper >= self.upper_limit:
            upper = self.upper_limit
        return lower, upper


@dataclass(frozen=True, kw_only=True, slots=True)
class Estimate:
    """One estimated metric of a window, its confidence interval, band and realised value."""

    metric: str
    value: float
    sampling_error: float
    lower_confidence: float
    upper_confidence: float
    lower_threshold: float | None
    upper_threshold: float | None
    reference_mean: float
    realised: float | None = None

    @property
    def outside_band(self) -> bool:
        """Whether the estimate lies outside the reference band (NannyML's alert)."""
        low, high = self.lower_threshold, self.upper_threshold
        return (low is not None and self.value < low) or (high is not None and self.value > high)


def judge(
    metric: str,
    value: float,
    sampling_error: float,
    band: Band,
    rows: int,
    realised: float | None,
) -> Estimate:
    """An estimate with its interval (+/- 3 sampling errors, clipped to the range) and band."""
    low = value - SIGMAS * sampling_error
    high = value + SIGMAS * sampling_error
    lower, upper = band.at(rows)
    return Estimate(
        metric=metric,
        value=value,
        sampling_error=sampling_error,
        lower_confidence=low if band.lower_limit is None else max(band.lower_limit, low),
        upper_confidence=high if band.upper_limit is None else min(band.upper_limit, high),
        lower_threshold=lower,
        upper_threshold=upper,
        reference_mean=band.mean,
        realised=None if realised is None or math.isnan(realised) else realised,
    )


def chunk_band(
    values: Sequence[float], chunk_rows: int, limits: tuple[float | None, float | None]
) -> Band:
    """The band of a metric from its realised values on reference chunks (NaN ones skipped)."""
    array = np.asarray(values, dtype=np.float64)
    finite = array[np.isfinite(array)]
    if finite.size == 0:
        raise ValueError("the metric is undefined on every reference chunk")
    return Band(
        mean=float(np.mean(finite)),
        std=float(np.std(finite)),
        chunk_rows=chunk_rows,
        chunks=int(array.size),
        lower_limit=limits[0],
        upper_limit=limits[1],
    )


def chunk_slices(rows: int, chunks: int) -> list[slice]:
    """``chunks`` consecutive equal slices of ``rows`` (the remainder is left out)."""
    size = rows // chunks
    if size < 1:
        raise ValueError(f"{rows} reference rows cannot make {chunks} chunks")
    return [slice(i * size, (i + 1) * size) for i in range(chunks)]


# --- CBPE ------------------------------------------------------------------------------------


def expected_calibration_error(
    truth: np.ndarray, scores: np.ndarray, bins: int = CALIBRATION_BINS
) -> float:
    """ECE over equal-count bins of the sorted scores (NannyML's definition)."""
    n = scores.size
    if n <= 2 * bins:
        bins = n // 2
    width = n // bins
    edges = list(range(0, n + 1, width))
    edges[-1] = n
    order = scores.argsort()
    s, t = scores[order], truth[order]
    total = 0.0
    for left, right in itertools.pairwise(edges):
        total += (
            (right - left) / n * abs(float(np.mean(s[left:right])) - float(np.mean(t[left:right])))
        )
    return total


def needs_calibration(truth: np.ndarray, scores: np.ndarray) -> bool:
    """Whether isotonic calibration lowers the ECE on held-out folds (NannyML's rule)."""
    from sklearn.isotonic import IsotonicRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedShuffleSplit

    if np.unique(truth).size == 1 or roc_auc_score(truth, scores) > SEPARABLE_AUC:
        return False
    splits = StratifiedShuffleSplit(n_splits=CALIBRATION_SPLITS, test_size=0.1, random_state=42)
    held_truth, held_raw, held_calibrated = [], [], []
    for train, test in splits.split(scores, truth):
        regressor = IsotonicRegression(out_of_bounds="clip", increasing=True)
        regressor.fit(scores[train], truth[train])
        held_truth.append(truth[test])
        held_raw.append(scores[test])
        held_calibrated.append(regressor.predict(scores[test]))
    y = np.concatenate(held_truth)
    before = expected_calibration_error(y, np.concatenate(held_raw))
    after = expected_calibration_error(y, np.concatenate(held_calibrated))
    return before > after


def estimate_accuracy(predicted: np.ndarray, p: np.ndarray) -> float:
    """Expected accuracy: each row is right with its calibrated chance of its predicted class."""
    return float(
        (np.sum(np.where(predicted, p, 0)) + np.sum(np.where(predicted, 0, 1 - p))) / p.size
    )


def _expected_counts(predicted: np.ndarray, p: np.ndarray) -> tuple[float, float, float]:
    tp = float(np.sum(np.where(predicted, p, 0)))
    fp = float(np.sum(np.where(predicted, 1 - p, 0)))
    fn = float(np.sum(np.where(predicted, 0, p)))
    return tp, fp, fn


def estimate_f1(predicted: np.ndarray, p: np.ndarray) -> float:
    """F1 of the expected confusion matrix."""
    tp, fp, fn = _expected_counts(predicted, p)
    denominator = tp + 0.5 * (fp + fn)
    return tp / denominator if denominator else 0.0


def estimate_precision(predicted: np.ndarray, p: np.ndarray) -> float:
    """Precision of the expected confusion matrix."""
    tp, fp, _ = _expected_counts(predicted, p)
    return tp / (tp + fp) if tp + fp else 0.0


def estimate_recall(predicted: np.ndarray, p: np.ndarray) -> float:
    """Recall of the expected confusion matrix."""
    tp, _, fn = _expected_counts(predicted, p)
    return tp / (tp + fn) if tp + fn else 0.0


def estimate_roc_auc(p: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC with calibrated chances as fractional labels, ranked by the model's own scores.

    NannyML's formula, its rounding of the cumulative counts to 5 decimals included.
    """
    from sklearn.metrics import auc

    order = np.argsort(scores)[::-1]
    chances = p[order]
    tps = np.r_[0, np.round(np.cumsum(chances), 5)]
    fps = np.r_[0, np.round(1 + np.arange(chances.size) - np.cumsum(chances), 5)]
    if tps[-1] == 0 or fps[-1] == 0:
        return math.nan
    return float(auc(fps / fps[-1], tps / tps[-1]))


def realised(metric: str, truth: np.ndarray, predicted: np.ndarray, scores: np.ndarray) -> float:
    """The metric from labels (NaN where NannyML leaves it undefined: one class only)."""
    from sklearn import metrics

    if metric == "accuracy":
        return float(np.mean(truth == predicted))
    if np.unique(truth).size < 2:
        return math.nan
    if metric == "roc_auc":
        return float(metrics.roc_auc_score(truth, scores))
    if np.unique(predicted).size < 2:
        return math.nan
    score = {"f1": metrics.f1_score, "precision": metrics.precision_score}.get(
        metric, metrics.recall_score
    )
    return float(score(truth, predicted, zero_division=0))


def _obs_std(values: list[np.ndarray], rows: int, relevant: int) -> tuple[float, float]:
    joined = np.concatenate(values)
    if joined.size == 0:
        return math.nan, 0.0
    return float(np.std(joined)), relevant / rows


def sampling_components(
    metric: str, truth: np.ndarray, predicted: np.ndarray, scores: np.ndarray
) -> tuple[float, float]:
    """NannyML's (std, fraction) of ``metric`` on the reference; the error is std/sqrt(n*frac)."""
    n = truth.size
    tp = truth & predicted
    fp = ~truth & predicted
    fn = truth & ~predicted
    ones, zeros = np.ones(int(tp.sum())), np.zeros
    if metric == "accuracy":
        return float(np.std((truth == predicted).astype(float))), 1.0
    if metric == "precision":
        return _obs_std([ones, zeros(int(fp.sum()))], n, int(predicted.sum()))
    if metric == "recall":
        return _obs_std([ones, zeros(int(fn.sum()))], n, int(truth.sum()))
    if metric == "f1":
        wrong = int(fp.sum() + fn.sum())
        relevant = tp.sum() + wrong
        if relevant == 0:
            return math.nan, 0.0
        factor = relevant / (wrong * 0.5 + tp.sum())
        std, _ = _obs_std([ones * factor, zeros(wrong)], n, int(relevant))
        return std, float(relevant / n)
    return _auroc_components(truth, scores)


def _auroc_components(truth: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """AUROC as a Mann-Whitney statistic: spread of each positive's share of lower negatives."""
    y, s = truth.astype(np.int64), scores
    if np.mean(y) > 0.5:
        y, s = 1 - y, 1 - s
    order = np.argsort(s)
    y = y[order]
    ranks = np.unique(y * np.arange(y.size))[1:]
    positives = int(y.sum())
    shares = (ranks - np.arange(ranks.size)) / (y.size - positives)
    return float(np.std(shares)), positives / y.size


def sampling_error(components: tuple[float, float], rows: int) -> float:
    """The metric's standard error on ``rows`` rows from its reference components."""
    std, fraction = components
    return std / math.sqrt(rows * fraction) if fraction else math.nan


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class CbpeModel:
    """What CBPE learns from a scored, labelled reference."""

    calibrator: Any | None  # sklearn IsotonicRegression when calibration helps
    components: dict[str, tuple[float, float]]
    bands: dict[str, Band]
    reference_rows: int

    def calibrated(self, scores: np.ndarray) -> np.ndarray:
        """The rows' chances of being positive."""
        if self.calibrator is None:
            return scores
        return np.asarray(self.calibrator.predict(scores), dtype=np.float64)


def fit_cbpe(
    truth: np.ndarray, predicted: np.ndarray, scores: np.ndarray, *, chunks: int
) -> CbpeModel:
    """Learn calibration, sampling errors and bands; ``truth``/``predicted`` are booleans."""
    from sklearn.isotonic import IsotonicRegression

    calibrator = None
    if needs_calibration(truth.astype(np.int64), scores):
        calibrator = IsotonicRegression(out_of_bounds="clip", increasing=True)
        calibrator.fit(scores, truth.astype(np.int64))
    parts = chunk_slices(truth.size, chunks)
    bands = {}
    for metric in CBPE_METRICS:
        values = [realised(metric, truth[s], predicted[s], scores[s]) for s in parts]
        bands[metric] = chunk_band(values, parts[0].stop, (0.0, 1.0))
    return CbpeModel(
        calibrator=calibrator,
        components={m: sampling_components(m, truth, predicted, scores) for m in CBPE_METRICS},
        bands=bands,
        reference_rows=int(truth.size),
    )


def realised_cbpe(truth: np.ndarray, predicted: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Every CBPE metric from labels (empty without labelled rows)."""
    if truth.size == 0:
        return {}
    return {m: realised(m, truth, predicted, scores) for m in CBPE_METRICS}


def estimate_cbpe(
    model: CbpeModel,
    predicted: np.ndarray,
    scores: np.ndarray,
    realised_values: Mapping[str, float] | None = None,
) -> tuple[Estimate, ...]:
    """Every CBPE metric of a window (``predicted`` booleans), with realised values if known."""
    p = model.calibrated(scores)
    values = {
        "roc_auc": estimate_roc_auc(p, scores),
        "accuracy": estimate_accuracy(predicted, p),
        "f1": estimate_f1(predicted, p),
        "precision": estimate_precision(predicted, p),
        "recall": estimate_recall(predicted, p),
    }
    rows = int(scores.size)
    return tuple(
        judge(
            metric,
            values[metric],
            sampling_error(model.components[metric], rows),
            model.bands[metric],
            rows,
            (realised_values or {}).get(metric),
        )
        for metric in CBPE_METRICS
    )


# --- the fit cache ---------------------------------------------------------------------------


def fingerprint(table: pa.Table, *extra: object) -> str:
    """A digest of a table's content (Arrow IPC bytes) and of ``extra`` settings."""
    digest = hashlib.sha256(repr(extra).encode())
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    digest.update(memoryview(sink.getvalue()))
    return digest.hexdigest()
