"""The statistics of evaluation runs against scipy and hand-computed numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from retrain.evaluation.stats import (
    bootstrap_interval,
    compare_pair,
    compare_variants,
    holm,
    summarize,
)
from retrain.evaluation.step import summarize_rows


def test_summary_matches_hand_computed_numbers() -> None:
    s = summarize([1.0, 2.0, 3.0, 4.0, 5.0])
    assert (s.n, s.failures, s.mean) == (5, 0, 3.0)
    assert s.std == pytest.approx(math.sqrt(2.5))
    half = 2.7764451051977987 * math.sqrt(2.5) / math.sqrt(5)  # t(0.975, 4) * sd / sqrt(n)
    assert s.ci_low == pytest.approx(3 - half) and s.ci_high == pytest.approx(3 + half)
    assert s.bootstrap_low is not None and s.bootstrap_high is not None
    assert 1.0 <= s.bootstrap_low < 3.0 < s.bootstrap_high <= 5.0


def test_unscored_rows_are_counted_never_zero_filled() -> None:
    s = summarize([5.0, None, 5.0, None, 3.0])
    assert (s.n, s.failures) == (3, 2)
    assert s.mean == pytest.approx(13 / 3)  # zero-filled it would be 13 / 5
    empty = summarize([None, None])
    assert (empty.n, empty.failures, empty.mean, empty.ci_low) == (0, 2, None, None)


def test_bootstrap_is_seeded_and_covers_the_mean() -> None:
    data = np.random.default_rng(3).integers(1, 6, size=40).astype(float).tolist()
    assert bootstrap_interval(data) == bootstrap_interval(data)
    low, high = bootstrap_interval(data)
    assert low < float(np.mean(data)) < high


def test_paired_tests_match_scipy() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(3.0, 1.0, size=30)
    b = a + rng.normal(0.4, 0.5, size=30)
    pair = compare_pair("relevance", "A", "B", a.tolist(), b.tolist())
    assert pair.t_p == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert pair.wilcoxon_p == pytest.approx(stats.wilcoxon(a, b).pvalue)
    diff = a - b
    assert pair.mean_difference == pytest.approx(diff.mean())
    low, high = stats.t.interval(0.95, 29, loc=diff.mean(), scale=stats.sem(diff))
    assert pair.ci_low == pytest.approx(low) and pair.ci_high == pytest.approx(high)
    assert pair.winner == "B"


def test_a_clearly_better_variant_is_significant() -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(1, 4, size=30).astype(float)
    b = np.minimum(a + 2, 5.0)
    [pair] = compare_variants("coherence", {"A": a.tolist(), "B": b.tolist()})
    assert pair.winner == "B" and pair.significant
    assert pair.t_p is not None and pair.t_p < 1e-6


def test_identical_variants_are_not_significant() -> None:
    a = np.random.default_rng(2).integers(1, 6, size=30).astype(float).tolist()
    [pair] = compare_variants("fluency", {"A": a, "B": list(a)})
    assert not pair.significant and pair.winner is None
    assert (pair.t_p, pair.wilcoxon_p, pair.mean_difference) == (1.0, 1.0, 0.0)


def test_pairing_finds_a_small_consistent_difference_an_unpaired_test_misses() -> None:
    rng = np.random.default_rng(4)
    base = rng.normal(0.5, 0.2, size=30)  # rows differ a lot in difficulty
    a = base
    b = base + 0.03 + rng.normal(0, 0.01, size=30)  # B is a little better on every row
    assert stats.ttest_ind(a, b).pvalue > 0.05  # unpaired: lost in the rows' spread
    [pair] = compare_variants("similarity", {"A": a.tolist(), "B": b.tolist()})
    assert pair.significant and pair.winner == "B"


def test_pairs_use_only_rows_both_variants_scored() -> None:
    a = [1.0, 2.0, None, 4.0, 5.0]
    b = [2.0, None, 3.0, 5.0, 6.5]
    pair = compare_pair("relevance", "A", "B", a, b)
    assert pair.n == 3
    assert pair.t_p == pytest.approx(stats.ttest_rel([1, 4, 5], [2, 5, 6.5]).pvalue)


def test_holm_matches_the_step_down_by_hand() -> None:
    assert holm([0.01, 0.04, 0.03, None]) == [
        pytest.approx(0.03),
        pytest.approx(0.06),
        pytest.approx(0.06),
        None,
    ]
    assert holm([0.5, 0.9]) == [pytest.approx(1.0), pytest.approx(1.0)]


def test_more_than_two_variants_are_holm_corrected() -> None:
    rng = np.random.default_rng(5)
    a = rng.normal(3, 1, size=25)
    scores = {
        "A": a.tolist(),
        "B": (a + rng.normal(0.3, 0.6, 25)).tolist(),
        "C": (a + rng.normal(0.0, 0.6, 25)).tolist(),
    }
    pairs = compare_variants("relevance", scores)
    assert [(p.a, p.b) for p in pairs] == [("A", "B"), ("A", "C"), ("B", "C")]
    expected = holm([p.t_p for p in pairs])
    assert [p.p_adjusted for p in pairs] == expected
    assert all(
        p.p_adjusted is not None and p.t_p is not None and p.p_adjusted >= p.t_p for p in pairs
    )


def test_summarize_rows_aggregates_per_variant_and_evaluator() -> None:
    table = [
        {"row": i, "variant": v, "score_relevance": s}
        for i in range(6)
        for v, s in (("A", 2.0 + i % 2), ("B", None if i == 0 else 4.0 + i % 2))
    ]
    out = summarize_rows(table, variants=["A", "B"], evaluators=["relevance"], alpha=0.05)
    aggregates = {a["variant"]: a for a in out["aggregates"]}
    assert (aggregates["A"]["n"], aggregates["A"]["failures"]) == (6, 0)
    assert (aggregates["B"]["n"], aggregates["B"]["failures"]) == (5, 1)
    [comparison] = out["comparisons"]
    assert comparison["n"] == 5 and comparison["winner"] == "B"


def test_a_sample_is_drawn_at_random_and_the_same_for_the_same_run() -> None:
    import uuid
    from types import SimpleNamespace

    import pyarrow as pa

    from retrain.evaluation.execute import _sampled

    table = pa.table({"i": list(range(1000))})
    run = SimpleNamespace(id=uuid.UUID(int=12345), sample=50)
    picked = _sampled(table, run).column("i").to_pylist()  # type: ignore[arg-type]
    assert len(picked) == 50 == len(set(picked))
    assert picked == sorted(picked) and picked != list(range(50))  # in order, not the first 50
    assert max(picked) > 500
    again = _sampled(table, run).column("i").to_pylist()  # type: ignore[arg-type]
    assert again == picked
    other = SimpleNamespace(id=uuid.UUID(int=54321), sample=50)
    assert _sampled(table, other).column("i").to_pylist() != picked  # type: ignore[arg-type]
    small = SimpleNamespace(id=run.id, sample=2000)
    assert _sampled(table, small).num_rows == 1000  # type: ignore[arg-type]
