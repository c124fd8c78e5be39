"""One entry point for data drift under any preset (what a monitor's drift signals call)."""

from __future__ import annotations

from monitors.stats.columns import TableLike
from monitors.stats.drift import compute_data_drift
from monitors.stats.reference import ReferenceProfile
from monitors.stats.schemas import DataDriftResult, DriftConfig, Preset
from monitors.stats.steward_preset import compute_steward_drift


def compute_drift(
    reference: ReferenceProfile, current: TableLike, config: DriftConfig
) -> DataDriftResult:
    """Data drift of ``current`` with the tests and breach rule of ``config.preset``."""
    if config.preset is Preset.steward:
        return compute_steward_drift(reference, current, config)
    return compute_data_drift(reference, current, config)
