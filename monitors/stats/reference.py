"""Reference profile: everything the tests need from the reference, computed once and reused."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from monitors.stats.binning import count_sorted, sorted_unique
from monitors.stats.columns import (
    TableLike,
    as_columns,
    category_counts,
    infer_kind,
    numeric_values,
    type_name,
)
from monitors.stats.schemas import ColumnKind

DEFAULT_PROFILE_BINS = 100
KEEP_DISTINCT = 1000


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class NumericReference:
    """Sorted finite values, spread, distinct values and uniform bins of a numeric column."""

    sorted_values: np.ndarray
    std: float
    nulls: int
    nans: int
    infinities: int
    integer: bool
    n_unique: int
    # kept only for discrete columns (at most KEEP_DISTINCT values): continuous ones would
    # double the profile's memory, and the few tests that need them recompute them
    unique_values: np.ndarray
    unique_counts: np.ndarray
    bin_edges: np.ndarray
    bin_counts: np.ndarray

    @property
    def size(self) -> int:
        """Number of finite values."""
        return int(self.sorted_values.size)

    def distinct(self) -> tuple[np.ndarray, np.ndarray]:
        """Distinct finite values and their counts."""
        if self.unique_values.size == self.n_unique:
            return self.unique_values, self.unique_counts
        return sorted_unique(self.sorted_values)


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class CategoricalReference:
    """Category frequencies of a categorical column."""

    categories: tuple[Any, ...]
    counts: np.ndarray
    nulls: int
    index: Mapping[Any, int] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """Number of non-null values."""
        return int(self.counts.sum())


ColumnReference = NumericReference | CategoricalReference


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class ReferenceProfile:
    """Per-column reference summaries, plus the schema the reference had."""

    columns: Mapping[str, ColumnReference]
    kinds: Mapping[str, ColumnKind]
    types: Mapping[str, str]
    row_count: int

    def kind(self, column: str) -> ColumnKind:
        """Return the kind a column is tested as."""
        return self.kinds[column]


def build_reference_profile(
    data: TableLike,
    *,
    kinds: Mapping[str, ColumnKind] | None = None,
    columns: Sequence[str] | None = None,
    bins: int = DEFAULT_PROFILE_BINS,
) -> ReferenceProfile:
    """Summarise a reference table once; kinds not given are inferred as evidently does."""
    table = as_columns(data)
    names = list(columns) if columns is not None else list(table)
    summaries: dict[str, ColumnReference] = {}
    resolved: dict[str, ColumnKind] = {}
    for name in names:
        column = table[name]
        kind = (kinds or {}).get(name) or infer_kind(column)
        if kind is None:
            continue
        resolved[name] = kind
        summaries[name] = (
            numeric_reference(column, bins=bins)
            if kind is ColumnKind.numerical
            else categorical_reference(column)
        )
    row_count = len(next(iter(table.values()))) if table else 0
    types = {name: type_name(table[name]) for name in table}
    return ReferenceProfile(columns=summaries, kinds=resolved, types=types, row_count=row_count)


def numeric_reference(column: Any, *, bins: int = DEFAULT_PROFILE_BINS) -> NumericReference:
    """Summarise one numeric column."""
    values = numeric_values(column)
    # np.std over the original order, as evidently computes it, for bit-equal normalisation
    std = float(np.std(values.finite)) if values.finite.size else 0.0
    ordered = np.sort(values.finite)
    unique, counts = sorted_unique(ordered)
    edges = uniform_edges(ordered, bins)
    return NumericReference(
        sorted_values=ordered,
        std=std,
        nulls=values.nulls,
        nans=values.nans,
        infinities=values.infinities,
        integer=values.integer and values.nulls == 0,
        n_unique=int(unique.size),
        # fresh empty arrays: a [:0] view would keep the full-size base alive
        unique_values=unique if unique.size <= KEEP_DISTINCT else np.empty(0),
        unique_counts=counts if unique.size <= KEEP_DISTINCT else np.empty(0, dtype=np.int64),
        bin_edges=edges,
        bin_counts=count_sorted(ordered, edges),
    )


def categorical_reference(column: Any) -> CategoricalReference:
    """Summarise one categorical column."""
    counted = category_counts(column)
    return CategoricalReference(
        categories=counted.values,
        counts=counted.counts,
        nulls=counted.nulls,
        index={value: i for i, value in enumerate(counted.values)},
    )


def uniform_edges(ordered: np.ndarray, bins: int) -> np.ndarray:
    """Return ``bins`` equal-width edges over the reference range (profile mode)."""
    if ordered.size == 0:
        return np.linspace(0.0, 1.0, bins + 1)
    low, high = float(ordered[0]), float(ordered[-1])
    if low == high:
        low, high = low - 0.5, high + 0.5
    return np.linspace(low, high, bins + 1)


_NUMERIC_ARRAYS = ("sorted_values", "unique_values", "unique_counts", "bin_edges", "bin_counts")


def profile_to_bytes(profile: ReferenceProfile) -> bytes:
    """Serialise a reference profile as an ``.npz`` archive (no pickle), for storage."""
    arrays: dict[str, np.ndarray] = {}
    columns: dict[str, dict[str, Any]] = {}
    for i, (name, ref) in enumerate(profile.columns.items()):
        if isinstance(ref, NumericReference):
            for field_name in _NUMERIC_ARRAYS:
                arrays[f"{i}.{field_name}"] = getattr(ref, field_name)
            columns[name] = {
                "index": i,
                "std": ref.std,
                "nulls": ref.nulls,
                "nans": ref.nans,
                "infinities": ref.infinities,
                "integer": ref.integer,
                "n_unique": ref.n_unique,
            }
        else:
            arrays[f"{i}.counts"] = ref.counts
            columns[name] = {"index": i, "categories": list(ref.categories), "nulls": ref.nulls}
    meta = {
        "columns": columns,
        "kinds": {k: v.value for k, v in profile.kinds.items()},
        "types": dict(profile.types),
        "row_count": profile.row_count,
    }
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    # numpy's stubs type savez's keyword arguments as its allow_pickle flag
    save: Any = np.savez
    save(buffer, **arrays)
    return buffer.getvalue()


def profile_from_bytes(data: bytes) -> ReferenceProfile:
    """Load a reference profile written by ``profile_to_bytes``."""
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        meta = json.loads(archive["meta"].tobytes().decode())
        columns: dict[str, ColumnReference] = {}
        for name, item in meta["columns"].items():
            i = item["index"]
            if meta["kinds"][name] == ColumnKind.numerical.value:
                arrays = {f: archive[f"{i}.{f}"] for f in _NUMERIC_ARRAYS}
                scalars = {k: v for k, v in item.items() if k != "index"}
                columns[name] = NumericReference(**arrays, **scalars)
            else:
                categories = tuple(item["categories"])
                columns[name] = CategoricalReference(
                    categories=categories,
                    counts=archive[f"{i}.counts"],
                    nulls=item["nulls"],
                    index={value: j for j, value in enumerate(categories)},
                )
    return ReferenceProfile(
        columns=columns,
        kinds={k: ColumnKind(v) for k, v in meta["kinds"].items()},
        types=meta["types"],
        row_count=meta["row_count"],
    )
