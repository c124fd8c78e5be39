"""Multivariate drift on Adult: calibration, a joint shift per-column tests miss, nannyml parity."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from governance.core.cache import BoundedCache
from monitors.stats.domain_classifier import classifier_drift, fit_domain_classifier
from monitors.stats.drift import build_reference_profile
from monitors.stats.multivariate import (
    Method,
    MultivariateConfig,
    ReferenceTooSmall,
    fit_reconstruction,
    reconstruction_band,
    reconstruction_drift,
)
from monitors.stats.presets import compute_drift
from monitors.stats.schemas import Correction, DriftConfig, Preset
from tests.monitors.stats.stats_data import ADULT_COLUMNS, read_adult_test

FEATURES = [c for c in ADULT_COLUMNS if c != "income"]
STEWARD = DriftConfig(preset=Preset.steward, correction=Correction.holm, drift_share=0.0)
# Small enough for a test to fit in seconds; the defaults (2000 rows, 5 folds) cost ~4x more.
CLASSIFIER = MultivariateConfig(
    method=Method.domain_classifier, max_reference_rows=800, cv_folds=3, chunks=4
)


@pytest.fixture(scope="module")
def pools() -> tuple[pa.Table, pa.Table]:
    """Adult's test split shuffled (seed 0) and cut into disjoint reference and window pool."""
    table = pa.Table.from_pandas(read_adult_test()[FEATURES], preserve_index=False)
    order = np.random.default_rng(0).permutation(table.num_rows)
    half = table.num_rows // 2
    return table.take(order[:half]), table.take(order[half:])


def _unlinked(window: pa.Table, column: str, seed: int) -> pa.Table:
    """The window with ``column`` shuffled across its rows: every marginal exactly kept, the
    column's link with the others (marital status with age, sex, relationship) broken."""
    order = np.random.default_rng(seed).permutation(window.num_rows)
    index = window.schema.get_field_index(column)
    return window.set_column(index, column, window.column(column).take(pa.array(order)))


def _windows(pool: pa.Table, count: int, size: int, seed: int) -> list[pa.Table]:
    rng = np.random.default_rng(seed)
    return [pool.take(rng.choice(pool.num_rows, size, replace=False)) for _ in range(count)]


def test_no_drift_windows_rarely_leave_the_reconstruction_band(
    pools: tuple[pa.Table, pa.Table],
) -> None:
    reference, pool = pools
    fitted = fit_reconstruction(reference, FEATURES)
    breaches = [reconstruction_drift(fitted, w).drifted for w in _windows(pool, 40, 500, 1)]
    assert sum(breaches) <= 2  # at most 5% of 40


def test_a_joint_shift_is_caught_by_the_reconstruction_but_not_per_column(
    pools: tuple[pa.Table, pa.Table],
) -> None:
    reference, pool = pools
    fitted = fit_reconstruction(reference, FEATURES)
    profile = build_reference_profile(reference)
    for seed, window in enumerate(_windows(pool, 10, 1000, 2)):
        unlinked = _unlinked(window, "marital-status", seed)
        before, after = reconstruction_drift(fitted, window), reconstruction_drift(fitted, unlinked)
        assert not before.drifted and after.drifted, seed
        assert after.value > before.band.upper
        # per column, the unlinked window is the window: the same p-values, the same verdicts
        plain, shuffled = (compute_drift(profile, w, STEWARD) for w in (window, unlinked))
        assert [c.score for c in shuffled.columns] == [c.score for c in plain.columns]
        assert shuffled.dataset_drift == plain.dataset_drift, seed


def test_the_domain_classifier_catches_the_joint_shift_and_not_an_unshifted_window(
    pools: tuple[pa.Table, pa.Table],
) -> None:
    reference, pool = pools
    fitted = fit_domain_classifier(reference, FEATURES, CLASSIFIER)
    (window,) = _windows(pool, 1, 400, 3)
    plain = classifier_drift(fitted, window)
    unlinked = classifier_drift(fitted, _unlinked(window, "marital-status", 3))
    assert not plain.drifted and 0.4 < plain.value < plain.band.upper
    assert unlinked.drifted and unlinked.value > 0.65
    # the band of 200-row chunks (800 sampled rows / 4 chunks) is reused at the same size
    assert plain.band.chunk_rows == 192 and plain.band.chunks == 4
    assert fitted.bands == {192: plain.band}


def test_a_large_window_gets_a_band_from_smaller_chunks_scaled_as_a_mean(
    pools: tuple[pa.Table, pa.Table],
) -> None:
    reference, _ = pools
    fitted = fit_reconstruction(reference, FEATURES)
    small = reconstruction_band(fitted, 800, chunks=50)
    large = reconstruction_band(fitted, 6000, chunks=50)
    assert (small.chunk_rows, large.chunk_rows) == (800, reference.num_rows // 2)
    assert (small.chunks, large.chunks) == (50, 50)
    assert large.std < small.std
    with pytest.raises(ReferenceTooSmall):
        fit_reconstruction(reference.slice(0, 9), FEATURES)


def test_unseen_categories_and_missing_values_are_encoded_as_nannyml_does() -> None:
    rows = {"x": [1.0, 2.0, None, 3.0], "c": ["a", "b", "a", None], "k": [1, 2, 3, 4]}
    reference = pa.table({name: values * 5 for name, values in rows.items()})
    fitted = fit_reconstruction(reference, ["x", "c", "k"])
    # a missing number is the reference mean, a missing category the most frequent (whose
    # share counts the imputed row), an unseen category share 0
    window = pa.table({"x": [None, 5.0], "c": [None, "z"], "k": [2, 9]})
    assert fitted.encode(window).tolist() == [[2.0, 0.75, 2.0], [5.0, 0.0, 9.0]]
    with pytest.raises(TypeError, match="neither a number nor a category"):
        fit_reconstruction(pa.table({"t": pa.array([1, 2], pa.timestamp("s"))}), ["t"])


def test_the_fit_cache_fits_once_per_key_and_stays_bounded(
    pools: tuple[pa.Table, pa.Table],
) -> None:
    reference, _ = pools
    cache: BoundedCache[str, Any] = BoundedCache(size=1)
    small = reference.slice(0, 500)
    first = cache.get("a", lambda: fit_reconstruction(small, ["age", "sex"]))
    assert cache.get("a", lambda: fit_reconstruction(small, ["sex"])) is first
    cache.get("b", lambda: fit_reconstruction(small, ["sex"]))
    assert cache.get("a", lambda: fit_reconstruction(small, ["age"])) is not first
    assert cache.builds == 3


def _frame(table: pa.Table) -> Any:
    """The table as nannyml reads a CSV: a missing category is NaN (its imputer skips None)."""
    frame = table.to_pandas()
    return frame.where(frame.notna(), np.nan)


def _nannyml() -> Any:
    os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")
    return pytest.importorskip("nannyml")


def test_reconstruction_error_equals_nannyml(pools: tuple[pa.Table, pa.Table]) -> None:
    """Per chunk, of the reference (in sample) and of the analysis, to 1e-9; the bands differ
    on purpose (cross-fitted errors, more chunks: see the module's docstring)."""
    nml = _nannyml()
    reference, pool = pools
    reference = reference.slice(0, 8000)
    calculator = nml.DataReconstructionDriftCalculator(column_names=FEATURES, chunk_size=500)
    calculator.fit(_frame(reference))
    analysis = pool.slice(0, 4000)
    theirs = calculator.calculate(_frame(analysis)).to_df()
    fitted = fit_reconstruction(reference, FEATURES)
    assert fitted.pca.n_components_ == calculator._pca.n_components_
    chunks = [reference.slice(s, 500) for s in range(0, 8000, 500)]
    chunks += [analysis.slice(s, 500) for s in range(0, 4000, 500)]
    ours = [float(fitted.row_errors(chunk).mean()) for chunk in chunks]
    error = theirs[("reconstruction_error", "value")].to_numpy()
    np.testing.assert_allclose(ours, error, rtol=0, atol=1e-9)
    assert reconstruction_drift(fitted, chunks[-1]).value == pytest.approx(ours[-1], abs=1e-12)


# two analysis chunks of 400 rows: nannyml warns that so few chunks make a poor plot
@pytest.mark.filterwarnings("ignore:The resulting number of chunks is too low")
def test_domain_classifier_auroc_is_near_nannyml(pools: tuple[pa.Table, pa.Table]) -> None:
    """Within 0.08 of nannyml's: HistGradientBoosting here, LightGBM there (whose categorical
    splits differ), on the same rows, folds and hyperparameters."""
    nml = _nannyml()
    reference, pool = pools
    reference = reference.slice(0, CLASSIFIER.max_reference_rows)  # no sampling: same rows
    (window,) = _windows(pool, 1, 400, 4)
    analysis = pa.concat_tables([window, _unlinked(window, "marital-status", 4)])
    from nannyml.drift.multivariate.domain_classifier.calculator import DEFAULT_LGBM_HYPERPARAMS

    calculator = nml.DomainClassifierCalculator(
        feature_column_names=FEATURES,
        chunk_size=400,
        cv_folds_num=CLASSIFIER.cv_folds,
        hyperparameters={**DEFAULT_LGBM_HYPERPARAMS, "n_jobs": 1, "verbose": -1},
    )
    calculator.fit(_frame(reference))
    theirs = calculator.calculate(_frame(analysis)).filter(period="analysis").to_df()
    fitted = fit_domain_classifier(reference, FEATURES, CLASSIFIER)
    ours = [fitted.auroc(fitted.encode(analysis.slice(s, 400))) for s in (0, 400)]
    expected = theirs[("domain_classifier_auroc", "value")].to_numpy()
    np.testing.assert_allclose(ours, expected, atol=0.08)
    assert ours[1] > 0.65 and expected[1] > 0.6  # both see the joint shift
