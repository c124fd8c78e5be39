"""OTLP/HTTP trace ingest (``POST /v1/traces``) and each project's PII-redaction setting.

``POST /v1/traces`` is the path OpenTelemetry's OTLP/HTTP exporters post to, so it has no
project in its path: the route only authenticates, and ``monitors.traces.service`` checks
``(inference, write)`` in every project the export's spans go to (named by resource attributes
or the ``X-Steward-Project`` header), with the same 404-then-403 answers and denial audit as
``require``. The reply is an ``ExportTraceServiceResponse`` in the request's encoding; errors are
Steward's JSON errors.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request, Response

from governance.core.errors import TooLarge
from monitors.capture.service import capture_files, ingest_limits
from monitors.traces import service
from monitors.traces.otlp import JSON, PROTOBUF
from monitors.traces.schemas import RedactionSettings, RedactionUpdate
from steward.api.deps import Caller, ServicesDep, require
from steward.api.errors import ERROR_RESPONSES

router = APIRouter(tags=["traces"], responses=ERROR_RESPONSES)

ProjectName = Annotated[str, Path(max_length=64)]
Name = Annotated[str | None, Header(max_length=200)]
_BINARY = {"schema": {"type": "string", "format": "binary"}}
_OTLP: dict[str, Any] = {
    "requestBody": {"required": True, "content": {PROTOBUF: _BINARY, JSON: {"schema": {}}}}
}
# ExportTraceServiceResponse in the OTLP JSON encoding (empty when every span was accepted).
_JSON_REPLY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "partialSuccess": {
            "type": "object",
            "properties": {"rejectedSpans": {"type": "string"}, "errorMessage": {"type": "string"}},
        }
    },
}
_REPLY: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {JSON: {"schema": _JSON_REPLY}, PROTOBUF: _BINARY},  # JSON first: tools read it
        "description": "An ExportTraceServiceResponse (partial_success names refused spans)",
    }
}


async def otlp_body(request: Request, svc: ServicesDep) -> bytes:
    """The request body, refused with 413 as soon as it passes the body limit (never buffered)."""
    limit = svc.settings.max_body_bytes
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"request body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/v1/traces", response_class=Response, responses=_REPLY, openapi_extra=_OTLP)
def export_traces(
    body: Annotated[bytes, Depends(otlp_body)],
    caller: Annotated[Caller, Depends(require("inference", "write", scope="self"))],
    svc: ServicesDep,
    content_type: Annotated[str | None, Header(max_length=200)] = None,
    content_encoding: Annotated[str | None, Header(max_length=50)] = None,
    x_steward_project: Name = None,
    x_steward_endpoint: Name = None,
) -> Response:
    """Store the GenAI spans of an OTLP export as records of LLM endpoints."""
    export = service.Export(
        body=body, content_type=content_type, content_encoding=content_encoding,
        project=x_steward_project, endpoint=x_steward_endpoint,
    )  # fmt: skip
    outcome, media = service.ingest_traces(
        svc.db, files=capture_files(svc.settings), export=export, actor=caller.principal,
        policy=svc.policy, max_bytes=svc.settings.max_body_bytes, clock=svc.clock,
        limits=ingest_limits(svc.settings),
    )  # fmt: skip
    headers = {
        "X-Steward-Records": str(outcome.records),
        "X-Steward-Redactions": str(outcome.redactions),
    }
    return Response(service.reply(outcome, media), media_type=media, headers=headers)


@router.get("/api/v1/projects/{project}/traces/redaction", response_model=RedactionSettings)
def get_redaction(
    project: ProjectName,
    caller: Annotated[Caller, Depends(require("project", "read"))],
    svc: ServicesDep,
) -> RedactionSettings:
    """Which PII is removed from the project's trace text before it is stored."""
    return service.get_redaction(svc.db, project=project)


@router.put("/api/v1/projects/{project}/traces/redaction", response_model=RedactionSettings)
def set_redaction(
    project: ProjectName,
    body: RedactionUpdate,
    caller: Annotated[Caller, Depends(require("project", "write"))],
    svc: ServicesDep,
) -> RedactionSettings:
    """Replace the project's redaction setting (built-in rules to keep on, custom patterns)."""
    return service.set_redaction(
        svc.db, project=project, data=body, actor=caller.principal, clock=svc.clock
    )
