"""Categorical drift tests on aligned category counts, equal to evidently's numbers."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from monitors.stats.binning import align_counts, fill_zeroes

TVD_ITERATIONS = 1000


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class CountPair:
    """Counts of reference and current aligned on the union of their categories."""

    keys: list[Any]
    reference: np.ndarray
    current: np.ndarray

    @classmethod
    def align(
        cls,
        ref_values: tuple[Any, ...],
        ref_counts: np.ndarray,
        cur_values: tuple[Any, ...],
        cur_counts: np.ndarray,
    ) -> CountPair:
        """Align two value-count lists."""
        keys, ref, cur = align_counts(ref_values, ref_counts, cur_values, cur_counts)
        return cls(keys=keys, reference=ref, current=cur)

    @property
    def n_values(self) -> int:
        """Distinct values over both samples."""
        return len(self.keys)

    def shares(self) -> tuple[np.ndarray, np.ndarray]:
        """Share of each category in reference and current."""
        return self.reference / self.reference.sum(), self.current / self.current.sum()


def chisquare_p_value(pair: CountPair) -> float:
    """Pearson chi-square p-value with expected counts scaled from the reference."""
    from scipy import stats

    k_norm = pair.current.sum() / pair.reference.sum()
    expected = pair.reference * k_norm
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(stats.chisquare(pair.current, expected)[1])


def z_p_value(pair: CountPair) -> float:
    """Two-sided Z-test for the proportion of the first (sorted) category."""
    from scipy.stats import norm

    present_ref = [k for k, c in zip(pair.keys, pair.reference, strict=True) if c]
    present_cur = [k for k, c in zip(pair.keys, pair.current, strict=True) if c]
    if len(present_ref) == 1 and len(present_cur) == 1 and present_ref[0] == present_cur[0]:
        return 1.0
    first = pair.keys.index(sorted(pair.keys)[0])
    n1, n2 = int(pair.reference.sum()), int(pair.current.sum())
    p1 = float(n1 - int(pair.reference[first])) / n1
    p2 = float(n2 - int(pair.current[first])) / n2
    pooled = float(p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    return float(2 * (1 - norm.cdf(np.abs(z))))


def jensenshannon(ref_share: np.ndarray, cur_share: np.ndarray) -> float:
    """Jensen-Shannon distance (natural log), as ``scipy.spatial.distance.jensenshannon``."""
    from scipy.spatial import distance

    return float(distance.jensenshannon(ref_share, cur_share))


def psi(ref_share: np.ndarray, cur_share: np.ndarray) -> float:
    """Population stability index over shares whose empty bins were filled."""
    return float(np.sum((ref_share - cur_share) * np.log(ref_share / cur_share)))


def chebyshev(ref_share: np.ndarray, cur_share: np.ndarray) -> float:
    """Chebyshev (L-infinity) distance between two frequency vectors (Azure ML)."""
    return float(np.max(np.abs(ref_share - cur_share)))


def hellinger(pair: CountPair) -> float:
    """Hellinger distance between category frequencies."""
    ref_share, cur_share = pair.shares()
    total = 0.0
    for p1, p2 in zip(ref_share, cur_share, strict=True):
        total += math.sqrt(float(p1) * float(p2))
    return math.sqrt(1 - float(np.clip(total, 0, 1)))


def binned_shares(pair: CountPair, *, fill: bool) -> tuple[np.ndarray, np.ndarray]:
    """Category shares, optionally with evidently's filling of empty categories."""
    ref_share, cur_share = pair.shares()
    if fill:
        return fill_zeroes(ref_share), fill_zeroes(cur_share)
    return ref_share, cur_share


def _tvd(ref_counts: np.ndarray, cur_counts: np.ndarray) -> np.ndarray:
    ref_total = ref_counts.sum(axis=-1, keepdims=True)
    cur_total = cur_counts.sum(axis=-1, keepdims=True)
    return np.asarray(0.5 * np.sum(np.abs(ref_counts / ref_total - cur_counts / cur_total), -1))


def tvd_p_value(pair: CountPair) -> float:
    """Permutation p-value of the total variation distance, replaying evidently's seeded draws."""
    observed = float(_tvd(pair.reference, pair.current))
    codes = np.repeat(np.arange(len(pair.keys)), pair.reference)
    codes = np.concatenate((codes, np.repeat(np.arange(len(pair.keys)), pair.current)))
    n_ref, k = int(pair.reference.sum()), len(pair.keys)
    # evidently seeds the global generator with 0 and draws np.random.choice(..., replace=False)
    # per iteration, which is a fresh permutation each time
    generator = np.random.RandomState(0)
    statistics = np.empty(TVD_ITERATIONS)
    for i in range(TVD_ITERATIONS):
        chosen = codes[generator.permutation(codes.size)[:n_ref]]
        ref_counts = np.bincount(chosen, minlength=k)
        cur_counts = pair.reference + pair.current - ref_counts
        present = (ref_counts + cur_counts) > 0
        statistics[i] = _tvd(ref_counts[present], cur_counts[present])
    return float(np.sum(observed <= np.abs(statistics)) / TVD_ITERATIONS)


# Cells with a smaller expected count make the chi-square approximation unreliable.
MIN_EXPECTED = 5.0


def pooled_table(pair: CountPair) -> tuple[np.ndarray, int]:
    """The 2-by-k table of reference and current counts, rare categories pooled into one.

    A category is rare when its expected count in either row (under no drift) is below 5;
    rare categories become one "other" column, which takes the next smallest categories
    while it is itself below 5. Returns the table and how many categories were pooled.
    """
    table = np.vstack((pair.reference, pair.current)).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    totals = table.sum(axis=0)
    # expected counts are row_total * column_total / n: the smaller row decides
    smaller_row = table.sum(axis=1).min() / max(totals.sum(), 1.0)
    order = np.argsort(totals, kind="stable")
    rare = min(int(np.sum(totals[order] * smaller_row < MIN_EXPECTED)), order.size - 1)
    if rare:
        while rare < order.size - 1 and totals[order[:rare]].sum() * smaller_row < MIN_EXPECTED:
            rare += 1
    if rare < 2:  # pooling one category into "other" changes nothing
        return table, 0
    pooled = table[:, order[:rare]].sum(axis=1, keepdims=True)
    return np.hstack((table[:, order[rare:]], pooled)), rare


def chi2_contingency_p_value(pair: CountPair) -> float:
    """Two-sample chi-square p-value (reference vs current) after pooling rare categories.

    Unlike the goodness-of-fit test against the reference's proportions, the contingency
    test counts the reference's own sampling noise, so a category seen once there does not
    make any window that shows it drift.
    """
    from scipy.stats import chi2_contingency, fisher_exact

    table, _ = pooled_table(pair)
    if table.shape[1] < 2 or table.sum(axis=1).min() == 0:
        return 1.0
    result = chi2_contingency(table)
    if table.shape[1] == 2 and result.expected_freq.min() < MIN_EXPECTED:
        # two small cells: the exact test instead of the approximation
        return float(fisher_exact(table.astype(np.int64)).pvalue)
    return float(result.pvalue)
