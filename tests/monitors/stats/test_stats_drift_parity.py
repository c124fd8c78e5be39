"""Drift scores, verdicts and automatic test choice equal evidently 0.7's on the same data."""

from __future__ import annotations

import evidently.legacy.calculations.stattests as ev_stattests
import numpy as np
import pandas as pd
import pytest
from evidently.legacy.calculations.stattests.registry import get_stattest
from evidently.legacy.core import ColumnType
from stats_data import ADULT_CATEGORICAL, ADULT_NUMERIC

from monitors.stats.drift import build_reference_profile, compute_data_drift
from monitors.stats.schemas import ColumnKind, DriftConfig, StatTestName, Verdict

TOL = {"rel": 1e-9, "abs": 1e-12}
EV_NAME = {StatTestName.tvd: "TVD"}
NUM, CAT = ColumnKind.numerical, ColumnKind.categorical
EV_TYPE = {NUM: ColumnType.Numerical, CAT: ColumnType.Categorical}
# A fixed seed per case: hash() of a string changes from one process to the next.
CASE_SEEDS = {
    "normal": 1,
    "normal_nan_inf": 2,
    "int15": 3,
    "int4": 4,
    "int2": 5,
    "skewed": 6,
    "cat": 7,
    "cat_missing": 8,
    "binary": 9,
}


def _case(name: str, n_ref: int, n_cur: int) -> tuple[pd.Series, pd.Series, ColumnKind]:
    rng = np.random.default_rng(CASE_SEEDS[name] * 100_000 + n_ref)
    if name == "normal":
        ref, cur = rng.normal(size=n_ref), rng.normal(0.1, 1.1, size=n_cur)
        return pd.Series(ref), pd.Series(cur), NUM
    if name == "normal_nan_inf":
        cur = rng.normal(0.05, size=n_cur)
        cur[:7] = np.nan
        cur[7:10] = np.inf
        cur[10] = -np.inf
        return pd.Series(rng.normal(size=n_ref)), pd.Series(cur), NUM
    if name == "int15":
        return (
            pd.Series(rng.integers(0, 15, n_ref)),
            pd.Series(rng.integers(1, 16, n_cur)),
            NUM,
        )
    if name == "int4":
        return pd.Series(rng.integers(0, 4, n_ref)), pd.Series(rng.integers(0, 4, n_cur)), NUM
    if name == "int2":
        return pd.Series(rng.integers(0, 2, n_ref)), pd.Series(rng.integers(0, 2, n_cur)), NUM
    if name == "skewed":
        return pd.Series(rng.exponential(size=n_ref)), pd.Series(rng.exponential(1.3, n_cur)), NUM
    if name == "cat":
        ref = rng.choice(["a", "b", "c", "d"], n_ref, p=[0.4, 0.3, 0.2, 0.1])
        cur = rng.choice(["a", "b", "c", "d", "e"], n_cur, p=[0.35, 0.3, 0.2, 0.1, 0.05])
        return pd.Series(ref, dtype=object), pd.Series(cur, dtype=object), CAT
    if name == "cat_missing":
        ref = rng.choice(["a", "b", "c"], n_ref).astype(object)
        cur = rng.choice(["a", "b"], n_cur).astype(object)
        cur[:5] = None
        return pd.Series(ref), pd.Series(cur), CAT
    if name == "binary":
        ref = rng.choice(["yes", "no"], n_ref, p=[0.3, 0.7])
        cur = rng.choice(["yes", "no"], n_cur, p=[0.36, 0.64])
        return pd.Series(ref, dtype=object), pd.Series(cur, dtype=object), CAT
    raise ValueError(name)


def _clean(series: pd.Series) -> pd.Series:
    return series.replace([-np.inf, np.inf], np.nan).dropna()


def _ours(ref: pd.Series, cur: pd.Series, kind: ColumnKind, method: StatTestName | None):
    profile = build_reference_profile(pd.DataFrame({"x": ref}), kinds={"x": kind})
    config = DriftConfig(method=method, min_sample_size=1, max_workers=1)
    return compute_data_drift(profile, pd.DataFrame({"x": cur}), config).column("x")


def _evidently(ref: pd.Series, cur: pd.Series, kind: ColumnKind, method: StatTestName | None):
    ref, cur = _clean(ref), _clean(cur)
    ev_method = None if method is None else EV_NAME.get(method, method.value)
    test = get_stattest(ref, cur, EV_TYPE[kind], ev_method)
    return test.name, test(ref.copy(), cur.copy(), EV_TYPE[kind], None)


NUMERIC_CASES = ["normal", "normal_nan_inf", "int15", "skewed"]
NUMERIC_TESTS = ["ks", "wasserstein", "psi", "jensenshannon", "hellinger", "anderson", "ed"]
CATEGORICAL_CASES = ["cat", "cat_missing", "binary"]
CATEGORICAL_TESTS = ["chisquare", "jensenshannon", "psi", "hellinger"]


@pytest.mark.parametrize("sizes", [(600, 700), (3000, 2500)], ids=["small", "large"])
@pytest.mark.parametrize(
    ("case", "method"),
    [(c, m) for c in NUMERIC_CASES for m in NUMERIC_TESTS]
    + [(c, m) for c in CATEGORICAL_CASES for m in CATEGORICAL_TESTS]
    + [("binary", "z")],
)
def test_each_test_matches_evidently(case: str, method: str, sizes: tuple[int, int]) -> None:
    ref, cur, kind = _case(case, *sizes)
    ours = _ours(ref, cur, kind, StatTestName(method))
    _, expected = _evidently(ref, cur, kind, StatTestName(method))
    assert ours.score == pytest.approx(float(expected.drift_score), **TOL)
    assert ours.threshold == expected.actual_threshold
    assert ours.drifted == bool(expected.drifted)


@pytest.mark.parametrize("sizes", [(400, 500), (1000, 300), (1001, 300), (5000, 4000)])
@pytest.mark.parametrize(
    "case", ["normal", "normal_nan_inf", "int15", "int4", "int2", "cat", "cat_missing", "binary"]
)
def test_automatic_choice_matches_evidently(case: str, sizes: tuple[int, int]) -> None:
    ref, cur, kind = _case(case, *sizes)
    ours = _ours(ref, cur, kind, None)
    name, expected = _evidently(ref, cur, kind, None)
    assert EV_NAME.get(ours.test, ours.test.value) == name
    assert ours.score == pytest.approx(float(expected.drift_score), **TOL)
    assert ours.threshold == expected.actual_threshold
    assert ours.drifted == bool(expected.drifted)


def test_tvd_is_a_permutation_p_value_close_to_evidently() -> None:
    # evidently's permutations depend on row order, which counts do not keep: same law, not bits
    ref, cur, kind = _case("cat", 150, 120)
    ours = _ours(ref, cur, kind, StatTestName.tvd)
    _, expected = _evidently(ref, cur, kind, StatTestName.tvd)
    assert ours.score == pytest.approx(float(expected.drift_score), abs=0.06)


def _adult_parity(reference: pd.DataFrame, current: pd.DataFrame) -> None:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(
        numerical_columns=ADULT_NUMERIC, categorical_columns=ADULT_CATEGORICAL
    )
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    metrics = snapshot.dict()["metrics"]
    profile = build_reference_profile(reference)
    assert {c: profile.kinds[c] for c in ADULT_NUMERIC} == dict.fromkeys(ADULT_NUMERIC, NUM)
    result = compute_data_drift(profile, current, DriftConfig(min_sample_size=1))
    names = _display_to_name()
    assert len(metrics) == 1 + len(reference.columns)  # the drifted count, then one per column
    for metric in metrics[1:]:
        column = result.column(metric["config"]["column"])
        assert column.test.value == names[metric["config"]["method"]]
        assert column.score == pytest.approx(metric["value"], **TOL)
        assert column.threshold == metric["config"]["threshold"]
    counted = metrics[0]["value"]
    assert result.number_of_drifted_columns == counted["count"]
    assert result.share_of_drifted_columns == pytest.approx(counted["share"], **TOL)


def _display_to_name() -> dict[str, str]:
    return {
        t.display_name: t.name
        for t in (
            ev_stattests.ks_stat_test,
            ev_stattests.wasserstein_stat_test,
            ev_stattests.jensenshannon_stat_test,
            ev_stattests.chi_stat_test,
            ev_stattests.z_stat_test,
        )
    }


def test_adult_reference_above_1000_matches_data_drift_preset(
    adult: pd.DataFrame, adult_test: pd.DataFrame
) -> None:
    _adult_parity(adult, adult_test)


def test_adult_reference_below_1000_matches_evidently(
    adult: pd.DataFrame, adult_test: pd.DataFrame
) -> None:
    reference, current = adult.sample(900, random_state=1), adult_test.sample(700, random_state=2)
    profile = build_reference_profile(reference)
    result = compute_data_drift(profile, current, DriftConfig(min_sample_size=1))
    for column in result.columns:
        kind = profile.kinds[column.column]
        name, expected = _evidently(reference[column.column], current[column.column], kind, None)
        assert column.test.value == name
        assert column.score == pytest.approx(float(expected.drift_score), **TOL)
        assert column.drifted == bool(expected.drifted)
    assert {c.test for c in result.columns} >= {StatTestName.ks, StatTestName.chisquare}


def test_identical_samples_do_not_drift(adult: pd.DataFrame) -> None:
    profile = build_reference_profile(adult)
    result = compute_data_drift(profile, adult)
    assert result.number_of_columns == len(adult.columns)
    assert result.number_of_drifted_columns == 0
    assert all(c.verdict is Verdict.no_drift for c in result.columns)


@pytest.mark.parametrize("method", [None, StatTestName.ks])
def test_half_sigma_mean_shift_on_10k_rows_is_flagged(method: StatTestName | None) -> None:
    rng = np.random.default_rng(7)
    reference = {"x": rng.normal(size=10_000)}
    current = {"x": rng.normal(0.5, size=10_000)}
    column = compute_data_drift(
        build_reference_profile(reference), current, DriftConfig(method=method)
    ).column("x")
    assert column.verdict is Verdict.drift
