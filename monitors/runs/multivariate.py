"""Multivariate drift: PCA reconstruction error or a domain classifier, reference-chunk bands."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from governance.core.cache import BoundedCache
from governance.core.errors import InvalidInput
from monitors.runs.inputs import SignalInput, feature_columns
from monitors.runs.schemas import Metric, SignalOutcome
from monitors.specs.options import MultivariateDriftOptions
from monitors.specs.schemas import Signal
from monitors.stats.domain_classifier import (
    DomainClassifier,
    classifier_drift,
    fit_domain_classifier,
)
from monitors.stats.multivariate import (
    Method,
    MultivariateConfig,
    MultivariateResult,
    Reconstruction,
    ReferenceTooSmall,
    fit_reconstruction,
    reconstruction_drift,
)

# Fits by (reference profile, features, config): the profile cache hands every window of a
# reference the same profile, so a backfill fits once. Each fit keeps its profile alive.
FITS: BoundedCache[Any, Any] = BoundedCache(size=8)
Fitted = Reconstruction | DomainClassifier
VALUE_NAMES = {
    Method.reconstruction_error: "reconstruction_error",
    Method.domain_classifier: "domain_classifier_auroc",
}


def _config(options: MultivariateDriftOptions) -> MultivariateConfig:
    return MultivariateConfig(
        method=Method(options.method),
        explained_variance=options.explained_variance,
        chunks=options.chunks,
        cv_folds=options.cv_folds,
        max_reference_rows=options.max_reference_rows,
    )


def _fit(reference: pa.Table, features: Sequence[str], config: MultivariateConfig) -> Fitted:
    if config.method is Method.domain_classifier:
        return fit_domain_classifier(reference, features, config)
    return fit_reconstruction(reference, features, config.explained_variance)


def _compute(fitted: Fitted, window: pa.Table, config: MultivariateConfig) -> MultivariateResult:
    if isinstance(fitted, DomainClassifier):
        return classifier_drift(fitted, window)
    return reconstruction_drift(fitted, window, config.chunk_count)


def _features(signal: Signal, data: SignalInput) -> tuple[str, ...]:
    """The features, all present in the reference and the window, or why the signal fails."""
    features = feature_columns(data, signal)
    if not features:
        raise InvalidInput("multivariate drift has no features to compare")
    for where, table in (("reference", data.reference), ("window", data.current)):
        # a column without a value was not logged (the capture store has a column per input)
        missing = [c for c in features if c not in table.column_names or _empty(table, c)]
        if missing:
            raise InvalidInput(f"features missing from the {where}: {', '.join(missing)}")
    return features


def _empty(table: pa.Table, column: str) -> bool:
    return bool(table.num_rows) and table.column(column).null_count == table.num_rows


def multivariate_drift(signal: Signal, data: SignalInput) -> SignalOutcome:
    """Joint drift of the features; breached outside the reference band or above threshold."""
    options = signal.options_as(MultivariateDriftOptions)
    features = _features(signal, data)
    rows = data.current.num_rows
    window = {"window_rows": rows, "min_window_rows": options.min_window_rows}
    if rows < options.min_window_rows:
        return SignalOutcome(
            key=signal.key,
            kind=str(signal.kind),
            breached=False,
            metrics=(Metric(metric=VALUE_NAMES[Method(options.method)], value=None),),
            summary={**window, "window_large_enough": False, "reason": "window too small"},
        )
    config = _config(options)
    key = (data.profile, features, config)
    try:
        fitted = FITS.get(key, lambda: _fit(data.reference, features, config))
        result = _compute(fitted, data.current.select(features), config)
    except ReferenceTooSmall as exc:
        raise InvalidInput(str(exc)) from None
    return _outcome(signal, result, {**window, "window_large_enough": True})


def _outcome(signal: Signal, result: MultivariateResult, window: dict[str, Any]) -> SignalOutcome:
    band = result.band
    if signal.threshold is not None:
        breached, limit, judged_by = result.value > signal.threshold, signal.threshold, "threshold"
    else:
        breached, limit, judged_by = result.drifted, band.upper, "reference_chunks"
    value = Metric(
        metric=VALUE_NAMES[result.method],
        value=result.value,
        threshold=limit,
        breached=breached,
    )
    return SignalOutcome(
        key=signal.key,
        kind=str(signal.kind),
        breached=breached,
        metrics=(
            value,
            Metric(metric="lower_band", value=band.lower),
            Metric(metric="upper_band", value=band.upper),
        ),
        summary={
            "method": str(result.method),
            "judged_by": judged_by,
            "band_chunks": band.chunks,
            "band_chunk_rows": band.chunk_rows,
            **window,
        },
    )
