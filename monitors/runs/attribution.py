"""Feature-attribution drift of a model Steward does not load: SHAP on surrogates of its outputs.

The model's logged outputs (the probability of its positive class when both the reference and
the window have probabilities, else its predictions) are learnt from the features by a tree
surrogate on each side (Azure ML's mimic explainer); the surrogates' mean absolute SHAP values
rank the features, and the window's ranking is compared with the reference's by NDCG. A
surrogate that does not reproduce the model fails the signal instead of judging it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from governance.core.cache import BoundedCache
from governance.core.errors import InvalidInput, InvalidState
from monitors.runs.model_attribution import Sides, model_attribution_drift
from monitors.runs.quality import PROBABILITIES
from monitors.runs.schemas import Metric, SignalOutcome
from monitors.runs.sources import Explainable, ModelLookup
from monitors.specs.options import AttributionDriftOptions, AttributionMethod
from monitors.specs.schemas import Signal
from monitors.stats.attribution import (
    DEFAULT_NDCG_THRESHOLD,
    SurrogateImportance,
    compute_attribution_drift,
    surrogate_importance,
)
from monitors.stats.columns import PREDICTION, PROBABILITY_PREFIXES, ColumnRoles, is_numeric_type
from monitors.stats.schemas import Verdict

SEED = 0
NO_OUTPUTS = (
    "attribution drift needs the model's outputs in the reference: a 'prediction' column or "
    "its probabilities (labels are the data's, not the model's)"
)
NO_WINDOW_OUTPUTS = "attribution drift needs the model's predictions in the window"


class SurrogateCache:
    """Reference surrogates by (reference content, options), built once per process (LRU)."""

    def __init__(self, size: int = 16) -> None:
        self.cache: BoundedCache[tuple[str, int, bool], SurrogateImportance] = BoundedCache(size)

    def get(
        self, features: np.ndarray, outputs: np.ndarray, names: Sequence[str], *, max_rows: int
    ) -> SurrogateImportance:
        """The reference side's importances, fitted on first use of these rows and options."""
        classify = _classify(outputs)
        key = (_fingerprint(features, outputs, names), max_rows, classify)
        return self.cache.get(key, lambda: _explain(features, outputs, names, max_rows))


REFERENCES = SurrogateCache()


@dataclass(frozen=True, kw_only=True, slots=True)
class Compared:
    """The reference and the window of a signal, the columns' roles and the features explained."""

    reference: pa.Table
    current: pa.Table
    roles: ColumnRoles
    features: tuple[str, ...]
    # where the endpoint's model is looked up; None: only the surrogate can explain
    model: ModelLookup | None = None


def attribution_drift(
    signal: Signal, data: Compared, cache: SurrogateCache = REFERENCES
) -> SignalOutcome:
    """NDCG of the window's attribution ranking against the reference's (below threshold: drift).

    The model itself is explained when Steward holds the version that served the window
    (``method: model`` in the summary), else surrogates of its logged outputs (``surrogate``).
    Raises InvalidInput when the reference lacks the model's outputs, and InvalidState when a
    surrogate does not reproduce the model: the signal fails alone, saying why.
    """
    options = signal.options_as(AttributionDriftOptions)
    held = _held_model(options, data.model)
    if held is not None:
        sides = Sides(
            reference=data.reference,
            current=data.current,
            features=data.features,
            threshold=_threshold(signal),
        )
        return model_attribution_drift(signal, sides, held)
    started = time.perf_counter()
    outcome = _surrogate_drift(signal, options, data, cache)
    seconds = round(time.perf_counter() - started, 4)
    summary = {"method": "surrogate", **outcome.summary, "seconds": seconds}
    return replace(outcome, summary=summary)


def _held_model(options: AttributionDriftOptions, lookup: ModelLookup | None) -> Explainable | None:
    """The model to explain, None for the surrogate; refused when the spec demands the model."""
    if options.method is AttributionMethod.surrogate:
        return None
    found = None if lookup is None else lookup.find()
    if found is None and options.method is AttributionMethod.model:
        raise InvalidState(
            "attribution drift was asked to explain the model (options.method: model), but "
            "Steward does not hold the version that served the window (upload its artifact, "
            "or use method auto or surrogate)",
            code="model_not_held",
        )
    return found


def _surrogate_drift(
    signal: Signal, options: AttributionDriftOptions, data: Compared, cache: SurrogateCache
) -> SignalOutcome:
    """Attribution drift of surrogates of the logged outputs on each side."""
    names = [f for f in data.features if f in data.current.column_names]
    if not names:
        raise InvalidInput("attribution drift needs features in both the reference and window")
    ref_y, cur_y, explained = _outputs(data)
    ref_x, ref_v, ref_rows = _side(data.reference, ref_y, names, options.max_rows)
    if ref_rows < options.min_window_rows:
        raise InvalidInput(
            f"the reference has {ref_rows} rows with the model's outputs: attribution drift "
            f"needs min_window_rows ({options.min_window_rows})"
        )
    cur_x, cur_v, cur_rows = _side(data.current, cur_y, names, options.max_rows)
    if cur_rows < options.min_window_rows:
        return _too_small(signal, options, cur_rows)
    reference = cache.get(ref_x, ref_v, names, max_rows=options.max_rows)
    _check_fidelity("reference", reference, options.min_fidelity)
    current = _explain(cur_x, cur_v, names, options.max_rows)
    _check_fidelity("window", current, options.min_fidelity)
    window = {"explained": explained, "window_rows": cur_rows}
    return _outcome(signal, options, (reference, current), window)


def _threshold(signal: Signal) -> float:
    return DEFAULT_NDCG_THRESHOLD if signal.threshold is None else signal.threshold


def _outcome(
    signal: Signal,
    options: AttributionDriftOptions,
    sides: tuple[SurrogateImportance, SurrogateImportance],
    window: dict[str, Any],
) -> SignalOutcome:
    reference, current = sides
    threshold = _threshold(signal)
    result = compute_attribution_drift(
        reference.importance, current.importance, top_n=options.top_n, threshold=threshold
    )
    breached = result.verdict is Verdict.drift
    bound = options.min_fidelity
    metrics = (
        Metric(metric="ndcg", value=result.ndcg, threshold=threshold, breached=breached),
        Metric(metric="reference_fidelity", value=reference.fidelity, threshold=bound),
        Metric(metric="window_fidelity", value=current.fidelity, threshold=bound),
        *(
            Metric(metric="mean_abs_shap", feature=name, value=value)
            for name, value in current.importance.importances.items()
        ),
    )
    summary = {
        **window,
        "fidelity_metric": current.fidelity_metric,
        "top_n": result.top_n,
        "reference_top": list(result.reference_top),
        "window_top": list(result.current_top),
        "reference_rows_explained": reference.importance.rows,
        "window_rows_explained": current.importance.rows,
    }
    return SignalOutcome(
        key=signal.key, kind=str(signal.kind), breached=breached, metrics=metrics, summary=summary
    )


def _outputs(data: Compared) -> tuple[pa.ChunkedArray, pa.ChunkedArray, str]:
    """The model's outputs in the reference and the window, and which output they are."""
    scores = _scores(data.reference), _scores(data.current)
    if scores[0] is not None and scores[1] is not None:
        ref_y, cur_y = scores
        explained = "probability"
    else:
        ref_y = _predictions(data.reference, data.roles)
        cur_y = _predictions(data.current, data.roles)
        explained = "prediction"
        if ref_y is None:
            raise InvalidInput(NO_OUTPUTS if scores[0] is None else _mismatch("reference"))
        if cur_y is None:
            raise InvalidInput(NO_WINDOW_OUTPUTS if scores[1] is None else _mismatch("window"))
    return ref_y, cur_y, explained


def _mismatch(side: str) -> str:
    return (
        f"the {side} has the model's probabilities but no predictions, and the other side no "
        "probabilities: attribution drift explains the same output on both"
    )


def _side(
    table: pa.Table, outputs: pa.ChunkedArray, names: Sequence[str], max_rows: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Encoded features and outputs of at most ``max_rows`` rows with an output, and their count.

    The rows are sampled (seeded) before they are encoded: the cost is bounded however large
    the reference is.
    """
    # a missing or non-finite output says nothing of the model
    valid = pc.is_finite(outputs) if is_numeric_type(outputs.type) else pc.is_valid(outputs)
    kept, values = table.filter(valid), outputs.filter(valid)
    rows = kept.num_rows
    if rows > max_rows:
        chosen = np.sort(np.random.default_rng(SEED).choice(rows, max_rows, replace=False))
        kept, values = kept.take(chosen), values.take(chosen)
    matrix = np.column_stack([_encoded(kept.column(n)) for n in names])
    array = values.to_numpy()
    return matrix, array if array.dtype.kind in "fiub" else array.astype(str), rows


def _scores(table: pa.Table) -> pa.ChunkedArray | None:
    """The probability of the positive (last) class per row, when the table has a binary one."""
    if PROBABILITIES in table.column_names:
        column = table.column(PROBABILITIES)
        widths = set(pc.unique(pc.list_value_length(column)).drop_null().to_pylist())
        if len(widths) != 1 or not widths <= {1, 2}:
            return None  # several classes: the predicted class is explained instead
        return pc.list_element(column, widths.pop() - 1)
    named = [c for c in table.column_names if c.lower().startswith(PROBABILITY_PREFIXES)]
    if not named or not is_numeric_type(table.schema.field(named[-1]).type):
        return None
    return pc.cast(table.column(named[-1]), pa.float64())


def _predictions(table: pa.Table, roles: ColumnRoles) -> pa.ChunkedArray | None:
    names = (PREDICTION, *sorted(roles.predictions))
    return next((table.column(n) for n in names if n in table.column_names), None)


def _encoded(column: pa.ChunkedArray) -> np.ndarray:
    """Numbers as they are, categories as the rank of their value; missing ones below all."""
    if is_numeric_type(column.type):
        values = np.asarray(pc.fill_null(pc.cast(column, pa.float64()), np.nan), np.float64)
    else:
        encoded = pc.dictionary_encode(pc.cast(column, pa.string())).combine_chunks()
        ranks = np.asarray(pc.rank(encoded.dictionary), dtype=np.float64)
        indices = np.asarray(pc.fill_null(encoded.indices, -1), dtype=np.int64)
        values = np.where(indices >= 0, ranks[indices], np.nan)
    finite = np.isfinite(values)
    # trees split a stand-in value below the smallest one off as its own branch
    missing = (values[finite].min() - 1.0) if finite.any() else 0.0
    return np.where(finite, values, missing)


def _classify(outputs: np.ndarray) -> bool:
    """Classes are learnt as classes; probabilities and a regressor's predictions as numbers."""
    return outputs.dtype.kind != "f"


def _explain(
    features: np.ndarray, outputs: np.ndarray, names: Sequence[str], max_rows: int
) -> SurrogateImportance:
    return surrogate_importance(
        features,
        outputs,
        feature_names=names,
        classify=_classify(outputs),
        max_rows=max_rows,
        seed=SEED,
    )


def _fingerprint(features: np.ndarray, outputs: np.ndarray, names: Sequence[str]) -> str:
    digest = hashlib.sha256("\0".join(names).encode())
    digest.update(np.ascontiguousarray(features).tobytes())
    digest.update(np.ascontiguousarray(outputs).tobytes())
    return digest.hexdigest()


def _check_fidelity(side: str, found: SurrogateImportance, bound: float) -> None:
    if found.fidelity >= bound:
        return
    raise InvalidState(
        f"the surrogate of the model on the {side} reproduces its outputs with "
        f"{found.fidelity_metric} {found.fidelity:.3f} < min_fidelity {bound}: its attributions "
        "would not be the model's (log every input of the model as a feature, or lower "
        "options.min_fidelity)"
    )


def _too_small(signal: Signal, options: AttributionDriftOptions, rows: int) -> SignalOutcome:
    return SignalOutcome(
        key=signal.key,
        kind=str(signal.kind),
        breached=False,
        metrics=(Metric(metric="ndcg", value=None, threshold=_threshold(signal)),),
        summary={
            "reason": "window too small",
            "window_rows": rows,
            "min_window_rows": options.min_window_rows,
        },
    )
