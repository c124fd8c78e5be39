"""Data quality, performance and fairness signals (the drift signals are in ``signals``)."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from governance.core.errors import InvalidInput
from monitors.runs.schemas import Metric, SignalOutcome
from monitors.specs.options import (
    SCORE_METRICS,
    DataQualityOptions,
    FairnessOptions,
    Label,
    PerformanceOptions,
)
from monitors.specs.schemas import Signal
from monitors.stats.fairness import (
    DISPARITIES,
    GROUP_METRICS,
    DisparityChange,
    FairnessResult,
    FairnessThresholds,
    compare_with_reference,
    compute_fairness,
)
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
PROBABILITIES = "probabilities"


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


def positive_label(wanted: Label | None, labels: list[object]) -> object:
    """The class a spec names as positive, else 1 when it is a label, else the last label."""
    if wanted is not None:
        return wanted
    return 1 if 1 in labels or not labels else sorted(labels, key=str)[-1]


def performance(signal: Signal, current: pa.Table) -> SignalOutcome:
    """Metrics of the labelled rows of the window; breached below the metric's threshold.

    A classifier's logged probabilities add ROC AUC, log loss and calibration error (on the
    labelled rows that have them). A threshold on one of those when the window has no
    probabilities fails this signal alone (``invalid_input``), saying why.
    """
    if LABEL not in current.column_names or PREDICTION not in current.column_names:
        return _no_labels(signal)
    labelled = current.filter(pc.is_valid(current.column(LABEL)))
    truth = np.asarray(labelled.column(LABEL).to_pylist(), dtype=object)
    predicted = np.asarray(labelled.column(PREDICTION).to_pylist(), dtype=object)
    options = signal.options_as(PerformanceOptions)
    name = options.headline
    pos_label = positive_label(options.pos_label, sorted(set(truth), key=str))
    scores, classes, why = _scores(labelled, options, truth, predicted)
    if name in SCORE_METRICS and why:
        # the signal fails alone (the run is partial), naming what is missing
        raise InvalidInput(f"{name} needs the logged probabilities: {why}")
    limit = MetricThreshold(threshold=signal.threshold, greater_is_better=HIGHER_IS_BETTER[name])
    result = compute_performance(
        truth,
        predicted,
        task=TaskType(options.task),
        y_score=scores,
        score_classes=classes,
        calibration_bins=options.calibration_bins,
        pos_label=pos_label,
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
    summary: dict[str, object] = {"labelled_rows": result.rows, "verdict": str(result.verdict)}
    if options.task == "classification":
        summary["scored_rows"] = 0 if scores is None else int(truth.size)
        if why:
            summary["scores"] = why
    return SignalOutcome(
        key=signal.key,
        kind=str(signal.kind),
        breached=any(m.breached for m in metrics),
        metrics=metrics or (Metric(metric="labelled_rows", value=float(result.rows)),),
        summary=summary,
    )


def _scores(
    labelled: pa.Table, options: PerformanceOptions, truth: np.ndarray, predicted: np.ndarray
) -> tuple[np.ndarray | None, list[object] | None, str]:
    """The probabilities of the labelled rows (one column per class), their classes, or why not.

    Every labelled row needs its probabilities; a window where some lack them is not scored
    (scoring the others would bias the metrics towards the clients that log them).
    """
    if options.task != "classification":
        return None, None, ""
    if PROBABILITIES not in labelled.column_names:
        return None, None, "the endpoint logs no probabilities"
    if labelled.num_rows == 0:
        return None, None, ""  # no labels yet: the window is too small, not misconfigured
    column = labelled.column(PROBABILITIES).combine_chunks()
    if column.null_count:
        return None, None, f"{column.null_count} labelled row(s) have no probabilities"
    widths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
    if widths.min() != widths.max():
        return None, None, "rows have different numbers of probabilities"
    width = int(widths[0])
    values = pc.list_flatten(column).to_numpy(zero_copy_only=False).astype(np.float64)
    matrix = values.reshape(truth.size, width)
    if width == 1:
        return matrix[:, 0], None, ""
    classes = list(options.classes or sorted(set(truth) | set(predicted), key=str))
    if width != len(classes):
        seen = ", ".join(map(str, classes))
        why = f"{width} probabilities per row, but the classes are {seen} (set options.classes)"
        return None, None, why
    return matrix, classes, ""


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


def fairness(signal: Signal, current: pa.Table, reference: pa.Table | None = None) -> SignalOutcome:
    """Disparities of the labelled rows across sensitive features (fairlearn's definitions).

    ``compare: absolute`` alerts when the window crosses a limit; ``compare: reference`` when a
    disparity with a limit is worse than the reference's beyond its sampling error. Either way
    the summary says which limits the reference itself already breaches.
    """
    labelled = _labelled(current)
    options = signal.options_as(FairnessOptions)
    sensitive = list(options.sensitive_features or signal.features or ())
    if labelled is None or not sensitive or any(c not in current.column_names for c in sensitive):
        return _no_labels(signal)
    limits = FairnessThresholds(**options.model_dump(include=_LIMITS))
    truth = np.asarray(labelled.column(LABEL).to_pylist(), dtype=object)
    pos_label = positive_label(options.pos_label, sorted(set(truth), key=str))
    result = _fairness_of(labelled, labelled.column(LABEL), sensitive, pos_label, limits)
    baseline = _reference_fairness(reference, sensitive, pos_label, limits)
    watched = tuple(n for n in DISPARITIES if getattr(limits, n) is not None)
    changes: tuple[DisparityChange, ...] = ()
    if options.compare == "reference":
        baseline = _require_reference(baseline, reference, sensitive, watched)
        z = float(NormalDist().inv_cdf(1 - options.significance))
        changes = compare_with_reference(result, baseline, names=watched, limits=limits, z=z)
        alerts = tuple(c.name for c in changes if c.worse)
    else:
        alerts = result.alerts
    large_enough = str(result.verdict) != "insufficient_data"
    breached = large_enough and bool(alerts)
    return SignalOutcome(
        key=signal.key,
        kind=str(signal.kind),
        breached=breached,
        metrics=tuple(_fairness_metrics(result, limits, alerts, changes, sensitive)),
        summary={
            "compare": options.compare,
            "alerts": list(alerts),
            "verdict": _verdict(large_enough, breached),
            "groups_large_enough": large_enough,
            **_reference_summary(baseline, limits, options.compare, watched),
            "groups": [g.to_dict() for g in result.groups[:MAX_GROUPS_IN_SUMMARY]],
        },
    )


_LIMITS = {"min_group_size", *DISPARITIES}
MAX_GROUPS_IN_SUMMARY = 50


def _verdict(large_enough: bool, breached: bool) -> str:
    if not large_enough:
        return "insufficient_data"
    return "drift" if breached else "no_drift"


def _fairness_of(
    table: pa.Table,
    truth: pa.ChunkedArray,
    sensitive: list[str],
    pos_label: object,
    limits: FairnessThresholds,
) -> FairnessResult:
    return compute_fairness(
        np.asarray(truth.to_pylist(), dtype=object),
        np.asarray(table.column(PREDICTION).to_pylist(), dtype=object),
        sensitive_features={c: table.column(c).to_numpy(zero_copy_only=False) for c in sensitive},
        pos_label=pos_label,
        thresholds=limits,
    )


def _reference_fairness(
    reference: pa.Table | None, sensitive: list[str], pos_label: object, limits: FairnessThresholds
) -> FairnessResult | None:
    """The reference's disparities: its predictions against its labels, when it has both.

    A reference with predictions but no labels (training data whose target is stored as
    ``prediction``) gives its selection rates only: its equalized odds are not known.
    """
    if reference is None or reference.num_rows == 0:
        return None
    needed = [PREDICTION, *sensitive]
    if any(c not in reference.column_names for c in needed):
        return None
    truth = reference.column(LABEL if LABEL in reference.column_names else PREDICTION)
    return _fairness_of(reference, truth, sensitive, pos_label, limits)


def _require_reference(
    baseline: FairnessResult | None,
    reference: pa.Table | None,
    sensitive: list[str],
    watched: tuple[str, ...],
) -> FairnessResult:
    """The reference result ``compare: reference`` needs, or why this signal cannot run."""
    if baseline is None or reference is None:
        needed = ", ".join([PREDICTION, *sensitive])
        raise InvalidInput(f"compare: reference needs a reference with the columns {needed}")
    odds = [n for n in watched if n.startswith("equalized_odds")]
    if odds and LABEL not in reference.column_names:
        raise InvalidInput(
            f"compare: reference on {', '.join(odds)} needs a {LABEL!r} column in the reference"
        )
    return baseline


def _reference_summary(
    baseline: FairnessResult | None,
    limits: FairnessThresholds,
    compare: str,
    watched: tuple[str, ...],
) -> dict[str, object]:
    if baseline is None:
        return {"reference_breaches": None}
    breaches = [n for n in watched if n in baseline.alerts]
    out: dict[str, object] = {"reference_breaches": breaches}
    if breaches:
        listed = ", ".join(breaches)
        out["note"] = (
            f"the reference already breaches {listed}: alerts only when the window is worse "
            "than the reference beyond its sampling error"
            if compare == "reference"
            else f"the reference already breaches {listed}: every window like it alerts "
            "(compare: reference alerts only when a window is worse than the reference)"
        )
    return out


def _fairness_metrics(
    result: FairnessResult,
    limits: FairnessThresholds,
    alerts: tuple[str, ...],
    changes: tuple[DisparityChange, ...],
    sensitive: list[str],
) -> list[Metric]:
    metrics = [
        Metric(
            metric=name,
            value=getattr(result, name),
            threshold=getattr(limits, name),
            breached=name in alerts,
        )
        for name in DISPARITIES
    ]
    for change in changes:
        metrics.append(Metric(metric=f"{change.name}_reference", value=change.reference))
        metrics.append(Metric(metric=f"{change.name}_z", value=change.z, breached=change.worse))
    prefix = ",".join(sensitive)
    for g in result.groups:
        feature = f"{prefix}={'/'.join(g.group)}"
        metrics.append(Metric(metric="group_count", feature=feature, value=float(g.count)))
        metrics.append(Metric(metric="small_group", feature=feature, value=float(g.small)))
        metrics += [
            Metric(metric=name, feature=feature, value=getattr(g, name)) for name in GROUP_METRICS
        ]
    return metrics
