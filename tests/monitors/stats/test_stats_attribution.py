"""Feature-attribution drift: SHAP importances equal shap's, NDCG equals sklearn's."""

from __future__ import annotations

import math

import numpy as np
import pytest

from monitors.stats.attribution import (
    ExplainerKind,
    compute_attribution_drift,
    compute_feature_importance,
    explainer_kind,
    ndcg,
    permutation_shap_values,
    surrogate_importance,
)
from monitors.stats.schemas import Verdict

FEATURES = ["a", "b", "c", "d"]


def _data(seed: int = 0, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, 4))
    return features, (features[:, 0] + 0.4 * features[:, 1] > 0).astype(int)


@pytest.mark.parametrize("top_n", [2, 3, 5, 8])
def test_ndcg_equals_sklearn_ndcg_score(top_n: int) -> None:
    from sklearn.metrics import ndcg_score

    rng = np.random.default_rng(top_n)
    reference = rng.random(8)
    current = reference + rng.normal(0, 0.2, 8)
    current[3] = current[5]  # a tie, which sklearn averages
    names = [f"f{i}" for i in range(8)]
    ours = ndcg(
        dict(zip(names, reference, strict=True)), dict(zip(names, current, strict=True)), top_n
    )
    assert ours == pytest.approx(ndcg_score([reference], [current], k=top_n), rel=1e-12)


def test_ndcg_of_a_tie_shares_the_mean_relevance_of_the_tied_features() -> None:
    # a and b tie first: each counts (3 + 2) / 2 at positions 1 and 2, c counts 1 at position 3
    discounts = [1.0, 1 / math.log2(3), 0.5]
    dcg = 2.5 * (discounts[0] + discounts[1]) + 1.0 * discounts[2]
    ideal = 3.0 * discounts[0] + 2.0 * discounts[1] + 1.0 * discounts[2]
    score = ndcg({"a": 3.0, "b": 2.0, "c": 1.0}, {"a": 1.0, "b": 1.0, "c": 0.0}, 3)
    assert score == pytest.approx(dcg / ideal, rel=1e-12)
    # cut at 1: only the tie's first position counts, with the tie's mean relevance
    top1 = ndcg({"a": 3.0, "b": 2.0, "c": 1.0}, {"a": 1.0, "b": 1.0, "c": 0.0}, 1)
    assert top1 == pytest.approx(2.5 / 3.0, rel=1e-12)


def test_ndcg_where_no_ranking_can_be_wrong_is_one() -> None:
    assert ndcg({"a": 0.4}, {"a": 0.0}, 1) == 1.0  # sklearn refuses a single feature
    assert ndcg({"a": 0.0, "b": 0.0}, {"a": 1.0, "b": 0.5}, 2) == 1.0  # sklearn says 0.0
    assert ndcg({"a": 0.2, "b": 0.1}, {"b": 1.0, "a": 0.5}, 0) == 1.0
    assert ndcg({"a": 0.2, "b": 0.1}, {"b": 1.0}, 2) < 1.0  # a missing feature scores 0


def test_identical_rankings_do_not_drift_and_reversed_rankings_do() -> None:
    reference = {"a": 0.5, "b": 0.3, "c": 0.15, "d": 0.05}
    same = compute_attribution_drift(reference, {k: 2 * v for k, v in reference.items()})
    assert same.ndcg == pytest.approx(1.0) and same.verdict is Verdict.no_drift
    reversed_ranking = {"a": 0.05, "b": 0.15, "c": 0.3, "d": 0.5}
    moved = compute_attribution_drift(reference, reversed_ranking, top_n=2)
    assert moved.ndcg < 0.9 and moved.verdict is Verdict.drift
    assert moved.reference_top == ("a", "b") and moved.current_top == ("d", "c")


def test_tree_model_importances_equal_shap_tree_explainer() -> None:
    import shap
    from sklearn.ensemble import GradientBoostingClassifier

    features, target = _data()
    model = GradientBoostingClassifier(n_estimators=20, random_state=0).fit(features, target)
    result = compute_feature_importance(model, features, feature_names=FEATURES, max_samples=400)
    expected = np.abs(shap.TreeExplainer(model).shap_values(features)).mean(axis=0)
    assert result.explainer is ExplainerKind.tree
    assert list(result.importances.values()) == pytest.approx(expected.tolist(), rel=1e-12)
    assert result.ranking()[:2] == ("a", "b")


def test_samples_are_bounded() -> None:
    from sklearn.ensemble import RandomForestRegressor

    features, target = _data(1, 3000)
    model = RandomForestRegressor(n_estimators=5, max_depth=4, random_state=0)
    model.fit(features, target)
    result = compute_feature_importance(model, features, feature_names=FEATURES, max_samples=200)
    assert result.rows == 200 and result.ranking()[0] == "a"


def test_other_models_use_the_permutation_explainer() -> None:
    from sklearn.linear_model import LogisticRegression

    features, target = _data(2)
    model = LogisticRegression().fit(features, target)
    assert explainer_kind(model) is ExplainerKind.permutation
    result = compute_feature_importance(
        model, features, feature_names=FEATURES, max_samples=40, max_background=20
    )
    assert result.ranking()[:2] == ("a", "b")


def test_torch_models_use_the_gradient_explainer() -> None:
    import torch

    torch.manual_seed(0)
    features, _ = _data(3)
    model = torch.nn.Linear(4, 1)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[3.0, 1.0, 0.1, 0.0]]))
        model.bias.zero_()
    assert explainer_kind(model) is ExplainerKind.gradient
    result = compute_feature_importance(model, features, feature_names=FEATURES, max_samples=100)
    assert result.explainer is ExplainerKind.gradient
    assert result.ranking() == ("a", "b", "c", "d")


def test_attribution_drift_between_two_windows_of_a_model() -> None:
    from sklearn.ensemble import GradientBoostingRegressor

    features, _ = _data(4, 600)
    target = features[:, 0] + 0.5 * features[:, 1] + 0.1 * features[:, 2]
    model = GradientBoostingRegressor(n_estimators=30, random_state=0).fit(features, target)
    reference = compute_feature_importance(model, features, feature_names=FEATURES)
    shifted = features.copy()
    shifted[:, 0] = 0.0  # production loses the signal of the top feature
    current = compute_feature_importance(model, shifted, feature_names=FEATURES)
    result = compute_attribution_drift(reference, current)
    assert result.verdict is Verdict.drift
    assert compute_attribution_drift(reference, reference).verdict is Verdict.no_drift


def test_a_surrogate_of_a_models_scores_ranks_what_the_model_reads() -> None:
    from sklearn.linear_model import LogisticRegression

    features, target = _data(5, 1500)
    model = LogisticRegression().fit(features, target)
    scores = model.predict_proba(features)[:, 1]
    found = surrogate_importance(features, scores, feature_names=FEATURES, classify=False)
    assert found.fidelity_metric == "r2" and found.fidelity > 0.9
    assert found.importance.explainer is ExplainerKind.surrogate
    assert found.importance.ranking()[:2] == ("a", "b")
    classes = np.where(model.predict(features) == 1, "yes", "no")
    found = surrogate_importance(features, classes, feature_names=FEATURES, classify=True)
    assert found.fidelity_metric == "balanced_accuracy" and found.fidelity > 0.85
    assert found.importance.ranking()[:2] == ("a", "b")


def test_a_surrogate_of_outputs_the_features_do_not_explain_has_low_fidelity() -> None:
    features, _ = _data(6, 1000)
    noise = np.random.default_rng(7).normal(size=1000)
    found = surrogate_importance(features, noise, feature_names=FEATURES, classify=False)
    assert found.fidelity < 0.1
    coin = np.random.default_rng(8).integers(0, 2, 1000)
    found = surrogate_importance(features, coin, feature_names=FEATURES, classify=True)
    assert 0.35 < found.fidelity < 0.65


def test_surrogate_samples_are_bounded_and_seeded() -> None:
    features, target = _data(9, 3000)
    found = surrogate_importance(
        features, target, feature_names=FEATURES, classify=True, max_rows=400
    )
    assert (found.importance.rows, found.held_out) == (400, 100)
    again = surrogate_importance(
        features, target, feature_names=FEATURES, classify=True, max_rows=400
    )
    assert again == found


def test_outputs_that_never_change_depend_on_no_feature() -> None:
    features, _ = _data(10, 200)
    found = surrogate_importance(
        features, np.full(200, "no"), feature_names=FEATURES, classify=True
    )
    assert set(found.importance.importances.values()) == {0.0} and found.fidelity == 1.0
    with pytest.raises(ValueError, match="at least 8 rows"):
        surrogate_importance(features[:7], np.ones(7), feature_names=FEATURES, classify=False)


def test_a_surrogate_of_several_classes_is_a_forest_shap_explains() -> None:
    # shap explains gradient boosting of two classes only
    features, _ = _data(11, 800)
    classes = np.where(features[:, 0] > 0.5, "high", np.where(features[:, 1] > 0, "mid", "low"))
    found = surrogate_importance(features, classes, feature_names=FEATURES, classify=True)
    assert found.fidelity > 0.9 and found.importance.ranking()[:2] == ("a", "b")


# The batched permutation explainer of a held model, against shap's own explainers.
def _additive(matrix: np.ndarray) -> np.ndarray:
    return matrix @ np.array([1.0, -2.0, 0.5, 3.0]) + np.sin(matrix[:, 0])


def _interacting(matrix: np.ndarray) -> np.ndarray:
    # a three-way interaction: one antithetic permutation per row is not exact for it
    return matrix[:, 0] * matrix[:, 1] * matrix[:, 2] + np.tanh(matrix[:, 3])


def test_batched_permutation_values_equal_shaps_permutation_explainer_on_additive_models() -> None:
    import shap

    rng = np.random.default_rng(1)
    rows, background = rng.normal(size=(60, 4)), rng.normal(size=(12, 4))
    ours = permutation_shap_values(_additive, rows, background, seed=3, max_batch_rows=500)
    explainer = shap.PermutationExplainer(_additive, shap.maskers.Independent(background), seed=0)
    theirs = explainer(rows, max_evals=9, silent=True).values
    np.testing.assert_allclose(ours, theirs, atol=1e-12)
    # local accuracy: the values add up to the output minus the background's mean output
    np.testing.assert_allclose(
        ours.sum(axis=1), _additive(rows) - _additive(background).mean(), atol=1e-12
    )


def test_batched_permutation_values_converge_to_shaps_exact_values() -> None:
    import shap

    rng = np.random.default_rng(2)
    rows, background = rng.normal(size=(20, 4)), rng.normal(size=(8, 4))
    exact = shap.ExactExplainer(_interacting, shap.maskers.Independent(background))(rows).values
    one = permutation_shap_values(_interacting, rows, background, seed=0)
    np.testing.assert_allclose(
        one.sum(axis=1), _interacting(rows) - _interacting(background).mean(), atol=1e-12
    )
    assert not np.allclose(one, exact, atol=1e-3)  # a single order per row is an estimate
    mean = np.mean(
        [permutation_shap_values(_interacting, rows, background, seed=s) for s in range(400)],
        axis=0,
    )
    np.testing.assert_allclose(mean, exact, atol=0.05 * np.abs(exact).max())


def test_batched_permutation_values_keep_an_axis_per_output_and_are_seeded() -> None:
    rng = np.random.default_rng(3)
    rows, background = rng.normal(size=(30, 4)), rng.normal(size=(5, 4))

    def both(matrix: np.ndarray) -> np.ndarray:
        return np.column_stack([_interacting(matrix), -_interacting(matrix)])

    values = permutation_shap_values(both, rows, background, seed=4, max_batch_rows=100)
    assert values.shape == (30, 4, 2)
    np.testing.assert_allclose(values[..., 0], -values[..., 1], atol=1e-12)
    again = permutation_shap_values(both, rows, background, seed=4, max_batch_rows=10_000)
    np.testing.assert_array_equal(values, again)  # batching changes nothing


def test_batched_permutation_values_skip_no_row_that_changes_when_values_repeat() -> None:
    import shap

    # few distinct values: most steps switch a feature to the value it already has
    rng = np.random.default_rng(5)
    rows = rng.integers(0, 3, size=(50, 4)).astype(float)
    background = rng.integers(0, 3, size=(10, 4)).astype(float)
    ours = permutation_shap_values(_additive, rows, background, seed=1)
    explainer = shap.PermutationExplainer(_additive, shap.maskers.Independent(background), seed=0)
    theirs = explainer(rows, max_evals=9, silent=True).values
    np.testing.assert_allclose(ours, theirs, atol=1e-12)
    values = permutation_shap_values(_interacting, rows, background, seed=1)
    np.testing.assert_allclose(
        values.sum(axis=1), _interacting(rows) - _interacting(background).mean(), atol=1e-12
    )
