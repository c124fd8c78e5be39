"""Feature-attribution drift of a model Steward holds: SHAP of the model itself on both sides.

The version that served the window explains a seeded sample of the reference and of the window
(its explainer chosen by its flavour, see ``retrain.explain``), against the same background of
reference rows; the mean absolute SHAP values rank the features on each side and the window's
ranking is compared with the reference's by NDCG (Azure ML's attribution drift). The reference
side is computed once per (version, reference sample, options) in a process.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from governance.core.cache import BoundedCache
from governance.core.errors import InvalidInput
from monitors.runs.schemas import Metric, SignalOutcome
from monitors.runs.sources import Explainable
from monitors.specs.options import AttributionDriftOptions
from monitors.specs.schemas import Signal
from monitors.stats.attribution import compute_attribution_drift, importance_from_shap
from monitors.stats.schemas import Verdict

SEED = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class Explained:
    """Mean absolute SHAP value per model input on one side, the rows and the time it took."""

    importances: dict[str, float]
    rows: int
    seconds: float


@dataclass(frozen=True, kw_only=True, slots=True)
class Sides:
    """The reference and the window of a signal, the features ranked, the NDCG cut-off."""

    reference: pa.Table
    current: pa.Table
    features: tuple[str, ...]
    threshold: float


class ExplainedCache:
    """Reference-side importances by (version, reference sample, background), LRU per process."""

    def __init__(self, size: int = 16) -> None:
        self.cache: BoundedCache[tuple[str, str], Explained] = BoundedCache(size)


REFERENCES = ExplainedCache()


def model_attribution_drift(
    signal: Signal, sides: Sides, model: Explainable, cache: ExplainedCache = REFERENCES
) -> SignalOutcome:
    """NDCG of the window's ranking of the model's attributions against the reference's.

    Raises InvalidInput when a side lacks an input of the model or no feature the signal ranks
    is one; a window smaller than ``min_window_rows`` is not judged.
    """
    options = signal.options_as(AttributionDriftOptions)
    names = [f for f in sides.features if f in model.features]
    if not names:
        raise InvalidInput(
            f"none of the signal's features is an input of {model.model} version "
            f"{model.version}: attribution drift ranks the model's inputs"
        )
    _inputs_present("reference", sides.reference, model)
    _inputs_present("window", sides.current, model)
    if sides.reference.num_rows < options.min_window_rows:
        raise InvalidInput(
            f"the reference has {sides.reference.num_rows} rows: attribution drift needs "
            f"min_window_rows ({options.min_window_rows})"
        )
    if sides.current.num_rows < options.min_window_rows:
        return _too_small(signal, options, sides)
    inputs = list(model.features)
    background = sample(sides.reference.select(inputs), options.background_size, SEED + 1)
    ref_rows = sample(sides.reference.select(inputs), options.sample_size, SEED)
    fresh: list[Explained] = []

    def build() -> Explained:
        fresh.append(explain(model, ref_rows, background))
        return fresh[0]

    reference = cache.cache.get((model.key, _fingerprint(ref_rows, background)), build)
    cached = not fresh
    cur_rows = sample(sides.current.select(inputs), options.sample_size, SEED)
    current = explain(model, cur_rows, background)
    return _outcome(signal, options, sides, model, (reference, current), cached=cached)


def _inputs_present(side: str, table: pa.Table, model: Explainable) -> None:
    missing = [f for f in model.features if f not in table.column_names]
    if missing:
        raise InvalidInput(
            f"the {side} lacks inputs of {model.model} version {model.version}: "
            f"{', '.join(missing[:10])} (the model is explained on every input it reads)"
        )


def sample(table: pa.Table, rows: int, seed: int) -> pa.Table:
    """At most ``rows`` rows of ``table``, chosen by ``seed`` (in their order)."""
    if table.num_rows <= rows:
        return table
    chosen = np.sort(np.random.default_rng(seed).choice(table.num_rows, rows, replace=False))
    return table.take(chosen)


def explain(model: Explainable, rows: pa.Table, background: pa.Table) -> Explained:
    """The model's mean absolute SHAP value per input on ``rows``, timed."""
    started = time.perf_counter()
    values = model.shap_values(rows, background=background, seed=SEED)
    importances = importance_from_shap(values, model.features)
    return Explained(
        importances=importances, rows=rows.num_rows, seconds=time.perf_counter() - started
    )


def _fingerprint(*tables: pa.Table) -> str:
    digest = hashlib.sha256()
    for table in tables:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as stream:
            stream.write_table(table)
        digest.update(sink.getvalue().to_pybytes())
    return digest.hexdigest()


def _outcome(
    signal: Signal,
    options: AttributionDriftOptions,
    sides: Sides,
    model: Explainable,
    explained: tuple[Explained, Explained],
    *,
    cached: bool,
) -> SignalOutcome:
    reference, current = explained
    names = [f for f in sides.features if f in model.features]
    result = compute_attribution_drift(
        {f: reference.importances[f] for f in names},
        {f: current.importances[f] for f in names},
        top_n=options.top_n,
        threshold=sides.threshold,
    )
    breached = result.verdict is Verdict.drift
    seconds = current.seconds + (0.0 if cached else reference.seconds)
    metrics = (
        Metric(metric="ndcg", value=result.ndcg, threshold=sides.threshold, breached=breached),
        Metric(metric="explain_seconds", value=seconds),
        *(Metric(metric="mean_abs_shap", feature=f, value=current.importances[f]) for f in names),
    )
    summary: dict[str, Any] = {
        **_model_summary(model),
        "window_rows": sides.current.num_rows,
        "top_n": result.top_n,
        "reference_top": list(result.reference_top),
        "window_top": list(result.current_top),
        "reference_rows_explained": reference.rows,
        "window_rows_explained": current.rows,
        "background_rows": min(options.background_size, sides.reference.num_rows),
        "reference_seconds": round(reference.seconds, 4),
        "window_seconds": round(current.seconds, 4),
        "reference_cached": cached,
        "seconds": round(seconds, 4),
    }
    return SignalOutcome(
        key=signal.key, kind=str(signal.kind), breached=breached, metrics=metrics, summary=summary
    )


def _model_summary(model: Explainable) -> dict[str, Any]:
    return {
        "method": "model",
        "model": model.model,
        "version": model.version,
        "flavor": model.flavor,
        "explainer": model.explainer,
    }


def _too_small(signal: Signal, options: AttributionDriftOptions, sides: Sides) -> SignalOutcome:
    return SignalOutcome(
        key=signal.key,
        kind=str(signal.kind),
        breached=False,
        metrics=(Metric(metric="ndcg", value=None, threshold=sides.threshold),),
        summary={
            "method": "model",
            "reason": "window too small",
            "window_rows": sides.current.num_rows,
            "min_window_rows": options.min_window_rows,
        },
    )
