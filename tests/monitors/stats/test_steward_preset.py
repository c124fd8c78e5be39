"""The steward drift preset: calibrated on Adult, two-sample tests, correction, window size."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyarrow as pa
import pytest
from scipy.stats import chi2_contingency

from monitors.stats.categorical import CountPair, chi2_contingency_p_value, pooled_table
from monitors.stats.correction import adjust_p_values
from monitors.stats.drift import build_reference_profile, compute_data_drift
from monitors.stats.presets import compute_drift
from monitors.stats.schemas import Correction, DriftConfig, Preset, StatTestName, Verdict
from monitors.stats.steward_preset import (
    WINDOW_TOO_SMALL,
    compute_steward_drift,
    default_min_window_rows,
)
from tests.monitors.stats.stats_data import ADULT_COLUMNS, read_adult_train

# drift when any feature drifted, as a monitor's signal without a threshold
STEWARD = DriftConfig(preset=Preset.steward, correction=Correction.holm, drift_share=0.0)
FEATURES = [c for c in ADULT_COLUMNS if c != "income"]


@pytest.fixture(scope="module")
def adult_pools() -> tuple[pa.Table, pa.Table]:
    """Adult's training split shuffled (seed 0) and cut into disjoint reference and pool."""
    table = pa.Table.from_pandas(read_adult_train()[FEATURES], preserve_index=False)
    order = np.random.default_rng(0).permutation(table.num_rows)
    half = table.num_rows // 2
    return table.take(order[:half]), table.take(order[half:])


def _alerts(reference: pa.Table, pool: pa.Table, *, windows: int, size: int, seed: int) -> int:
    profile = build_reference_profile(reference)
    rng = np.random.default_rng(seed)
    alerts = 0
    for _ in range(windows):
        window = pool.take(rng.choice(pool.num_rows, size, replace=False))
        alerts += compute_drift(profile, window, STEWARD).dataset_drift
    return alerts


def test_no_drift_windows_of_60_rows_rarely_alert(adult_pools: tuple[pa.Table, pa.Table]) -> None:
    # 14 features tested per window; the azure and evidently presets alert on all 100
    assert _alerts(*adult_pools, windows=100, size=60, seed=1) <= 10


def test_no_drift_windows_of_1000_rows_rarely_alert(
    adult_pools: tuple[pa.Table, pa.Table],
) -> None:
    assert _alerts(*adult_pools, windows=40, size=1000, seed=2) <= 4


def test_a_half_sigma_age_shift_and_a_moved_category_are_detected(
    adult_pools: tuple[pa.Table, pa.Table],
) -> None:
    reference, pool = adult_pools
    profile = build_reference_profile(reference)
    window = pool.slice(0, 3000)
    sigma = float(np.std(reference["age"].to_numpy().astype(float)))
    aged = window.set_column(
        window.schema.get_field_index("age"),
        "age",
        pa.array(window["age"].to_numpy().astype(float) + 0.5 * sigma),
    )
    result = compute_drift(profile, aged, STEWARD)
    assert result.dataset_drift and [c.column for c in result.columns if c.drifted] == ["age"]
    # a share of drifted features (a signal's threshold) still applies: 1 of 14 is below half
    assert not compute_drift(profile, aged, replace(STEWARD, drift_share=0.5)).dataset_drift
    race = np.asarray(window["race"].to_pylist(), dtype=object)
    race[np.flatnonzero(race == "White")[:300]] = "Black"
    moved = window.set_column(
        window.schema.get_field_index("race"), "race", pa.array(race.tolist(), type=pa.string())
    )
    result = compute_drift(profile, moved, STEWARD)
    assert [c.column for c in result.columns if c.drifted] == ["race"]
    assert result.column("race").test is StatTestName.chi2_contingency
    assert result.column("age").test is StatTestName.ks


def test_rare_categories_are_pooled_into_one_column() -> None:
    pair = CountPair.align(
        ("a", "b", "c", "d", "e"),
        np.array([600, 336, 40, 20, 4]),
        ("a", "b", "f"),
        np.array([55, 44, 1]),
    )
    table, pooled = pooled_table(pair)
    # expected window counts of c, d, e and f are below 5: one "other" column of the four
    assert pooled == 4
    assert table.tolist() == [[336.0, 600.0, 64.0], [44.0, 55.0, 1.0]]
    expected = chi2_contingency(np.array([[336, 600, 64], [44, 55, 1]])).pvalue
    assert chi2_contingency_p_value(pair) == pytest.approx(expected, rel=1e-12)


def test_a_pooled_column_still_too_small_takes_the_next_category() -> None:
    pair = CountPair.align(
        ("a", "b", "c", "d"), np.array([700, 250, 40, 10]), ("a", "b"), np.array([70, 30])
    )
    table, pooled = pooled_table(pair)
    # d alone (expected 0.9) is pooled with c (3.6): still below 5, so b joins them
    assert pooled == 3
    assert table.tolist() == [[700.0, 300.0], [70.0, 30.0]]


def test_a_category_seen_once_in_the_reference_does_not_give_p_zero() -> None:
    rng = np.random.default_rng(4)
    reference = {"job": np.append(rng.choice(["a", "b", "c"], 19_999), "rare")}
    window = {"job": np.append(rng.choice(["a", "b", "c"], 199), "rare")}
    profile = build_reference_profile(reference)
    goodness_of_fit = compute_data_drift(
        profile, window, DriftConfig(method=StatTestName.chisquare)
    )
    assert goodness_of_fit.column("job").score == pytest.approx(0.0, abs=1e-3)
    steward = compute_steward_drift(profile, window, STEWARD).column("job")
    assert steward.score is not None and steward.score > 0.5
    assert steward.verdict is Verdict.no_drift


def test_correction_off_flags_what_holm_and_bh_do_not() -> None:
    rng = np.random.default_rng(3)
    profile = build_reference_profile({c: rng.normal(0, 1, 2000) for c in "abcd"})
    shifted = np.random.default_rng(0)
    window = {c: shifted.normal(0.2 if c == "a" else 0, 1, 200) for c in "abcd"}
    plain = compute_drift(profile, window, replace(STEWARD, correction=Correction.none))
    assert 0.0125 < plain.column("a").score < 0.05  # type: ignore[operator]
    assert plain.dataset_drift and plain.column("a").adjusted_p_value is None
    for correction in (Correction.holm, Correction.benjamini_hochberg, Correction.bonferroni):
        corrected = compute_drift(profile, window, replace(STEWARD, correction=correction))
        assert not corrected.dataset_drift, correction
        assert corrected.column("a").adjusted_p_value > 0.05  # type: ignore[operator]


def test_the_evidently_engine_refuses_the_steward_preset() -> None:
    profile = build_reference_profile({"x": np.arange(100.0)})
    with pytest.raises(ValueError, match=r"presets\.compute_drift"):
        compute_data_drift(profile, {"x": np.arange(100.0)}, STEWARD)


def test_holm_steps_down() -> None:
    adjusted = adjust_p_values(np.array([0.01, 0.04, 0.03, 0.005]), Correction.holm)
    assert adjusted.tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_a_window_below_the_minimum_is_reported_and_does_not_drift() -> None:
    rng = np.random.default_rng(5)
    profile = build_reference_profile({"x": rng.normal(0, 1, 1000), "c": ["a", "b"] * 500})
    window = {"x": rng.normal(10, 1, 20), "c": ["a"] * 20}
    result = compute_steward_drift(profile, window, STEWARD)
    assert not result.dataset_drift and not result.window_large_enough
    assert (result.window_rows, result.min_window_rows) == (20, 30)
    assert set(result.insufficient_columns) == {"x", "c"}
    assert all(WINDOW_TOO_SMALL in c.notes for c in result.columns)
    lowered = compute_steward_drift(profile, window, replace(STEWARD, min_window_rows=10))
    assert lowered.dataset_drift and lowered.window_large_enough
    one_column = compute_steward_drift(
        profile, {"x": window["x"]}, replace(STEWARD, min_window_rows=10)
    )
    assert one_column.column("c").notes == ("missing_column",)
    assert one_column.insufficient_columns == ("c",) and one_column.dataset_drift


def test_the_minimum_window_scales_with_the_number_of_tests() -> None:
    assert default_min_window_rows(1) == 30
    assert default_min_window_rows(14) == 30
    assert default_min_window_rows(40) == 80
