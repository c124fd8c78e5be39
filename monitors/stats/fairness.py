"""Fairness metrics with fairlearn's MetricFrame definitions, computed in one grouped NumPy pass."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from monitors.stats.schemas import Serializable, Verdict

FOUR_FIFTHS = 0.8
GROUP_METRICS = (
    "selection_rate",
    "accuracy",
    "true_positive_rate",
    "false_positive_rate",
    "precision",
)


@dataclass(frozen=True, kw_only=True, slots=True)
class FairnessThresholds(Serializable):
    """Alert limits; differences and ratios are over groups of at least the minimum size."""

    min_group_size: int = 30
    demographic_parity_ratio: float | None = FOUR_FIFTHS
    demographic_parity_difference: float | None = None
    equalized_odds_difference: float | None = None
    equalized_odds_ratio: float | None = None
    regression_tolerance: float | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class GroupMetrics(Serializable):
    """Metrics of one group (an intersection when there are several sensitive features)."""

    group: tuple[str, ...]
    count: int
    small: bool
    # rows whose label is the positive class (the denominator of the TPR; count - positives of
    # the FPR)
    positives: int = 0
    selection_rate: float
    accuracy: float
    true_positive_rate: float
    false_positive_rate: float
    precision: float


@dataclass(frozen=True, kw_only=True, slots=True)
class FairnessResult(Serializable):
    """Per-group metrics and between-group disparities, with their alerts."""

    sensitive_features: tuple[str, ...]
    groups: tuple[GroupMetrics, ...]
    demographic_parity_difference: float
    demographic_parity_ratio: float
    equalized_odds_difference: float
    equalized_odds_ratio: float
    four_fifths_rule_passed: bool
    alerts: tuple[str, ...]
    verdict: Verdict


def _codes(values: Any) -> tuple[np.ndarray, list[str]]:
    if isinstance(values, np.ndarray) and values.dtype.kind in "iubUS":
        return _numpy_codes(values)
    encoded = pa.chunked_array([pa.array(values, from_pandas=True)]).dictionary_encode()
    combined = encoded.combine_chunks()
    codes = np.asarray(combined.indices.fill_null(-1).to_numpy(), dtype=np.int64)
    labels = [str(v) for v in combined.dictionary.to_pylist()]
    return codes, labels


def _numpy_codes(values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    # short strings and integers are keyed by their bytes as unsigned integers
    width = values.dtype.itemsize
    if width in (1, 2, 4, 8):
        keys = values.view(f"u{width}")
        if width <= 4 and keys.size and int(keys.max()) < 2**22:
            # dense keys (bytes, small integers, one-character strings): a table, no sort
            present = np.bincount(keys) > 0
            unique_keys = np.flatnonzero(present).astype(keys.dtype)
            inverse = (np.cumsum(present) - 1)[keys]
        else:
            unique_keys, inverse = _sorted_codes(keys)
        uniques = unique_keys.view(values.dtype)
    else:
        uniques, inverse = _hashed_codes(values)
    labels = [str(v) for v in uniques.tolist()]
    order = np.argsort(labels, kind="stable")
    remap = np.empty_like(order)
    remap[order] = np.arange(order.size)
    return remap[np.asarray(inverse)].astype(np.int64), [labels[i] for i in order]


def _sorted_codes(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # a hash table pass (pandas.factorize) over integer keys; no sort of the rows
    import pandas as pd

    codes, unique_keys = pd.factorize(keys)
    return np.asarray(unique_keys), np.asarray(codes)


def _hashed_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of wide fixed-width strings through a 64-bit hash, verified to be collision-free."""
    unit = np.uint32 if values.dtype.kind == "U" else np.uint8
    words = values.view(unit).reshape(values.size, -1)
    multiplier = np.uint64(0x9E3779B97F4A7C15)
    hashes = np.zeros(values.size, dtype=np.uint64)
    for column in range(words.shape[1]):
        hashes *= multiplier
        hashes += words[:, column].astype(np.uint64)
    unique_hashes, inverse = _sorted_codes(hashes)
    first = np.zeros(unique_hashes.size, dtype=np.int64)
    first[inverse[::-1]] = np.arange(values.size - 1, -1, -1)
    representatives = values[first]
    if not np.array_equal(representatives[inverse], values):
        unique_values, exact = np.unique(values, return_inverse=True)
        return unique_values, exact
    return representatives, inverse


def group_codes(
    sensitive_features: Mapping[str, Any],
) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """One integer per row for the intersection of all features, and each group's labels."""
    combined: np.ndarray | None = None
    labels: list[tuple[str, ...]] = [()]
    for values in sensitive_features.values():
        codes, names = _codes(values)
        combined = codes if combined is None else combined * len(names) + codes
        labels = [(*prefix, name) for prefix in labels for name in names]
    assert combined is not None
    return combined, labels


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.maximum(denominator, 1), 0.0)


def grouped_counts(
    y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray, n_groups: int, pos_label: Any
) -> dict[str, np.ndarray]:
    """Per-group counts of rows, positives, selections, true positives and correct answers."""
    # one bincount over (group, actual, selected, correct) gives every count at once
    joint = groups * 8
    joint += (y_true == pos_label) * 4
    joint += (y_pred == pos_label) * 2
    joint += y_true == y_pred
    cells = np.bincount(joint, minlength=n_groups * 8).reshape(n_groups, 2, 2, 2)
    return {
        "count": cells.sum(axis=(1, 2, 3)),
        "positives": cells[:, 1].sum(axis=(1, 2)),
        "selected": cells[:, :, 1].sum(axis=(1, 2)),
        "true_positives": cells[:, 1, 1].sum(axis=1),
        "correct": cells[:, :, :, 1].sum(axis=(1, 2)),
    }


def group_rates(counts: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """fairlearn's selection_rate, accuracy, TPR, FPR and precision per group."""
    n, pos, sel, tp = (
        counts["count"],
        counts["positives"],
        counts["selected"],
        counts["true_positives"],
    )
    return {
        "selection_rate": _safe_divide(sel, n),
        "accuracy": _safe_divide(counts["correct"], n),
        "true_positive_rate": _safe_divide(tp, pos),
        "false_positive_rate": _safe_divide(sel - tp, n - pos),
        "precision": _safe_divide(tp, sel),
    }


def _difference(values: np.ndarray) -> float:
    return float(values.max() - values.min()) if values.size else 0.0


def _ratio(values: np.ndarray) -> float:
    if values.size == 0:
        return 1.0
    high = float(values.max())
    return float(values.min()) / high if high else float("nan")


def compute_fairness(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Mapping[str, Any],
    pos_label: Any = 1,
    thresholds: FairnessThresholds | None = None,
    baseline: FairnessResult | None = None,
) -> FairnessResult:
    """Per-group metrics over sensitive features and their intersections, and disparities."""
    limits = thresholds or FairnessThresholds()
    truth, predicted = np.asarray(y_true), np.asarray(y_pred)
    codes, labels = group_codes(sensitive_features)
    present = codes >= 0
    if not present.all():
        codes, truth, predicted = codes[present], truth[present], predicted[present]
    counts = grouped_counts(truth, predicted, codes, len(labels), pos_label)
    rates = group_rates(counts)
    # fairlearn reports observed groups only, sorted by label like a pandas groupby
    observed = np.array(
        sorted(np.flatnonzero(counts["count"] > 0), key=lambda i: labels[i]), dtype=np.int64
    )
    large = observed[counts["count"][observed] >= limits.min_group_size]
    summary = _disparities(rates, large)
    groups = tuple(
        GroupMetrics(
            group=labels[i],
            count=int(counts["count"][i]),
            small=bool(counts["count"][i] < limits.min_group_size),
            positives=int(counts["positives"][i]),
            **{name: float(rates[name][i]) for name in GROUP_METRICS},
        )
        for i in observed
    )
    alerts = _alerts(summary, limits, baseline)
    return FairnessResult(
        sensitive_features=tuple(sensitive_features),
        groups=groups,
        four_fifths_rule_passed=bool(summary["demographic_parity_ratio"] >= FOUR_FIFTHS),
        alerts=alerts,
        verdict=_verdict(alerts, large),
        **summary,
    )


def _disparities(rates: Mapping[str, np.ndarray], groups: np.ndarray) -> dict[str, float]:
    selection = rates["selection_rate"][groups]
    tpr, fpr = rates["true_positive_rate"][groups], rates["false_positive_rate"][groups]
    return {
        "demographic_parity_difference": _difference(selection),
        "demographic_parity_ratio": _ratio(selection),
        "equalized_odds_difference": max(_difference(tpr), _difference(fpr)),
        "equalized_odds_ratio": min(_ratio(tpr), _ratio(fpr)),
    }


def _alerts(
    summary: Mapping[str, float], limits: FairnessThresholds, baseline: FairnessResult | None
) -> tuple[str, ...]:
    alerts = []
    for name in ("demographic_parity_ratio", "equalized_odds_ratio"):
        limit = getattr(limits, name)
        if limit is not None and summary[name] < limit:
            alerts.append(name)
    for name in ("demographic_parity_difference", "equalized_odds_difference"):
        limit = getattr(limits, name)
        if limit is not None and summary[name] > limit:
            alerts.append(name)
        tolerance = limits.regression_tolerance
        if baseline is not None and tolerance is not None:
            if summary[name] > getattr(baseline, name) + tolerance:
                alerts.append(f"{name}_regression")
    return tuple(alerts)


def _verdict(alerts: tuple[str, ...], large_groups: np.ndarray) -> Verdict:
    if large_groups.size < 2:
        return Verdict.insufficient_data
    return Verdict.drift if alerts else Verdict.no_drift


DISPARITIES = (
    "demographic_parity_ratio",
    "demographic_parity_difference",
    "equalized_odds_ratio",
    "equalized_odds_difference",
)
# The per-group rate behind each disparity, and its denominator.
_RATES = {
    "demographic_parity": (("selection_rate", "count"),),
    "equalized_odds": (
        ("true_positive_rate", "positives"),
        ("false_positive_rate", "negatives"),
    ),
}


@dataclass(frozen=True, kw_only=True, slots=True)
class DisparityChange(Serializable):
    """A disparity of the window against the reference's, in units of its sampling error."""

    name: str
    window: float
    reference: float
    standard_error: float
    z: float
    worse: bool
    reference_breaches_limit: bool


def standard_error(result: FairnessResult, name: str, min_group_size: int) -> float:
    """Delta-method standard error of one disparity, from its two extreme groups.

    A difference p_hi - p_lo has variance p(1-p)/n summed over the two groups; a ratio
    p_lo / p_hi has r^2 times the summed (1-p)/(n p). Rates use (x + 0.5)/(n + 1) so that a
    rate of 0 or 1 still has a finite, non-zero error. Equalized odds use the rate (TPR or
    FPR) that sets the disparity.
    """
    base, kind = name.rsplit("_", 1)
    large = [g for g in result.groups if not g.small and g.count >= min_group_size]
    candidates = []
    for rate, denominator in _RATES[base]:
        values = np.array([getattr(g, rate) for g in large])
        sizes = np.array([_denominator(g, denominator) for g in large], dtype=np.float64)
        if values.size < 2:
            return float("nan")
        lo, hi = int(np.argmin(values)), int(np.argmax(values))
        spread = values[hi] - values[lo] if kind == "difference" else _ratio(values)
        candidates.append((spread, _variance(kind, values[[lo, hi]], sizes[[lo, hi]])))
    # the binding component: the largest difference, or the smallest ratio
    pick = max if kind == "difference" else min
    _, variance = pick(candidates, key=lambda c: c[0])
    return float(np.sqrt(variance))


def _denominator(group: GroupMetrics, name: str) -> int:
    if name == "negatives":
        return group.count - group.positives
    return int(getattr(group, name))


def _variance(kind: str, rates: np.ndarray, sizes: np.ndarray) -> float:
    n = np.maximum(sizes, 1.0)
    p = (rates * sizes + 0.5) / (n + 1.0)
    if kind == "difference":
        return float(np.sum(p * (1 - p) / n))
    ratio = p[0] / p[1]
    return float(ratio**2 * np.sum((1 - p) / (n * p)))


def compare_with_reference(
    window: FairnessResult,
    reference: FairnessResult,
    *,
    names: tuple[str, ...],
    limits: FairnessThresholds,
    z: float,
) -> tuple[DisparityChange, ...]:
    """Each named disparity: worse than the reference's by more than ``z`` standard errors?

    The standard error of the change combines the window's and the reference's (independent
    samples). A ratio is worse when lower, a difference when higher.
    """
    changes = []
    for name in names:
        now, before = getattr(window, name), getattr(reference, name)
        error = np.hypot(
            standard_error(window, name, limits.min_group_size),
            standard_error(reference, name, limits.min_group_size),
        )
        sign = -1.0 if name.endswith("ratio") else 1.0
        score = sign * (now - before) / error if error > 0 else float("nan")
        limit = getattr(limits, name)
        breaches = limit is not None and (before < limit if sign < 0 else before > limit)
        changes.append(
            DisparityChange(
                name=name,
                window=float(now),
                reference=float(before),
                standard_error=float(error),
                z=float(score),
                worse=bool(np.isfinite(score) and score > z),
                reference_breaches_limit=bool(breaches),
            )
        )
    return tuple(changes)
