"""The models Steward holds, explained for attribution drift: SHAP chosen by flavour.

``model_source(db, settings)`` is the run environment's ``explainers`` seam
(``monitors.runs.sources.ModelExplainerSource``): it finds the version that served an endpoint
at a time (the lineage graph), loads its uploaded artifact safely (hash verified, skops trusted
types) and offers its SHAP values. A scikit-learn pipeline whose last step is a tree ensemble
is explained exactly by ``shap.TreeExplainer`` on its preprocessed inputs, each input credited
with the sum over the columns made from it; every other model (scikit-learn, TorchScript,
ONNX) by the model-agnostic permutation explainer on its output: the probability of the
positive class (every class's when there are more), or the prediction of a regressor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from governance.core.cache import BoundedCache
from governance.core.db import Database
from governance.core.errors import InvalidInput, NotFound
from governance.core.settings import Settings
from lineage import service as lineage
from monitors.runs.sources import Explainable
from monitors.stats.attribution import ExplainerKind, permutation_shap_values
from retrain.artifacts.formats import Flavor, LoadedModel, SklearnModel
from retrain.artifacts.store import StoredArtifact, find_artifact, load_artifact

# Flavours and signatures Steward holds but cannot score: their surrogates are explained.
NOT_SCORABLE = frozenset({"unsupported_flavor", "unsupported_signature"})
Output = Callable[[dict[str, np.ndarray]], np.ndarray]


class ExplainerCache(BoundedCache[tuple[str, str, int, str, tuple[str, ...]], Explainable]):
    """Loaded, explainable versions by (version, artifact hash, trusted types), LRU per process."""

    def __init__(self, size: int = 8) -> None:
        super().__init__(size)


EXPLAINERS = ExplainerCache()


class StoredModelExplainers:
    """Finds the version that served an endpoint and explains it from its stored artifact."""

    def __init__(
        self,
        db: Database,
        *,
        artifact_dir: Path,
        trusted: Sequence[str] = (),
        cache: ExplainerCache = EXPLAINERS,
    ) -> None:
        self.db, self.root, self.trusted, self.cache = db, artifact_dir, tuple(trusted), cache

    def find(self, *, project: str, endpoint: str, at: datetime) -> Explainable | None:
        """The version serving ``endpoint`` at ``at``; None unless Steward holds and scores it."""
        artifact = self.artifact_at(project, endpoint, at)
        if artifact is None or artifact.flavor is Flavor.torch:
            return None
        return cached_explainable(artifact, self.trusted, cache=self.cache)

    def artifact_at(self, project: str, endpoint: str, at: datetime) -> StoredArtifact | None:
        """The stored artifact of the version serving ``endpoint`` at ``at`` (None: none held)."""
        try:
            served = lineage.find_deployment_at(self.db, project=project, endpoint=endpoint, at=at)
            if served is None:
                return None
            return find_artifact(
                self.db, project=project, model=served.model, version=served.version, root=self.root
            )
        except NotFound:  # no such endpoint, or the version's artifact was never uploaded
            return None


def model_source(db: Database, settings: Settings) -> StoredModelExplainers:
    """The run environment's source of explainable models, from the settings' artifact store."""
    assert settings.artifact_dir is not None  # Settings fills it in from home
    return StoredModelExplainers(
        db, artifact_dir=settings.artifact_dir, trusted=settings.skops_trusted_types
    )


def cached_explainable(
    artifact: StoredArtifact, trusted: Sequence[str], *, cache: ExplainerCache = EXPLAINERS
) -> Explainable | None:
    """The artifact's explainable model, loaded once per process; None when it cannot score."""
    # one file may hold several versions (content-addressed): each keeps its signature
    key = (artifact.project, artifact.model, artifact.version, artifact.sha256, tuple(trusted))
    try:
        return cache.get(key, lambda: _explainable(artifact, trusted))
    except InvalidInput as exc:
        if exc.code in NOT_SCORABLE:
            return None
        raise


def _explainable(artifact: StoredArtifact, trusted: Sequence[str]) -> Explainable:
    """Load the artifact and pick its explainer: trees exactly, anything else by permutation."""
    loaded = load_artifact(artifact, trusted=trusted)
    features = tuple(c.name for c in artifact.signature.inputs)
    identity: dict[str, Any] = {
        "model": artifact.model,
        "version": artifact.version,
        "key": artifact.sha256,
        "flavor": str(artifact.flavor),
        "features": features,
    }
    if isinstance(loaded, SklearnModel):
        tree = tree_model(loaded.estimator, features, identity)
        if tree is not None:
            return tree
        return PermutationModel(**identity, output=sklearn_output(loaded.estimator, features))
    return PermutationModel(**identity, output=_table_output(loaded))


@dataclass(frozen=True, kw_only=True, slots=True)
class Codec:
    """Model inputs as floats for the masking explainer: categories by their index."""

    features: tuple[str, ...]
    categories: dict[str, np.ndarray]

    @classmethod
    def of(cls, features: Sequence[str], *tables: pa.Table) -> Codec:
        """The codes of every value the tables hold in their non-numeric inputs."""
        categories: dict[str, np.ndarray] = {}
        for name in features:
            if not _numeric(tables[0].schema.field(name).type):
                values = {v for t in tables for v in t.column(name).to_pylist() if v is not None}
                ordered = sorted(values, key=lambda v: (type(v).__name__, v))
                held = np.empty(len(ordered) + 1, dtype=object)
                held[:-1] = ordered  # the last code, None, stands for a missing value
                categories[name] = held
        return cls(features=tuple(features), categories=categories)

    def encode(self, table: pa.Table) -> np.ndarray:
        """The inputs of ``table`` as a float matrix (missing values NaN)."""
        columns = []
        for name in self.features:
            column = table.column(name)
            if name in self.categories:
                index = {v: float(i) for i, v in enumerate(self.categories[name][:-1])}
                codes = [np.nan if v is None else index[v] for v in column.to_pylist()]
                columns.append(np.asarray(codes, dtype=np.float64))
            else:
                values = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
                columns.append(np.asarray(values, dtype=np.float64))
        return np.column_stack(columns)

    def decode(self, matrix: np.ndarray) -> dict[str, np.ndarray]:
        """Columns the model reads back from a float matrix (categories as their values)."""
        decoded: dict[str, np.ndarray] = {}
        for j, name in enumerate(self.features):
            values = matrix[:, j]
            if name in self.categories:
                # NaN (missing) takes the last code, which holds None
                missing = len(self.categories[name]) - 1
                codes = np.where(np.isfinite(values), values, missing).astype(np.int64)
                decoded[name] = self.categories[name][codes]
            else:
                decoded[name] = values
        return decoded


def _numeric(kind: pa.DataType) -> bool:
    return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind))


@dataclass(frozen=True, kw_only=True, slots=True)
class PermutationModel:
    """A model explained by permutation SHAP on its output, whatever its flavour."""

    model: str
    version: int
    key: str
    flavor: str
    features: tuple[str, ...]
    output: Output
    explainer: str = str(ExplainerKind.permutation)

    def shap_values(self, rows: pa.Table, *, background: pa.Table, seed: int) -> np.ndarray:
        """Permutation SHAP values of the output on ``rows``, masking with ``background``."""
        codec = Codec.of(self.features, rows, background)
        output = self.output
        return permutation_shap_values(
            lambda matrix: output(codec.decode(matrix)),
            codec.encode(rows),
            codec.encode(background),
            seed=seed,
        )


def sklearn_output(estimator: Any, features: Sequence[str]) -> Output:
    """The explained output of a scikit-learn estimator or pipeline on decoded columns."""
    import pandas as pd
    from sklearn.base import is_classifier

    classify = is_classifier(estimator)
    names = list(features)

    def output(columns: dict[str, np.ndarray]) -> np.ndarray:
        frame = pd.DataFrame(columns, columns=names)
        if classify and hasattr(estimator, "predict_proba"):
            return _positive(np.asarray(estimator.predict_proba(frame), dtype=np.float64))
        predicted = np.asarray(estimator.predict(frame))
        if classify:  # no probabilities: which class was predicted, one output per class
            return _positive((predicted[:, None] == estimator.classes_[None, :]).astype(float))
        return predicted.astype(np.float64)

    return output


def _table_output(loaded: LoadedModel) -> Output:
    """The explained output of a TorchScript or ONNX model on decoded columns."""

    def output(columns: dict[str, np.ndarray]) -> np.ndarray:
        scored = loaded.predict(pa.table(columns))
        if scored.probabilities is not None:
            return _positive(np.asarray(scored.probabilities, dtype=np.float64))
        return np.asarray(scored.predictions, dtype=np.float64)

    return output


def _positive(scores: np.ndarray) -> np.ndarray:
    """The positive (last) class of two; every class of more."""
    return scores[:, -1] if scores.shape[1] == 2 else scores


@dataclass(frozen=True, kw_only=True, slots=True)
class TreeModel:
    """A tree ensemble (after its pipeline's preprocessing), explained by TreeExplainer."""

    model: str
    version: int
    key: str
    flavor: str
    features: tuple[str, ...]
    preprocess: Any
    ensemble: Any
    # (columns the ensemble reads, model inputs): 1 where a column is made from an input
    credit: np.ndarray
    explainer: str = str(ExplainerKind.tree)

    def shap_values(self, rows: pa.Table, *, background: pa.Table, seed: int) -> np.ndarray:
        """Exact tree SHAP values on ``rows``, each input credited with its columns' sum.

        Interventional, against ``background`` (as the permutation explainer masks): a
        feature's value is what it moves the raw output (log-odds for boosting) from the
        background's mean.
        """
        import shap

        explainer = shap.TreeExplainer(
            self.ensemble,
            data=self.encoded(background),
            feature_perturbation="interventional",
        )
        values = explainer.shap_values(self.encoded(rows), check_additivity=False)
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 3 and values.shape[0] != rows.num_rows:
            values = np.moveaxis(values, 0, -1)  # older shap: one array per class first
        if values.ndim == 3 and values.shape[2] == 2:
            values = values[:, :, -1]  # the positive class, as the permutation path explains
        credited: np.ndarray = (
            np.einsum("nck,cf->nfk", values, self.credit)
            if values.ndim == 3
            else values @ self.credit
        )
        return credited

    def encoded(self, rows: pa.Table) -> np.ndarray:
        """The columns the ensemble reads: the pipeline's preprocessing of the inputs."""
        frame = rows.select(list(self.features)).to_pandas()
        matrix = frame if self.preprocess is None else self.preprocess.transform(frame)
        if hasattr(matrix, "toarray"):
            matrix = matrix.toarray()
        return np.asarray(matrix, dtype=np.float64)


def tree_model(
    estimator: Any, features: Sequence[str], identity: dict[str, Any]
) -> TreeModel | None:
    """A TreeExplainer of the estimator's last step when it is a tree ensemble shap reads."""
    from sklearn.pipeline import Pipeline

    steps = isinstance(estimator, Pipeline)
    preprocess = estimator[:-1] if steps and len(estimator) > 1 else None
    final = estimator[-1] if steps else estimator
    if not type(final).__module__.startswith(("sklearn.ensemble", "sklearn.tree")):
        return None
    credit = _credit(preprocess, features)
    if credit is None:
        return None
    import shap

    try:
        shap.TreeExplainer(final)
    except Exception:  # shap raises several types for models it does not support
        return None
    return TreeModel(**identity, preprocess=preprocess, ensemble=final, credit=credit)


def _credit(preprocess: Any, features: Sequence[str]) -> np.ndarray | None:
    """Which model input each preprocessed column is made from; None when it cannot be told."""
    if preprocess is None:
        return np.eye(len(features))
    try:
        columns = [str(c) for c in preprocess.get_feature_names_out(list(features))]
    except (AttributeError, ValueError, TypeError):  # a step that does not name its outputs
        return None
    credit = np.zeros((len(columns), len(features)))
    for row, column in enumerate(columns):
        source = _source(column, features)
        if source is None:
            return None
        credit[row, source] = 1.0
    return credit


def _source(column: str, features: Sequence[str]) -> int | None:
    """The input a column comes from: its name, or the longest input its name starts with."""
    # a ColumnTransformer prefixes its transformer's name: "onehotencoder__sex_Male"
    name = column if column in features else column.split("__", 1)[-1]
    if name in features:
        return list(features).index(name)
    matches = [i for i, f in enumerate(features) if name.startswith(f"{f}_")]
    return max(matches, key=lambda i: len(features[i])) if matches else None
