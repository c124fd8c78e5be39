"""Multiple-testing correction of the per-column p-values of one drift run."""

from __future__ import annotations

import numpy as np
from scipy.stats import false_discovery_control

from monitors.stats.schemas import Correction


def adjust_p_values(p_values: np.ndarray, correction: Correction) -> np.ndarray:
    """Return Bonferroni or Benjamini-Hochberg adjusted p-values (capped at 1)."""
    p = np.asarray(p_values, dtype=np.float64)
    if p.size == 0 or correction is Correction.none:
        return p.copy()
    if correction is Correction.bonferroni:
        return np.minimum(p * p.size, 1.0)
    return np.asarray(false_discovery_control(p, method="bh"), dtype=np.float64)
