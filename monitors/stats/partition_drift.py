"""Drift of a summarised window (profile mode over partitions), under any preset.

Categorical columns and discrete numeric ones are tested exactly from the merged profile. For
continuous numeric columns, the evidently and azure presets use the profile's binned tests (as
``compute_profile_drift`` does); the steward preset's two-sample KS needs the values, so it is
computed exactly on the window's seeded, stratified sample, and the column says ``sampled``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from monitors.stats.columns import as_columns, numeric_values
from monitors.stats.drift import (
    categorical_drift_from_counts,
    correct_p_values,
    missing_drift,
    numeric_drift_from_values,
)
from monitors.stats.partition import WindowSummary
from monitors.stats.profile import CategoricalSummary, NumericSummary, categorical_counts_of
from monitors.stats.profile_drift import compute_profile_drift
from monitors.stats.reference import NumericReference, ReferenceProfile
from monitors.stats.schemas import ColumnDrift, DataDriftResult, DriftConfig, Preset
from monitors.stats.steward_preset import (
    _steward_config,
    _summarise,
    _too_small,
    default_min_window_rows,
)

SAMPLED = "sampled"


def compute_summary_drift(
    reference: ReferenceProfile, window: WindowSummary, config: DriftConfig
) -> DataDriftResult:
    """Data drift of a summarised window with the tests and breach rule of ``config.preset``."""
    if config.preset is Preset.steward:
        return _steward_drift(reference, window, config)
    result = compute_profile_drift(reference, window.profile, config)
    rows, needed = window.profile.row_count, max(config.min_sample_size, 1)
    return replace(
        result, window_rows=rows, min_window_rows=needed, window_large_enough=rows >= needed
    )


def sampled_columns(result: DataDriftResult) -> list[str]:
    """Columns tested on the window's sample rather than on its profile."""
    return [c.column for c in result.columns if SAMPLED in c.notes]


def _steward_drift(
    reference: ReferenceProfile, window: WindowSummary, config: DriftConfig
) -> DataDriftResult:
    # the steps of compute_steward_drift, each column tested from the summary
    names = [n for n in (config.columns or tuple(reference.columns)) if n in reference.columns]
    rows = window.profile.row_count
    needed = config.min_window_rows or default_min_window_rows(len(names))
    steward = _steward_config(config, needed)
    present = [n for n in names if n in window.profile.columns]
    tested = [c for c in (_column(n, reference, window, steward) for n in present) if c]
    missing = [missing_drift(n, reference, steward) for n in names if n not in present]
    if rows < needed:
        tested = [_too_small(c) for c in tested]
    judged = correct_p_values(tested, config.correction)
    result = _summarise((*judged, *missing), steward)
    return replace(
        result, window_rows=rows, min_window_rows=needed, window_large_enough=rows >= needed
    )


def _column(
    name: str, reference: ReferenceProfile, window: WindowSummary, config: DriftConfig
) -> ColumnDrift | None:
    ref, summary = reference.columns[name], window.profile.columns[name]
    if isinstance(ref, NumericReference) and isinstance(summary, NumericSummary):
        return _numeric(name, ref, summary, window, config)
    if isinstance(summary, CategoricalSummary) and not isinstance(ref, NumericReference):
        return categorical_drift_from_counts(name, ref, categorical_counts_of(summary), config)
    return None  # the window's type differs from the reference's: as compute_profile_drift


def _numeric(
    name: str,
    reference: NumericReference,
    summary: NumericSummary,
    window: WindowSummary,
    config: DriftConfig,
) -> ColumnDrift:
    missing, infinities = summary.nulls, summary.infinities
    if summary.values is not None and summary.value_counts is not None:
        values = np.repeat(np.asarray(summary.values), np.asarray(summary.value_counts))
        return numeric_drift_from_values(name, reference, values, missing, infinities, config)
    sample = as_columns(window.sample).get(name)
    finite = np.sort(numeric_values(sample).finite) if sample is not None else np.empty(0)
    drift = numeric_drift_from_values(name, reference, finite, missing, infinities, config)
    return replace(drift, notes=(*drift.notes, SAMPLED))
