"""Turn Arrow tables, pandas frames or mappings of arrays into typed column values."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from monitors.stats.schemas import ColumnKind

# An Arrow table, a pandas DataFrame, or a mapping of column name to array-like.
TableLike: TypeAlias = Any

# evidently's infer_column_type treats integer columns with at most this many values as categories
INTEGER_CARDINALITY_LIMIT = 10


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class NumericValues:
    """Finite values of a numeric column and counts of what was dropped."""

    finite: np.ndarray
    nulls: int
    nans: int
    infinities: int
    integer: bool


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class CategoryCounts:
    """Distinct non-null values of a column and how often each occurs."""

    values: tuple[Any, ...]
    counts: np.ndarray
    nulls: int

    @property
    def size(self) -> int:
        """Number of non-null values."""
        return int(self.counts.sum())


def as_columns(data: TableLike) -> dict[str, pa.ChunkedArray]:
    """Return the columns of ``data`` as Arrow chunked arrays, keyed by name."""
    if isinstance(data, pa.Table):
        return {name: data.column(name) for name in data.column_names}
    if isinstance(data, pa.RecordBatch):
        return as_columns(pa.Table.from_batches([data]))
    if isinstance(data, Mapping):
        return {str(name): _chunked(values) for name, values in data.items()}
    if hasattr(data, "columns") and hasattr(data, "dtypes"):
        # a pandas DataFrame; pandas itself is not imported here
        return as_columns(pa.Table.from_pandas(data, preserve_index=False))
    raise TypeError(f"unsupported table type {type(data).__name__}")


def _chunked(values: Any) -> pa.ChunkedArray:
    if isinstance(values, pa.ChunkedArray):
        return values
    if isinstance(values, pa.Array):
        return pa.chunked_array([values])
    if isinstance(values, np.ndarray) and values.dtype == object:
        return pa.chunked_array([pa.array(values.tolist(), from_pandas=True)])
    if hasattr(values, "to_numpy") and not isinstance(values, np.ndarray):
        return pa.chunked_array([pa.array(values, from_pandas=True)])
    return pa.chunked_array([pa.array(values)])


def type_name(column: pa.ChunkedArray) -> str:
    """Return a stable name of the column's Arrow type."""
    return str(column.type)


def is_numeric_type(data_type: pa.DataType) -> bool:
    """Whether the Arrow type holds numbers (booleans are categories)."""
    return bool(pa.types.is_integer(data_type) or pa.types.is_floating(data_type))


def infer_kind(column: pa.ChunkedArray) -> ColumnKind | None:
    """Infer the column kind the way evidently's ``infer_column_type`` does; None if untestable."""
    data_type = column.type
    if pa.types.is_floating(data_type):
        return ColumnKind.numerical
    if pa.types.is_integer(data_type):
        distinct = pc.count_distinct(column, mode="only_valid").as_py()
        return (
            ColumnKind.categorical
            if distinct <= INTEGER_CARDINALITY_LIMIT
            else ColumnKind.numerical
        )
    if (
        pa.types.is_string(data_type)
        or pa.types.is_large_string(data_type)
        or pa.types.is_boolean(data_type)
        or pa.types.is_dictionary(data_type)
    ):
        return ColumnKind.categorical
    return None


def numeric_values(column: pa.ChunkedArray) -> NumericValues:
    """Return finite float64 values of a numeric column, counting nulls, NaN and infinities."""
    nulls = column.null_count
    integer = pa.types.is_integer(column.type)
    as_float = pc.cast(column, pa.float64())
    if nulls:
        as_float = pc.fill_null(as_float, float("nan"))
    values = np.asarray(as_float.to_numpy(), dtype=np.float64)
    finite_mask = np.isfinite(values)
    if finite_mask.all():
        return NumericValues(finite=values, nulls=nulls, nans=0, infinities=0, integer=integer)
    infinities = int(np.isinf(values).sum())
    nans = int(values.size - finite_mask.sum()) - infinities - nulls
    return NumericValues(
        finite=values[finite_mask], nulls=nulls, nans=nans, infinities=infinities, integer=integer
    )


def category_counts(column: pa.ChunkedArray) -> CategoryCounts:
    """Count distinct values of a column, dropping nulls and float NaN like pandas' dropna."""
    if pa.types.is_dictionary(column.type):
        column = pc.cast(column, column.type.value_type)
    counted = pc.value_counts(column)
    values = counted.field("values").to_pylist()
    counts = np.asarray(counted.field("counts").to_numpy(), dtype=np.int64)
    keep = [v is not None and v == v for v in values]
    dropped = int(counts[~np.asarray(keep, dtype=bool)].sum()) if values else 0
    if all(keep):
        return CategoryCounts(values=tuple(values), counts=counts, nulls=dropped)
    kept_values = tuple(v for v, k in zip(values, keep, strict=True) if k)
    return CategoryCounts(
        values=kept_values, counts=counts[np.asarray(keep, dtype=bool)], nulls=dropped
    )


# Names that hold bookkeeping in captured windows and, by convention, in reference files.
PREDICTION = "prediction"
LABEL = "label"
ID_NAMES = frozenset({"id", "correlation_id", "request_id", "row_id", "record_id"})
TIMESTAMP_NAMES = frozenset({"timestamp", "received_at", "event_time", "event_timestamp"})
PROBABILITY_NAMES = frozenset({"probabilities", "probability", "proba", "predict_proba"})
# Per-class score columns of a reference file (``proba_>50K``, ``probability_1``).
PROBABILITY_PREFIXES = ("probability_", "proba_", "prob_")


@dataclass(frozen=True, kw_only=True, slots=True)
class ColumnRoles:
    """Which columns are features and which are predictions, labels, ids, timestamps or scores.

    ``features`` are the declared inputs (a model's signature); when None, every column without
    another role is a feature. The other roles go by name, so that a reference file carrying
    them is not tested as if they were inputs.
    """

    features: tuple[str, ...] | None = None
    predictions: frozenset[str] = frozenset({PREDICTION})
    # label column names in the order they are looked for in a reference
    labels: tuple[str, ...] = (LABEL, "target")
    sensitive: tuple[str, ...] = ()

    def role_of(self, name: str) -> str:
        """Its role: feature, prediction, label, id, timestamp, probability, sensitive or other."""
        if self.features is not None and name in self.features:
            return "feature"
        lowered = name.lower()
        for role, names in (
            ("prediction", self.predictions),
            ("label", self.labels),
            ("id", ID_NAMES),
            ("timestamp", TIMESTAMP_NAMES),
            ("probability", PROBABILITY_NAMES),
        ):
            if name in names or lowered in names:
                return role
        if lowered.startswith(PROBABILITY_PREFIXES):
            return "probability"
        if self.features is not None:
            # a declared schema says what the inputs are: anything else is not one
            return "sensitive" if name in self.sensitive else "other"
        return "feature"

    def is_bookkeeping(self, name: str) -> bool:
        """Whether a column holds a prediction, label, id, timestamp or score (never a feature)."""
        return self.role_of(name) in BOOKKEEPING

    def features_among(self, columns: Iterable[str]) -> tuple[str, ...]:
        """The features among ``columns`` (declared order when declared)."""
        present = list(columns)
        if self.features is not None:
            known = set(present)
            return tuple(c for c in self.features if c in known)
        return tuple(c for c in present if self.role_of(c) == "feature")

    def label_in(self, columns: Iterable[str]) -> str | None:
        """The first label column present in ``columns``."""
        present = set(columns)
        return next((c for c in self.labels if c in present), None)


BOOKKEEPING = frozenset({"prediction", "label", "id", "timestamp", "probability"})
DEFAULT_ROLES = ColumnRoles()
