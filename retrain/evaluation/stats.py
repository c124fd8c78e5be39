"""The statistics of an evaluation run: per-variant summaries and paired comparisons.

Scores a judge could not give are None: they are left out and counted, never taken as zero.
A summary carries a t interval for the mean and a bootstrap percentile interval (every
evaluator's score is bounded, where the bootstrap is sound; seeded, so a run repeats). A
comparison of two variants uses only the rows both scored (paired): the paired t-test, the
Wilcoxon signed-rank test and a t interval of the mean difference; with more than two variants
the p-values of one evaluator's pairs are Holm-corrected. Significance is the (corrected)
paired t-test's p below alpha.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

BOOTSTRAP_SEED = 20261207
BOOTSTRAP_RESAMPLES = 2000
CONFIDENCE = 0.95


@dataclass(frozen=True, kw_only=True, slots=True)
class Summary:
    """One variant's scores on one evaluator."""

    n: int
    failures: int
    mean: float | None
    std: float | None
    ci_low: float | None  # t interval
    ci_high: float | None
    bootstrap_low: float | None  # percentile bootstrap
    bootstrap_high: float | None


@dataclass(frozen=True, kw_only=True, slots=True)
class Paired:
    """Variant ``a`` against ``b`` on one evaluator, over the rows both scored."""

    evaluator: str
    a: str
    b: str
    n: int
    mean_difference: float | None  # mean of a - b
    ci_low: float | None
    ci_high: float | None
    t_p: float | None
    wilcoxon_p: float | None
    p_adjusted: float | None
    winner: str | None  # the variant with the higher mean over the paired rows
    significant: bool


def _finite(values: Sequence[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(v)]


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The t interval of the mean of ``values`` (at least two)."""
    import numpy as np
    from scipy import stats

    data = np.asarray(values, dtype=float)
    mean, sem = float(data.mean()), float(data.std(ddof=1)) / math.sqrt(len(data))
    if sem == 0.0:
        return mean, mean
    low, high = stats.t.interval(confidence, len(data) - 1, loc=mean, scale=sem)
    return float(low), float(high)


def bootstrap_interval(
    values: Sequence[float], confidence: float = CONFIDENCE, seed: int = BOOTSTRAP_SEED
) -> tuple[float, float]:
    """The percentile bootstrap interval of the mean (seeded: the same data, the same bounds)."""
    import numpy as np

    data = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, len(data), size=(BOOTSTRAP_RESAMPLES, len(data)))].mean(axis=1)
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def summarize(values: Sequence[float | None], confidence: float = CONFIDENCE) -> Summary:
    """Mean, n, standard deviation and intervals of the scored values; None counted as failures."""
    scored = _finite(values)
    n, failures = len(scored), len(values) - len(scored)
    if n == 0:
        return Summary(n=0, failures=failures, mean=None, std=None, ci_low=None, ci_high=None,
                       bootstrap_low=None, bootstrap_high=None)  # fmt: skip
    mean = math.fsum(scored) / n
    if n == 1:
        return Summary(n=1, failures=failures, mean=mean, std=None, ci_low=None, ci_high=None,
                       bootstrap_low=None, bootstrap_high=None)  # fmt: skip
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in scored) / (n - 1))
    low, high = t_interval(scored, confidence)
    b_low, b_high = bootstrap_interval(scored, confidence)
    return Summary(n=n, failures=failures, mean=mean, std=std, ci_low=low, ci_high=high,
                   bootstrap_low=b_low, bootstrap_high=b_high)  # fmt: skip


def paired_tests(
    a: Sequence[float], b: Sequence[float]
) -> tuple[float | None, float | None, float | None, float | None]:
    """(t-test p, Wilcoxon p, CI low, CI high) of the differences ``a - b`` (equal lengths)."""
    import numpy as np
    from scipy import stats

    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if len(diff) < 2:
        return None, None, None, None
    if not diff.any():  # identical on every row: no evidence of any difference
        return 1.0, 1.0, 0.0, 0.0
    low, high = t_interval(diff.tolist())
    if float(diff.std(ddof=1)) == 0.0:  # the same non-zero difference on every row
        t_p = 0.0
    else:
        t_p = float(stats.ttest_rel(a, b).pvalue)
    wilcoxon_p = float(stats.wilcoxon(a, b).pvalue)
    return t_p, wilcoxon_p, low, high


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values (None stays None and is not counted)."""
    indexed = sorted((p, i) for i, p in enumerate(pvalues) if p is not None)
    m = len(indexed)
    adjusted: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, (p, i) in enumerate(indexed):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def compare_pair(
    evaluator: str, a: str, b: str,
    scores_a: Sequence[float | None], scores_b: Sequence[float | None],
) -> Paired:  # fmt: skip
    """Compare variants on the rows both scored (``scores_*`` aligned by row)."""
    both = [(x, y) for x, y in zip(scores_a, scores_b, strict=True) if _scored(x) and _scored(y)]
    xs, ys = [float(x) for x, _ in both], [float(y) for _, y in both]  # type: ignore[arg-type]
    t_p, w_p, low, high = paired_tests(xs, ys)
    diff = (math.fsum(xs) - math.fsum(ys)) / len(xs) if xs else None
    winner = None if not diff else (a if diff > 0 else b)
    return Paired(evaluator=evaluator, a=a, b=b, n=len(xs), mean_difference=diff, ci_low=low,
                  ci_high=high, t_p=t_p, wilcoxon_p=w_p, p_adjusted=t_p, winner=winner,
                  significant=False)  # fmt: skip


def _scored(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def compare_variants(
    evaluator: str, scores: Mapping[str, Sequence[float | None]], alpha: float = 0.05
) -> list[Paired]:
    """Every pair of variants on one evaluator, Holm-corrected when there are more than two."""
    pairs = [compare_pair(evaluator, a, b, scores[a], scores[b])
             for a, b in combinations(list(scores), 2)]  # fmt: skip
    adjusted = holm([p.t_p for p in pairs]) if len(scores) > 2 else [p.t_p for p in pairs]
    return [_decide(p, q, alpha) for p, q in zip(pairs, adjusted, strict=True)]


def _decide(pair: Paired, p: float | None, alpha: float) -> Paired:
    from dataclasses import replace

    significant = p is not None and p < alpha and pair.winner is not None
    return replace(pair, p_adjusted=p, significant=significant)
