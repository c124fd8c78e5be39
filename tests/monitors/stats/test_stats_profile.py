"""Profile mode: mergeable window summaries, exact where counts suffice, bounded error elsewhere."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from monitors.stats.drift import build_reference_profile, compute_data_drift
from monitors.stats.profile import (
    merge_profiles,
    profile_from_dict,
    profile_window,
    without_exact_values,
)
from monitors.stats.profile_drift import compute_profile_drift
from monitors.stats.schemas import DriftConfig, StatTestName


def _frames(seed: int, n: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    reference = {
        "x": rng.normal(size=n),
        "y": rng.exponential(size=n),
        "k": rng.integers(0, 30, n).astype(float),
        "c": rng.choice(["a", "b", "c"], n),
    }
    current = {
        "x": rng.normal(0.15, 1.1, n),
        "y": rng.exponential(1.05, n) + 0.2,
        "k": rng.integers(0, 32, n).astype(float),
        "c": rng.choice(["a", "b", "c", "d"], n, p=[0.3, 0.3, 0.3, 0.1]),
    }
    current["x"][:3] = [9.0, -9.0, np.nan]
    return reference, current


def test_partition_profiles_merge_to_the_whole_window_and_survive_json() -> None:
    reference, current = _frames(0, 20_000)
    profile = build_reference_profile(reference)
    whole = profile_window(profile, current)
    parts = [
        profile_window(profile, {k: v[i : i + 5000] for k, v in current.items()})
        for i in range(0, 20_000, 5000)
    ]
    merged = profile_from_dict(json.loads(json.dumps(merge_profiles(parts).to_dict())))
    assert merged.row_count == whole.row_count == 20_000
    exact = compute_profile_drift(profile, whole)
    from_parts = compute_profile_drift(profile, merged)
    assert len(exact.columns) == len(reference) == 4
    for left, right in zip(exact.columns, from_parts.columns, strict=True):
        assert left.score == pytest.approx(right.score, rel=1e-12)


def test_categorical_and_discrete_columns_are_exact_from_profiles() -> None:
    reference, current = _frames(1, 20_000)
    profile = build_reference_profile(reference)
    window = profile_window(profile, current)
    for method in (None, StatTestName.psi, StatTestName.ks):
        config = DriftConfig(num_method=method)
        raw = compute_data_drift(profile, current, config)
        summary = compute_profile_drift(profile, window, config)
        for name in ("k", "c"):
            assert summary.column(name).score == pytest.approx(raw.column(name).score, rel=1e-12)


@pytest.mark.parametrize(
    ("method", "tolerance"),
    [
        (StatTestName.wasserstein, 0.005),
        (StatTestName.jensenshannon, 0.01),
        (StatTestName.psi, 0.01),
        (StatTestName.energy, 0.01),
        (StatTestName.chebyshev, 0.01),
    ],
)
def test_continuous_columns_are_approximated_within_documented_error(
    method: StatTestName, tolerance: float
) -> None:
    reference, current = _frames(2, 50_000)
    profile = build_reference_profile(reference)
    config = DriftConfig(num_method=method)
    raw = compute_data_drift(profile, current, config)
    window = without_exact_values(profile_window(profile, current))
    summary = compute_profile_drift(profile, window, config)
    # continuous columns only: discrete ones keep exact value counts in practice
    for name in ("x", "y"):
        exact, approximate = raw.column(name), summary.column(name)
        assert approximate.score == pytest.approx(exact.score, abs=tolerance), name
        assert approximate.verdict is exact.verdict


def test_tests_without_a_binned_form_are_reported_unavailable() -> None:
    reference, current = _frames(3, 5000)
    profile = build_reference_profile(reference)
    window = without_exact_values(profile_window(profile, current))
    result = compute_profile_drift(profile, window, DriftConfig(num_method=StatTestName.anderson))
    assert result.column("x").notes == ("not_available_in_profile_mode",)
    assert result.column("x").score is None


def test_profile_drift_on_adult_matches_exact_verdicts(adult: pd.DataFrame) -> None:
    reference, current = adult.iloc[:16000], adult.iloc[16000:]
    profile = build_reference_profile(reference)
    raw = compute_data_drift(profile, current)
    summary = compute_profile_drift(profile, profile_window(profile, current))
    assert len(raw.columns) == len(adult.columns)
    for exact, approximate in zip(raw.columns, summary.columns, strict=True):
        assert approximate.verdict is exact.verdict
        assert approximate.score == pytest.approx(exact.score, abs=1e-3)
