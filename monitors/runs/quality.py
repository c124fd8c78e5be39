"""Data quality, performance and fairness signals (the drift signals are in ``signals``)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from monitors.runs.schemas import Metric, SignalOutcome
from monitors.specs.options import DataQualityOptions, FairnessOptions, Label, PerformanceOptions
from monitors.specs.schemas import Signal
from monitors.stats.fairness import FairnessThresholds, compute_fairness
from monitors.stats.performance import (
    HIGHER_IS_BETTER,
    MetricThreshold,
    TaskType,
    compute_performance,
)
from monitors.stats.quality import QualityThresholds, compute_data_quality
from monitors.stats.reference import ReferenceProfile

LABEL = "label"
PREDICTION = "prediction"


def _features(profile: ReferenceProfile, signal: Signal, exclude: frozenset[str]) -> list[str]:
    if signal.features:
        return list(signal.features)
    return [c for c in profile.columns if c not in exclude]


def data_quality(
    signal: Signal, profile: ReferenceProfile, current: pa.Table, exclude: frozenset[str]
) -> SignalOutcome:
    """Nulls, types, ranges and unseen categories per feature; breached by any issue."""
    names = [n for n in _features(profile, signal, exclude) if n in current.column_names]
    limits = QualityThresholds(**signal.options_as(DataQualityOptions).model_dump())
    result = compute_data_quality(profile, current.select(names), limits)
    allowed = signal.threshold if signal.threshold is not None else 0.0
    count = float(len(result.issues))
    metrics = [
        Metric(metric="issue_count", value=count, threshold=allowed, breached=count > allowed),
        *(
            Metric(
                metric=i.check,
                feature=i.column,
                value=i.value,
                threshold=i.threshold,
                breached=True,
            )
            for i in result.issues
        ),
        *(Metric(metric="null_rate", feature=c.column, value=c.null_rate) for c in result.columns),
    ]
    return SignalOutcome(
        key=signal.key,
        kind=str(signal.kind),
        breached=count > allowed,
        metrics=tuple(metrics),
        summary={"issues": [f"{i.column}:{i.check}" for i in result.issues][:20]},
    )


def _pos_label(wanted: Label | None, labels: list[object]) -> object:
    if wanted is not None:
        return wanted
    return 1 if 1 in labels or not labels else sorted(labels, key=str)[-1]


def performance(signal: Signal, current: pa.Table) -> SignalOutcome:
    """Metrics of the labelled rows of the window; breached below the metric's threshold."""
    if LABEL not in current.column_names or PREDICTION not in current.column_names:
        return _no_labels(signal)
    labelled = current.filter(pc.is_valid(current.column(LABEL)))
    truth = np.asarray(labelled.column(LABEL).to_pylist(), dtype=object)
    predicted = np.asarray(labelled.column(PREDICTION).to_pylist(), dtype=object)
    options = signal.options_as(PerformanceOptions)
    name = options.headline
    limit = MetricThreshold(threshold=signal.threshold, greater_is_better=HIGHER_IS_BETTER[name])
    result = compute_performance(
        truth,
        predicted,
        task=TaskType(options.task),
        pos_label=_pos_label(options.pos_label, sorted(set(truth), key=str)),
        thresholds={name: limit} if signal.threshold is not None else None,
    )
    metrics = tuple(
        Metric(
            metric=m.name,
            value=m.value,
            breached=m.degraded,
            threshold=signal.threshold if m.name == name else None,
        )
        for m in result.metrics
    )
    breached = any(m.breached for m in metrics)
    return SignalOutcome(
        key=signal.key,
        kind=str(signal.kind),
        breached=breached,
        metrics=metrics or (Metric(metric="labelled_rows", value=float(result.rows)),),
        summary={"labelled_rows": result.rows, "verdict": str(result.verdict)},
    )


def _no_labels(signal: Signal) -> SignalOutcome:
    return SignalOutcome(
        key=signal.key,
        kind=str(signal.kind),
        breached=False,
        metrics=(Metric(metric="labelled_rows", value=0.0),),
        summary={"reason": "no labels (or sensitive features) in the window"},
    )


def _labelled(current: pa.Table) -> pa.Table | None:
    if LABEL not in current.column_names or PREDICTION not in current.column_names:
        return None
    return current.filter(pc.is_valid(current.column(LABEL)))


def fairness(signal: Signal, current: pa.Table) -> SignalOutcome:
    """Disparities of the labelled rows across sensitive features (fairlearn's definitions)."""
    labelled = _labelled(current)
    options = signal.options_as(FairnessOptions)
    sensitive = list(options.sensitive_features or signal.features or ())
    if labelled is None or not sensitive or any(c not in current.column_names for c in sensitive):
        return _no_labels(signal)
    limits = FairnessThresholds(**options.model_dump(exclude={"sensitive_features", "pos_label"}))
    truth = np.asarray(labelled.column(LABEL).to_pylist(), dtype=object)
    result = compute_fairness(
        truth,
        np.asarray(labelled.column(PREDICTION).to_pylist(), dtype=object),
        sensitive_features={
            c: labelled.column(c).to_numpy(zero_copy_only=False) for c in sensitive
        },
        pos_label=_pos_label(options.pos_label, sorted(set(truth), key=str)),
        thresholds=limits,
    )
    metrics = [
        Metric(
            metric=name,
            value=getattr(result, name),
            threshold=getattr(limits, name),
            breached=name in result.alerts,
        )
        for name in (
            "demographic_parity_ratio",
            "demographic_parity_difference",
            "equalized_odds_ratio",
            "equalized_odds_difference",
        )
    ]
    metrics += [
        Metric(
            metric="selection_rate",
            feature="=".join((",".join(sensitive), "/".join(g.group))),
            value=g.selection_rate,
        )
        for g in result.groups
    ]
    breached = str(result.verdict) == "drift"
    return SignalOutcome(
        key=signal.key,
        kind=str(signal.kind),
        breached=breached,
        metrics=tuple(metrics),
        summary={"alerts": list(result.alerts), "verdict": str(result.verdict)},
    )
