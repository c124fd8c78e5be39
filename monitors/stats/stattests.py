"""The registry of drift tests: defaults, automatic choice, direction, and dispatch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from monitors.stats import categorical, numeric
from monitors.stats.categorical import CountPair
from monitors.stats.numeric import NumericPair
from monitors.stats.schemas import ColumnKind, Preset, ScoreKind, StatTestName

T = StatTestName


@dataclass(frozen=True, kw_only=True, slots=True)
class TestSpec:
    """Default threshold, score kind and comparison of one test (evidently's StatTest)."""

    default_threshold: float
    score_kind: ScoreKind
    # evidently compares with <= for KS, < for other p-values, > for energy, >= for distances
    inclusive: bool
    kinds: frozenset[ColumnKind]

    def drifted(self, score: float, threshold: float) -> bool:
        """Whether ``score`` crosses ``threshold`` in the drift direction."""
        if self.score_kind is ScoreKind.p_value:
            return score <= threshold if self.inclusive else score < threshold
        return score >= threshold if self.inclusive else score > threshold


_BOTH = frozenset({ColumnKind.numerical, ColumnKind.categorical})
_NUM = frozenset({ColumnKind.numerical})
_CAT = frozenset({ColumnKind.categorical})
_P, _D = ScoreKind.p_value, ScoreKind.distance

SPECS: dict[StatTestName, TestSpec] = {
    T.ks: TestSpec(default_threshold=0.05, score_kind=_P, inclusive=True, kinds=_NUM),
    T.wasserstein: TestSpec(default_threshold=0.1, score_kind=_D, inclusive=True, kinds=_NUM),
    T.psi: TestSpec(default_threshold=0.1, score_kind=_D, inclusive=True, kinds=_BOTH),
    T.jensenshannon: TestSpec(default_threshold=0.1, score_kind=_D, inclusive=True, kinds=_BOTH),
    T.hellinger: TestSpec(default_threshold=0.1, score_kind=_D, inclusive=True, kinds=_BOTH),
    T.anderson: TestSpec(default_threshold=0.1, score_kind=_P, inclusive=False, kinds=_NUM),
    T.energy: TestSpec(default_threshold=0.1, score_kind=_D, inclusive=False, kinds=_NUM),
    T.chisquare: TestSpec(default_threshold=0.05, score_kind=_P, inclusive=False, kinds=_CAT),
    T.z: TestSpec(default_threshold=0.05, score_kind=_P, inclusive=False, kinds=_CAT),
    T.tvd: TestSpec(default_threshold=0.1, score_kind=_P, inclusive=False, kinds=_CAT),
    T.chebyshev: TestSpec(default_threshold=0.1, score_kind=_D, inclusive=True, kinds=_BOTH),
    T.chi2_contingency: TestSpec(
        default_threshold=0.05, score_kind=_P, inclusive=False, kinds=_CAT
    ),
}


def default_test(
    kind: ColumnKind, reference_size: int, n_values: int, preset: Preset = Preset.evidently
) -> StatTestName:
    """Choose a test as evidently's ``_get_default_stattest`` (or Azure ML's, or steward's)."""
    if preset is Preset.steward:
        return T.ks if kind is ColumnKind.numerical else T.chi2_contingency
    if preset is Preset.azure:
        return T.wasserstein if kind is ColumnKind.numerical else T.jensenshannon
    if reference_size <= 1000:
        if kind is ColumnKind.numerical and n_values > 5:
            return T.ks
        return T.chisquare if n_values > 2 else T.z
    if kind is ColumnKind.numerical and n_values > 5:
        return T.wasserstein
    return T.jensenshannon


def _num_binned(
    score: Callable[[np.ndarray, np.ndarray], float], fill: bool
) -> Callable[[NumericPair], float]:
    def run(pair: NumericPair) -> float:
        return score(*numeric.binned(pair, fill=fill))

    return run


def _cat_binned(
    score: Callable[[np.ndarray, np.ndarray], float], fill: bool
) -> Callable[[CountPair], float]:
    def run(pair: CountPair) -> float:
        return score(*categorical.binned_shares(pair, fill=fill))

    return run


def counts_of(pair: NumericPair) -> CountPair:
    """Treat a numeric pair's distinct values as categories."""
    ref_values, ref_counts = pair.reference.distinct()
    cur_values, cur_counts = pair.current_unique
    return CountPair.align(
        tuple(ref_values.tolist()), ref_counts, tuple(cur_values.tolist()), cur_counts
    )


# chisquare and z on a numeric column: evidently only picks them for <= 5 values, as categories
NUMERIC_TESTS: dict[StatTestName, Callable[[NumericPair], float]] = {
    T.ks: numeric.ks_p_value,
    T.wasserstein: numeric.wasserstein_norm,
    T.psi: _num_binned(categorical.psi, True),
    T.jensenshannon: _num_binned(categorical.jensenshannon, False),
    T.hellinger: numeric.hellinger,
    T.anderson: numeric.anderson_p_value,
    T.energy: numeric.energy_distance,
    T.chebyshev: _num_binned(categorical.chebyshev, False),
    T.chisquare: lambda pair: categorical.chisquare_p_value(counts_of(pair)),
    T.z: lambda pair: categorical.z_p_value(counts_of(pair)),
    T.tvd: lambda pair: categorical.tvd_p_value(counts_of(pair)),
    T.chi2_contingency: lambda pair: categorical.chi2_contingency_p_value(counts_of(pair)),
}

CATEGORICAL_TESTS: dict[StatTestName, Callable[[CountPair], float]] = {
    T.chisquare: categorical.chisquare_p_value,
    T.z: categorical.z_p_value,
    T.psi: _cat_binned(categorical.psi, True),
    T.jensenshannon: _cat_binned(categorical.jensenshannon, False),
    T.hellinger: categorical.hellinger,
    T.tvd: categorical.tvd_p_value,
    T.chebyshev: _cat_binned(categorical.chebyshev, False),
    T.chi2_contingency: categorical.chi2_contingency_p_value,
}
