"""Binning shared by the tests: Sturges edges, sorted histograms, aligned category shares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def sorted_unique(ordered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return distinct values and counts of an already sorted array in O(n)."""
    if ordered.size == 0:
        return ordered.copy(), np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    counts = np.diff(np.append(starts, ordered.size))
    return ordered[starts], counts.astype(np.int64)


def count_sorted(ordered: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Count sorted values per bin with ``np.histogram``'s rules, in O(bins log n)."""
    left = np.searchsorted(ordered, edges[:-1], side="left")
    right = np.searchsorted(ordered, edges[1:], side="left")
    right[-1] = np.searchsorted(ordered, edges[-1], side="right")
    return (right - left).astype(np.int64)


def sturges_edges(*, low: float, high: float, size: int, integer: bool) -> np.ndarray:
    """Return ``np.histogram_bin_edges(data, 'sturges')`` from the data's min, max and size."""
    first, last = float(low), float(high)
    if first == last:
        first, last = first - 0.5, last + 0.5
    width = (float(high) - float(low)) / (np.log2(size) + 1.0)
    if width:
        # numpy widens bins of integer data to at least 1
        if integer and width < 1:
            width = 1
        n_bins = int(np.ceil((last - first) / width))
    else:
        n_bins = 1
    return np.linspace(first, last, n_bins + 1, endpoint=True, dtype=np.float64)


def fill_zeroes(shares: np.ndarray) -> np.ndarray:
    """Replace empty bins by a tiny share, as evidently's ``get_binned_data(feel_zeroes=True)``."""
    filled = np.array(shares, dtype=np.float64)
    nonzero = filled[filled != 0]
    if nonzero.size == 0:
        return filled
    smallest = nonzero.min()
    np.place(filled, filled == 0, smallest / 10**6 if smallest <= 0.0001 else 0.0001)
    return filled


def align_counts(
    ref_values: Sequence[Any],
    ref_counts: np.ndarray,
    cur_values: Sequence[Any],
    cur_counts: np.ndarray,
) -> tuple[list[Any], np.ndarray, np.ndarray]:
    """Return the union of keys with both samples' counts aligned to it (reference keys first)."""
    index = {value: i for i, value in enumerate(ref_values)}
    keys = list(ref_values)
    for value in cur_values:
        if value not in index:
            index[value] = len(keys)
            keys.append(value)
    ref_aligned = np.zeros(len(keys), dtype=np.int64)
    ref_aligned[: len(ref_values)] = ref_counts
    cur_aligned = np.zeros(len(keys), dtype=np.int64)
    cur_aligned[[index[v] for v in cur_values]] = cur_counts
    return keys, ref_aligned, cur_aligned


def binned_percents(
    ref_values: Sequence[Any] | np.ndarray,
    ref_counts: np.ndarray,
    cur_values: Sequence[Any] | np.ndarray,
    cur_counts: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Shares of each distinct value in both samples, aligned on the union of values."""
    ref_list = ref_values.tolist() if isinstance(ref_values, np.ndarray) else ref_values
    cur_list = cur_values.tolist() if isinstance(cur_values, np.ndarray) else cur_values
    _, ref_aligned, cur_aligned = align_counts(ref_list, ref_counts, cur_list, cur_counts)
    return ref_aligned / ref_aligned.sum(), cur_aligned / cur_aligned.sum()
