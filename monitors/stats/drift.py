"""Data, prediction and target drift of a current window against a reference profile."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
import pyarrow as pa

from monitors.stats.categorical import CountPair
from monitors.stats.columns import (
    CategoryCounts,
    TableLike,
    as_columns,
    category_counts,
    numeric_values,
)
from monitors.stats.correction import adjust_p_values
from monitors.stats.numeric import NumericPair
from monitors.stats.reference import (
    CategoricalReference,
    ColumnReference,
    NumericReference,
    ReferenceProfile,
    build_reference_profile,
)
from monitors.stats.schemas import (
    ColumnDrift,
    ColumnKind,
    Correction,
    DataDriftResult,
    DriftConfig,
    Preset,
    ScoreKind,
    StatTestName,
    ThresholdSource,
    Verdict,
)
from monitors.stats.stattests import (
    CATEGORICAL_TESTS,
    NUMERIC_TESTS,
    SPECS,
    default_test,
)

__all__ = [
    "build_reference_profile",
    "compute_column_drift",
    "compute_data_drift",
    "compute_prediction_drift",
]


def resolve_method(column: str, kind: ColumnKind, config: DriftConfig) -> StatTestName | None:
    """Return the configured test of a column: per column, then per kind, then for all."""
    by_kind = config.num_method if kind is ColumnKind.numerical else config.cat_method
    chosen = by_kind if by_kind is not None else config.method
    return config.per_column_method.get(column, chosen)


def resolve_threshold(column: str, kind: ColumnKind, config: DriftConfig) -> float | None:
    """Return the configured threshold of a column, in evidently's order of precedence."""
    if column in config.per_column_threshold:
        return config.per_column_threshold[column]
    by_kind = config.num_threshold if kind is ColumnKind.numerical else config.cat_threshold
    return by_kind if by_kind is not None else config.threshold


def compute_column_drift(
    name: str, reference: ColumnReference, current: pa.ChunkedArray, config: DriftConfig
) -> ColumnDrift:
    """Test one column of the current window against its reference summary."""
    if isinstance(reference, NumericReference):
        return _numeric_drift(name, reference, current, config)
    return _categorical_drift(name, reference, current, config)


def _numeric_drift(
    name: str, reference: NumericReference, current: pa.ChunkedArray, config: DriftConfig
) -> ColumnDrift:
    values = numeric_values(current)
    return numeric_drift_from_values(
        name,
        reference,
        np.sort(values.finite),
        values.nulls + values.nans,
        values.infinities,
        config,
    )


def numeric_drift_from_values(
    name: str,
    reference: NumericReference,
    current_sorted: np.ndarray,
    missing: int,
    infinities: int,
    config: DriftConfig,
) -> ColumnDrift:
    """Test sorted finite current values of a numeric column against its reference."""
    base: dict[str, object] = {
        "column": name,
        "kind": ColumnKind.numerical,
        "reference_size": reference.size,
        "current_size": int(current_sorted.size),
        "current_nulls": missing,
        "current_infinities": infinities,
        "notes": _numeric_notes(reference, current_sorted, missing),
    }
    method = resolve_method(name, ColumnKind.numerical, config)
    if min(reference.size, current_sorted.size) < max(config.min_sample_size, 1):
        return insufficient_drift(base, method, name, ColumnKind.numerical, config)
    pair = NumericPair(reference, current_sorted)
    if method is None:
        method = default_test(ColumnKind.numerical, reference.size, pair.n_values(), config.preset)
    score = NUMERIC_TESTS[method](pair)
    return judged_drift(base, method, score, name, ColumnKind.numerical, config)


def _categorical_drift(
    name: str, reference: CategoricalReference, current: pa.ChunkedArray, config: DriftConfig
) -> ColumnDrift:
    return categorical_drift_from_counts(name, reference, category_counts(current), config)


def categorical_drift_from_counts(
    name: str, reference: CategoricalReference, counted: CategoryCounts, config: DriftConfig
) -> ColumnDrift:
    """Test the category counts of a current column against its reference."""
    unseen = sum(1 for value in counted.values if value not in reference.index)
    notes = (
        *(("constant_reference",) if len(reference.categories) == 1 else ()),
        *(("all_null",) if counted.size == 0 and counted.nulls else ()),
        *((f"unseen_categories={unseen}",) if unseen else ()),
    )
    base: dict[str, object] = {
        "column": name,
        "kind": ColumnKind.categorical,
        "reference_size": reference.size,
        "current_size": counted.size,
        "current_nulls": counted.nulls,
        "notes": notes,
    }
    method = resolve_method(name, ColumnKind.categorical, config)
    if min(reference.size, counted.size) < max(config.min_sample_size, 1):
        return insufficient_drift(base, method, name, ColumnKind.categorical, config)
    pair = CountPair.align(reference.categories, reference.counts, counted.values, counted.counts)
    if method is None:
        method = default_test(ColumnKind.categorical, reference.size, pair.n_values, config.preset)
    score = CATEGORICAL_TESTS[method](pair)
    return judged_drift(base, method, score, name, ColumnKind.categorical, config)


def _numeric_notes(
    reference: NumericReference, finite: np.ndarray, missing: int
) -> tuple[str, ...]:
    notes: list[str] = []
    if reference.n_unique == 1:
        notes.append("constant_reference")
    if finite.size and float(finite.min()) == float(finite.max()):
        notes.append("constant_current")
    if finite.size == 0 and missing:
        notes.append("all_null")
    return tuple(notes)


def _threshold_for(method: StatTestName, name: str, kind: ColumnKind, config: DriftConfig) -> float:
    threshold = resolve_threshold(name, kind, config)
    return SPECS[method].default_threshold if threshold is None else threshold


def insufficient_drift(
    base: dict[str, object],
    method: StatTestName | None,
    name: str,
    kind: ColumnKind,
    config: DriftConfig,
) -> ColumnDrift:
    """Return a column result without a score: too little data to test."""
    # without data the number of distinct values is unknown: report the many-valued default
    reference_size = base["reference_size"]
    assert isinstance(reference_size, int)
    test = method or default_test(kind, reference_size, 6, config.preset)
    return ColumnDrift(
        **base,  # type: ignore[arg-type]
        test=test,
        score_kind=SPECS[test].score_kind,
        score=None,
        threshold=_threshold_for(test, name, kind, config),
        verdict=Verdict.insufficient_data,
    )


def judged_drift(
    base: dict[str, object],
    method: StatTestName,
    score: float,
    name: str,
    kind: ColumnKind,
    config: DriftConfig,
) -> ColumnDrift:
    """Return a column result, comparing the score with its threshold."""
    threshold = _threshold_for(method, name, kind, config)
    drifted = SPECS[method].drifted(score, threshold)
    return ColumnDrift(
        **base,  # type: ignore[arg-type]
        test=method,
        score_kind=SPECS[method].score_kind,
        score=float(score),
        threshold=threshold,
        verdict=Verdict.drift if drifted else Verdict.no_drift,
    )


def compute_data_drift(
    reference: ReferenceProfile, current: TableLike, config: DriftConfig | None = None
) -> DataDriftResult:
    """Test every reference column of ``current`` and summarise the dataset drift share."""
    config = config or DriftConfig()
    if config.preset is Preset.steward:
        # the steward preset builds on this module's column tests; it lives above them
        raise ValueError("the steward preset: use monitors.stats.presets.compute_drift")
    table = as_columns(current)
    names = [n for n in (config.columns or tuple(reference.columns)) if n in reference.columns]
    tested = [n for n in names if n in table]
    jobs = [(n, reference.columns[n], table[n], config) for n in tested]
    if config.max_workers > 1 and len(jobs) > 1:
        with ThreadPoolExecutor(max_workers=config.max_workers) as pool:
            results = list(pool.map(lambda job: compute_column_drift(*job), jobs))
    else:
        results = [compute_column_drift(*job) for job in jobs]
    missing = [missing_drift(n, reference, config) for n in names if n not in table]
    columns = apply_chunk_thresholds(correct_p_values(results, config.correction), config)
    result = summarise(tuple(columns) + tuple(missing), config)
    rows = max((len(column) for column in table.values()), default=0)
    needed = max(config.min_sample_size, 1)
    return replace(
        result, window_rows=rows, min_window_rows=needed, window_large_enough=rows >= needed
    )


def missing_drift(name: str, reference: ReferenceProfile, config: DriftConfig) -> ColumnDrift:
    """Return the result of a reference column the window does not have."""
    kind = reference.kinds[name]
    base: dict[str, object] = {
        "column": name,
        "kind": kind,
        "reference_size": reference.columns[name].size,
        "current_size": 0,
        "notes": ("missing_column",),
    }
    return insufficient_drift(base, resolve_method(name, kind, config), name, kind, config)


def correct_p_values(columns: Sequence[ColumnDrift], correction: Correction) -> list[ColumnDrift]:
    """Re-judge p-value tests on adjusted p-values."""
    if correction is Correction.none:
        return list(columns)
    tested = [
        i
        for i, c in enumerate(columns)
        if c.score_kind is ScoreKind.p_value and c.score is not None
    ]
    raw = np.array([columns[i].score for i in tested], dtype=np.float64)
    adjusted = adjust_p_values(raw, correction)
    corrected = list(columns)
    for i, p_value in zip(tested, adjusted, strict=True):
        column = columns[i]
        drifted = SPECS[column.test].drifted(float(p_value), column.threshold)
        verdict = Verdict.drift if drifted else Verdict.no_drift
        corrected[i] = replace(column, adjusted_p_value=float(p_value), verdict=verdict)
    return corrected


def apply_chunk_thresholds(columns: list[ColumnDrift], config: DriftConfig) -> list[ColumnDrift]:
    """Re-judge columns that have thresholds learnt from reference chunks."""
    learnt = config.chunk_thresholds
    updated = []
    for column in columns:
        chunk = learnt.get(column.column)
        if chunk is None or chunk.test is not column.test or column.score is None:
            updated.append(column)
            continue
        if column.score_kind is ScoreKind.p_value:
            threshold, drifted = chunk.lower, column.score < chunk.lower
        else:
            threshold, drifted = chunk.upper, column.score > chunk.upper
        verdict = Verdict.drift if drifted else Verdict.no_drift
        updated.append(
            replace(
                column,
                threshold=threshold,
                verdict=verdict,
                threshold_source=ThresholdSource.reference_chunks,
            )
        )
    return updated


def summarise(columns: tuple[ColumnDrift, ...], config: DriftConfig) -> DataDriftResult:
    """Count drifted columns; columns without enough data are excluded from the share."""
    judged = [c for c in columns if c.verdict is not Verdict.insufficient_data]
    drifted = sum(1 for c in judged if c.verdict is Verdict.drift)
    share = drifted / len(judged) if judged else 0.0
    return DataDriftResult(
        columns=columns,
        number_of_columns=len(judged),
        number_of_drifted_columns=drifted,
        share_of_drifted_columns=share,
        drift_share=config.drift_share,
        dataset_drift=bool(judged) and share >= config.drift_share,
        correction=config.correction,
        insufficient_columns=tuple(
            c.column for c in columns if c.verdict is Verdict.insufficient_data
        ),
    )


def compute_prediction_drift(
    reference: ReferenceProfile,
    current: TableLike,
    *,
    column: str,
    methods: Sequence[StatTestName | None] = (None, StatTestName.chebyshev),
    config: DriftConfig | None = None,
) -> tuple[ColumnDrift, ...]:
    """Test a prediction or target column with several tests (None: the automatic choice)."""
    config = config or DriftConfig()
    values = as_columns(current)[column]
    return tuple(
        compute_column_drift(
            column,
            reference.columns[column],
            values,
            replace(config, per_column_method={column: method}) if method else config,
        )
        for method in methods
    )
