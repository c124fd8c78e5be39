"""The one place where errors become HTTP responses, all with the same body shape."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from governance.core import errors as e
from governance.core.context import request_id_var

log = logging.getLogger("steward.api")

STATUS: dict[type[e.StewardError], int] = {
    e.NotFound: 404,
    e.Conflict: 409,
    e.InvalidInput: 422,
    e.InvalidState: 409,
    e.Unauthenticated: 401,
    e.PermissionDenied: 403,
    e.TooLarge: 413,
    e.Throttled: 429,
    e.Unavailable: 503,
}
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthenticated"}


class ErrorBody(BaseModel):
    """Every error response: a stable code, a human sentence, the request id."""

    code: str
    detail: str
    request_id: str | None = None
    errors: list[dict[str, Any]] | None = None


def status_of(exc: e.StewardError) -> int:
    """HTTP status of a Steward error (most specific class wins)."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def error_response(status: int, code: str, detail: str, **extra: Any) -> JSONResponse:
    """Build an error response in the common shape."""
    body = ErrorBody(code=code, detail=detail, request_id=request_id_var.get(), **extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


async def _steward_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, e.StewardError)
    extra: dict[str, Any] = {}
    if "errors" in exc.extra:
        extra["errors"] = exc.extra["errors"]
    response = error_response(status_of(exc), exc.code, exc.detail, **extra)
    if isinstance(exc, e.Throttled):
        response.headers["Retry-After"] = str(max(1, int(exc.retry_after + 0.999)))
    return response


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": [str(p) for p in err.get("loc", ())], "msg": str(err.get("msg", ""))}
        for err in exc.errors()
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    detail = f"{'.'.join(first['loc'])}: {first['msg']}"
    return error_response(422, "invalid_input", detail, errors=errors)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error (request %s)", request_id_var.get())
    return error_response(500, "internal", "internal error; quote the request id to support")


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(e.StewardError, _steward_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": desc}
    for status, desc in [
        (401, "Missing or invalid credentials"),
        (403, "Denied by policy"),
        (404, "Not found, or not visible to the caller"),
        (409, "Conflict with the current state"),
        (413, "Request body too large"),
        (422, "Invalid input"),
        (429, "Rate limited"),
    ]
}


def json_error_bodies(spec: dict[str, Any]) -> dict[str, Any]:
    """Document error responses as JSON everywhere, as they are sent.

    FastAPI documents a route's extra responses in the route's own media type, so a route that
    serves text (the audit public key) would claim its 401/403/... bodies are text too.
    """
    ref = {"$ref": "#/components/schemas/ErrorBody"}
    for item in spec.get("paths", {}).values():
        for operation in item.values():
            for response in operation.get("responses", {}).values():
                content = response.get("content", {})
                if any(media.get("schema") == ref for media in content.values()):
                    response["content"] = {"application/json": {"schema": ref}}
    return spec
