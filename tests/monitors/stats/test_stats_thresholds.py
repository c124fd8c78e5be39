"""Reference-chunk thresholds at small windows, on Adult (train as reference, test as windows)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from stats_data import ADULT_COLUMNS, ADULT_NUMERIC

from monitors.stats.drift import compute_data_drift
from monitors.stats.reference import build_reference_profile
from monitors.stats.schemas import (
    DriftConfig,
    Preset,
    ScoreKind,
    StatTestName,
    ThresholdSource,
)
from monitors.stats.thresholds import (
    MAX_CHUNKS,
    MIN_CHUNKS,
    SMALL_WINDOW_ROWS,
    ChunkThresholdCache,
    chunk_rows,
    reference_chunks,
    small_window_thresholds,
)

FEATURES = [c for c in ADULT_COLUMNS if c != "income"]


@pytest.fixture(scope="module")
def reference(adult: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(adult[FEATURES], preserve_index=False)


@pytest.fixture(scope="module")
def pool(adult_test: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(adult_test[FEATURES], preserve_index=False)


def _windows(pool: pa.Table, rows: int, count: int, seed: int = 0) -> list[pa.Table]:
    rng = np.random.default_rng(seed)
    return [pool.take(rng.choice(pool.num_rows, rows, replace=False)) for _ in range(count)]


def test_window_sizes_bucket_down_a_ladder_of_ratio_one_and_a_quarter() -> None:
    sizes = [chunk_rows(n) for n in range(30, SMALL_WINDOW_ROWS)]
    assert all(s <= n for s, n in zip(sizes, range(30, SMALL_WINDOW_ROWS), strict=True))
    assert all(n / s < 1.25 for s, n in zip(sizes, range(30, SMALL_WINDOW_ROWS), strict=True))
    assert len(set(sizes)) == 16  # a backfill of varying windows learns a few sizes, not 970
    assert {chunk_rows(n) for n in range(59, 74)} == {59}


def test_chunks_are_disjoint_runs_of_rows_sampled_with_a_fixed_seed(reference: pa.Table) -> None:
    numbered = reference.append_column("row", pa.array(np.arange(reference.num_rows)))
    chunks = reference_chunks(numbered, 59)
    assert len(chunks) == MAX_CHUNKS  # 32,561 rows hold 551 chunks of 59: 50 are drawn
    starts = [c["row"][0].as_py() for c in chunks]
    runs = zip(chunks, starts, strict=True)
    assert all(c["row"].to_pylist() == list(range(s, s + 59)) for c, s in runs)
    assert starts == sorted(set(starts)) and all(s % 59 == 0 for s in starts)
    assert starts == [c["row"][0].as_py() for c in reference_chunks(numbered, 59)]
    assert len(reference_chunks(numbered.slice(0, 590), 59)) == 10  # all of a small reference


def test_small_windows_are_judged_against_reference_chunks(
    reference: pa.Table, pool: pa.Table
) -> None:
    profile = build_reference_profile(reference)
    cache = ChunkThresholdCache()
    fixed_alarms = learnt_alarms = 0
    for window in _windows(pool, 60, 30):
        fixed = compute_data_drift(profile, window)
        learnt, how = small_window_thresholds(profile, reference, fixed, DriftConfig(), cache)
        # evidently's defaults on a 32,561-row reference: distances for every column
        assert all(c.score_kind is ScoreKind.distance for c in fixed.columns)
        assert all(c.threshold_source is ThresholdSource.reference_chunks for c in learnt.columns)
        assert (how.chunk_rows, how.chunks, how.reason) == (59, MAX_CHUNKS, None)
        fixed_alarms += fixed.number_of_drifted_columns > 0
        learnt_alarms += learnt.number_of_drifted_columns > 0
    # the 0.1 cut-offs alarm on nearly every unshifted window; the learnt bands rarely
    assert fixed_alarms >= 27 and learnt_alarms <= 6, (fixed_alarms, learnt_alarms)
    assert cache.learnt == 1  # one window size: learnt once


def test_the_learnt_band_still_detects_a_shift(reference: pa.Table, pool: pa.Table) -> None:
    profile = build_reference_profile(reference, columns=ADULT_NUMERIC)
    config = DriftConfig(method=StatTestName.wasserstein, columns=tuple(ADULT_NUMERIC))
    sigma = float(np.nanstd(reference["age"].to_numpy()))
    caught = 0
    for window in _windows(pool, 500, 20, seed=1):
        age = pa.compute.add(pa.compute.cast(window["age"], pa.float64()), sigma)
        shifted = window.set_column(window.schema.get_field_index("age"), "age", age)
        fixed = compute_data_drift(profile, shifted, config)
        learnt, _ = small_window_thresholds(profile, reference, fixed, config)
        caught += learnt.column("age").drifted
    assert caught == 20


def test_fixed_cut_offs_stay_where_they_were_calibrated(
    reference: pa.Table, pool: pa.Table
) -> None:
    profile = build_reference_profile(reference)
    cache = ChunkThresholdCache()
    (large,) = _windows(pool, SMALL_WINDOW_ROWS, 1)
    fixed = compute_data_drift(profile, large)
    same, how = small_window_thresholds(profile, reference, fixed, DriftConfig(), cache)
    assert same is fixed and "not small" in (how.reason or "")
    (small,) = _windows(pool, 60, 1)
    # a threshold the configuration sets is the user's: kept
    chosen = DriftConfig(threshold=0.3)
    fixed = compute_data_drift(profile, small, chosen)
    same, how = small_window_thresholds(profile, reference, fixed, chosen, cache)
    assert same is fixed and "default cut-off" in (how.reason or "")
    # p-values (the steward preset's KS and chi-square) have no cut-off to replace
    ks = DriftConfig(preset=Preset.steward)
    fixed = compute_data_drift(profile, small, DriftConfig(num_method=StatTestName.ks))
    assert small_window_thresholds(profile, reference, fixed, ks, cache)[0] is fixed
    assert cache.learnt == 0


def test_a_reference_too_short_for_enough_chunks_keeps_the_fixed_cut_off(
    reference: pa.Table, pool: pa.Table
) -> None:
    short = reference.slice(0, 59 * MIN_CHUNKS - 1)
    profile = build_reference_profile(short)
    (window,) = _windows(pool, 60, 1)
    fixed = compute_data_drift(profile, window, DriftConfig(preset=Preset.azure))
    same, how = small_window_thresholds(profile, short, fixed, DriftConfig(preset=Preset.azure))
    assert same is fixed
    assert how.chunks == MIN_CHUNKS - 1 and how.reason is not None
    assert "fewer than 5" in how.reason


def test_the_cache_is_keyed_by_reference_columns_tests_and_size_and_bounded(
    reference: pa.Table, pool: pa.Table
) -> None:
    cache = ChunkThresholdCache(size=2)
    profile = build_reference_profile(reference, columns=["age", "race"])
    (window,) = _windows(pool, 80, 1)
    both = DriftConfig(columns=("age", "race"))
    for rows, config in [
        (80, both),
        (77, both),  # same bucket (74)
        (80, DriftConfig(columns=("race",))),  # other columns
        (80, replace(both, num_method=StatTestName.hellinger)),  # other tests
        (60, both),  # other size
    ]:
        fixed = compute_data_drift(profile, window.slice(0, rows), config)
        small_window_thresholds(profile, reference, fixed, config, cache)
    assert cache.learnt == 4
    other = build_reference_profile(reference, columns=["age", "race"])  # its own thresholds
    fixed = compute_data_drift(other, window.slice(0, 60), both)
    small_window_thresholds(other, reference, fixed, both, cache)
    assert cache.learnt == 5 and len(cache.cache) == 2
