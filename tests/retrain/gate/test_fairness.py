"""The gate's disparities match fairlearn; their bootstrap errors are honest and seeded."""

from __future__ import annotations

import numpy as np
import pytest
from fairlearn import metrics as flm
from sklearn.metrics import accuracy_score

from monitors.stats.fairness import compute_fairness, standard_error
from retrain.gate.fairness import cell_counts, check_limit, disparities
from retrain.gate.schemas import FAIRNESS_METRICS, FairnessLimit
from steward.demo.data import load_adult
from tests.retrain.test_artifacts_api import CATEGORICAL, NUMERIC, _pipeline

POSITIVE = ">50K"


@pytest.fixture(scope="module")
def scored() -> dict[str, np.ndarray]:
    table = load_adult().slice(0, 6000)
    model = _pipeline(table.slice(0, 2000))
    held = table.slice(2000)
    frame = held.select([*NUMERIC, *CATEGORICAL]).to_pandas()
    return {
        "truth": np.array(held.column("income").to_pylist()),
        "predicted": model.predict(frame),
        "sex": frame["sex"].to_numpy(),
        "race": frame["race"].to_numpy(),
    }


def _coded(values: np.ndarray) -> np.ndarray:
    return np.asarray(values == POSITIVE, dtype=np.int64)


@pytest.mark.parametrize("feature", ["sex", "race"])
def test_disparities_match_fairlearn_on_adult(scored: dict[str, np.ndarray], feature: str) -> None:
    truth, predicted = _coded(scored["truth"]), _coded(scored["predicted"])
    groups = scored[feature]
    expected = {
        "demographic_parity_difference": flm.demographic_parity_difference(
            truth, predicted, sensitive_features=groups
        ),
        "equalized_odds_difference": flm.equalized_odds_difference(
            truth, predicted, sensitive_features=groups
        ),
        "equal_opportunity_difference": flm.equal_opportunity_difference(
            truth, predicted, sensitive_features=groups
        ),
        "accuracy_difference": flm.MetricFrame(
            metrics=accuracy_score, y_true=truth, y_pred=predicted, sensitive_features=groups
        ).difference(),
    }
    for name in FAIRNESS_METRICS:
        limit = FairnessLimit(metric=name, sensitive_feature=feature, max_difference=1,
                              min_group_size=1)  # fmt: skip
        check = check_limit(limit, truth, predicted, groups, positive=1, seed=0, replicates=50)
        assert check.value == pytest.approx(expected[name], abs=1e-12), name


def test_the_bootstrap_error_agrees_with_the_delta_method_and_is_seeded(
    scored: dict[str, np.ndarray],
) -> None:
    truth, predicted, sex = _coded(scored["truth"]), _coded(scored["predicted"]), scored["sex"]
    limit = FairnessLimit(
        metric="demographic_parity_difference", sensitive_feature="sex", max_difference=1
    )
    first = check_limit(limit, truth, predicted, sex, positive=1, seed=7, replicates=2000)
    again = check_limit(limit, truth, predicted, sex, positive=1, seed=7, replicates=2000)
    assert first == again
    assert first.value is not None and first.standard_error is not None
    result = compute_fairness(truth, predicted, sensitive_features={"sex": sex})
    delta = standard_error(result, "demographic_parity_difference", 30)
    assert first.standard_error == pytest.approx(delta, rel=0.1)
    assert first.upper_bound == pytest.approx(first.value + 1.6448536 * first.standard_error)


def test_the_rule_needs_the_upper_bound_within_the_limit(scored: dict[str, np.ndarray]) -> None:
    truth, predicted, sex = _coded(scored["truth"]), _coded(scored["predicted"]), scored["sex"]

    def judged(limit: float) -> bool:
        spec = FairnessLimit(metric="demographic_parity_difference", sensitive_feature="sex",
                             max_difference=limit)  # fmt: skip
        return check_limit(spec, truth, predicted, sex, positive=1, seed=0, replicates=400).passed

    check = check_limit(
        FairnessLimit(metric="demographic_parity_difference", sensitive_feature="sex",
                      max_difference=1),
        truth, predicted, sex, positive=1, seed=0, replicates=400,
    )  # fmt: skip
    assert check.value is not None and check.upper_bound is not None
    assert not judged(check.value)  # the point estimate alone is not enough
    assert not judged((check.value + check.upper_bound) / 2)
    assert judged(check.upper_bound + 1e-9)


def test_too_few_groups_fail_the_limit() -> None:
    truth = np.array([1, 0, 1, 0] * 20)
    predicted = truth.copy()
    groups = np.array(["a"] * 70 + ["b"] * 10)
    limit = FairnessLimit(metric="accuracy_difference", sensitive_feature="g", max_difference=1)
    check = check_limit(limit, truth, predicted, groups, positive=1, seed=0, replicates=50)
    assert not check.passed and check.value is None and "fewer than two groups" in check.reason
    assert check.groups == {"a": 70, "b": 10}


def test_bootstrap_replicates_are_computed_like_the_point_estimate() -> None:
    rng = np.random.default_rng(1)
    truth, predicted = rng.integers(0, 2, 300), rng.integers(0, 2, 300)
    groups = rng.integers(0, 3, 300)
    cells = cell_counts(truth, predicted, groups, 3, 1)
    batch = np.stack([cells, cells])
    one, two = disparities(cells, np.arange(3)), disparities(batch, np.arange(3))
    for name, value in one.items():
        assert two[name].tolist() == [float(value)] * 2
