"""Profile mode: windows summarised as mergeable counts over the reference's bins and categories.

A window profile can be built at ingest time, merged across partitions and workers, and kept
after the raw rows are deleted. Categorical drift and drift of discrete numeric columns (at most
``DISCRETE_LIMIT`` distinct values) from profiles is exact; drift of continuous columns is
approximated from the reference's uniform bins (see docs/statistics.md for the measured error).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from monitors.stats.columns import (
    CategoryCounts,
    TableLike,
    as_columns,
    category_counts,
    numeric_values,
)
from monitors.stats.reference import NumericReference, ReferenceProfile
from monitors.stats.schemas import Serializable

# numeric columns with at most this many distinct values keep exact value counts
DISCRETE_LIMIT = 1000


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class NumericSummary(Serializable):
    """Counts of a numeric window over the reference bins, plus tails and moments."""

    counts: np.ndarray
    below_count: int
    below_sum: float
    above_count: int
    above_sum: float
    minimum: float
    maximum: float
    count: int
    total: float
    total_squares: float
    nulls: int
    infinities: int
    values: tuple[float, ...] | None = None
    value_counts: tuple[int, ...] | None = None

    def merge(self, other: NumericSummary) -> NumericSummary:
        """Add another summary over the same reference bins."""
        return NumericSummary(
            counts=self.counts + other.counts,
            below_count=self.below_count + other.below_count,
            below_sum=self.below_sum + other.below_sum,
            above_count=self.above_count + other.above_count,
            above_sum=self.above_sum + other.above_sum,
            minimum=min(self.minimum, other.minimum),
            maximum=max(self.maximum, other.maximum),
            count=self.count + other.count,
            total=self.total + other.total,
            total_squares=self.total_squares + other.total_squares,
            nulls=self.nulls + other.nulls,
            infinities=self.infinities + other.infinities,
            **_merge_values(self, other),
        )


def _merge_values(left: NumericSummary, right: NumericSummary) -> dict[str, Any]:
    if left.values is None or right.values is None:
        return {"values": None, "value_counts": None}
    merged = dict(zip(left.values, left.value_counts or (), strict=True))
    for value, count in zip(right.values, right.value_counts or (), strict=True):
        merged[value] = merged.get(value, 0) + count
    if len(merged) > DISCRETE_LIMIT:
        return {"values": None, "value_counts": None}
    keys = sorted(merged)
    return {"values": tuple(keys), "value_counts": tuple(merged[k] for k in keys)}


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class CategoricalSummary(Serializable):
    """Counts of each category of a window."""

    values: tuple[Any, ...]
    counts: tuple[int, ...]
    nulls: int

    def merge(self, other: CategoricalSummary) -> CategoricalSummary:
        """Add another summary."""
        merged = dict(zip(self.values, self.counts, strict=True))
        for value, count in zip(other.values, other.counts, strict=True):
            merged[value] = merged.get(value, 0) + count
        return CategoricalSummary(
            values=tuple(merged), counts=tuple(merged.values()), nulls=self.nulls + other.nulls
        )


ColumnSummary = NumericSummary | CategoricalSummary


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class WindowProfile(Serializable):
    """Mergeable summary of one window of data, keyed by column."""

    columns: Mapping[str, ColumnSummary]
    row_count: int

    def merge(self, other: WindowProfile) -> WindowProfile:
        """Combine two windows profiled against the same reference."""
        names = dict.fromkeys([*self.columns, *other.columns])
        merged: dict[str, ColumnSummary] = {}
        for name in names:
            left, right = self.columns.get(name), other.columns.get(name)
            if left is None or right is None:
                merged[name] = left or right  # type: ignore[assignment]
            else:
                merged[name] = left.merge(right)  # type: ignore[arg-type]
        return WindowProfile(columns=merged, row_count=self.row_count + other.row_count)


def merge_profiles(profiles: Iterable[WindowProfile]) -> WindowProfile:
    """Merge any number of window profiles."""
    merged = WindowProfile(columns={}, row_count=0)
    for profile in profiles:
        merged = merged.merge(profile)
    return merged


def profile_window(reference: ReferenceProfile, data: TableLike) -> WindowProfile:
    """Summarise a window against the reference's bins and categories."""
    table = as_columns(data)
    columns: dict[str, ColumnSummary] = {}
    for name, ref in reference.columns.items():
        if name not in table:
            continue
        if isinstance(ref, NumericReference):
            columns[name] = summarise_numeric(ref, table[name])
        else:
            columns[name] = summarise_categorical(table[name])
    row_count = len(next(iter(table.values()))) if table else 0
    return WindowProfile(columns=columns, row_count=row_count)


def summarise_numeric(reference: NumericReference, column: Any) -> NumericSummary:
    """Summarise one numeric column over the reference's uniform bins."""
    values = numeric_values(column)
    finite = values.finite
    edges = reference.bin_edges
    below, above = finite[finite < edges[0]], finite[finite > edges[-1]]
    counts = uniform_counts(finite, edges, below.size, above.size)
    exact = _exact_counts(reference, finite)
    return NumericSummary(
        counts=counts,
        below_count=int(below.size),
        below_sum=float(below.sum()),
        above_count=int(above.size),
        above_sum=float(above.sum()),
        minimum=float(finite.min()) if finite.size else float("inf"),
        maximum=float(finite.max()) if finite.size else float("-inf"),
        count=int(finite.size),
        total=float(finite.sum()),
        # not np.dot: BLAS threads stall on a busy machine, and this sum is memory-bound anyway
        total_squares=float(np.square(finite).sum()),
        nulls=values.nulls + values.nans,
        infinities=values.infinities,
        values=exact[0] if exact else None,
        value_counts=exact[1] if exact else None,
    )


def uniform_counts(values: np.ndarray, edges: np.ndarray, below: int, above: int) -> np.ndarray:
    """Counts per uniform bin by arithmetic (no search); values outside the edges excluded."""
    bins = edges.size - 1
    position = values - edges[0]
    position *= bins / (edges[-1] - edges[0])
    np.floor(position, out=position)
    np.clip(position, 0, bins - 1, out=position)
    counts = np.bincount(position.astype(np.intp), minlength=bins).astype(np.int64)
    # values outside the range were clipped into the first and last bins: take them out again
    counts[0] -= below
    counts[-1] -= above
    return counts


def _exact_counts(
    reference: NumericReference, finite: np.ndarray
) -> tuple[tuple[float, ...], tuple[int, ...]] | None:
    if reference.n_unique > DISCRETE_LIMIT:
        return None
    values, counts = np.unique(finite, return_counts=True)
    if values.size > DISCRETE_LIMIT:
        return None
    return tuple(values.tolist()), tuple(counts.tolist())


def summarise_categorical(column: Any) -> CategoricalSummary:
    """Summarise one categorical column."""
    counted = category_counts(column)
    return CategoricalSummary(
        values=counted.values, counts=tuple(counted.counts.tolist()), nulls=counted.nulls
    )


def profile_from_dict(data: Mapping[str, Any]) -> WindowProfile:
    """Rebuild a window profile from ``WindowProfile.to_dict()``."""
    columns: dict[str, ColumnSummary] = {}
    for name, item in data["columns"].items():
        if "below_count" in item:
            fields = dict(item)
            fields["counts"] = np.asarray(fields["counts"], dtype=np.int64)
            fields["minimum"] = _float(fields["minimum"], float("inf"))
            fields["maximum"] = _float(fields["maximum"], float("-inf"))
            for key in ("values", "value_counts"):
                fields[key] = None if fields[key] is None else tuple(fields[key])
            columns[name] = NumericSummary(**fields)
        else:
            columns[name] = CategoricalSummary(
                values=tuple(item["values"]), counts=tuple(item["counts"]), nulls=item["nulls"]
            )
    return WindowProfile(columns=columns, row_count=int(data["row_count"]))


def _float(value: float | None, default: float) -> float:
    return default if value is None else float(value)


def categorical_counts_of(summary: CategoricalSummary) -> CategoryCounts:
    """View a categorical summary as category counts."""
    return CategoryCounts(
        values=summary.values,
        counts=np.asarray(summary.counts, dtype=np.int64),
        nulls=summary.nulls,
    )


def without_exact_values(profile: WindowProfile) -> WindowProfile:
    """Drop exact value counts (to measure the binned approximation on discrete columns)."""
    columns: dict[str, ColumnSummary] = {
        name: replace(s, values=None, value_counts=None) if isinstance(s, NumericSummary) else s
        for name, s in profile.columns.items()
    }
    return WindowProfile(columns=columns, row_count=profile.row_count)
