"""Fairness metrics equal fairlearn's MetricFrame and a hand-computed example."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from monitors.stats.fairness import FairnessThresholds, compute_fairness
from monitors.stats.schemas import Verdict

TOL = {"rel": 1e-12, "abs": 1e-12}


def test_toy_example_matches_hand_computation() -> None:
    # group a: 4 rows, truth 1 1 0 0, predictions 1 0 1 0 -> selection 0.5, TPR 0.5, FPR 0.5
    # group b: 4 rows, truth 1 1 0 0, predictions 1 1 1 1 -> selection 1.0, TPR 1.0, FPR 1.0
    truth = [1, 1, 0, 0, 1, 1, 0, 0]
    predicted = [1, 0, 1, 0, 1, 1, 1, 1]
    group = ["a"] * 4 + ["b"] * 4
    result = compute_fairness(
        truth,
        predicted,
        sensitive_features={"group": group},
        thresholds=FairnessThresholds(min_group_size=1),
    )
    a, b = result.groups
    assert (a.group, a.selection_rate, a.true_positive_rate, a.false_positive_rate) == (
        ("a",),
        0.5,
        0.5,
        0.5,
    )
    assert (b.selection_rate, b.accuracy, b.precision) == (1.0, 0.5, 0.5)
    assert result.demographic_parity_difference == 0.5
    assert result.demographic_parity_ratio == 0.5
    assert result.equalized_odds_difference == 0.5
    assert result.equalized_odds_ratio == 0.5
    assert not result.four_fifths_rule_passed
    assert result.alerts == ("demographic_parity_ratio",)
    assert result.verdict is Verdict.drift
    json.dumps(result.to_dict(), allow_nan=False)


def _adult_predictions(adult: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    truth = (adult["income"] == ">50K").to_numpy().astype(int)
    predicted = ((adult["education-num"] >= 13) | (adult["capital-gain"] > 5000)).to_numpy()
    return truth, predicted.astype(int)


@pytest.mark.parametrize("features", [["sex"], ["race"], ["sex", "race"]])
def test_adult_groups_and_disparities_equal_fairlearn(
    adult: pd.DataFrame, features: list[str]
) -> None:
    from fairlearn import metrics as fm
    from sklearn.metrics import accuracy_score, precision_score

    truth, predicted = _adult_predictions(adult)
    sensitive = adult[features]
    frame = fm.MetricFrame(
        metrics={
            "selection_rate": fm.selection_rate,
            "accuracy": accuracy_score,
            "true_positive_rate": fm.true_positive_rate,
            "false_positive_rate": fm.false_positive_rate,
            "precision": precision_score,
        },
        y_true=truth,
        y_pred=predicted,
        sensitive_features=sensitive,
    )
    result = compute_fairness(
        truth,
        predicted,
        sensitive_features={f: adult[f].to_numpy() for f in features},
        thresholds=FairnessThresholds(min_group_size=0),
    )
    expected = frame.by_group
    assert len(result.groups) == len(expected)
    for group, (index, row) in zip(result.groups, expected.iterrows(), strict=True):
        assert group.group == (index if isinstance(index, tuple) else (index,))
        for name, value in row.items():
            assert getattr(group, str(name)) == pytest.approx(value, **TOL)
    kwargs = {"sensitive_features": sensitive}
    assert result.demographic_parity_difference == pytest.approx(
        fm.demographic_parity_difference(truth, predicted, **kwargs), **TOL
    )
    assert result.demographic_parity_ratio == pytest.approx(
        fm.demographic_parity_ratio(truth, predicted, **kwargs), **TOL
    )
    assert result.equalized_odds_difference == pytest.approx(
        fm.equalized_odds_difference(truth, predicted, **kwargs), **TOL
    )
    assert result.equalized_odds_ratio == pytest.approx(
        fm.equalized_odds_ratio(truth, predicted, **kwargs), **TOL
    )


def test_small_groups_are_reported_but_never_alerted_on(adult: pd.DataFrame) -> None:
    truth, predicted = _adult_predictions(adult)
    race = adult["race"].to_numpy()
    limits = FairnessThresholds(min_group_size=1100, demographic_parity_ratio=0.5)
    result = compute_fairness(
        truth, predicted, sensitive_features={"race": race}, thresholds=limits
    )
    small = {g.group[0] for g in result.groups if g.small}
    assert small == {"Amer-Indian-Eskimo", "Asian-Pac-Islander", "Other"}
    large = [g.selection_rate for g in result.groups if not g.small]
    assert result.demographic_parity_difference == pytest.approx(max(large) - min(large))


def test_fairness_regression_against_a_baseline_is_alerted() -> None:
    rng = np.random.default_rng(5)
    group = rng.choice(["a", "b"], 4000)
    truth = rng.integers(0, 2, 4000)
    fair = (rng.random(4000) < 0.5).astype(int)
    unfair = (rng.random(4000) < np.where(group == "a", 0.6, 0.45)).astype(int)
    limits = FairnessThresholds(demographic_parity_ratio=None, regression_tolerance=0.05)
    baseline = compute_fairness(truth, fair, sensitive_features={"g": group}, thresholds=limits)
    current = compute_fairness(
        truth, unfair, sensitive_features={"g": group}, thresholds=limits, baseline=baseline
    )
    assert baseline.verdict is Verdict.no_drift
    assert "demographic_parity_difference_regression" in current.alerts
    assert current.verdict is Verdict.drift


def test_a_single_large_group_is_insufficient_data() -> None:
    result = compute_fairness([1, 0] * 50, [1, 1] * 50, sensitive_features={"g": ["x"] * 100})
    assert result.verdict is Verdict.insufficient_data


def test_german_credit_by_sex_and_age_band_equals_fairlearn(german: pd.DataFrame) -> None:
    from fairlearn import metrics as fm

    truth = german["risk"].to_numpy()
    predicted = (german["credit_amount"] < 4000).to_numpy().astype(int)
    age_band = np.where(german["age"] < 30, "young", "older")
    sensitive = {"sex": german["sex"].to_numpy(), "age": age_band}
    result = compute_fairness(
        truth,
        predicted,
        sensitive_features=sensitive,
        thresholds=FairnessThresholds(min_group_size=0),
    )
    frame = pd.DataFrame(sensitive)
    assert result.demographic_parity_ratio == pytest.approx(
        fm.demographic_parity_ratio(truth, predicted, sensitive_features=frame), **TOL
    )
    assert result.equalized_odds_difference == pytest.approx(
        fm.equalized_odds_difference(truth, predicted, sensitive_features=frame), **TOL
    )
    assert len(result.groups) == 4
