"""Inference logs and labels of an endpoint: JSON records or bulk Arrow/Parquet bodies."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

import pyarrow as pa
from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from monitors.capture import service
from monitors.capture.bulk import ARROW_STREAM, JSON, PARQUET
from monitors.capture.schemas import InferenceBatch, IngestResult, LabelBatch
from monitors.capture.source import EndpointSchemaSource, LineageSchemaSource
from steward.api.deps import Caller, Services, ServicesDep, require
from steward.api.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["inference"], responses=ERROR_RESPONSES)

ProjectName = Annotated[str, Path(max_length=64)]
EndpointName = Annotated[str, Path(max_length=200)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
ContentType = Annotated[str | None, Header(alias="Content-Type", max_length=200)]
MAX_JSON_ROWS = 10_000

_DUPLICATE: dict[int | str, dict[str, Any]] = {
    200: {"model": IngestResult, "description": "A retry of a stored batch: not stored again"}
}


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """A JSON schema with its local ``$defs`` references replaced by their definitions."""
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        if ref.startswith("#/$defs/"):
            return _inline(defs[ref.split("/")[-1]], defs)
        return {k: _inline(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI request body of a route taking ``model`` as JSON, or Arrow or Parquet."""
    schema = model.model_json_schema()
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {
        "requestBody": {
            "required": True,
            "content": {
                JSON: {"schema": _inline(schema, schema.get("$defs", {}))},
                ARROW_STREAM: binary,
                PARQUET: binary,
            },
        }
    }


async def raw_body(request: Request) -> bytes:
    """The request body as bytes (JSON, Arrow IPC stream or Parquet)."""
    return await request.body()


Body = Annotated[bytes, Depends(raw_body)]


def schema_source(svc: Services) -> EndpointSchemaSource:
    """The endpoints' expected schemas: the lineage graph unless the app was given another."""
    return svc.schema_source if svc.schema_source is not None else LineageSchemaSource()


def _reply(result: IngestResult, response: Response) -> IngestResult:
    # A replayed batch is acknowledged like the original, without storing it again.
    response.status_code = 200 if result.duplicate else 201
    return result


@router.post(
    "/projects/{project}/endpoints/{endpoint}/inferences",
    response_model=IngestResult,
    status_code=201,
    responses=_DUPLICATE,
    openapi_extra=body_doc(InferenceBatch),
)
def post_inferences(
    project: ProjectName,
    endpoint: EndpointName,
    body: Body,
    response: Response,
    caller: Annotated[Caller, Depends(require("inference", "write"))],
    svc: ServicesDep,
    content_type: ContentType = None,
    idempotency_key: IdempotencyKey = None,
) -> IngestResult:
    """Store a batch of inference records; a retried batch is stored once."""
    result = service.ingest_inferences(
        svc.db, files=service.capture_files(svc.settings), schemas=schema_source(svc),
        project=project, endpoint=endpoint, body=body, content_type=content_type,
        idempotency_key=idempotency_key, actor=caller.principal, clock=svc.clock,
        limits=service.ingest_limits(svc.settings),
    )  # fmt: skip
    return _reply(result, response)


@router.post(
    "/projects/{project}/endpoints/{endpoint}/labels",
    response_model=IngestResult,
    status_code=201,
    responses=_DUPLICATE,
    openapi_extra=body_doc(LabelBatch),
)
def post_labels(
    project: ProjectName,
    endpoint: EndpointName,
    body: Body,
    response: Response,
    caller: Annotated[Caller, Depends(require("label", "write"))],
    svc: ServicesDep,
    content_type: ContentType = None,
    idempotency_key: IdempotencyKey = None,
) -> IngestResult:
    """Store ground-truth labels of earlier inferences, keyed by correlation id."""
    result = service.ingest_labels(
        svc.db, files=service.capture_files(svc.settings), schemas=schema_source(svc),
        project=project, endpoint=endpoint, body=body, content_type=content_type,
        idempotency_key=idempotency_key, actor=caller.principal, clock=svc.clock,
        limits=service.ingest_limits(svc.settings),
    )  # fmt: skip
    return _reply(result, response)


@router.get(
    "/projects/{project}/endpoints/{endpoint}/inferences",
    response_class=Response,
    responses={200: {"content": {JSON: {}, ARROW_STREAM: {}}}},
)
def get_inferences(
    project: ProjectName,
    endpoint: EndpointName,
    start: Annotated[datetime, Query()],
    end: Annotated[datetime, Query()],
    caller: Annotated[Caller, Depends(require("inference", "read"))],
    svc: ServicesDep,
    labels: Annotated[bool, Query()] = False,
    format: Annotated[Literal["json", "arrow"], Query()] = "json",
) -> Response:
    """Captured rows with ``start <= timestamp < end`` (JSON: at most 10,000; Arrow: all)."""
    table = service.read_window(
        svc.settings, project=project, endpoint=endpoint, start=start, end=end,
        with_labels=labels,
    )  # fmt: skip
    if format == "arrow":
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return Response(sink.getvalue().to_pybytes(), media_type=ARROW_STREAM)
    rows = table.slice(0, MAX_JSON_ROWS).to_pylist()
    body = {"rows": rows, "count": len(rows), "truncated": table.num_rows > MAX_JSON_ROWS}
    return JSONResponse(_jsonable(body))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
