"""Drift behaviour beyond parity: edge cases, presets, overrides, corrections, calibration."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from stats_data import ADULT_NUMERIC

from monitors.stats.correction import adjust_p_values
from monitors.stats.drift import (
    build_reference_profile,
    compute_data_drift,
    compute_prediction_drift,
)
from monitors.stats.numeric import NumericPair, ks_p_value, wasserstein_sorted
from monitors.stats.reference import NumericReference
from monitors.stats.schemas import (
    ColumnKind,
    Correction,
    DriftConfig,
    Preset,
    StatTestName,
    Verdict,
)
from monitors.stats.thresholds import reference_chunk_thresholds


def _normal(seed: int, n: int, shift: float = 0.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(shift, 1.0, n)


def test_empty_and_tiny_windows_are_insufficient_data_not_alerts() -> None:
    profile = build_reference_profile({"x": _normal(0, 5000), "c": ["a", "b"] * 2500})
    config = DriftConfig(min_sample_size=100)
    empty = compute_data_drift(profile, {"x": np.array([]), "c": pa.array([], pa.string())}, config)
    tiny = compute_data_drift(profile, {"x": _normal(1, 50) + 10, "c": ["z"] * 50}, config)
    for result in (empty, tiny):
        assert {c.verdict for c in result.columns} == {Verdict.insufficient_data}
        assert result.number_of_columns == 0
        assert not result.dataset_drift
        assert set(result.insufficient_columns) == {"x", "c"}


def test_nan_infinity_all_null_and_constant_columns_are_handled_and_reported() -> None:
    reference = {"x": _normal(0, 3000), "k": np.full(3000, 7.0), "c": ["a", "b", "c"] * 1000}
    current_x = _normal(1, 3000)
    current_x[:100] = np.nan
    current_x[100:110] = np.inf
    current = {
        "x": current_x,
        "k": np.full(3000, 7.0),
        "c": pa.array([None] * 3000, pa.string()),
    }
    result = compute_data_drift(build_reference_profile(reference), current)
    x, k, c = result.column("x"), result.column("k"), result.column("c")
    assert (x.current_nulls, x.current_infinities, x.current_size) == (100, 10, 2890)
    assert x.verdict is Verdict.no_drift
    assert "constant_reference" in k.notes and "constant_current" in k.notes
    assert k.score == 0.0 and k.verdict is Verdict.no_drift
    assert c.verdict is Verdict.insufficient_data and "all_null" in c.notes
    json.dumps(result.to_dict(), allow_nan=False)


def test_missing_column_is_reported_as_insufficient() -> None:
    profile = build_reference_profile({"x": _normal(0, 2000), "y": _normal(1, 2000)})
    result = compute_data_drift(profile, {"x": _normal(2, 2000)})
    assert result.column("y").notes == ("missing_column",)
    assert result.column("y").verdict is Verdict.insufficient_data


def test_azure_preset_uses_normed_wasserstein_and_jensen_shannon_at_0_1() -> None:
    reference = {"x": _normal(0, 500), "c": ["a", "b"] * 250}
    current = {"x": _normal(1, 500, 0.3), "c": ["a", "a", "b", "c"] * 125}
    result = compute_data_drift(
        build_reference_profile(reference), current, DriftConfig(preset=Preset.azure)
    )
    assert result.column("x").test is StatTestName.wasserstein
    assert result.column("c").test is StatTestName.jensenshannon
    assert {c.threshold for c in result.columns} == {0.1}
    assert result.column("x").verdict is Verdict.drift


def test_per_column_overrides_take_precedence_over_kind_and_global_settings() -> None:
    reference = {"x": _normal(0, 2000), "y": _normal(1, 2000)}
    config = DriftConfig(
        method=StatTestName.psi,
        num_method=StatTestName.ks,
        per_column_method={"y": StatTestName.energy},
        num_threshold=0.01,
        per_column_threshold={"y": 0.5},
    )
    result = compute_data_drift(build_reference_profile(reference), reference, config)
    assert (result.column("x").test, result.column("x").threshold) == (StatTestName.ks, 0.01)
    assert (result.column("y").test, result.column("y").threshold) == (StatTestName.energy, 0.5)


def test_dataset_drift_share_counts_drifted_columns() -> None:
    reference = {f"x{i}": _normal(i, 2000) for i in range(4)}
    current = {f"x{i}": _normal(10 + i, 2000, 1.0 if i < 2 else 0.0) for i in range(4)}
    profile = build_reference_profile(reference)
    result = compute_data_drift(profile, current, DriftConfig(drift_share=0.5))
    assert (result.number_of_drifted_columns, result.share_of_drifted_columns) == (2, 0.5)
    assert result.dataset_drift
    assert not compute_data_drift(profile, current, DriftConfig(drift_share=0.75)).dataset_drift


def test_reference_profile_is_reused_across_windows() -> None:
    profile = build_reference_profile({"x": _normal(0, 4000)})
    scores = [
        compute_data_drift(profile, {"x": _normal(seed, 4000, 0.2)}).column("x").score
        for seed in (1, 2)
    ]
    assert all(s is not None and 0.1 < s < 0.35 for s in scores)


def test_prediction_drift_reports_the_automatic_test_and_chebyshev() -> None:
    reference = {"prediction": np.repeat(["yes", "no"], [300, 700])}
    current = {"prediction": np.repeat(["yes", "no"], [450, 550])}
    automatic, chebyshev = compute_prediction_drift(
        build_reference_profile(reference), current, column="prediction"
    )
    assert automatic.test is StatTestName.z and automatic.verdict is Verdict.drift
    assert chebyshev.test is StatTestName.chebyshev
    assert chebyshev.score == pytest.approx(0.15)
    assert chebyshev.verdict is Verdict.drift


def test_wasserstein_of_unequal_sizes_matches_scipy() -> None:
    from scipy import stats

    for n, m in ((7, 5), (1000, 1499), (2048, 300)):
        u, v = np.sort(_normal(n, n).round(1)), np.sort(_normal(m, m, 0.3).round(1))
        assert wasserstein_sorted(u, v) == pytest.approx(stats.wasserstein_distance(u, v), 1e-12)


def test_large_sample_ks_uses_the_asymptotic_branch_like_scipy() -> None:
    from scipy import stats

    reference = build_reference_profile({"x": _normal(0, 30_000).round(2)}).columns["x"]
    current = np.sort(_normal(1, 12_000, 0.02).round(2))
    assert isinstance(reference, NumericReference)
    pair = NumericPair(reference, current)
    expected = stats.ks_2samp(reference.sorted_values, current)[1]
    assert ks_p_value(pair) == pytest.approx(expected, rel=1e-9)


def test_bonferroni_and_benjamini_hochberg_match_the_definitions() -> None:
    p = np.array([0.001, 0.04, 0.03, 0.2, 0.011, 0.5])
    assert adjust_p_values(p, Correction.bonferroni) == pytest.approx(np.minimum(p * 6, 1))
    # By hand: p * m / rank in rank order is .006 .033 .06 .06 .24 .5, then the step-up minimum.
    assert adjust_p_values(p, Correction.benjamini_hochberg) == pytest.approx(
        [0.006, 0.06, 0.06, 0.24, 0.033, 0.5]
    )
    assert adjust_p_values(p, Correction.none) == pytest.approx(p)


def test_correction_applies_to_p_value_tests_only() -> None:
    reference = {f"x{i}": _normal(i, 800) for i in range(5)}
    current = {f"x{i}": _normal(20 + i, 800, 0.12) for i in range(5)}
    profile = build_reference_profile(reference)
    plain = compute_data_drift(profile, current, DriftConfig(num_method=StatTestName.ks))
    corrected = compute_data_drift(
        profile, current, DriftConfig(num_method=StatTestName.ks, correction=Correction.bonferroni)
    )
    assert len(plain.columns) == 5
    for before, after in zip(plain.columns, corrected.columns, strict=True):
        assert after.adjusted_p_value == pytest.approx(min(1.0, 5 * (before.score or 0)))
    assert corrected.number_of_drifted_columns <= plain.number_of_drifted_columns
    distance = compute_data_drift(
        profile,
        current,
        DriftConfig(num_method=StatTestName.wasserstein, correction=Correction.bonferroni),
    )
    assert len(distance.columns) == 5
    assert all(c.adjusted_p_value is None for c in distance.columns)


def test_reference_chunk_thresholds_use_mean_plus_three_sigma() -> None:
    rng = np.random.default_rng(3)
    reference = {"x": rng.normal(size=20_000), "c": rng.choice(["a", "b", "c"], 20_000)}
    learnt = reference_chunk_thresholds(reference, chunks=10)
    x = learnt["x"]
    assert x.test is StatTestName.wasserstein and x.chunks == 10
    assert x.upper == pytest.approx(x.mean + 3 * x.std)
    profile = build_reference_profile(reference)
    current = {"x": rng.normal(0.05, 1, 2000), "c": rng.choice(["a", "b", "c"], 2000)}
    default = compute_data_drift(profile, current)
    learnt_result = compute_data_drift(profile, current, DriftConfig(chunk_thresholds=learnt))
    assert learnt_result.column("x").threshold == x.upper < default.column("x").threshold


def test_kinds_are_inferred_like_evidently() -> None:
    table = pa.table(
        {
            "f": [0.5, 1.5] * 10,
            "small_int": list(range(10)) * 2,
            "big_int": list(range(20)),
            "s": ["a", "b"] * 10,
            "b": [True, False] * 10,
        }
    )
    kinds = build_reference_profile(table).kinds
    assert kinds == {
        "f": ColumnKind.numerical,
        "small_int": ColumnKind.categorical,
        "big_int": ColumnKind.numerical,
        "s": ColumnKind.categorical,
        "b": ColumnKind.categorical,
    }


def test_heavy_libraries_are_not_imported_with_the_package() -> None:
    code = (
        "import sys, monitors.stats.drift, monitors.stats.quality, monitors.stats.performance, "
        "monitors.stats.fairness, monitors.stats.attribution, monitors.stats.profile_drift, "
        "monitors.stats.report, monitors.stats.correction\n"
        "heavy = {'evidently', 'fairlearn', 'shap', 'torch', 'sklearn'} & set(sys.modules)\n"
        "print(sorted(heavy))"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert output.returncode == 0, output.stderr
    assert output.stdout.strip() == "[]"


WINDOWS, WINDOW_ROWS = 200, 5000


@pytest.mark.slow
def test_calibration_family_wise_alarm_rate_on_no_drift_adult_resamples(
    adult: pd.DataFrame,
) -> None:
    table = pa.Table.from_pandas(adult, preserve_index=False)
    profile = build_reference_profile(table)
    assert all(profile.kinds[c] is ColumnKind.numerical for c in ADULT_NUMERIC)
    rng = np.random.default_rng(2024)
    corrected = DriftConfig(
        num_method=StatTestName.ks,
        cat_method=StatTestName.chisquare,
        correction=Correction.bonferroni,
    )
    any_corrected = any_raw = 0
    for _ in range(WINDOWS):
        rows = rng.choice(table.num_rows, WINDOW_ROWS, replace=False)
        result = compute_data_drift(profile, table.take(rows), corrected)
        any_corrected += result.number_of_drifted_columns > 0
        any_raw += any(c.score is not None and c.score < c.threshold for c in result.columns)
    corrected_rate, raw_rate = any_corrected / WINDOWS, any_raw / WINDOWS
    print(
        f"\ncalibration: {WINDOWS} windows of {WINDOW_ROWS} Adult rows, "
        f"{len(profile.columns)} columns (KS + chi-square): family-wise alarm rate "
        f"{corrected_rate:.3f} with Bonferroni, {raw_rate:.3f} uncorrected"
    )
    assert corrected_rate <= 0.05
    assert raw_rate >= corrected_rate


def test_reference_profile_round_trips_through_bytes_without_pickle(adult: pd.DataFrame) -> None:
    from monitors.stats.reference import profile_from_bytes, profile_to_bytes

    profile = build_reference_profile(adult)
    loaded = profile_from_bytes(profile_to_bytes(profile))
    current = adult.sample(4000, random_state=3)
    assert loaded.kinds == profile.kinds and loaded.types == profile.types
    assert compute_data_drift(loaded, current).to_dict() == (
        compute_data_drift(profile, current).to_dict()
    )
