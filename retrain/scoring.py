"""Scoring: the endpoint's deployed version predicts in the server, and every row is captured.

The request is checked against the deployed signature (the capture store's own rules), the
model comes from a bounded cache of loaded versions, and the scored rows (correlation id,
time, features, prediction, probabilities) go to the capture buffer so labels can follow and
monitors see them like any logged inference.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from governance.core.cache import BoundedCache
from governance.core.clock import Clock
from governance.core.db import Database
from governance.core.errors import InvalidInput, InvalidState, StewardError
from lineage import service as lineage
from lineage.schemas import EndpointKind, ModelVersion
from monitors.capture import bulk, validate
from monitors.capture.buffer import CaptureBuffer
from monitors.capture.schemas import (
    CORRELATION_ID,
    PREDICTION,
    PROBABILITIES,
    TIMESTAMP,
    ExpectedSchema,
)
from monitors.capture.source import schema_from_signature
from retrain.artifacts.formats import LoadedModel, Prediction
from retrain.artifacts.store import find_artifact, load_artifact
from retrain.rollout.routing import RolloutTraffic, Route, canary_takes
from retrain.rollout.schemas import Strategy
from retrain.rollout.service import shadow_endpoint_of

log = logging.getLogger(__name__)

DEFAULT_MAX_MODELS = 8


class Pace:
    """How long scoring takes per body byte, per (project, endpoint, media type): a moving
    average over recent requests of at least ``min_bytes``, whose fixed costs (the model's
    per-call overhead, the checks) no longer dominate, so that a caller can tell a quick large
    request from a slow one before it runs. Only scored requests are noted (real endpoints)."""

    def __init__(self, *, min_bytes: int, weight: float = 0.2) -> None:
        self.min_bytes, self.weight = min_bytes, weight
        self._per_byte: dict[tuple[str, str, str], float] = {}

    def expected(self, key: tuple[str, str, str], size: int) -> float | None:
        """Seconds a body of ``size`` bytes should take (None: not known yet, or too small)."""
        per_byte = self._per_byte.get(key) if size >= self.min_bytes else None
        return None if per_byte is None else per_byte * size

    def quick(self, key: tuple[str, str, str], size: int, *, within: float) -> bool:
        """Whether a body of ``size`` bytes should score within ``within`` seconds: small ones
        always, larger ones once their pace is known to allow it."""
        if size < self.min_bytes:
            return True
        expected = self.expected(key, size)
        return expected is not None and expected <= within

    def note(self, key: tuple[str, str, str], size: int, seconds: float) -> None:
        """Count one request's time in (small ones say nothing about the time per byte)."""
        if size < self.min_bytes:
            return
        seen = seconds / size
        before = self._per_byte.get(key)
        self._per_byte[key] = seen if before is None else before + self.weight * (seen - before)


class ModelCache(BoundedCache[Any, LoadedModel]):
    """Loaded models by version, the least recently used evicted beyond ``max_models``."""

    def __init__(self, max_models: int = DEFAULT_MAX_MODELS) -> None:
        super().__init__(max_models)


@dataclass(frozen=True, kw_only=True, slots=True)
class ScoreResult:
    """What a scoring request returns: ``table`` holds the rows' answers as Arrow columns
    (``correlation_id``, ``prediction`` and, when logged, ``probabilities``), the columns the
    capture stores, so an Arrow answer costs no conversion and a JSON one converts once."""

    model: str
    version: int
    table: pa.Table
    classes: list[str] | None

    @property
    def correlation_ids(self) -> list[str]:
        """The rows' correlation ids, in request order."""
        return list(self.table.column(CORRELATION_ID).to_pylist())

    @property
    def predictions(self) -> list[Any]:
        """The predictions, in request order."""
        return list(self.table.column(PREDICTION).to_pylist())

    @property
    def probabilities(self) -> list[list[float]] | None:
        """Each row's class probabilities (None when the signature logs none)."""
        if PROBABILITIES not in self.table.column_names:
            return None
        return list(self.table.column(PROBABILITIES).to_pylist())

    def as_json(self) -> dict[str, Any]:
        """The answer as the JSON body carries it."""
        return {
            "model": self.model, "version": self.version,
            "correlation_ids": self.correlation_ids, "predictions": self.predictions,
            "probabilities": self.probabilities, "classes": self.classes,
        }  # fmt: skip


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
    # active rollouts and their counts; None: every request goes to the deployed version
    rollouts: RolloutTraffic | None = None
    # bodies of at least 16 KiB: a few dozen JSON rows or a few hundred Arrow ones
    pace: Pace = field(default_factory=lambda: Pace(min_bytes=16 * 1024))
    # Which version an endpoint serves is looked up again after ``served_ttl`` seconds, at once
    # after ``forget`` (a change through this server), and on every request during a rollout.
    served_ttl: float = 1.0
    monotonic: Callable[[], float] = time.monotonic
    _served: dict[tuple[str, str], tuple[float, UUID | None]] = field(default_factory=dict)

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

        While a rollout runs, ``request_key`` keeps a caller on one version of a canary; a
        shadow candidate scores a copy that only its own stream logs.
        """
        route = None if self.rollouts is None else self.rollouts.route(project, endpoint)
        version = self._deployed(project, endpoint, fresh=route is not None)
        # the deployed signature, not a second look-up of the endpoint: the two could differ
        schema = schema_from_signature(version.signature)
        request = self._request(body, content_type, schema)
        if route is not None:
            return self._routed(route, version, request, schema, endpoint, request_key)
        return self._serve(version, request, schema, endpoint)

    def _serve(
        self, version: ModelVersion, request: pa.Table, schema: ExpectedSchema, endpoint: str
    ) -> ScoreResult:
        """Predict with ``version`` and capture the rows under ``endpoint``."""
        prediction = _predict(self._model(version), request)
        return self._captured_result(version, request, prediction, schema, endpoint)

    def _captured_result(
        self, version: ModelVersion, request: pa.Table, prediction: Prediction,
        schema: ExpectedSchema, endpoint: str,
    ) -> ScoreResult:  # fmt: skip
        captured = _captured(request, prediction, schema, self.clock.now())
        self.capture.add(version.project, endpoint, captured, schema)
        answer = [CORRELATION_ID, PREDICTION, *([PROBABILITIES] if schema.probabilities else [])]
        return ScoreResult(
            model=version.model, version=version.version, table=captured.select(answer),
            classes=version.signature.classes,
        )  # fmt: skip

    def _model(self, version: ModelVersion) -> LoadedModel:
        key = (version.project, version.model, version.version)
        return self.cache.get(key, lambda: self._load(version))

    def _routed(
        self, route: Route, served: ModelVersion, request: pa.Table, schema: ExpectedSchema,
        endpoint: str, request_key: str | None,
    ) -> ScoreResult:  # fmt: skip
        """Score during a rollout; the candidate's outcomes are counted."""
        rollout, candidate = route.rollout, route.candidate
        if rollout.strategy is Strategy.immediate:
            if served.id != candidate.id:  # deployed again since: nothing to watch here
                return self._serve(served, request, schema, endpoint)
            return self._watched(route, served, request, schema, endpoint)
        if rollout.strategy is Strategy.canary:
            if canary_takes(request_key, rollout.percent or 0):
                return self._canary(route, served, request, schema, endpoint)
            return self._serve(served, request, schema, endpoint)
        result = self._serve(served, request, schema, endpoint)
        self._shadow(route, request)
        return result

    def _watched(
        self, route: Route, served: ModelVersion, request: pa.Table, schema: ExpectedSchema,
        endpoint: str,
    ) -> ScoreResult:  # fmt: skip
        """A newly deployed version: its failures are returned as always, and counted."""
        assert self.rollouts is not None
        try:
            result = self._serve(served, request, schema, endpoint)
        except StewardError:
            self.rollouts.count(route.rollout, failed=True)
            raise
        self.rollouts.count(route.rollout, failed=False)
        return result

    def _canary(
        self, route: Route, served: ModelVersion, request: pa.Table, schema: ExpectedSchema,
        endpoint: str,
    ) -> ScoreResult:  # fmt: skip
        """The candidate serves; when it cannot, the champion does and the failure counts."""
        assert self.rollouts is not None
        try:
            prediction = _predict(self._model(route.candidate), request)
        except StewardError as exc:
            log.warning("canary %s failed, champion serves: %s", route.rollout.id, exc)
            self.rollouts.count(route.rollout, failed=True)
            return self._serve(served, request, schema, endpoint)
        self.rollouts.count(route.rollout, failed=False)
        return self._captured_result(route.candidate, request, prediction, schema, endpoint)

    def _shadow(self, route: Route, request: pa.Table) -> None:
        """The candidate scores a copy into its shadow stream; nothing of it is returned."""
        assert self.rollouts is not None
        rollout, candidate = route.rollout, route.candidate
        failed = False
        try:
            schema = schema_from_signature(candidate.signature)
            copy = _as_schema(request, schema)
            prediction = _predict(self._model(candidate), copy)
            stream = rollout.shadow_endpoint or shadow_endpoint_of(rollout.endpoint)
            captured = _captured(copy, prediction, schema, self.clock.now())
            self.capture.add(rollout.project, stream, captured, schema)
        except (StewardError, ValueError, TypeError, KeyError, pa.ArrowException) as exc:
            log.warning("shadow %s failed: %s", rollout.id, exc)
            failed = True
        self.rollouts.count(rollout, failed=failed)

    def close(self) -> None:
        """Store what is still held: rollout counts, then the buffered rows."""
        if self.rollouts is not None:
            self.rollouts.flush_all()
        self.capture.stop()

    def _request(self, body: bytes, content_type: str | None, schema: Any) -> pa.Table:
        media = bulk.media_type(content_type)
        if media == bulk.JSON:
            return validate.requests_from_json(body, schema, new_ids=_ids(), limits=self.limits)
        table = bulk.read_bulk(body, media, limits=self.limits)
        return validate.requests_from_table(table, schema, new_ids=_ids())

    def forget(self, project: str, endpoint: str) -> None:
        """Look up what the endpoint serves, and its rollout, again at the next request."""
        self._served.pop((project, endpoint), None)
        if self.rollouts is not None:
            self.rollouts.forget(project, endpoint)

    def _deployed(self, project: str, endpoint: str, *, fresh: bool = False) -> ModelVersion:
        """The version the endpoint serves (looked up at most ``served_ttl`` ago unless
        ``fresh``; the version itself is cached for good, versions being immutable)."""
        key, now = (project, endpoint), self.monotonic()
        held = None if fresh else self._served.get(key)
        if held is not None and held[0] > now:
            found = held[1]
        else:
            found = lineage.serving_version_id(self.db, project=project, name=endpoint)
            if fresh:  # a rollout may change it at any request: nothing is kept
                self._served.pop(key, None)
            else:
                self._served[key] = (now + self.served_ttl, found)
        if found is None:
            served = lineage.find_endpoint(self.db, project=project, name=endpoint)
            if served is not None and served.kind is EndpointKind.llm:
                raise InvalidInput(
                    f"endpoint {endpoint!r} is an LLM endpoint: it records traces (POST "
                    "/v1/traces) and serves no model version",
                    code="llm_endpoint",
                )
            raise InvalidState(
                f"endpoint {endpoint!r} serves no model version", code="not_deployed"
            )
        return self.versions.get(
            found, lambda: lineage.get_model_version_by_id(self.db, project=project, version=found)
        )

    def _load(self, version: ModelVersion) -> LoadedModel:
        """The version's artifact loaded (a missing or unloadable one raises a StewardError)."""
        artifact = find_artifact(
            self.db, project=version.project, model=version.model, version=version.version,
            root=self.artifact_dir,
        )  # fmt: skip
        return load_artifact(artifact, trusted=self.trusted)


def _ids() -> Callable[[int], pa.Array]:
    """Correlation ids for one request: a random 96-bit prefix and the row's number (made as
    one Arrow column: a Python string per row cost a quarter of a millisecond per 1,000)."""
    prefix, taken = secrets.token_hex(12), 0

    def take(rows: int) -> pa.Array:
        nonlocal taken
        numbers = pa.array(np.arange(taken, taken + rows, dtype=np.int64)).cast(pa.string())
        taken += rows
        return pc.binary_join_element_wise(prefix, numbers, "-")

    return take


def _as_schema(request: pa.Table, schema: ExpectedSchema) -> pa.Table:
    """The request's rows with another version's columns (same correlation ids)."""
    columns = [CORRELATION_ID, *schema.feature_names]
    return request.select(columns).cast(schema.request_arrow())


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
        # one scalar repeated: a list of ``rows`` datetimes cost 2 ms per 1,000 rows
        TIMESTAMP: pa.repeat(pa.scalar(now, type=pa.timestamp("us", tz="UTC")), rows),
        **{name: request.column(name) for name in schema.feature_names},
        PREDICTION: pa.array(prediction.predictions).cast(schema.prediction.arrow),
    }
    if schema.probabilities:
        columns[PROBABILITIES] = _probability_lists(prediction.probabilities, rows)
    target = schema.inference_arrow()
    if [(name, column.type) for name, column in columns.items()] == [
        (f.name, f.type) for f in target
    ]:  # the usual case: every column has its stored type already (a cast copies them all)
        return pa.Table.from_arrays(list(columns.values()), schema=target)
    return pa.table(columns).cast(target)


def _probability_lists(probs: np.ndarray | None, rows: int) -> pa.Array:
    """One list of class probabilities per row, straight from the matrix (no Python floats)."""
    if probs is None:
        return pa.nulls(rows, type=pa.list_(pa.float64()))
    matrix = np.asarray(probs, dtype=np.float64).reshape(rows, -1)
    offsets = pa.array(np.arange(0, matrix.size + 1, matrix.shape[1], dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(matrix.ravel()))
