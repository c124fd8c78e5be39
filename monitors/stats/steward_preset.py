"""The steward drift preset: honest two-sample tests, corrected p-values, a minimum window.

Each feature is tested with a two-sample test that counts the reference's own sampling
noise: Kolmogorov-Smirnov for numeric columns, chi-square on the reference-by-window
contingency table for categorical ones (rare categories pooled, Fisher's exact test when
only two small cells remain). The p-values of one signal are corrected together (Holm by
default), and the signal drifts when any corrected p-value is below ``alpha`` and the share
of drifted features reaches ``drift_share`` (monitors pass 0 unless a ``threshold`` is given;
pass ``drift_share=0`` for "any feature"). A window
with fewer rows than the minimum is reported as too small and never drifts.
Calibration on Adult: benchmarks/drift_calibration.py and docs/monitors.md.
"""

from __future__ import annotations

from dataclasses import replace

from monitors.stats.columns import TableLike, as_columns
from monitors.stats.drift import (
    compute_column_drift,
    correct_p_values,
    missing_drift,
    summarise,
)
from monitors.stats.reference import ReferenceProfile
from monitors.stats.schemas import (
    ColumnDrift,
    Correction,
    DataDriftResult,
    DriftConfig,
    Preset,
)

DEFAULT_CORRECTION = Correction.holm
DEFAULT_ALPHA = 0.05
# The smallest window tested: 30 rows, and 2 rows per test beyond 15 tests, so a signal over
# many features does not judge a handful of rows.
BASE_MIN_WINDOW_ROWS = 30
ROWS_PER_TEST = 2
WINDOW_TOO_SMALL = "window_too_small"

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_CORRECTION",
    "compute_steward_drift",
    "default_correction",
    "default_min_window_rows",
]


def default_min_window_rows(tests: int) -> int:
    """The fewest rows a window needs for ``tests`` tests."""
    return max(BASE_MIN_WINDOW_ROWS, ROWS_PER_TEST * tests)


def default_correction(preset: Preset) -> Correction:
    """The correction a preset applies when none is given (none keeps parity presets exact)."""
    return DEFAULT_CORRECTION if preset is Preset.steward else Correction.none


def _steward_config(config: DriftConfig, needed: int) -> DriftConfig:
    # the preset chooses its tests and judges every p-value against alpha
    return replace(
        config,
        preset=Preset.steward,
        method=None,
        num_method=None,
        cat_method=None,
        per_column_method={},
        threshold=config.alpha,
        num_threshold=None,
        cat_threshold=None,
        per_column_threshold={},
        min_sample_size=needed,
        chunk_thresholds={},
    )


def compute_steward_drift(
    reference: ReferenceProfile, current: TableLike, config: DriftConfig | None = None
) -> DataDriftResult:
    """Test every reference column of ``current`` with the steward preset."""
    config = config or DriftConfig(
        preset=Preset.steward, correction=DEFAULT_CORRECTION, drift_share=0.0
    )
    table = as_columns(current)
    names = [n for n in (config.columns or tuple(reference.columns)) if n in reference.columns]
    rows = max((len(column) for column in table.values()), default=0)
    needed = config.min_window_rows or default_min_window_rows(len(names))
    steward = _steward_config(config, needed)
    tested = [n for n in names if n in table]
    columns = [compute_column_drift(n, reference.columns[n], table[n], steward) for n in tested]
    missing = [missing_drift(n, reference, steward) for n in names if n not in table]
    if rows < needed:
        columns = [_too_small(c) for c in columns]
    judged = correct_p_values(columns, config.correction)
    result = _summarise((*judged, *missing), steward)
    return replace(
        result, window_rows=rows, min_window_rows=needed, window_large_enough=rows >= needed
    )


def _too_small(column: ColumnDrift) -> ColumnDrift:
    return replace(column, notes=(*column.notes, WINDOW_TOO_SMALL))


def _summarise(columns: tuple[ColumnDrift, ...], config: DriftConfig) -> DataDriftResult:
    """Drift when any feature drifted and the drifted share reaches ``drift_share``."""
    result = summarise(columns, config)
    drifted = result.number_of_drifted_columns > 0
    return replace(result, dataset_drift=drifted and result.dataset_drift)
