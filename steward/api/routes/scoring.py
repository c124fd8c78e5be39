"""Scoring: the deployed version of an endpoint predicts, and every request is captured."""

from __future__ import annotations

import functools
import json
import threading
import time
from typing import Annotated, Any

import pyarrow as pa
from fastapi import APIRouter, Depends, Header, Path, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from governance.core.principal import Principal, PrincipalKind
from monitors.capture import bulk
from monitors.capture.buffer import CaptureBuffer, capture_writer
from monitors.capture.service import capture_files, ingest_limits
from monitors.capture.source import EndpointSchemaSource, LineageSchemaSource
from retrain.rollout.routing import RolloutTraffic
from retrain.scoring import Scorer, ScoreResult
from steward.api.deps import Caller, Services, ServicesDep, require
from steward.api.errors import ERROR_RESPONSES
from steward.api.routes.inference import Body, ContentType, body_doc

router = APIRouter(prefix="/api/v1", tags=["scoring"], responses=ERROR_RESPONSES)
# Scored rows are stored in batches that mix callers: their capture is the service's own.
_BUILDING = threading.Lock()
SCORING = Principal(id=None, name="steward-scoring", kind=PrincipalKind.system, via="internal")

# A request expected to score within INLINE_SECONDS runs on the event loop: handing it to a
# worker thread and back cost about a millisecond (two thread switches, caches gone cold), a
# tenth of scoring 1,000 rows of a small pipeline. Slower ones go to a worker so that the loop
# keeps serving other requests meanwhile. Small bodies (under the scorer's ``pace.min_bytes``,
# a few dozen JSON rows) always stay on the loop; larger ones go to a worker until the
# endpoint's pace says they are quick.
INLINE_SECONDS = 0.02

ProjectName = Annotated[str, Path(max_length=64)]
EndpointName = Annotated[str, Path(max_length=200)]
# An Accept naming Arrow's stream type gets the answer as an Arrow IPC stream, else JSON.
AcceptHeader = Annotated[str | None, Header(alias="Accept", max_length=500)]
# Requests with the same key are served by the same version during a canary rollout.
RequestKey = Annotated[
    str | None,
    Header(alias="X-Steward-Request-Key", max_length=200, description="canary stickiness key"),
]


class ScoreRecord(BaseModel):
    """One row to score: the signature's inputs, and a correlation id labels can refer to."""

    correlation_id: str | None = None
    features: dict[str, Any]


class ScoreRequest(BaseModel):
    """Rows to score (JSON; Arrow IPC streams and Parquet files carry the same columns)."""

    records: list[ScoreRecord]


class ScoreResponse(BaseModel):
    """Predictions in request order, with the version that made them."""

    model: str
    version: int
    correlation_ids: list[str]
    predictions: list[Any]
    probabilities: list[list[float]] | None = None
    classes: list[str] | None = None


def scorer(svc: Services) -> Scorer:
    """The app's scorer (and its capture buffer), built at the first scoring request.

    Built under a lock: two first requests building two scorers would leave one capture buffer
    that shutdown never flushes.
    """
    with _BUILDING:
        if svc.scorer is None:
            svc.scorer = _build(svc)
        return svc.scorer


def _build(svc: Services) -> Scorer:
    schemas: EndpointSchemaSource = svc.schema_source or LineageSchemaSource()
    write = capture_writer(
        svc.db, files=capture_files(svc.settings), schemas=schemas, actor=SCORING,
        clock=svc.clock, limits=ingest_limits(svc.settings),
    )  # fmt: skip
    assert svc.settings.artifact_dir is not None
    return Scorer(
        db=svc.db, artifact_dir=svc.settings.artifact_dir, capture=CaptureBuffer(write),
        clock=svc.clock, trusted=tuple(svc.settings.skops_trusted_types),
        limits=ingest_limits(svc.settings),
        rollouts=RolloutTraffic(db=svc.db, settings=svc.settings, clock=svc.clock),
    )  # fmt: skip


@router.post(
    "/projects/{project}/endpoints/{endpoint}/score",
    response_model=ScoreResponse,
    openapi_extra=body_doc(ScoreRequest),
)
async def score(
    project: ProjectName,
    endpoint: EndpointName,
    body: Body,
    caller: Annotated[Caller, Depends(require("endpoint", "score"))],
    svc: ServicesDep,
    content_type: ContentType = None,
    request_key: RequestKey = None,
    accept: AcceptHeader = None,
) -> Response:
    """Predict with the endpoint's deployed version; the rows are logged as its inferences.

    Inputs are checked against the deployed signature (422 naming each problem). The
    response's correlation ids (given, or new) are what labels for these rows refer to.
    """
    scoring = scorer(svc)
    call = functools.partial(
        scoring.score, project=project, endpoint=endpoint, body=body,
        content_type=content_type, request_key=request_key,
    )  # fmt: skip
    # only requests that were scored are noted: their content types are the few supported ones
    pace = (project, endpoint, bulk.bare_media_type(content_type))
    inline = scoring.pace.quick(pace, len(body), within=INLINE_SECONDS)
    started = time.perf_counter()
    result = call() if inline else await run_in_threadpool(call)
    scoring.pace.note(pace, len(body), time.perf_counter() - started)
    if accept is not None and bulk.ARROW_STREAM in accept:
        return _arrow_response(result)
    # the response model documents the body; validating thousands of rows through it again
    # would cost more than the model (the values are plain JSON already)
    return JSONResponse(result.as_json())


def _arrow_response(result: ScoreResult) -> Response:
    """The answer as an Arrow IPC stream: one row per input; model, version, classes as metadata."""
    metadata = {"model": result.model, "version": str(result.version),
                "classes": json.dumps(result.classes)}  # fmt: skip
    table = result.table.replace_schema_metadata(metadata)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return Response(sink.getvalue().to_pybytes(), media_type=bulk.ARROW_STREAM)
