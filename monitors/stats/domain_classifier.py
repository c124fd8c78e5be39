"""Domain-classifier drift as NannyML computes it: how well a classifier tells window rows apart.

The AUROC of out-of-fold scores of stratified k-fold cross-validation, separating a seeded
sample of the reference from the window's rows, with HistGradientBoosting in place of nannyml's
LightGBM (the same hyperparameters). Its band: each of ``chunks`` reference chunks against the
rest of the sample, as nannyml learns its reference values (nannyml's default alert is a fixed
0.45-0.65; a band from chunks adapts to the window's size and to the features).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from monitors.stats.multivariate import (
    Band,
    Categories,
    Method,
    MultivariateConfig,
    MultivariateResult,
    band_of,
    categories_of,
    chunk_rows,
    numeric_of,
    split_features,
)

CLASSIFIER_SEED = 13  # nannyml's random_state of the LightGBM classifier
# nannyml's LightGBM defaults, as HistGradientBoosting spells them (no lightgbm at run time)
CLASSIFIER = {
    "max_iter": 100,
    "learning_rate": 0.1,
    "max_leaf_nodes": 31,
    "min_samples_leaf": 20,
    "l2_regularization": 0.0,
    "early_stopping": False,
    "random_state": CLASSIFIER_SEED,
}
# HistGradientBoosting takes fewer than 255 categories: the most frequent keep their own code,
# the rarer share RARE and categories the reference never had share UNSEEN.
RARE = 248
UNSEEN = 249


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class DomainClassifier:
    """A seeded sample of the reference, encoded for the classifier, and its bands by size."""

    features: tuple[str, ...]
    categories: dict[str, Categories]
    reference: np.ndarray
    config: MultivariateConfig
    bands: dict[int, Band] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def categorical(self) -> np.ndarray:
        """Which columns of the matrix are categories."""
        return np.asarray([n in self.categories for n in self.features], dtype=bool)

    def encode(self, table: pa.Table) -> np.ndarray:
        """Numbers as they are (NaN missing), categories as codes."""
        return _codes(table, self.features, self.categories)

    def auroc(self, window: np.ndarray) -> float:
        """Cross-validated AUROC of telling the reference sample from ``window``'s rows."""
        x = np.vstack([self.reference, window])
        y = np.concatenate([np.zeros(len(self.reference)), np.ones(len(window))])
        return cv_auroc(x, y, self.categorical, self.config.cv_folds)

    def band(self, window_rows: int) -> Band:
        """The band of a window's AUROC: each of ``chunks`` reference chunks against the rest.

        Chunks have the window's size (rounded down to a grid, so that a backfill of windows
        of varied sizes learns few bands), at most a quarter of the sample: a smaller chunk's
        AUROC varies more, so a large window's band is wider than its own (conservative).
        """
        rows = len(self.reference)
        size = _grid(min(window_rows, rows // 4))
        with self.lock:
            if size in self.bands:
                return self.bands[size]
        values = []
        for chunk in chunk_rows(rows, self.config.chunk_count, size):
            y = np.zeros(rows)
            y[chunk] = 1
            values.append(cv_auroc(self.reference, y, self.categorical, self.config.cv_folds))
        band = band_of(np.asarray(values), chunk_rows=size, scale=1.0, limits=(0.0, 1.0))
        with self.lock:
            self.bands[size] = band
        return band


def _codes(
    table: pa.Table, features: Sequence[str], categories: dict[str, Categories]
) -> np.ndarray:
    columns = []
    for name in features:
        if name in categories:
            codes = categories[name].codes(table.column(name)).astype(np.float64)
            codes = np.where(codes >= RARE, RARE, codes)
            columns.append(np.where(codes == -1, UNSEEN, np.where(codes == -2, np.nan, codes)))
        else:
            columns.append(numeric_of(table.column(name)))
    return np.column_stack(columns) if columns else np.empty((table.num_rows, 0))


def _grid(rows: int) -> int:
    """The largest of 2^k and 3 * 2^(k-1) (1, 2, 3, 4, 6, 8, 12, ...) at most ``rows``."""
    if rows < 4:
        return rows
    power = 1 << (rows.bit_length() - 1)
    return power * 3 // 2 if power * 3 // 2 <= rows else power


def cv_auroc(x: np.ndarray, y: np.ndarray, categorical: np.ndarray, folds: int) -> float:
    """AUROC of out-of-fold scores of stratified k-fold cross-validation (nannyml's scheme)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    if np.unique(y).size < 2:
        return 0.5  # nannyml's answer when nothing can be told apart
    scores = np.empty(len(y))
    cats = categorical if categorical.any() else None
    # one thread: small fits gain nothing from OpenMP, and a busy host makes its threads wait
    with threadpool_limits(limits=1, user_api="openmp"):
        for train, test in StratifiedKFold(n_splits=folds).split(x, y):
            model = HistGradientBoostingClassifier(categorical_features=cats, **CLASSIFIER)
            model.fit(x[train], y[train])
            scores[test] = model.predict_proba(x[test])[:, 1]
    return float(roc_auc_score(y, scores))


def fit_domain_classifier(
    reference: pa.Table, features: Sequence[str], config: MultivariateConfig
) -> DomainClassifier:
    """Sample (seeded) at most ``max_reference_rows`` reference rows and encode them."""
    categorical = split_features(reference, features)
    names = tuple(features)
    if reference.num_rows > config.max_reference_rows:
        rng = np.random.default_rng(CLASSIFIER_SEED)
        picked = np.sort(rng.choice(reference.num_rows, config.max_reference_rows, replace=False))
        reference = reference.take(pa.array(picked))
    cats = {
        n: categories_of(reference.column(n)) for n, c in zip(names, categorical, strict=True) if c
    }
    return DomainClassifier(
        features=names,
        categories=cats,
        reference=_codes(reference, names, cats),
        config=config,
    )


def classifier_drift(fitted: DomainClassifier, window: pa.Table) -> MultivariateResult:
    """The window's AUROC against the reference sample, and its reference band.

    A window larger than the sample is sampled down to it (seeded), bounding the cost. Only an
    AUROC above the band is drift: below it, the classifier does worse than chance by chance.
    """
    rows = window.num_rows
    if rows > fitted.config.max_reference_rows:
        rng = np.random.default_rng(CLASSIFIER_SEED)
        picked = np.sort(rng.choice(rows, fitted.config.max_reference_rows, replace=False))
        window = window.take(pa.array(picked))
    value = fitted.auroc(fitted.encode(window))
    band = fitted.band(rows)
    return MultivariateResult(
        method=Method.domain_classifier,
        value=value,
        band=band,
        window_rows=rows,
        drifted=value > band.upper,
    )
