"""Disparities of a classifier between groups of a sensitive feature, with their sampling error.

Each disparity is fairlearn's ``between_groups`` difference (largest minus smallest group rate)
over the groups of at least ``min_group_size`` rows: ``demographic_parity_difference`` (selection
rate), ``equal_opportunity_difference`` (true positive rate), ``equalized_odds_difference``
(the larger of the TPR and FPR differences) and ``accuracy_difference``. Group counts come from
``monitors.stats.fairness``'s grouped pass.

Sampling error: a seeded nonparametric bootstrap. Resampling rows with replacement is a
multinomial draw over the (group, actual, selected, correct) cells, so each replicate is drawn
as cell counts directly. The standard error is the replicates' standard deviation.

Decision rule: the limit passes when ``value + z * standard_error <= max_difference``, ``z`` the
normal quantile of the limit's ``confidence`` (one-sided); it fails otherwise, and when fewer
than two groups are large enough to compare.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from monitors.stats.fairness import group_codes, group_rates
from retrain.gate.schemas import FairnessLimit

CELLS = 8  # (actual positive, selected, correct) per group


@dataclass(frozen=True, kw_only=True, slots=True)
class FairnessCheck:
    """One limit judged on one model's predictions."""

    value: float | None
    standard_error: float | None
    upper_bound: float | None
    groups: dict[str, int]
    passed: bool
    reason: str = ""

    def as_json(self) -> dict[str, Any]:
        """The numbers, as stored in a decision."""
        return {
            "value": self.value,
            "standard_error": self.standard_error,
            "upper_bound": self.upper_bound,
            "groups": self.groups,
            "passed": self.passed,
            "reason": self.reason,
        }


def cell_counts(
    truth: np.ndarray, predicted: np.ndarray, groups: np.ndarray, n_groups: int, positive: int
) -> np.ndarray:
    """Rows per (group, actual positive, selected, correct), shaped (groups, 2, 2, 2)."""
    joint = groups * CELLS
    joint += (truth == positive) * 4
    joint += (predicted == positive) * 2
    joint += truth == predicted
    return np.bincount(joint, minlength=n_groups * CELLS).reshape(n_groups, 2, 2, 2)


def disparities(cells: np.ndarray, large: np.ndarray) -> dict[str, np.ndarray]:
    """Every disparity of ``cells`` (shaped (..., groups, 2, 2, 2)) over the ``large`` groups."""
    counts = {
        "count": cells.sum(axis=(-3, -2, -1)),
        "positives": cells[..., 1, :, :].sum(axis=(-2, -1)),
        "selected": cells[..., :, 1, :].sum(axis=(-2, -1)),
        "true_positives": cells[..., 1, 1, :].sum(axis=-1),
        "correct": cells[..., 1].sum(axis=(-2, -1)),
    }
    rates = {name: r[..., large] for name, r in group_rates(counts).items()}

    def spread(r: np.ndarray) -> np.ndarray:
        return np.asarray(r.max(axis=-1) - r.min(axis=-1))

    tpr, fpr = spread(rates["true_positive_rate"]), spread(rates["false_positive_rate"])
    return {
        "demographic_parity_difference": spread(rates["selection_rate"]),
        "equal_opportunity_difference": tpr,
        "equalized_odds_difference": np.maximum(tpr, fpr),
        "accuracy_difference": spread(rates["accuracy"]),
    }


def check_limit(
    limit: FairnessLimit,
    truth: np.ndarray,
    predicted: np.ndarray,
    sensitive: Any,
    *,
    positive: int,
    seed: int,
    replicates: int,
) -> FairnessCheck:
    """Judge one limit on class-coded labels and predictions (see the module's rule)."""
    codes, labels = group_codes({limit.sensitive_feature: sensitive})
    keep = codes >= 0  # rows whose sensitive value is missing belong to no group
    codes, truth, predicted = codes[keep], truth[keep], predicted[keep]
    cells = cell_counts(truth, predicted, codes, len(labels), positive)
    sizes = cells.sum(axis=(1, 2, 3))
    groups = {"/".join(labels[i]): int(sizes[i]) for i in np.flatnonzero(sizes)}
    large = np.flatnonzero(sizes >= limit.min_group_size)
    if large.size < 2:
        reason = (
            f"{limit.metric} of {limit.sensitive_feature}: fewer than two groups of at least "
            f"{limit.min_group_size} rows"
        )
        return FairnessCheck(value=None, standard_error=None, upper_bound=None, groups=groups,
                             passed=False, reason=reason)  # fmt: skip
    value = float(disparities(cells, large)[limit.metric])
    rng = np.random.default_rng(seed)
    flat = cells.reshape(-1)
    draws = rng.multinomial(int(flat.sum()), flat / flat.sum(), size=replicates)
    boot = disparities(draws.reshape(replicates, *cells.shape), large)[limit.metric]
    error = float(np.std(boot, ddof=1))
    upper = value + NormalDist().inv_cdf(limit.confidence) * error
    passed = upper <= limit.max_difference
    reason = "" if passed else (
        f"{limit.metric} of {limit.sensitive_feature}: {value:.4g} (upper bound {upper:.4g} at "
        f"{limit.confidence:g}) exceeds the limit {limit.max_difference:g}"
    )  # fmt: skip
    return FairnessCheck(value=value, standard_error=error, upper_bound=upper, groups=groups,
                         passed=passed, reason=reason)  # fmt: skip
