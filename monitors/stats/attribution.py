"""Feature-attribution drift: SHAP importances on bounded samples, compared by NDCG."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from monitors.stats.schemas import Serializable, Verdict

DEFAULT_NDCG_THRESHOLD = 0.9
# Share of a surrogate's rows held out to measure how well it reproduces the model.
HELD_OUT = 0.25
MIN_SURROGATE_ROWS = 8
# Model rows per call of the model-agnostic explainer: bounds its memory (rows x features floats).
MAX_BATCH_ROWS = 200_000
TREE_MODULES = ("sklearn.ensemble", "sklearn.tree", "xgboost", "lightgbm", "catboost")


class ExplainerKind(StrEnum):
    """SHAP explainer used for a model."""

    tree = "tree"
    gradient = "gradient"
    permutation = "permutation"
    surrogate = "surrogate"


@dataclass(frozen=True, kw_only=True, slots=True)
class FeatureImportance(Serializable):
    """Mean absolute SHAP value per feature over a bounded sample."""

    importances: Mapping[str, float]
    explainer: ExplainerKind
    rows: int

    def ranking(self) -> tuple[str, ...]:
        """Features from most to least important."""
        return tuple(sorted(self.importances, key=lambda f: -self.importances[f]))


@dataclass(frozen=True, kw_only=True, slots=True)
class AttributionDriftResult(Serializable):
    """NDCG of the current ranking against the reference ranking, and the top features."""

    ndcg: float
    threshold: float
    top_n: int
    verdict: Verdict
    reference_top: tuple[str, ...]
    current_top: tuple[str, ...]


def explainer_kind(model: Any) -> ExplainerKind:
    """Choose TreeExplainer for tree models, gradients for torch modules, else permutation."""
    module = type(model).__module__
    if module.startswith(TREE_MODULES):
        return ExplainerKind.tree
    if any(
        f"{c.__module__}.{c.__name__}" == "torch.nn.modules.module.Module"
        for c in type(model).__mro__
    ):
        return ExplainerKind.gradient
    return ExplainerKind.permutation


def _sample(data: np.ndarray, max_rows: int, seed: int) -> np.ndarray:
    if data.shape[0] <= max_rows:
        return data
    rows = np.random.default_rng(seed).choice(data.shape[0], max_rows, replace=False)
    return data[np.sort(rows)]


def shap_values(
    model: Any,
    data: np.ndarray,
    *,
    background: np.ndarray,
    kind: ExplainerKind,
    seed: int = 0,
) -> np.ndarray:
    """SHAP values as an array (rows, features[, outputs]) with the chosen explainer."""
    import shap

    if kind is ExplainerKind.tree:
        return np.asarray(shap.TreeExplainer(model).shap_values(data))
    if kind is ExplainerKind.gradient:
        import torch

        explainer = shap.GradientExplainer(model, torch.as_tensor(background, dtype=torch.float32))
        values = explainer.shap_values(torch.as_tensor(data, dtype=torch.float32), rseed=seed)
        return np.asarray(values)
    predict = getattr(model, "predict_proba", None) or getattr(model, "predict", model)
    explainer = shap.PermutationExplainer(predict, shap.maskers.Independent(background), seed=seed)
    return np.asarray(explainer(data, max_evals=2 * data.shape[1] + 1, silent=True).values)


def permutation_shap_values(
    predict: Callable[[np.ndarray], np.ndarray],
    rows: np.ndarray,
    background: np.ndarray,
    *,
    seed: int = 0,
    max_batch_rows: int = MAX_BATCH_ROWS,
) -> np.ndarray:
    """SHAP values of ``predict`` by shap's PermutationExplainer, many rows per model call.

    The algorithm of ``shap.PermutationExplainer`` with an Independent masker and the fewest
    evaluations (``max_evals = 2 * features + 1``): per row, one seeded random order of the
    features, switched from the ``background`` rows' values to the row's one at a time, then
    back in the same order; a feature's value is the mean change of the output (averaged
    over the background) when it is switched. shap calls the model once per row; here the
    masked rows of many rows go to one call (at most ``max_batch_rows`` model rows), which is
    what makes a model with a per-call cost (a pandas pipeline) explainable in seconds.
    Returns (rows, features) for a 1-D output, else (rows, features, outputs).
    """
    matrix = np.asarray(rows, dtype=np.float64)
    masks = np.asarray(background, dtype=np.float64)
    per_row = (2 * matrix.shape[1] + 1) * masks.shape[0]
    chunk = max(1, max_batch_rows // per_row)
    rng = np.random.default_rng(seed)
    parts = [
        _permuted(predict, matrix[start : start + chunk], masks, rng)
        for start in range(0, matrix.shape[0], chunk)
    ]
    values = np.concatenate(parts) if parts else np.zeros((0, matrix.shape[1], 1))
    return values[..., 0] if values.shape[2] == 1 else values


def _permuted(
    predict: Callable[[np.ndarray], np.ndarray],
    rows: np.ndarray,
    background: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """One forward and backward pass of a random order per row: (rows, features, outputs)."""
    n, f = rows.shape
    order = np.argsort(rng.random((n, f)), axis=1)
    rank = np.argsort(order, axis=1)
    steps = np.arange(2 * f + 1)[None, :, None]
    # state s <= f: the first s features of the order are the row's; after f, they leave in turn
    on = np.where(steps <= f, rank[:, None, :] < steps, rank[:, None, :] >= steps - f)
    masked = np.where(on[:, :, None, :], rows[:, None, None, :], background[None, None, :, :])
    # as shap's delta masking: a step that switches a feature to the value it already has
    # leaves the masked row (and the output) unchanged, so only the rows that change are run
    switched = np.concatenate([order, order], axis=1)  # the feature each step switches
    cells = (np.arange(n)[:, None], switched)
    changed = rows[cells][:, :, None] != background[:, switched].transpose(1, 2, 0)
    outputs = _changed_outputs(predict, masked, changed)
    means = outputs.mean(axis=2)
    forward = means[:, 1 : f + 1] - means[:, :f]
    backward = means[:, f : 2 * f] - means[:, f + 1 :]
    values: np.ndarray = np.empty_like(forward)
    np.put_along_axis(values, order[:, :, None], (forward + backward) / 2, axis=1)
    return values


def _changed_outputs(
    predict: Callable[[np.ndarray], np.ndarray], masked: np.ndarray, changed: np.ndarray
) -> np.ndarray:
    """The model's outputs on every masked row (rows, states, background, outputs).

    State 0 is the background itself, the same for every row: run once. A later state's row
    that its step did not change keeps the previous state's output.
    """
    n, states, b, _ = masked.shape
    base = np.asarray(predict(masked[0, 0]), dtype=np.float64).reshape(b, -1)
    run = np.asarray(predict(masked[:, 1:][changed]), dtype=np.float64).reshape(-1, base.shape[1])
    outputs = np.empty((n, states, b, base.shape[1]))
    outputs[:, 0] = base
    later = outputs[:, 1:]
    later[changed] = run
    for s in range(1, states):
        kept = ~changed[:, s - 1]
        outputs[:, s][kept] = outputs[:, s - 1][kept]
    return outputs


def importance_from_shap(values: np.ndarray, feature_names: Sequence[str]) -> dict[str, float]:
    """Mean absolute SHAP value per feature, averaged over outputs when there are several."""
    magnitudes = np.abs(np.asarray(values, dtype=np.float64))
    if magnitudes.ndim == 3 and magnitudes.shape[1] != len(feature_names):
        # shap lists per-output arrays first for some explainers: (outputs, rows, features)
        magnitudes = np.moveaxis(magnitudes, 0, -1)
    per_feature = magnitudes.mean(axis=0)
    if per_feature.ndim == 2:
        per_feature = per_feature.mean(axis=1)
    return {name: float(v) for name, v in zip(feature_names, per_feature, strict=True)}


def compute_feature_importance(
    model: Any,
    data: Any,
    *,
    feature_names: Sequence[str],
    background: Any = None,
    max_samples: int = 1000,
    max_background: int = 100,
    seed: int = 0,
    kind: ExplainerKind | None = None,
) -> FeatureImportance:
    """SHAP importances of ``model`` on at most ``max_samples`` rows of ``data``."""
    matrix = np.asarray(data, dtype=np.float64)
    sample = _sample(matrix, max_samples, seed)
    reference = matrix if background is None else np.asarray(background, dtype=np.float64)
    chosen = kind or explainer_kind(model)
    values = shap_values(
        model,
        sample,
        background=_sample(reference, max_background, seed + 1),
        kind=chosen,
        seed=seed,
    )
    return FeatureImportance(
        importances=importance_from_shap(values, feature_names),
        explainer=chosen,
        rows=int(sample.shape[0]),
    )


def ndcg(reference: Mapping[str, float], current: Mapping[str, float], top_n: int) -> float:
    """NDCG of the current ranking, with reference importances as relevance (SageMaker Clarify)."""
    from sklearn.metrics import ndcg_score

    features = list(reference)
    relevance = np.array([[reference[f] for f in features]], dtype=np.float64)
    scores = np.array([[current.get(f, 0.0) for f in features]], dtype=np.float64)
    # sklearn refuses a single feature and scores an empty cut-off or a reference where nothing
    # matters 0.0; no ranking can be wrong there, so it is 1.0 (no drift). Ties share their mean
    # relevance (ignore_ties=False).
    if top_n < 1 or relevance.shape[1] < 2 or not relevance.any():
        return 1.0
    return float(ndcg_score(relevance, scores, k=top_n, ignore_ties=False))


def compute_attribution_drift(
    reference: FeatureImportance | Mapping[str, float],
    current: FeatureImportance | Mapping[str, float],
    *,
    top_n: int | None = None,
    threshold: float = DEFAULT_NDCG_THRESHOLD,
) -> AttributionDriftResult:
    """Compare two importance rankings; NDCG below ``threshold`` is drift."""
    ref = reference.importances if isinstance(reference, FeatureImportance) else reference
    cur = current.importances if isinstance(current, FeatureImportance) else current
    n = min(top_n or len(ref), len(ref))
    if n == 0:
        return AttributionDriftResult(
            ndcg=1.0,
            threshold=threshold,
            top_n=0,
            verdict=Verdict.insufficient_data,
            reference_top=(),
            current_top=(),
        )
    score = ndcg(ref, cur, n)
    return AttributionDriftResult(
        ndcg=score,
        threshold=threshold,
        top_n=n,
        verdict=Verdict.drift if score < threshold else Verdict.no_drift,
        reference_top=tuple(sorted(ref, key=lambda f: -ref[f])[:n]),
        current_top=tuple(sorted(cur, key=lambda f: -cur[f])[:n]),
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class SurrogateImportance(Serializable):
    """SHAP importances of a tree surrogate of a model, and how well it reproduces the model."""

    importance: FeatureImportance
    fidelity: float
    # r2 for numeric outputs, balanced_accuracy for classes (plain accuracy would credit a
    # surrogate that always predicts the majority class)
    fidelity_metric: str
    held_out: int


def _surrogate(classes: int, seed: int) -> Any:
    # small seeded ensembles that TreeExplainer explains exactly and that fit in well under a
    # second on the bounded sample; shap explains gradient boosting of two classes at most
    from sklearn import ensemble

    if classes > 2:
        return ensemble.RandomForestClassifier(
            n_estimators=50, max_depth=8, min_samples_leaf=3, random_state=seed
        )
    model = ensemble.GradientBoostingClassifier if classes else ensemble.GradientBoostingRegressor
    return model(n_estimators=100, max_depth=3, subsample=0.8, random_state=seed)


def _fidelity(classify: bool, outputs: np.ndarray, reproduced: np.ndarray) -> float:
    from sklearn.metrics import balanced_accuracy_score, r2_score

    if classify:
        return float(balanced_accuracy_score(outputs, reproduced))
    return float(r2_score(outputs, reproduced))


def surrogate_importance(
    features: Any,
    outputs: Any,
    *,
    feature_names: Sequence[str],
    classify: bool,
    max_rows: int = 2000,
    seed: int = 0,
) -> SurrogateImportance:
    """Mimic a model from its inputs and outputs (Azure ML's mimic explainer) and explain it.

    A seeded sample of at most ``max_rows`` rows is split: the surrogate learns the model's
    ``outputs`` (classes when ``classify``, else numbers such as a probability) on three
    quarters, its fidelity is measured on the rest, and its mean absolute SHAP values
    (TreeExplainer, exact) on the whole sample are the importances. Outputs that never change
    depend on no feature: every importance is 0 and a constant reproduces them.
    """
    rows = np.random.default_rng(seed).permutation(len(outputs))[:max_rows]
    matrix = np.asarray(features, dtype=np.float64)[rows]
    target = np.asarray(outputs)[rows]
    if len(target) < MIN_SURROGATE_ROWS:
        raise ValueError(f"a surrogate needs at least {MIN_SURROGATE_ROWS} rows (some held out)")
    cut = round(len(target) * (1 - HELD_OUT))
    metric = "balanced_accuracy" if classify else "r2"
    held = slice(cut, None)
    seen = np.unique(target[:cut]).size
    if seen < 2:
        importances = dict.fromkeys(feature_names, 0.0)
        reproduced = np.full_like(target[held], target[0])
    else:
        model = _surrogate(seen if classify else 0, seed).fit(matrix[:cut], target[:cut])
        values = shap_values(model, matrix, background=matrix, kind=ExplainerKind.tree)
        importances = importance_from_shap(values, feature_names)
        reproduced = model.predict(matrix[held])
    importance = FeatureImportance(
        importances=importances, explainer=ExplainerKind.surrogate, rows=len(target)
    )
    return SurrogateImportance(
        importance=importance,
        fidelity=_fidelity(classify, target[held], reproduced),
        fidelity_metric=metric,
        held_out=len(target) - cut,
    )
