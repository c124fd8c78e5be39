"""Numeric drift tests on a reference profile and current values, equal to evidently's numbers.

Each function reproduces the arithmetic of the evidently 0.7 stattest of the same name (which
calls scipy) on pre-sorted data: the reference is sorted once in its profile, the current
window once per column, and the two are merged in linear time instead of re-sorting both.
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from monitors.stats.binning import (
    binned_percents,
    count_sorted,
    fill_zeroes,
    sorted_unique,
    sturges_edges,
)
from monitors.stats.reference import NumericReference

# scipy's ks_2samp computes the exact distribution up to this sample size, asymptotics above
KS_MAX_EXACT = 10000


def _vecdot(left: np.ndarray, right: np.ndarray) -> float:
    # scipy's _cdf_distance uses np.vecdot on numpy 2; the same kernel keeps results bit-equal
    if hasattr(np, "vecdot"):
        return float(np.vecdot(left, right))
    return float(np.sum(left * right))


class NumericPair:
    """A reference profile column and a sorted current sample, with their merged CDFs."""

    def __init__(self, reference: NumericReference, current_sorted: np.ndarray) -> None:
        """Pair a reference column with current values sorted ascending."""
        self.reference = reference
        self.current = current_sorted

    @cached_property
    def merged(self) -> Merged:
        """Merge both samples once; shared by KS, Wasserstein and energy distance."""
        return merge_sorted(self.reference.sorted_values, self.current)

    @cached_property
    def current_unique(self) -> tuple[np.ndarray, np.ndarray]:
        """Distinct current values and counts."""
        return sorted_unique(self.current)

    def n_values(self) -> int:
        """Distinct values over both samples, as ``pd.concat([ref, cur]).nunique()``.

        The automatic choice only asks whether there are more than 5, so a reference with more
        distinct values returns its own count (a lower bound) without looking at the window.
        """
        if self.reference.n_unique > 5:
            return self.reference.n_unique
        ref_unique = self.reference.unique_values
        cur_unique = self.current_unique[0]
        shared = np.isin(cur_unique, ref_unique, assume_unique=True).sum()
        return int(ref_unique.size + cur_unique.size - shared)


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class Merged:
    """Both samples merged in order, with each sample's running count at every position."""

    values: np.ndarray
    cum_reference: np.ndarray
    cum_current: np.ndarray


def merge_sorted(reference: np.ndarray, current: np.ndarray) -> Merged:
    """Merge two sorted arrays in linear time after one ordered search."""
    n, m = reference.size, current.size
    is_current = np.zeros(n + m, dtype=bool)
    is_current[np.searchsorted(reference, current, side="right") + np.arange(m)] = True
    values = np.empty(n + m, dtype=np.float64)
    values[is_current] = current
    values[~is_current] = reference
    cum_current = np.cumsum(is_current)
    cum_reference = np.arange(1, n + m + 1) - cum_current
    return Merged(values=values, cum_reference=cum_reference, cum_current=cum_current)


def _cdf_terms(pair: NumericPair) -> tuple[np.ndarray, np.ndarray]:
    merged = pair.merged
    # running counts differ from scipy's searchsorted inside runs of ties only where the
    # following delta is zero, so every product below is bit-equal to scipy's
    ref_cdf = merged.cum_reference[:-1] / pair.reference.size
    cur_cdf = merged.cum_current[:-1] / pair.current.size
    return ref_cdf - cur_cdf, np.diff(merged.values)


def wasserstein_norm(pair: NumericPair) -> float:
    """Wasserstein-1 distance normed by the reference's standard deviation (at least 0.001)."""
    distance = wasserstein_sorted(pair.reference.sorted_values, pair.current)
    return distance / max(pair.reference.std, 0.001)


def wasserstein_sorted(u: np.ndarray, v: np.ndarray) -> float:
    """Wasserstein-1 distance of two sorted samples through their quantile functions.

    W1 is the integral over t in (0, 1] of |Q_u(t) - Q_v(t)|; both quantile functions are
    steps at i/n and j/m, so the merged breakpoints depend on (n, m) only and are shared by
    every column of a window. It equals scipy's CDF-based sum up to float rounding (about
    1e-15 relative).
    """
    n, m = u.size, v.size
    if n == m:
        return float(np.abs(u - v).sum() / n)
    u_index, v_index, widths = quantile_grid(n, m)
    return _vecdot(np.abs(u[u_index] - v[v_index]), widths) / (float(n) * m)


@functools.lru_cache(maxsize=2)
def quantile_grid(n: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices into both samples and widths of the merged quantile breakpoints."""
    # breakpoints in units of 1/(n*m): i*m for u and j*n for v; exact in float64 below 2**53
    i = np.arange(1, n + 1, dtype=np.float64)
    j = np.arange(1, m + 1, dtype=np.float64)
    u_breaks, v_breaks = i * m, j * n
    grid = np.empty(n + m, dtype=np.float64)
    grid[(i + np.floor(u_breaks / n) - 1).astype(np.int64)] = u_breaks
    grid[(j + np.ceil(v_breaks / m) - 2).astype(np.int64)] = v_breaks
    index_type = np.int32 if n + m < 2**31 else np.int64
    u_index = (np.ceil(grid / m) - 1).astype(index_type)
    v_index = (np.ceil(grid / n) - 1).astype(index_type)
    widths = np.diff(grid, prepend=0.0)
    for array in (u_index, v_index, widths):
        array.flags.writeable = False
    return u_index, v_index, widths


def energy_distance(pair: NumericPair) -> float:
    """Energy distance, as ``scipy.stats.energy_distance``."""
    differences, deltas = _cdf_terms(pair)
    return float(np.sqrt(2) * np.sqrt(_vecdot(np.square(differences), deltas)))


def ks_statistic(pair: NumericPair) -> float:
    """Two-sided Kolmogorov-Smirnov statistic D."""
    merged = pair.merged
    # evaluate the CDFs only at the last element of each run of equal values, like searchsorted
    ends = np.append(merged.values[1:] != merged.values[:-1], True)
    diffs = (
        merged.cum_reference[ends] / pair.reference.size
        - merged.cum_current[ends] / pair.current.size
    )
    max_s = float(diffs.max())
    min_s = float(np.clip(-diffs.min(), 0, 1))
    return min_s if min_s > max_s else max_s


def ks_p_value(pair: NumericPair) -> float:
    """Two-sided p-value of ``scipy.stats.ks_2samp`` with method 'auto'."""
    from scipy import stats

    n1, n2 = pair.reference.size, pair.current.size
    if max(n1, n2) <= KS_MAX_EXACT:
        return float(stats.ks_2samp(pair.reference.sorted_values, pair.current)[1])
    return float(ks_asymptotic_p_value(ks_statistic(pair), n1, n2))


def ks_asymptotic_p_value(d: float | np.ndarray, n1: int, n2: int) -> float | np.ndarray:
    """Smirnov's asymptotic p-value, as ks_2samp computes it for large samples."""
    from scipy import stats

    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = m * n / (m + n)
    prob = np.clip(stats.kstwo.sf(d, np.round(en)), 0, 1)
    return float(prob) if np.ndim(prob) == 0 else np.asarray(prob)


def anderson_p_value(pair: NumericPair) -> float:
    """Anderson-Darling k-sample significance level (scipy caps it to [0.001, 0.25])."""
    from scipy import stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = stats.anderson_ksamp([pair.reference.sorted_values, pair.current])
    return float(result[2])


def binned(pair: NumericPair, *, fill: bool) -> tuple[np.ndarray, np.ndarray]:
    """Reference and current shares per bin, as evidently's ``get_binned_data``."""
    ref = pair.reference
    if ref.n_unique > 20:
        edges = sturges_edges(
            low=min(ref.sorted_values[0], pair.current[0]),
            high=max(ref.sorted_values[-1], pair.current[-1]),
            size=ref.size + pair.current.size,
            integer=ref.integer,
        )
        ref_share = count_sorted(ref.sorted_values, edges) / ref.size
        cur_share = count_sorted(pair.current, edges) / pair.current.size
    else:
        cur_values, cur_counts = pair.current_unique
        ref_share, cur_share = binned_percents(*ref.distinct(), cur_values, cur_counts)
    if fill:
        return fill_zeroes(ref_share), fill_zeroes(cur_share)
    return ref_share, cur_share


def hellinger(pair: NumericPair) -> float:
    """Hellinger distance over Sturges bins of the distinct values of both samples."""
    ref = pair.reference
    keys = np.union1d(ref.distinct()[0], pair.current_unique[0])
    edges = sturges_edges(
        low=float(keys[0]), high=float(keys[-1]), size=keys.size, integer=ref.integer
    )
    widths = np.diff(edges)
    ref_counts = count_sorted(ref.sorted_values, edges)
    cur_counts = count_sorted(pair.current, edges)
    h1 = ref_counts / widths / ref_counts.sum()
    h2 = cur_counts / widths / cur_counts.sum()
    bin_width = (max(edges) - min(edges)) / (len(edges) - 1)
    total = 0.0
    for p1, p2 in zip(h1, h2, strict=True):
        total += math.sqrt(float(p1) * float(p2)) * bin_width
    return math.sqrt(1 - float(np.clip(total, 0, 1)))
