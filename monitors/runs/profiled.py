"""Signals of a window run in profile mode: drift from the merged profile, the rest from a sample.

Data and prediction drift test the window's merged profile (categorical and discrete columns
exactly; continuous ones as ``monitors.stats.partition_drift`` says). Signals that need rows
(quality, attribution, estimation, multivariate drift) run on the window's bounded, seeded,
stratified sample. Every outcome says so under ``profile_mode``: rows, partitions, what it was
tested on, and the sample's size and seed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pyarrow as pa

from governance.core.errors import InvalidState
from monitors.runs import signals
from monitors.runs.inputs import SignalInput
from monitors.runs.schemas import SignalOutcome
from monitors.specs.options import PredictionDriftOptions
from monitors.specs.schemas import Signal, SignalKind
from monitors.stats.partition import WindowSummary
from monitors.stats.partition_drift import compute_summary_drift, sampled_columns
from monitors.stats.schemas import DataDriftResult, DriftConfig
from monitors.stats.thresholds import LearntThresholds, small_window_thresholds

PROFILE_MODE = "profile_mode"
# Labels are joined to a window's rows by correlation id: a window summarised by partition
# has no rows to join them to, so the signals judged on labels are refused, never guessed.
NEEDS_LABELS = frozenset({SignalKind.performance, SignalKind.fairness})


class _SummaryJudge:
    """Tests drift on the window's summary, remembering the result it gave."""

    def __init__(self, summary: WindowSummary) -> None:
        self.summary = summary
        self.result: DataDriftResult | None = None

    def __call__(
        self, data: SignalInput, window: pa.Table, config: DriftConfig
    ) -> tuple[DataDriftResult, LearntThresholds]:
        result = compute_summary_drift(data.profile, self.summary, config)
        self.result = result
        return small_window_thresholds(data.profile, data.reference, result, config)


def compute_profiled(signal: Signal, data: SignalInput, summary: WindowSummary) -> SignalOutcome:
    """One signal of a summarised window (``data.current`` holds the window's sample)."""
    if signal.kind in NEEDS_LABELS:
        raise InvalidState(
            f"{signal.kind} needs the window's labels, which a window run in profile mode "
            "(monitor_profile_rows) does not join"
        )
    judge = _SummaryJudge(summary)
    if signal.kind is SignalKind.data_drift:
        outcome = signals.data_drift(signal, data, judge)
    elif signal.kind is SignalKind.prediction_drift and _profiled_prediction(signal, data):
        outcome = signals.prediction_drift(signal, data, judge)
    else:
        outcome = signals.compute_signal(signal, data)
    return _described(outcome, summary, judge.result)


def _profiled_prediction(signal: Signal, data: SignalInput) -> bool:
    """Whether the window's predictions are in the profile (the reference holds predictions)."""
    column = signal.options_as(PredictionDriftOptions).column
    return column in data.profile.columns


def _described(
    outcome: SignalOutcome, summary: WindowSummary, result: DataDriftResult | None
) -> SignalOutcome:
    described: dict[str, Any] = {**summary.describe()}
    if result is None:
        described["tested_on"] = "sample"
    else:
        described["tested_on"] = "profile"
        described["sampled_columns"] = sampled_columns(result)[: signals.MAX_LISTED]
    return replace(outcome, summary={**outcome.summary, PROFILE_MODE: described})
