"""Performance of regressors without labels: direct loss estimation (DLE), as NannyML does it.

A second model, fitted on the reference's features and predictions, predicts each row's
absolute (MAE) or squared (RMSE) error; a window's estimate is the mean predicted loss.
NannyML fits LightGBM; here scikit-learn's HistGradientBoostingRegressor (the same kind of
learner, no extra dependency), so estimates agree with NannyML's within the learners' noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from monitors.stats.columns import is_numeric_type
from monitors.stats.estimation import Band, Estimate, chunk_band, chunk_slices, judge

DLE_METRICS = ("mae", "rmse")
# HistGradientBoosting takes at most 255 categories per feature (one code is kept for missing).
MAX_CATEGORIES = 254
PREDICTION_FEATURE = "__prediction__"


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class Encoding:
    """How a table's features become the error model's numeric matrix."""

    columns: tuple[str, ...]
    # per categorical column, its reference categories (most frequent first); None: numeric
    categories: tuple[tuple[Any, ...] | None, ...]

    def matrix(self, table: pa.Table, predicted: np.ndarray) -> np.ndarray:
        """Features (categories as codes, unseen and missing as NaN) and the prediction."""
        out = np.empty((table.num_rows, len(self.columns) + 1), dtype=np.float64)
        for i, (name, known) in enumerate(zip(self.columns, self.categories, strict=True)):
            out[:, i] = _encoded(table.column(name), known)
        out[:, -1] = predicted
        return out

    @property
    def categorical_mask(self) -> np.ndarray:
        """Which matrix columns are categorical (the prediction is not)."""
        return np.array([c is not None for c in self.categories] + [False])


def _encoded(column: pa.ChunkedArray, known: tuple[Any, ...] | None) -> np.ndarray:
    if known is None:
        filled = pc.fill_null(pc.cast(column, pa.float64()), math.nan)
        return np.asarray(filled.to_numpy(), dtype=np.float64)
    codes = {value: float(code) for code, value in enumerate(known)}
    return np.array([codes.get(v, math.nan) for v in column.to_pylist()], dtype=np.float64)


def encoding_of(reference: pa.Table, features: tuple[str, ...]) -> Encoding:
    """Numeric columns as they are; the others as codes of their most frequent categories."""
    categories: list[tuple[Any, ...] | None] = []
    for name in features:
        column = reference.column(name)
        if is_numeric_type(column.type):
            categories.append(None)
            continue
        if pa.types.is_dictionary(column.type):
            column = pc.cast(column, column.type.value_type)
        counted = pc.value_counts(column.drop_null())
        counts = counted.field("counts").to_numpy()
        values = counted.field("values").to_pylist()
        order = np.argsort(-counts, kind="stable")[:MAX_CATEGORIES]
        categories.append(tuple(values[i] for i in order))
    return Encoding(columns=features, categories=tuple(categories))


def _one_thread() -> Any:
    """One OpenMP thread for the gradient boosting (sklearn's default is one per core).

    Monitors run beside other work: on a busy machine OpenMP threads spin and wait for each
    other, and a fit of a second here took a minute on two loaded cores.
    """
    # untyped (a dependency of scikit-learn); the ignore stays right once it is declared so
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped, unused-ignore]

    return threadpool_limits(limits=1, user_api="openmp")


def observed_loss(metric: str, truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Each row's loss: absolute error (MAE) or squared error (RMSE)."""
    error = truth - predicted
    return np.asarray(np.abs(error) if metric == "mae" else np.square(error), dtype=np.float64)


def aggregate(metric: str, losses: np.ndarray) -> float:
    """A window's metric from its rows' losses."""
    mean = float(np.mean(losses))
    return mean if metric == "mae" else math.sqrt(mean)


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class DleModel:
    """What DLE learns from a labelled reference, for one metric."""

    metric: str
    encoding: Encoding
    regressor: Any  # sklearn HistGradientBoostingRegressor
    components: tuple[float, float]  # (std, mean) of the reference's row losses
    band: Band

    def sampling_error(self, rows: int) -> float:
        """NannyML's standard error of MAE (std/sqrt n) or RMSE (delta method) on ``rows``."""
        std, mean = self.components
        if self.metric == "mae":
            return std / math.sqrt(rows)
        return math.sqrt(std**2 / (4 * rows * mean)) if mean else math.nan


def fit_dle(
    metric: str,
    reference: pa.Table,
    features: tuple[str, ...],
    truth: np.ndarray,
    predicted: np.ndarray,
    *,
    chunks: int,
    seed: int = 0,
) -> DleModel:
    """Fit the loss model on the reference and the band from its chunks' realised metric."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    encoding = encoding_of(reference, features)
    losses = observed_loss(metric, truth, predicted)
    regressor = HistGradientBoostingRegressor(
        categorical_features=encoding.categorical_mask, random_state=seed
    )
    with _one_thread():
        regressor.fit(encoding.matrix(reference, predicted), losses)
    parts = chunk_slices(truth.size, chunks)
    band = chunk_band([aggregate(metric, losses[s]) for s in parts], parts[0].stop, (0.0, None))
    return DleModel(
        metric=metric,
        encoding=encoding,
        regressor=regressor,
        components=(float(np.std(losses)), float(np.mean(losses))),
        band=band,
    )


def realised_dle(metric: str, truth: np.ndarray, predicted: np.ndarray) -> float | None:
    """The metric on labelled rows (None without any)."""
    return aggregate(metric, observed_loss(metric, truth, predicted)) if truth.size else None


def estimate_dle(
    model: DleModel, window: pa.Table, predicted: np.ndarray, realised: float | None = None
) -> Estimate:
    """The window's estimated metric (negative predicted losses clipped to 0, as NannyML)."""
    with _one_thread():
        predicted_losses = model.regressor.predict(model.encoding.matrix(window, predicted))
    losses = np.maximum(0.0, predicted_losses)
    rows = int(predicted.size)
    return judge(
        model.metric,
        aggregate(model.metric, losses),
        model.sampling_error(rows),
        model.band,
        rows,
        realised,
    )
