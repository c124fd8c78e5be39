"""The one place where errors become HTTP responses, all with the same body shape."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from governance.core import errors as e
from governance.core.context import request_id_var
from governance.core.files import STORAGE_FULL, is_full

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
    e.InsufficientStorage: 507,
}
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthenticated"}
# A database that refuses connections, stays locked past the busy timeout or has no pooled
# connection to spare: the request may succeed later, so it is a 503, not a 500.
DATABASE_DOWN: tuple[type[Exception], ...] = (OperationalError, PoolTimeoutError)
RETRY_AFTER_SECONDS = 5


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
    elif response.status_code == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


# A database whose disk is full: SQLite's SQLITE_FULL, PostgreSQL's disk_full (SQLSTATE 53100).
_SQLITE_FULL = 13
_PG_DISK_FULL = "53100"


async def _database_down(request: Request, exc: Exception) -> JSONResponse:
    # The driver's own message, never the statement or its parameters, and only to the log.
    reason = getattr(exc, "orig", None) or exc
    if _database_full(reason):
        log.warning("database storage full (request %s): %s", request_id_var.get(), reason)
        return storage_full_response()
    log.warning("database unavailable (request %s): %s", request_id_var.get(), reason)
    return unavailable_response("the database is unavailable; retry later")


def _database_full(reason: BaseException) -> bool:
    code = getattr(reason, "sqlite_errorcode", None)
    return code == _SQLITE_FULL or getattr(reason, "sqlstate", None) == _PG_DISK_FULL


def storage_full_response() -> JSONResponse:
    """A 507 ``insufficient_storage`` in the common shape."""
    return error_response(507, e.InsufficientStorage.code, STORAGE_FULL)


async def _os_error(request: Request, exc: Exception) -> JSONResponse:
    # A full disk met by a write outside the private-file helpers is still a 507, not a 500.
    if is_full(exc):
        log.warning("storage full (request %s): %s", request_id_var.get(), exc)
        return storage_full_response()
    return internal_error_response(exc)


def unavailable_response(detail: str) -> JSONResponse:
    """A 503 ``unavailable`` in the common shape, with Retry-After."""
    response = error_response(503, e.Unavailable.code, detail)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return invalid_input_response(exc.errors())


def invalid_input_response(problems: Sequence[Mapping[str, Any]]) -> JSONResponse:
    """A 422 ``invalid_input`` naming each field (``loc``) with what is wrong with it (``msg``)."""
    errors = [
        {"loc": [str(p) for p in err.get("loc", ())], "msg": str(err.get("msg", ""))}
        for err in problems
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    detail = f"{'.'.join(first['loc'])}: {first['msg']}"
    return error_response(422, e.InvalidInput.code, detail, errors=errors)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    return internal_error_response(exc)


def internal_error_response(exc: BaseException) -> JSONResponse:
    """Log an unexpected error with its request id; answer a 500 that never carries its text."""
    log.error("unhandled error (request %s)", request_id_var.get(), exc_info=exc)
    return error_response(500, "internal", "internal error; quote the request id to support")


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(e.StewardError, _steward_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for cls in DATABASE_DOWN:
        app.add_exception_handler(cls, _database_down)
    app.add_exception_handler(OSError, _os_error)
    # The last resort: RequestContextMiddleware answers unexpected errors itself (with the
    # request id); this handler only sees errors raised outside it.
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
        (503, "A dependency (the database) is unavailable; retry after Retry-After seconds"),
        (507, "Storage is full: nothing was stored"),
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
