"""Data quality of a window against the reference: nulls, types, ranges, categories, schema."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from monitors.stats.columns import TableLike, as_columns, category_counts, is_numeric_type
from monitors.stats.reference import CategoricalReference, NumericReference, ReferenceProfile
from monitors.stats.schemas import ColumnKind, Serializable

# what float() accepts, including nan and inf spellings
NUMBER_PATTERN = r"^\s*[-+]?((\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?|nan|inf|infinity)\s*$"
MAX_LISTED_CATEGORIES = 20


@dataclass(frozen=True, kw_only=True, slots=True)
class QualityThresholds(Serializable):
    """Rates above which a quality check raises an issue."""

    null_rate_increase: float = 0.05
    type_error_rate: float = 0.0
    out_of_range_rate: float = 0.05
    unseen_category_rate: float = 0.01


@dataclass(frozen=True, kw_only=True, slots=True)
class RetypedColumn(Serializable):
    """A column whose Arrow type differs from the reference's."""

    column: str
    reference_type: str
    current_type: str


@dataclass(frozen=True, kw_only=True, slots=True)
class SchemaChange(Serializable):
    """Columns missing from, new in, or retyped in the window."""

    missing: tuple[str, ...] = ()
    new: tuple[str, ...] = ()
    retyped: tuple[RetypedColumn, ...] = ()

    @property
    def changed(self) -> bool:
        """Whether the schema differs from the reference."""
        return bool(self.missing or self.new or self.retyped)


@dataclass(frozen=True, kw_only=True, slots=True)
class ColumnQuality(Serializable):
    """Quality rates of one column; rates are over the window's rows."""

    column: str
    kind: ColumnKind
    rows: int
    reference_null_rate: float
    null_rate: float
    type_error_rate: float = 0.0
    infinity_rate: float = 0.0
    out_of_range_rate: float = 0.0
    unseen_category_rate: float = 0.0
    unseen_categories: tuple[str, ...] = ()
    all_null: bool = False
    constant: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class QualityIssue(Serializable):
    """A check that crossed its threshold."""

    column: str
    check: str
    value: float
    threshold: float


@dataclass(frozen=True, kw_only=True, slots=True)
class DataQualityResult(Serializable):
    """Quality of every reference column present in the window, and schema changes."""

    rows: int
    schema: SchemaChange
    columns: tuple[ColumnQuality, ...]
    issues: tuple[QualityIssue, ...]


def compute_data_quality(
    reference: ReferenceProfile,
    current: TableLike,
    thresholds: QualityThresholds | None = None,
) -> DataQualityResult:
    """Check a window's nulls, types, ranges, categories and schema against the reference."""
    thresholds = thresholds or QualityThresholds()
    table = as_columns(current)
    rows = len(next(iter(table.values()))) if table else 0
    schema = schema_change(reference, table)
    columns = tuple(
        _column_quality(name, reference, table[name], rows)
        for name in reference.columns
        if name in table
    )
    issues = tuple(issue for column in columns for issue in _issues(column, thresholds))
    return DataQualityResult(rows=rows, schema=schema, columns=columns, issues=issues)


def schema_change(reference: ReferenceProfile, table: dict[str, pa.ChunkedArray]) -> SchemaChange:
    """Compare the window's columns and types with the reference schema."""
    retyped = tuple(
        RetypedColumn(column=name, reference_type=kind, current_type=str(table[name].type))
        for name, kind in reference.types.items()
        if name in table and str(table[name].type) != kind
    )
    return SchemaChange(
        missing=tuple(n for n in reference.types if n not in table),
        new=tuple(n for n in table if n not in reference.types),
        retyped=retyped,
    )


def _reference_null_rate(reference: NumericReference | CategoricalReference) -> float:
    if isinstance(reference, NumericReference):
        missing = reference.nulls + reference.nans
        total = missing + reference.size + reference.infinities
    else:
        missing, total = reference.nulls, reference.nulls + reference.size
    return missing / total if total else 0.0


def _column_quality(
    name: str, reference: ReferenceProfile, column: pa.ChunkedArray, rows: int
) -> ColumnQuality:
    ref = reference.columns[name]
    if isinstance(ref, NumericReference):
        return _numeric_quality(name, ref, column, rows)
    return _categorical_quality(name, ref, column, rows)


def _rate(count: int | float, rows: int) -> float:
    return float(count) / rows if rows else 0.0


def _numeric_quality(
    name: str, reference: NumericReference, column: pa.ChunkedArray, rows: int
) -> ColumnQuality:
    type_errors = 0
    if not is_numeric_type(column.type):
        text = pc.cast(column, pa.string())
        parsable = pc.match_substring_regex(text, NUMBER_PATTERN, ignore_case=True)
        type_errors = int(pc.sum(pc.invert(parsable)).as_py() or 0)
        column = pc.cast(pc.if_else(parsable, text, None), pa.float64())
    values = np.asarray(pc.fill_null(pc.cast(column, pa.float64()), np.nan).to_numpy())
    finite = values[np.isfinite(values)]
    nulls = int(np.isnan(values).sum()) - type_errors
    outside = 0
    if reference.size:
        low, high = reference.sorted_values[0], reference.sorted_values[-1]
        outside = int(np.count_nonzero((finite < low) | (finite > high)))
    return ColumnQuality(
        column=name,
        kind=ColumnKind.numerical,
        rows=rows,
        reference_null_rate=_reference_null_rate(reference),
        null_rate=_rate(nulls, rows),
        type_error_rate=_rate(type_errors, rows),
        infinity_rate=_rate(int(np.isinf(values).sum()), rows),
        out_of_range_rate=_rate(outside, rows),
        all_null=rows > 0 and nulls == rows,
        constant=finite.size > 0 and float(finite.min()) == float(finite.max()),
    )


def _categorical_quality(
    name: str, reference: CategoricalReference, column: pa.ChunkedArray, rows: int
) -> ColumnQuality:
    counted = category_counts(column)
    unseen = [
        (int(count), value)
        for value, count in zip(counted.values, counted.counts, strict=True)
        if value not in reference.index
    ]
    unseen.sort(key=lambda item: -item[0])
    return ColumnQuality(
        column=name,
        kind=ColumnKind.categorical,
        rows=rows,
        reference_null_rate=_reference_null_rate(reference),
        null_rate=_rate(counted.nulls, rows),
        unseen_category_rate=_rate(sum(c for c, _ in unseen), rows),
        unseen_categories=tuple(str(v) for _, v in unseen[:MAX_LISTED_CATEGORIES]),
        all_null=rows > 0 and counted.nulls == rows,
        constant=len(counted.values) == 1,
    )


def _issues(column: ColumnQuality, limits: QualityThresholds) -> list[QualityIssue]:
    checks = [
        (
            "null_rate_increase",
            column.null_rate - column.reference_null_rate,
            limits.null_rate_increase,
        ),
        ("type_error_rate", column.type_error_rate, limits.type_error_rate),
        ("out_of_range_rate", column.out_of_range_rate, limits.out_of_range_rate),
        ("unseen_category_rate", column.unseen_category_rate, limits.unseen_category_rate),
    ]
    return [
        QualityIssue(column=column.column, check=check, value=value, threshold=limit)
        for check, value, limit in checks
        if value > limit
    ]
