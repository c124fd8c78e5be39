"""Scoring: the endpoint's deployed version predicts in the server, and every row is captured.

The request is checked against the deployed signature (the capture store's own rules), the
model comes from a bounded cache of loaded versions, and the scored rows (correlation id,
time, features, prediction, probabilities) go to the capture buffer so labels can follow and
monitors see them like any logged inference.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import numpy as np
import pyarrow as pa

from governance.core.cache import BoundedCache
from governance.core.clock import Clock
from governance.core.db import Database
from governance.core.errors import InvalidInput, InvalidState
from lineage import service as lineage
from lineage.schemas import ModelVersion
from monitors.capture import bulk, validate
from monitors.capture.buffer import CaptureBuffer
from monitors.capture.schemas import CORRELATION_ID, PREDICTION, PROBABILITIES, TIMESTAMP
from monitors.capture.source import schema_from_signature
from retrain.artifacts.formats import LoadedModel, Prediction
from retrain.artifacts.store import find_artifact, load_artifact

DEFAULT_MAX_MODELS = 8


class ModelCache(BoundedCache[Any, LoadedModel]):
    """Loaded models by version, the least recently used evicted beyond ``max_models``."""

    def __init__(self, max_models: int = DEFAULT_MAX_MODELS) -> None:
        super().__init__(max_models)


@dataclass(frozen=True, kw_only=True, slots=True)
class ScoreResult:
    """What a scoring request returns."""

    model: str
    version: int
    correlation_ids: list[str]
    predictions: list[Any]
    probabilities: list[list[float]] | None
    classes: list[str] | None


@dataclass(kw_only=True)
class Scorer:
    """Scores requests with deployed versions and hands their rows to the capture buffer."""

    db: Database
    artifact_dir: Path
    capture: CaptureBuffer
    clock: Clock
    trusted: tuple[str, ...] = ()
    limits: bulk.IngestLimits = bulk.DEFAULT_LIMITS
    cache: ModelCache = field(default_factory=ModelCache)
    # model versions are immutable: looked up once per process (what is scored is the version)
    versions: BoundedCache[UUID, ModelVersion] = field(
        default_factory=lambda: BoundedCache(size=256)
    )

    def score(
        self,
        *,
        project: str,
        endpoint: str,
        body: bytes,
        content_type: str | None,
        request_key: str | None = None,
    ) -> ScoreResult:
        """Check the request, predict, queue its capture; the caller sees the predictions.

        ``request_key`` keeps a caller on one version while a canary rollout runs.
        """
        version = self._deployed(project, endpoint)
        # the deployed signature, not a second look-up of the endpoint: the two could differ
        schema = schema_from_signature(version.signature)
        request = self._request(body, content_type, schema)
        model = self.cache.get(
            (project, version.model, version.version), lambda: self._load(version)
        )
        prediction = _predict(model, request)
        now = self.clock.now()
        self.capture.add(project, endpoint, _captured(request, prediction, schema, now))
        probs = prediction.probabilities
        return ScoreResult(
            model=version.model,
            version=version.version,
            correlation_ids=request.column(CORRELATION_ID).to_pylist(),
            predictions=prediction.predictions,
            probabilities=None if probs is None else probs.tolist(),
            classes=version.signature.classes,
        )

    def _request(self, body: bytes, content_type: str | None, schema: Any) -> pa.Table:
        media = bulk.media_type(content_type)
        if media == bulk.JSON:
            return validate.requests_from_json(body, schema, new_id=_ids(), limits=self.limits)
        table = bulk.read_bulk(body, media, limits=self.limits)
        return validate.requests_from_table(table, schema, new_id=_ids())

    def _deployed(self, project: str, endpoint: str) -> ModelVersion:
        """The version the endpoint serves now (one query; the version itself is cached)."""
        found = lineage.serving_version_id(self.db, project=project, name=endpoint)
        if found is None:
            raise InvalidState(
                f"endpoint {endpoint!r} serves no model version", code="not_deployed"
            )
        return self.versions.get(
            found, lambda: lineage.get_model_version_by_id(self.db, project=project, version=found)
        )

    def _load(self, version: ModelVersion) -> LoadedModel:
        artifact = find_artifact(
            self.db, project=version.project, model=version.model, version=version.version,
            root=self.artifact_dir,
        )  # fmt: skip
        return load_artifact(artifact, trusted=self.trusted)


def _ids() -> Callable[[], str]:
    """Correlation ids for one request: a random 96-bit prefix and the row's number."""
    prefix, count = secrets.token_hex(12), itertools.count()
    return lambda: f"{prefix}-{next(count)}"


def _predict(model: LoadedModel, request: pa.Table) -> Prediction:
    try:
        return model.predict(request)
    except (ValueError, TypeError, RuntimeError) as exc:
        # the message may quote model internals: the type is enough to tell bad input apart
        raise InvalidInput(
            f"the model could not score this request ({type(exc).__name__})", code="model_error"
        ) from exc


def _captured(request: pa.Table, prediction: Prediction, schema: Any, now: datetime) -> pa.Table:
    """The request as the capture store keeps inferences."""
    rows = len(request)
    columns: dict[str, Any] = {
        CORRELATION_ID: request.column(CORRELATION_ID),
        TIMESTAMP: pa.array([now] * rows, type=pa.timestamp("us", tz="UTC")),
        **{name: request.column(name) for name in schema.feature_names},
        PREDICTION: pa.array(prediction.predictions).cast(schema.prediction.arrow),
    }
    if schema.probabilities:
        columns[PROBABILITIES] = _probability_lists(prediction.probabilities, rows)
    return pa.table(columns).cast(schema.inference_arrow())


def _probability_lists(probs: np.ndarray | None, rows: int) -> pa.Array:
    """One list of class probabilities per row, straight from the matrix (no Python floats)."""
    if probs is None:
        return pa.nulls(rows, type=pa.list_(pa.float64()))
    matrix = np.asarray(probs, dtype=np.float64).reshape(rows, -1)
    offsets = pa.array(np.arange(0, matrix.size + 1, matrix.shape[1], dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(matrix.ravel()))
