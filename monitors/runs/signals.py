"""Signals of a monitor computed with the statistics engine, judged against their thresholds."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import pyarrow as pa

from monitors.runs import attribution, quality
from monitors.runs.estimation import estimated_performance
from monitors.runs.inputs import Computer, feature_columns
from monitors.runs.inputs import SignalInput as SignalInput  # re-exported: its home before
from monitors.runs.llm_drift import llm_prompt_drift
from monitors.runs.llm_quality import llm_quality
from monitors.runs.llm_signals import llm_errors, llm_latency, llm_usage
from monitors.runs.multivariate import multivariate_drift
from monitors.runs.schemas import Metric, SignalOutcome
from monitors.specs.options import DataDriftOptions, PredictionDriftOptions
from monitors.specs.schemas import Signal, SignalKind
from monitors.stats.columns import LABEL, PREDICTION
from monitors.stats.presets import compute_drift
from monitors.stats.schemas import (
    ColumnDrift,
    Correction,
    DataDriftResult,
    DriftConfig,
    Preset,
    StatTestName,
    ThresholdSource,
    Verdict,
)
from monitors.stats.steward_preset import DEFAULT_ALPHA, default_correction
from monitors.stats.thresholds import LearntThresholds, chunk_judged, small_window_thresholds

# At most this many non-feature columns are named in a drift result's summary.
MAX_LISTED = 50
# Share of drifted features at which the data drift signal fires when no threshold is given:
# evidently's dataset-drift default; the per-feature thresholds are the preset's.
DEFAULT_DRIFT_SHARE = 0.5
# Values a column needs to be tested with the evidently and azure presets (the engine's default).
MIN_SAMPLE_SIZE = 30


def _not_features(data: SignalInput, features: Sequence[str]) -> list[str]:
    """The reference's profiled columns left out as not features (named in the summary)."""
    chosen = set(features)
    return [c for c in data.profile.columns if c not in chosen][:MAX_LISTED]


def _named_not_features(data: SignalInput, signal: Signal) -> dict[str, Any]:
    """Columns the signal names as features that are not (by role), dropped from its tests.

    Apply refuses them when the deployed model's signature is known; a monitor stored before
    that rule still runs, without them, and says so here.
    """
    named = {
        c: data.roles.role_of(c) for c in signal.features or () if data.roles.is_bookkeeping(c)
    }
    return {"named_not_features": named} if named else {}


CORRECTIONS = {
    "none": Correction.none,
    "bonferroni": Correction.bonferroni,
    "holm": Correction.holm,
    "bh": Correction.benjamini_hochberg,
}


def _config(signal: Signal, columns: Sequence[str]) -> DriftConfig:
    preset = Preset(signal.preset)
    options = signal.options
    assert isinstance(options, DataDriftOptions | PredictionDriftOptions)
    chosen = options.correction if isinstance(options, DataDriftOptions) else None
    correction = CORRECTIONS[chosen] if chosen else default_correction(preset)
    steward = preset is Preset.steward
    # steward breaches on any drifted feature unless a share is given; the others at 0.5
    default_share = 0.0 if steward else DEFAULT_DRIFT_SHARE
    return DriftConfig(
        preset=preset,
        method=StatTestName(signal.method) if signal.method else None,
        threshold=None if steward else signal.feature_threshold,
        drift_share=signal.threshold if signal.threshold is not None else default_share,
        correction=correction,
        alpha=signal.feature_threshold if steward and signal.feature_threshold else DEFAULT_ALPHA,
        min_window_rows=options.min_window_rows,
        min_sample_size=options.min_window_rows or MIN_SAMPLE_SIZE,
        columns=tuple(columns),
        max_workers=1,
    )


def _window(result: DataDriftResult) -> dict[str, Any]:
    """Whether the window had the rows its tests need (every drift result says so)."""
    return {
        "window_rows": result.window_rows,
        "min_window_rows": result.min_window_rows,
        "window_large_enough": result.window_large_enough,
        "correction": str(result.correction),
        **({} if result.window_large_enough else {"reason": "window too small"}),
    }


def _judged(
    data: SignalInput, window: pa.Table, config: DriftConfig
) -> tuple[DataDriftResult, LearntThresholds]:
    """Drift of ``window``; at a small window, distances judged against reference chunks."""
    result = compute_drift(data.profile, window, config)
    return small_window_thresholds(data.profile, data.reference, result, config)


# How a drift signal tests a window: the engine on the window's rows (``_judged``), or on a
# window summarised partition by partition (``monitors.runs.profiled``).
Judge = Callable[[SignalInput, pa.Table, DriftConfig], tuple[DataDriftResult, LearntThresholds]]


def _thresholds(result: DataDriftResult, learnt: LearntThresholds) -> dict[str, Any]:
    """Which thresholds judged the columns: the tests' fixed cut-offs or reference chunks."""
    chunked = chunk_judged(result)
    source = ThresholdSource.reference_chunks if chunked else ThresholdSource.fixed
    details: dict[str, Any] = {"reference_chunks": chunked[:MAX_LISTED]}
    if learnt.chunk_rows is not None:
        details |= {"chunk_rows": learnt.chunk_rows, "chunks": learnt.chunks}
    if learnt.reason:
        details["fixed_because"] = learnt.reason
    return {"threshold_source": str(source), "thresholds": details}


def _column_metric(column: ColumnDrift) -> Metric:
    # a corrected p-value is what the threshold judged
    value = column.score if column.adjusted_p_value is None else column.adjusted_p_value
    return Metric(
        metric=f"{column.test}_{column.score_kind}",
        feature=column.column,
        value=value,
        threshold=column.threshold,
        breached=column.verdict is Verdict.drift,
    )


def data_drift(signal: Signal, data: SignalInput, judge: Judge = _judged) -> SignalOutcome:
    """Per-feature drift and the share of drifted features (the signal's breach metric)."""
    columns = feature_columns(data, signal)
    config = _config(signal, columns)
    result, learnt = judge(data, data.current, config)
    share = Metric(
        metric="share_of_drifted_columns",
        value=result.share_of_drifted_columns,
        threshold=config.drift_share,
        breached=result.dataset_drift,
    )
    metrics = (share, *(_column_metric(c) for c in result.columns))
    drifted = [c.column for c in result.columns if c.verdict is Verdict.drift]
    return SignalOutcome(
        key=signal.key,
        kind=str(signal.kind),
        breached=result.dataset_drift,
        metrics=metrics,
        summary={
            "drifted": drifted,
            "insufficient": list(result.insufficient_columns),
            "not_features": _not_features(data, columns),
            **_named_not_features(data, signal),
            **_window(result),
            **_thresholds(result, learnt),
        },
    )


def _compared_with(data: SignalInput, column: str) -> tuple[str, str] | None:
    """The reference column production predictions are compared with, and what it holds."""
    if column in data.profile.columns:
        return column, "reference_predictions"
    label = data.roles.label_in(data.profile.columns)
    return None if label is None else (label, "reference_labels")


def prediction_drift(signal: Signal, data: SignalInput, judge: Judge = _judged) -> SignalOutcome:
    """Drift of the window's predictions from the reference's predictions, else its labels."""
    column = signal.options_as(PredictionDriftOptions).column
    against = _compared_with(data, column)
    if against is None or column not in data.current.column_names:
        return SignalOutcome(
            key=signal.key,
            kind=str(signal.kind),
            breached=False,
            metrics=(Metric(metric="unavailable", value=None, feature=column),),
            summary={
                "reason": f"no {column!r} column in the window, or no predictions or "
                "labels in the reference"
            },
        )
    reference_column, compared_with = against
    config = _config(signal, (reference_column,))
    # the same engine as data drift, on one column (one test: nothing to correct); the
    # window's predictions take the reference column's name to be tested against it
    window = data.current.select([column]).rename_columns([reference_column])
    result, learnt = judge(data, window, config)
    (drift,) = result.columns
    metric = replace(_column_metric(drift), feature=column)
    return SignalOutcome(
        key=signal.key,
        kind=str(signal.kind),
        breached=metric.breached,
        metrics=(metric,),
        summary={
            "verdict": str(drift.verdict),
            "compared_with": compared_with,
            "reference_column": reference_column,
            **_window(result),
            **_thresholds(result, learnt),
        },
    )


def data_quality(signal: Signal, data: SignalInput) -> SignalOutcome:
    """Quality of the window's features against the reference."""
    features = feature_columns(data, signal)
    chosen = signal.model_copy(update={"features": features}) if signal.features else signal
    exclude = frozenset(c for c in data.profile.columns if c not in features)
    return quality.data_quality(chosen, data.profile, data.current, exclude)


def performance(signal: Signal, data: SignalInput) -> SignalOutcome:
    """Model metrics on the window's labelled rows."""
    return quality.performance(signal, data.current)


def fairness(signal: Signal, data: SignalInput) -> SignalOutcome:
    """Group disparities on the window's labelled rows."""
    return quality.fairness(signal, data.current, _fairness_reference(data))


def _fairness_reference(data: SignalInput) -> pa.Table:
    """The reference with its predictions as ``prediction`` and its labels as ``label``.

    A reference with labels only (training data) offers them as ``prediction``: its selection
    rates are known, its error rates are not (fairness says so when they are asked for).
    """
    table = data.reference
    label = data.roles.label_in(table.column_names)
    target = LABEL if PREDICTION in table.column_names else PREDICTION
    if label is None or label == target:
        return table
    return table.rename_columns([target if c == label else c for c in table.column_names])


def attribution_drift(signal: Signal, data: SignalInput) -> SignalOutcome:
    """Drift of the ranking of the features by their attributions to the model's outputs."""
    compared = attribution.Compared(
        reference=data.reference,
        current=data.current,
        roles=data.roles,
        features=feature_columns(data, signal),
        model=data.model,
    )
    return attribution.attribution_drift(signal, compared)


COMPUTERS: dict[SignalKind, Computer] = {
    SignalKind.data_drift: data_drift,
    SignalKind.prediction_drift: prediction_drift,
    SignalKind.data_quality: data_quality,
    SignalKind.performance: performance,
    SignalKind.fairness: fairness,
    SignalKind.attribution_drift: attribution_drift,
    SignalKind.estimated_performance: estimated_performance,
    SignalKind.multivariate_drift: multivariate_drift,
    SignalKind.llm_quality: llm_quality,
    SignalKind.llm_usage: llm_usage,
    SignalKind.llm_latency: llm_latency,
    SignalKind.llm_errors: llm_errors,
    SignalKind.llm_prompt_drift: llm_prompt_drift,
}


def compute_signal(signal: Signal, data: SignalInput) -> SignalOutcome:
    """Compute one signal: every kind has its computer, so it is computed or it fails."""
    return COMPUTERS[signal.kind](signal, data)


def summary_of(outcomes: Sequence[SignalOutcome]) -> dict[str, Any]:
    """The run's summary: per signal, whether it breached and its headline numbers."""
    return {
        o.key: {
            "breached": o.breached,
            **o.summary,
            **{m.metric: m.value for m in o.metrics if not m.feature},
        }
        for o in outcomes
    }
