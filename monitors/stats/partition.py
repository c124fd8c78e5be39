"""Partition summaries: a window profile plus a bounded, seeded, stratified sample, mergeable.

A window too large to load whole is summarised one partition (file or row group) at a time,
anywhere, and the summaries merged in partition order. The profile is the engine's mergeable
``WindowProfile``. The sample keeps, per stratum (the UTC day of the ``timestamp`` column), the
rows with the smallest seeded hashes of their contents: a bottom-k sample, which merges
exactly, so the sample drawn from any partitioning of a window is the one drawn from it whole.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from monitors.stats.columns import TableLike, as_columns
from monitors.stats.profile import (
    CategoricalSummary,
    ColumnSummary,
    WindowProfile,
    merge_profiles,
    profile_window,
)
from monitors.stats.reference import ReferenceProfile

SAMPLE_ROWS = 100_000
SAMPLE_SEED = 0
STRATUM_COLUMN = "timestamp"
_KEY, _STRATUM = "__sample_key", "__sample_stratum"
_NULL_HASH = np.uint64(0x9E3779B97F4A7C15)
_MICROS_PER_DAY = 86_400_000_000


@dataclass(frozen=True, kw_only=True, slots=True)
class Sampling:
    """How many rows the sample keeps, its seed, and the column whose UTC day is the stratum."""

    rows: int = SAMPLE_ROWS
    seed: int = SAMPLE_SEED
    stratum: str = STRATUM_COLUMN


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class PartitionSummary:
    """The profile of some partitions of a window and their sample candidates."""

    profile: WindowProfile
    candidates: pa.Table  # per stratum, the rows with the smallest keys (at most ``rows``)
    strata: dict[int, int]  # rows per stratum (days since the epoch; 0 without a timestamp)
    partitions: int

    def merge(self, other: PartitionSummary, sampling: Sampling) -> PartitionSummary:
        """Combine with the summary of the partitions after these."""
        strata = dict(self.strata)
        for day, count in other.strata.items():
            strata[day] = strata.get(day, 0) + count
        both = _concat([self.candidates, other.candidates])
        return PartitionSummary(
            profile=self.profile.merge(other.profile),
            candidates=_bottom(both, dict.fromkeys(strata, sampling.rows)),
            strata=strata,
            partitions=self.partitions + other.partitions,
        )


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class WindowSummary:
    """A whole window summarised: its profile, and the sample drawn from it."""

    profile: WindowProfile
    sample: pa.Table
    sampling: Sampling
    partitions: int

    def describe(self) -> dict[str, object]:
        """What a result says about the summary: rows, partitions, and how it was sampled."""
        return {
            "window_rows": self.profile.row_count,
            "partitions": self.partitions,
            "sample_rows": self.sample.num_rows,
            "sample_limit": self.sampling.rows,
            "sample_seed": self.sampling.seed,
            "stratified_by": f"utc_day({self.sampling.stratum})",
        }


def summarise_partition(
    reference: ReferenceProfile, data: TableLike, sampling: Sampling
) -> PartitionSummary:
    """Profile one partition and keep its sample candidates."""
    table = pa.table(as_columns(data)) if not isinstance(data, pa.Table) else data
    strata = _strata(table, sampling.stratum)
    keys = row_keys(table, sorted(reference.columns), sampling.seed)
    days, counts = np.unique(strata, return_counts=True)
    keep = _prefilter(keys, strata, days, counts, sampling.rows)
    keyed = table.filter(pa.array(keep)) if keep is not None else table
    kept_keys, kept_strata = (keys, strata) if keep is None else (keys[keep], strata[keep])
    keyed = keyed.append_column(_KEY, pa.array(kept_keys))
    keyed = keyed.append_column(_STRATUM, pa.array(kept_strata))
    limits = {int(day): sampling.rows for day in days.tolist()}
    return PartitionSummary(
        profile=profile_window(reference, table),
        candidates=_bottom(keyed, limits),
        strata=dict(zip((int(d) for d in days.tolist()), (int(c) for c in counts), strict=True)),
        partitions=1,
    )


def merge_partitions(
    summaries: Iterable[PartitionSummary], sampling: Sampling
) -> PartitionSummary | None:
    """Merge summaries in partition order (None when there are none)."""
    merged: PartitionSummary | None = None
    for summary in summaries:
        merged = summary if merged is None else merged.merge(summary, sampling)
    return merged


def finish(summary: PartitionSummary | None, sampling: Sampling) -> WindowSummary:
    """The window's summary: merged profile, and the sample allocated to strata by their rows."""
    if summary is None:
        empty = merge_profiles(())
        return WindowSummary(profile=empty, sample=pa.table({}), sampling=sampling, partitions=0)
    sample = _bottom(summary.candidates, allocate(summary.strata, sampling.rows))
    return WindowSummary(
        profile=canonical(summary.profile),
        sample=sample.drop_columns([_KEY, _STRATUM]),
        sampling=sampling,
        partitions=summary.partitions,
    )


def canonical(profile: WindowProfile) -> WindowProfile:
    """The profile with each column's categories in one order, whatever order merged them."""
    columns: dict[str, ColumnSummary] = {}
    for name, summary in profile.columns.items():
        if isinstance(summary, CategoricalSummary):
            pairs = sorted(zip(summary.values, summary.counts, strict=True), key=_category_order)
            summary = CategoricalSummary(
                values=tuple(v for v, _ in pairs),
                counts=tuple(c for _, c in pairs),
                nulls=summary.nulls,
            )
        columns[name] = summary
    return WindowProfile(columns=columns, row_count=profile.row_count)


def _category_order(pair: tuple[object, int]) -> tuple[str, str]:
    return type(pair[0]).__name__, repr(pair[0])


def allocate(strata: dict[int, int], rows: int) -> dict[int, int]:
    """Rows per stratum in proportion to its size (largest remainders; all rows when few)."""
    total = sum(strata.values())
    if total <= rows:
        return dict(strata)
    exact = {day: rows * count / total for day, count in strata.items()}
    shares = {day: int(share) for day, share in exact.items()}
    left = rows - sum(shares.values())
    by_remainder = sorted(strata, key=lambda day: (shares[day] - exact[day], day))
    for day in by_remainder[:left]:
        shares[day] += 1
    return shares


def row_keys(table: pa.Table, columns: Sequence[str], seed: int) -> np.ndarray:
    """A seeded 64-bit hash of each row's values in ``columns`` (absent ones count as null)."""
    keys = np.full(table.num_rows, _mix(np.asarray([seed], dtype=np.uint64))[0], np.uint64)
    for name in columns:
        column = table.column(name) if name in table.column_names else None
        keys ^= _column_hash(column, table.num_rows)
        _mix(keys)
    return keys


def _mix(values: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser, vectorised and in place (wrapping uint64 arithmetic)."""
    # in place: a worker process may hand back freed memory at once, so each new array of a
    # row group costs its page faults again
    z = values
    z += np.uint64(0x9E3779B97F4A7C15)
    shifted = z >> np.uint64(30)
    z ^= shifted
    z *= np.uint64(0xBF58476D1CE4E5B9)
    np.right_shift(z, np.uint64(27), out=shifted)
    z ^= shifted
    z *= np.uint64(0x94D049BB133111EB)
    np.right_shift(z, np.uint64(31), out=shifted)
    z ^= shifted
    return z


def _column_hash(column: pa.ChunkedArray | None, rows: int) -> np.ndarray:
    if column is None:
        return np.full(rows, _NULL_HASH, np.uint64)
    kind = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind):
        return _numeric_hash(pc.cast(column, pa.float64()))
    return _value_hash(column)


def _numeric_hash(column: pa.ChunkedArray) -> np.ndarray:
    values = np.asarray(pc.fill_null(column, np.nan).to_numpy(), dtype=np.float64)
    values = values + 0.0  # a copy of our own, where -0.0 and 0.0 are one value
    missing = np.isnan(values)
    bits = values.view(np.uint64)
    bits[missing] = _NULL_HASH  # NaN payloads differ; nulls and NaN are one missing value
    return _mix(bits)


def _value_hash(column: pa.ChunkedArray) -> np.ndarray:
    """Hash each distinct value once (stable across processes, unlike ``hash``)."""
    encoded = pc.dictionary_encode(column).combine_chunks()
    dictionary = encoded.dictionary.to_pylist()
    digests = np.fromiter(
        (_digest(value) for value in dictionary), dtype=np.uint64, count=len(dictionary)
    )
    digests = np.append(digests, _NULL_HASH)
    indices = pc.fill_null(encoded.indices, len(dictionary)).to_numpy(zero_copy_only=False)
    hashed: np.ndarray = digests[indices.astype(np.intp)]
    return hashed


def _digest(value: object) -> np.uint64:
    raw = hashlib.blake2b(repr(value).encode(), digest_size=8).digest()
    return np.uint64(int.from_bytes(raw, "little"))


def _strata(table: pa.Table, column: str) -> np.ndarray:
    if column not in table.column_names or not pa.types.is_timestamp(table.column(column).type):
        return np.zeros(table.num_rows, dtype=np.int64)
    micros = pc.cast(pc.cast(table.column(column), pa.timestamp("us", "UTC")), pa.int64())
    values = np.asarray(pc.fill_null(micros, 0).to_numpy(), dtype=np.int64)
    return values // _MICROS_PER_DAY


def _prefilter(
    keys: np.ndarray, strata: np.ndarray, days: np.ndarray, counts: np.ndarray, rows: int
) -> np.ndarray | None:
    """Rows whose key is among the ``rows`` smallest of their stratum (None: every row)."""
    if not (counts > rows).any():
        return None
    keep = np.ones(keys.size, dtype=bool)
    for day, count in zip(days.tolist(), counts.tolist(), strict=True):
        if count <= rows:
            continue
        inside = strata == day if days.size > 1 else slice(None)
        cut = np.partition(keys[inside], rows - 1)[rows - 1]
        keep[inside] &= keys[inside] <= cut
    return keep


def _bottom(table: pa.Table, limits: dict[int, int]) -> pa.Table:
    """Per stratum, the ``limits[stratum]`` rows with the smallest keys, ordered by key."""
    if table.num_rows == 0:
        return table
    keys = table.column(_KEY).to_numpy()
    strata = table.column(_STRATUM).to_numpy()
    order = np.lexsort((keys, strata))
    sorted_strata = strata[order]
    starts = np.flatnonzero(np.r_[True, sorted_strata[1:] != sorted_strata[:-1]])
    rank = np.arange(order.size) - np.repeat(starts, np.diff(np.r_[starts, order.size]))
    limit = np.asarray([limits.get(int(day), 0) for day in sorted_strata[starts]], np.int64)
    keep = rank < np.repeat(limit, np.diff(np.r_[starts, order.size]))
    return table.take(pa.array(order[keep]))


def _concat(tables: Sequence[pa.Table]) -> pa.Table:
    return pa.concat_tables(tables, promote_options="permissive")
