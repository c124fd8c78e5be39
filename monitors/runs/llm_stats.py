"""Limits judged with their sampling error: a small window of unshifted traffic never breaches.

- a mean below a floor, or below a baseline's mean by more than a margin: one-sided Welch t-tests
  (the margin, in pooled standard deviations, makes the baseline test one of non-inferiority);
- a rate above a limit: the one-sided Wilson lower bound of the rate;
- a percentile above a limit: a distribution-free lower confidence bound from order statistics.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True, slots=True)
class Sample:
    """Size, mean and standard deviation (ddof 1) of some values."""

    n: int
    mean: float
    sd: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Sample:
        """The summary of ``values`` (at least one)."""
        n = len(values)
        mean = math.fsum(values) / n
        var = math.fsum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
        return cls(n=n, mean=mean, sd=math.sqrt(var))


@dataclass(frozen=True, kw_only=True, slots=True)
class Tested:
    """A one-sided test's p-value, and whether it rejects at its level."""

    p_value: float
    breached: bool


def below_floor(sample: Sample, floor: float, alpha: float) -> Tested:
    """Whether the mean is below ``floor`` beyond its sampling error (H0: mean >= floor)."""
    from scipy import stats

    se = sample.sd / math.sqrt(sample.n)
    if se == 0:
        p = 0.0 if sample.mean < floor else 1.0
    else:
        p = float(stats.t.cdf((sample.mean - floor) / se, df=max(sample.n - 1, 1)))
    return Tested(p_value=p, breached=p < alpha)


def pooled_sd(a: Sample, b: Sample) -> float:
    """The pooled within-group standard deviation (Cohen's d's denominator)."""
    dof = a.n + b.n - 2
    if dof <= 0:
        return 0.0
    return math.sqrt(((a.n - 1) * a.sd**2 + (b.n - 1) * b.sd**2) / dof)


def dropped(window: Sample, baseline: Sample, *, margin: float, alpha: float) -> Tested:
    """Whether the window's mean is below the baseline's by more than ``margin`` pooled sds.

    H0: window mean >= baseline mean - margin * pooled sd (Welch's t with its
    Welch-Satterthwaite degrees of freedom).
    """
    from scipy import stats

    delta = margin * pooled_sd(window, baseline)
    gap = baseline.mean - delta - window.mean  # positive: the window is below the margin
    vw, vb = window.sd**2 / window.n, baseline.sd**2 / baseline.n
    se = math.sqrt(vw + vb)
    if se == 0:
        p = 0.0 if gap > 0 else 1.0
        return Tested(p_value=p, breached=p < alpha)
    terms = (vw**2 / max(window.n - 1, 1)) + (vb**2 / max(baseline.n - 1, 1))
    dof = (vw + vb) ** 2 / terms if terms > 0 else float(window.n + baseline.n - 2)
    p = float(stats.t.sf(gap / se, df=max(dof, 1.0)))
    return Tested(p_value=p, breached=p < alpha)


def wilson_lower(successes: int, n: int, alpha: float) -> float | None:
    """The one-sided (1 - alpha) Wilson lower bound of a rate; None without trials."""
    from scipy import stats

    if n == 0:
        return None
    z = float(stats.norm.isf(alpha))
    rate = successes / n
    centre = rate + z * z / (2 * n)
    spread = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n))
    return max(0.0, (centre - spread) / (1 + z * z / n))


def quantile_lower(ordered: Sequence[float], q: float, alpha: float) -> float | None:
    """A (1 - alpha) lower confidence bound of the ``q`` quantile from sorted values.

    The k-th smallest value is below the quantile with probability P(Binomial(n, q) >= k): the
    bound is the largest such order statistic with that probability at least 1 - alpha; None
    when even the smallest value is not (too few values to bound it).
    """
    import numpy as np
    from scipy import stats

    n = len(ordered)
    # P(Binomial(n, q) >= k) for k = 1..n, falling with k: count those still >= 1 - alpha
    covered = stats.binom.sf(np.arange(n), n, q) >= 1 - alpha
    best = int(np.count_nonzero(covered))
    return None if best == 0 else float(ordered[best - 1])
