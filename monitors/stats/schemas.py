"""Typed, frozen, JSON-serialisable configuration and results of the statistics engine."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np


class ColumnKind(StrEnum):
    """How a column is tested: as numbers or as categories."""

    numerical = "numerical"
    categorical = "categorical"


class StatTestName(StrEnum):
    """Drift tests; values equal evidently's registered names (lower-cased for TVD)."""

    ks = "ks"
    wasserstein = "wasserstein"
    psi = "psi"
    jensenshannon = "jensenshannon"
    hellinger = "hellinger"
    anderson = "anderson"
    energy = "ed"
    chisquare = "chisquare"
    z = "z"
    tvd = "tvd"
    chebyshev = "chebyshev"
    # two-sample chi-square on the reference-by-window contingency table (the steward preset)
    chi2_contingency = "chi2_contingency"


class ScoreKind(StrEnum):
    """Whether a drift score is a p-value (small means drift) or a distance (large means drift)."""

    p_value = "p_value"
    distance = "distance"


class Verdict(StrEnum):
    """Outcome of one check."""

    drift = "drift"
    no_drift = "no_drift"
    insufficient_data = "insufficient_data"


class ThresholdSource(StrEnum):
    """Where a column's threshold came from: the test's fixed cut-off or reference chunks."""

    fixed = "fixed"
    reference_chunks = "reference_chunks"


class Preset(StrEnum):
    """Family of default tests and thresholds."""

    steward = "steward"
    evidently = "evidently"
    azure = "azure"


class Correction(StrEnum):
    """Multiple-testing correction across the p-value tests of one run."""

    none = "none"
    bonferroni = "bonferroni"
    holm = "holm"
    benjamini_hochberg = "benjamini_hochberg"


def to_jsonable(value: Any) -> Any:
    """Convert results to plain JSON types; non-finite floats become None."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [to_jsonable(v) for v in value]
    return value


class Serializable:
    """Mixin giving frozen results a ``to_dict`` for JSON."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-compatible dicts and lists."""
        result: dict[str, Any] = to_jsonable(self)
        return result


@dataclass(frozen=True, kw_only=True, slots=True)
class ChunkThreshold:
    """A threshold learnt from the reference's own variability (mean +/- 3 sigma over chunks)."""

    test: StatTestName
    lower: float
    upper: float
    mean: float
    std: float
    chunks: int


@dataclass(frozen=True, kw_only=True, slots=True)
class DriftConfig(Serializable):
    """Choice of tests and thresholds; resolution order follows evidently's DataDriftOptions."""

    preset: Preset = Preset.evidently
    method: StatTestName | None = None
    num_method: StatTestName | None = None
    cat_method: StatTestName | None = None
    per_column_method: Mapping[str, StatTestName] = field(default_factory=dict)
    threshold: float | None = None
    num_threshold: float | None = None
    cat_threshold: float | None = None
    per_column_threshold: Mapping[str, float] = field(default_factory=dict)
    drift_share: float = 0.5
    min_sample_size: int = 30
    correction: Correction = Correction.none
    # steward preset: significance level of the corrected p-values, and the smallest window
    # tested (None: scales with the number of tests, see monitors.stats.steward_preset)
    alpha: float = 0.05
    min_window_rows: int | None = None
    chunk_thresholds: Mapping[str, ChunkThreshold] = field(default_factory=dict)
    columns: tuple[str, ...] | None = None
    max_workers: int = 1


@dataclass(frozen=True, kw_only=True, slots=True)
class ColumnDrift(Serializable):
    """Drift of one column between reference and current data."""

    column: str
    kind: ColumnKind
    test: StatTestName
    score_kind: ScoreKind
    score: float | None
    threshold: float
    verdict: Verdict
    adjusted_p_value: float | None = None
    reference_size: int
    current_size: int
    current_nulls: int = 0
    current_infinities: int = 0
    notes: tuple[str, ...] = ()
    threshold_source: ThresholdSource = ThresholdSource.fixed

    @property
    def drifted(self) -> bool:
        """Whether this column raised a drift alarm."""
        return self.verdict is Verdict.drift


@dataclass(frozen=True, kw_only=True, slots=True)
class DataDriftResult(Serializable):
    """Per-column drift and the dataset-level drift share."""

    columns: tuple[ColumnDrift, ...]
    number_of_columns: int
    number_of_drifted_columns: int
    share_of_drifted_columns: float
    drift_share: float
    dataset_drift: bool
    correction: Correction
    insufficient_columns: tuple[str, ...] = ()
    # rows of the window, the fewest it needed, and whether it had them
    window_rows: int | None = None
    min_window_rows: int | None = None
    window_large_enough: bool = True

    def column(self, name: str) -> ColumnDrift:
        """Return the drift of one column by name."""
        for item in self.columns:
            if item.column == name:
                return item
        raise KeyError(name)
