"""Multiple-testing correction of the per-column p-values of one drift run."""

from __future__ import annotations

import numpy as np
from scipy.stats import false_discovery_control

from monitors.stats.schemas import Correction


def adjust_p_values(p_values: np.ndarray, correction: Correction) -> np.ndarray:
    """Return Bonferroni, Holm or Benjamini-Hochberg adjusted p-values (capped at 1)."""
    p = np.asarray(p_values, dtype=np.float64)
    if p.size == 0 or correction is Correction.none:
        return p.copy()
    if correction is Correction.bonferroni:
        return np.minimum(p * p.size, 1.0)
    if correction is Correction.holm:
        return holm(p)
    return np.asarray(false_discovery_control(p, method="bh"), dtype=np.float64)


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment: family-wise error control, never weaker than Bonferroni."""
    order = np.argsort(p, kind="stable")
    factors = np.arange(p.size, 0, -1, dtype=np.float64)
    stepped = np.minimum(np.maximum.accumulate(p[order] * factors), 1.0)
    adjusted = np.empty_like(stepped)
    adjusted[order] = stepped
    return adjusted
