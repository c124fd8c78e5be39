"""Drift computed from window profiles instead of raw rows (approximate for continuous columns)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from monitors.stats import categorical
from monitors.stats.binning import fill_zeroes, sturges_edges
from monitors.stats.drift import (
    apply_chunk_thresholds,
    categorical_drift_from_counts,
    correct_p_values,
    insufficient_drift,
    judged_drift,
    numeric_drift_from_values,
    resolve_method,
    summarise,
)
from monitors.stats.numeric import ks_asymptotic_p_value
from monitors.stats.profile import (
    CategoricalSummary,
    NumericSummary,
    WindowProfile,
    categorical_counts_of,
)
from monitors.stats.reference import NumericReference, ReferenceProfile
from monitors.stats.schemas import (
    ColumnDrift,
    ColumnKind,
    DataDriftResult,
    DriftConfig,
    StatTestName,
)
from monitors.stats.stattests import default_test

UNAVAILABLE = "not_available_in_profile_mode"


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class BinnedPair:
    """Piecewise-linear CDFs of reference and current on the union of their knots."""

    reference: NumericReference
    summary: NumericSummary
    grid: np.ndarray
    ref_cdf: np.ndarray
    cur_cdf: np.ndarray

    @classmethod
    def build(cls, reference: NumericReference, summary: NumericSummary) -> BinnedPair:
        """Interpolate both CDFs, spreading each bin's mass uniformly."""
        edges = reference.bin_edges
        ref_knots = np.concatenate(([0], np.cumsum(reference.bin_counts))) / reference.size
        cum = np.concatenate(([0], np.cumsum(summary.counts))) + summary.below_count
        cur_x, cur_f = [edges], [cum / summary.count]
        if summary.below_count:
            cur_x.insert(0, np.array([summary.minimum]))
            cur_f.insert(0, np.array([0.0]))
        if summary.above_count:
            cur_x.append(np.array([summary.maximum]))
            cur_f.append(np.array([1.0]))
        x, f = np.concatenate(cur_x), np.concatenate(cur_f)
        grid = np.union1d(edges, x)
        return cls(
            reference=reference,
            summary=summary,
            grid=grid,
            ref_cdf=np.interp(grid, edges, ref_knots, left=0.0, right=1.0),
            cur_cdf=np.interp(grid, x, f, left=0.0, right=1.0),
        )


def _segments(
    pair: BinnedPair, low: float, high: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    keep = (pair.grid >= low) & (pair.grid <= high)
    d = (pair.ref_cdf - pair.cur_cdf)[keep]
    return d[:-1], d[1:], np.diff(pair.grid[keep])


def wasserstein_norm(pair: BinnedPair) -> float:
    """Normed Wasserstein distance; exact outside the reference range, linear inside."""
    edges, s = pair.reference.bin_edges, pair.summary
    d0, d1, width = _segments(pair, edges[0], edges[-1])
    a0, a1 = np.abs(d0), np.abs(d1)
    same_sign = d0 * d1 >= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        crossing = (d0**2 + d1**2) / (2 * (a0 + a1))
    inside = np.where(same_sign, (a0 + a1) / 2, crossing) * width
    tails = (s.below_count * edges[0] - s.below_sum) + (s.above_sum - s.above_count * edges[-1])
    distance = float(np.sum(inside)) + tails / s.count
    return float(distance / max(pair.reference.std, 0.001))


def energy_distance(pair: BinnedPair) -> float:
    """Energy distance from the interpolated CDFs."""
    d0, d1, width = _segments(pair, -np.inf, np.inf)
    integral = float(np.sum((d0**2 + d0 * d1 + d1**2) / 3 * width))
    return float(np.sqrt(2) * np.sqrt(integral))


def ks_p_value(pair: BinnedPair) -> float:
    """Asymptotic KS p-value of the largest CDF gap on the knots."""
    statistic = float(np.max(np.abs(pair.ref_cdf - pair.cur_cdf)))
    return float(ks_asymptotic_p_value(statistic, pair.reference.size, pair.summary.count))


def sturges_shares(pair: BinnedPair) -> tuple[np.ndarray, np.ndarray]:
    """Shares per Sturges bin of the combined range, as evidently bins raw values."""
    ref, s = pair.reference, pair.summary
    edges = sturges_edges(
        low=min(ref.sorted_values[0], s.minimum),
        high=max(ref.sorted_values[-1], s.maximum),
        size=ref.size + s.count,
        integer=ref.integer,
    )
    ref_f = np.interp(edges, pair.grid, pair.ref_cdf)
    cur_f = np.interp(edges, pair.grid, pair.cur_cdf)
    return np.diff(ref_f), np.diff(cur_f)


def _binned(
    score: Callable[[np.ndarray, np.ndarray], float], fill: bool
) -> Callable[[BinnedPair], float]:
    def run(pair: BinnedPair) -> float:
        ref, cur = sturges_shares(pair)
        return score(fill_zeroes(ref), fill_zeroes(cur)) if fill else score(ref, cur)

    return run


BINNED_TESTS: dict[StatTestName, Callable[[BinnedPair], float]] = {
    StatTestName.wasserstein: wasserstein_norm,
    StatTestName.ks: ks_p_value,
    StatTestName.energy: energy_distance,
    StatTestName.psi: _binned(categorical.psi, True),
    StatTestName.jensenshannon: _binned(categorical.jensenshannon, False),
    StatTestName.chebyshev: _binned(categorical.chebyshev, False),
}


def _numeric(
    name: str, reference: NumericReference, summary: NumericSummary, config: DriftConfig
) -> ColumnDrift:
    if summary.values is not None and summary.value_counts is not None:
        values = np.repeat(np.asarray(summary.values), np.asarray(summary.value_counts))
        return numeric_drift_from_values(
            name, reference, values, summary.nulls, summary.infinities, config
        )
    base: dict[str, object] = {
        "column": name,
        "kind": ColumnKind.numerical,
        "reference_size": reference.size,
        "current_size": summary.count,
        "current_nulls": summary.nulls,
        "current_infinities": summary.infinities,
        "notes": ("approximate",),
    }
    method = resolve_method(name, ColumnKind.numerical, config) or default_test(
        ColumnKind.numerical, reference.size, reference.n_unique, config.preset
    )
    if method not in BINNED_TESTS:
        base["notes"] = (UNAVAILABLE,)
        return insufficient_drift(base, method, name, ColumnKind.numerical, config)
    if min(reference.size, summary.count) < max(config.min_sample_size, 1):
        return insufficient_drift(base, method, name, ColumnKind.numerical, config)
    score = BINNED_TESTS[method](BinnedPair.build(reference, summary))
    return judged_drift(base, method, score, name, ColumnKind.numerical, config)


def compute_profile_drift(
    reference: ReferenceProfile, window: WindowProfile, config: DriftConfig | None = None
) -> DataDriftResult:
    """Test a window profile against the reference profile (see ``profile_window``)."""
    config = config or DriftConfig()
    names = [n for n in (config.columns or tuple(reference.columns)) if n in window.columns]
    results = []
    for name in names:
        ref, summary = reference.columns[name], window.columns[name]
        if isinstance(ref, NumericReference) and isinstance(summary, NumericSummary):
            results.append(_numeric(name, ref, summary, config))
        elif isinstance(summary, CategoricalSummary) and not isinstance(ref, NumericReference):
            counts = categorical_counts_of(summary)
            results.append(categorical_drift_from_counts(name, ref, counts, config))
    columns = apply_chunk_thresholds(correct_p_values(results, config.correction), config)
    return summarise(tuple(columns), config)
