"""Label-free performance: CBPE (classifiers), DLE (regressors), with reference-chunk bands.

The reference must carry labels and the model's outputs on it (scores for CBPE, predictions
for DLE): without them the signal fails, saying what is missing, instead of reporting nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from governance.core.cache import BoundedCache
from governance.core.errors import InvalidInput
from monitors.runs.inputs import SignalInput, feature_columns
from monitors.runs.quality import positive_label
from monitors.runs.schemas import Metric, SignalOutcome
from monitors.specs.options import LOWER_IS_BETTER, EstimatedPerformanceOptions
from monitors.specs.schemas import Signal
from monitors.stats.columns import (
    LABEL,
    PREDICTION,
    PROBABILITY_NAMES,
    PROBABILITY_PREFIXES,
    is_numeric_type,
)
from monitors.stats.estimation import (
    CbpeModel,
    Estimate,
    estimate_cbpe,
    fingerprint,
    fit_cbpe,
    realised_cbpe,
)
from monitors.stats.loss_estimation import DleModel, estimate_dle, fit_dle, realised_dle

# A backfill runs one reference against hundreds of windows: the calibration check (ten
# isotonic fits) or the loss model takes about a second, a window's estimate milliseconds.
# Keyed by the reference's content and the options, so a new reference or spec refits;
# bounded, since every cached model stays in memory.
FITS: BoundedCache[Any, Any] = BoundedCache(size=16)
DEFAULT_MIN_WINDOW_ROWS = 30
Rows = tuple[np.ndarray, np.ndarray, np.ndarray]


def estimated_performance(signal: Signal, data: SignalInput) -> SignalOutcome:
    """The window's estimated metric, breached outside the reference band or beyond threshold."""
    options = signal.options_as(EstimatedPerformanceOptions)
    if options.task == "classification":
        estimates, summary = _cbpe(options, data)
    else:
        estimates, summary = _dle(signal, options, data)
    return _outcome(signal, options, estimates, summary)


def _reference_label(data: SignalInput, method: str) -> str:
    label = data.roles.label_in(data.reference.column_names)
    if label is None:
        names = ", ".join(data.roles.labels)
        raise InvalidInput(f"{method} needs labels in the reference (a column {names})")
    if PREDICTION not in data.reference.column_names:
        raise InvalidInput(
            f"{method} needs the model's predictions in the reference ({PREDICTION})"
        )
    return label


def _fitted(key: str, fit: Any) -> Any:
    """The cached model under ``key``; a reference the method cannot learn from is refused."""
    try:
        return FITS.get(key, fit)
    except ValueError as exc:  # our own messages: chunks too small, metric undefined
        raise InvalidInput(f"the reference cannot be used: {exc}") from None


# --- CBPE ------------------------------------------------------------------------------------


def _cbpe(
    options: EstimatedPerformanceOptions, data: SignalInput
) -> tuple[tuple[Estimate, ...], dict[str, Any]]:
    label = _reference_label(data, "CBPE")
    reference = data.reference
    classes = _classes(options, reference, label)
    pos_label = positive_label(options.pos_label, classes)
    if pos_label not in classes:
        listed = ", ".join(map(str, classes))
        raise InvalidInput(f"pos_label {pos_label!r} is not one of the classes ({listed})")
    fit_options = options.model_dump_json(include={"pos_label", "classes", "chunks"})
    key = fingerprint(_used(reference, label), "cbpe", fit_options)

    def fit() -> CbpeModel:
        rows = _labelled_scores(reference, label, pos_label, classes, "reference")
        if np.unique(rows[0]).size < 2:
            raise InvalidInput("CBPE needs both classes among the reference's labels")
        return fit_cbpe(*rows, chunks=options.chunks)

    model: CbpeModel = _fitted(key, fit)
    return _cbpe_window(model, data.current, pos_label, classes)


def _cbpe_window(
    model: CbpeModel, window: pa.Table, pos_label: Any, classes: list[Any]
) -> tuple[tuple[Estimate, ...], dict[str, Any]]:
    """The window's estimates from its scored rows; its labelled rows give realised values."""
    if PREDICTION not in window.column_names:
        raise InvalidInput(f"CBPE needs the window's predictions ({PREDICTION})")
    scores = _positive_scores(window, pos_label, classes)
    if scores is None:
        raise InvalidInput("CBPE needs the window's probabilities: the endpoint logs none")
    predicted = _is(window.column(PREDICTION), pos_label)
    scored = np.isfinite(scores) & _valid(window.column(PREDICTION))
    if not scored.any():
        raise InvalidInput("CBPE needs the window's probabilities: no row of it has them")
    realised: dict[str, float] = {}
    known = np.zeros_like(scored)
    if LABEL in window.column_names:
        known = scored & _valid(window.column(LABEL))
        truth = _is(window.column(LABEL), pos_label)
        realised = realised_cbpe(truth[known], predicted[known], scores[known])
    summary = {
        "method": "cbpe",
        "calibrated": model.calibrator is not None,
        "pos_label": pos_label,
        "window_rows": int(scored.sum()),
        "unscored_rows": int((~scored).sum()),
        "labelled_rows": int(known.sum()),
    }
    return estimate_cbpe(model, predicted[scored], scores[scored], realised), summary


def _classes(options: EstimatedPerformanceOptions, reference: pa.Table, label: str) -> list[Any]:
    if options.classes is not None:
        return list(options.classes)
    seen = set(reference.column(label).drop_null().unique().to_pylist())
    seen |= set(reference.column(PREDICTION).drop_null().unique().to_pylist())
    if len(seen) > 2:
        raise InvalidInput(
            f"CBPE estimates binary classifiers: the reference has {len(seen)} classes"
        )
    return sorted(seen, key=str)


def _used(reference: pa.Table, label: str) -> pa.Table:
    """The reference's columns CBPE learns from (its fingerprint)."""
    scored = [c for c in reference.column_names if _is_score_column(c)]
    return reference.select([label, PREDICTION, *scored])


def _is_score_column(name: str) -> bool:
    lowered = name.lower()
    return lowered in PROBABILITY_NAMES or lowered.startswith(PROBABILITY_PREFIXES)


def _labelled_scores(
    table: pa.Table, label: str, pos_label: Any, classes: list[Any], where: str
) -> Rows:
    """Labels, predictions (True: the positive class) and scores of the complete rows."""
    scores = _positive_scores(table, pos_label, classes)
    if scores is None:
        raise InvalidInput(
            f"CBPE needs the model's scores in the {where}: a 'probabilities' column (one "
            f"score per class) or one named probability_<class> or proba_<class>"
        )
    keep = np.isfinite(scores) & _valid(table.column(label)) & _valid(table.column(PREDICTION))
    truth = _is(table.column(label), pos_label)
    return truth[keep], _is(table.column(PREDICTION), pos_label)[keep], scores[keep]


def _positive_scores(table: pa.Table, pos_label: Any, classes: list[Any]) -> np.ndarray | None:
    """Each row's score of the positive class (NaN where missing); None without scores."""
    for name in table.column_names:
        if name.lower() not in PROBABILITY_NAMES:
            continue
        column = table.column(name)
        if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
            return _from_lists(column.combine_chunks(), classes.index(pos_label), len(classes))
        return _floats(column)
    for prefix in PROBABILITY_PREFIXES:
        for name in (f"{prefix}{pos_label}", f"{prefix}{str(pos_label).lower()}"):
            if name in table.column_names:
                return _floats(table.column(name))
    return None


def _from_lists(column: pa.Array, index: int, classes: int) -> np.ndarray:
    """The positive class's score from per-row lists (one score per class, or one in all)."""
    widths = pc.fill_null(pc.list_value_length(column), 0).to_numpy(zero_copy_only=False)
    present = widths[widths > 0]
    if present.size and (present.min() != present.max() or present.max() not in (1, classes)):
        raise InvalidInput(
            f"CBPE needs one probability per class ({classes}) in every row, or one score"
        )
    out = np.full(len(column), np.nan)
    if present.size:
        width = int(present.max())
        flat = pc.list_flatten(column).to_numpy(zero_copy_only=False).astype(np.float64)
        out[widths > 0] = flat.reshape(-1, width)[:, index if width > 1 else 0]
    return out


def _floats(column: pa.ChunkedArray) -> np.ndarray:
    filled = pc.fill_null(pc.cast(column, pa.float64()), np.nan)
    return np.asarray(filled.to_numpy(), dtype=np.float64)


def _valid(column: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.is_valid(column).to_numpy(zero_copy_only=False), dtype=bool)


def _is(column: pa.ChunkedArray, pos_label: Any) -> np.ndarray:
    return np.array([v == pos_label for v in column.to_pylist()], dtype=bool)


# --- DLE -------------------------------------------------------------------------------------


def _dle(
    signal: Signal, options: EstimatedPerformanceOptions, data: SignalInput
) -> tuple[tuple[Estimate, ...], dict[str, Any]]:
    label = _reference_label(data, "DLE")
    features = feature_columns(data, signal)
    for where, table in (("reference", data.reference), ("window", data.current)):
        missing = [c for c in (*features, PREDICTION) if c not in table.column_names]
        if missing:
            raise InvalidInput(f"DLE needs these columns in the {where}: {', '.join(missing)}")
    if not all(_numeric(data.reference, c) for c in (label, PREDICTION)):
        raise InvalidInput(f"DLE needs numbers as the reference's {label} and {PREDICTION}")
    complete = [pc.is_valid(data.reference.column(c)) for c in (label, PREDICTION)]
    reference = data.reference.filter(pc.and_(*complete))
    metric = options.headline
    key = fingerprint(
        reference.select([*features, label, PREDICTION]), "dle", metric, options.chunks
    )

    def fit() -> DleModel:
        truth, predicted = _floats(reference.column(label)), _floats(reference.column(PREDICTION))
        return fit_dle(metric, reference, features, truth, predicted, chunks=options.chunks)

    model: DleModel = _fitted(key, fit)
    estimate, summary = _dle_window(model, data.current)
    return (estimate,), {"method": "dle", "features": list(features), **summary}


def _dle_window(model: DleModel, window: pa.Table) -> tuple[Estimate, dict[str, Any]]:
    """The window's estimated loss from its rows with a prediction (realised: labelled ones)."""
    if not _numeric(window, PREDICTION):
        raise InvalidInput(f"DLE needs numbers as the window's {PREDICTION}")
    rows = window.filter(pc.is_valid(window.column(PREDICTION)))
    if rows.num_rows == 0:
        raise InvalidInput(f"DLE needs the window's predictions: no row of it has a {PREDICTION}")
    predicted = _floats(rows.column(PREDICTION))
    realised, known = None, np.zeros(rows.num_rows, dtype=bool)
    if LABEL in rows.column_names and _numeric(rows, LABEL):
        known = _valid(rows.column(LABEL))
        realised = realised_dle(model.metric, _floats(rows.column(LABEL))[known], predicted[known])
    summary = {
        "window_rows": rows.num_rows,
        "rows_without_prediction": window.num_rows - rows.num_rows,
        "labelled_rows": int(known.sum()),
    }
    return estimate_dle(model, rows, predicted, realised), summary


def _numeric(table: pa.Table, name: str) -> bool:
    return is_numeric_type(table.column(name).type) or pa.types.is_null(table.column(name).type)


# --- the outcome -----------------------------------------------------------------------------


def _outcome(
    signal: Signal,
    options: EstimatedPerformanceOptions,
    estimates: tuple[Estimate, ...],
    summary: dict[str, Any],
) -> SignalOutcome:
    headline = options.headline
    (judged,) = [e for e in estimates if e.metric == headline]
    minimum = options.min_window_rows or DEFAULT_MIN_WINDOW_ROWS
    large = summary["window_rows"] >= minimum
    beyond = _beyond(judged.value, signal.threshold, headline)
    breached = large and (judged.outside_band or beyond)
    metrics = [
        Metric(
            metric=f"estimated_{headline}",
            value=judged.value,
            threshold=signal.threshold,
            breached=breached,
        ),
        *_detail(judged),
        *(m for e in estimates if e is not judged for m in _brief(e)),
    ]
    verdict = "insufficient_data" if not large else "degraded" if breached else "ok"
    return SignalOutcome(
        key=signal.key,
        kind=str(signal.kind),
        breached=breached,
        metrics=tuple(metrics),
        summary={
            **summary,
            "metric": headline,
            "verdict": verdict,
            "outside_band": judged.outside_band,
            "beyond_threshold": beyond,
            "min_window_rows": minimum,
            "window_large_enough": large,
            **({} if large else {"reason": "window too small"}),
        },
    )


def _beyond(value: float, threshold: float | None, metric: str) -> bool:
    if threshold is None:
        return False
    return value > threshold if metric in LOWER_IS_BETTER else value < threshold


def _detail(e: Estimate) -> list[Metric]:
    """The judged estimate's band, confidence interval, sampling error and realised value."""
    values = {
        "lower_threshold": e.lower_threshold,
        "upper_threshold": e.upper_threshold,
        "lower_confidence": e.lower_confidence,
        "upper_confidence": e.upper_confidence,
        "sampling_error": e.sampling_error,
        "reference_mean": e.reference_mean,
    }
    metrics = [Metric(metric=f"{e.metric}_{name}", value=v) for name, v in values.items()]
    return metrics + _realised(e)


def _brief(e: Estimate) -> list[Metric]:
    """Another estimated metric (not judged): its value and, with labels, the realised one."""
    return [Metric(metric=f"estimated_{e.metric}", value=e.value), *_realised(e)]


def _realised(e: Estimate) -> list[Metric]:
    return [] if e.realised is None else [Metric(metric=f"realised_{e.metric}", value=e.realised)]
