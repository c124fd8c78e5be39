"""ASGI middleware: request ids, client address for audit, the body limit, unusable input,
HTTP request metrics."""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from email.message import Message as MimeHeader
from typing import Any
from urllib.parse import parse_qsl

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from governance.core.context import client_request_id_var, client_var, request_id_var
from governance.core.errors import TooLarge
from governance.core.ids import new_request_id
from steward.api.errors import error_response, internal_error_response, invalid_input_response
from steward.metrics import UNMATCHED, HttpMetrics

log = logging.getLogger("steward.access")
MAX_CLIENT_REQUEST_ID = 128
MAX_REPORTED_PROBLEMS = 20


def client_request_id(headers: dict[bytes, bytes]) -> str | None:
    """The client's X-Request-ID if it is 1 to 128 printable ASCII characters, else None."""
    given = headers.get(b"x-request-id", b"")
    if 0 < len(given) <= MAX_CLIENT_REQUEST_ID and all(0x20 <= b <= 0x7E for b in given):
        return given.decode("ascii")
    return None


class RequestContextMiddleware:
    """Give every request an id of the server's own (sent as X-Request-ID) and log it.

    A client's X-Request-ID is kept apart (``client_request_id_var``, recorded in audit
    details), so no client can forge or collide the ids of the log. An unexpected error is
    answered here, as a 500 carrying the request id, and logged; it never reaches the server.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = new_request_id()
        client = scope.get("client")
        token_rid = request_id_var.set(rid)
        token_given = client_request_id_var.set(client_request_id(dict(scope.get("headers") or [])))
        token_client = client_var.set(client[0] if client else None)
        started = time.perf_counter()
        status: dict[str, Any] = {}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if "code" in status:  # the response has begun: too late to answer in its place
                raise
            await internal_error_response(exc)(scope, receive, send_with_id)
        finally:
            log.info(
                "%s %s -> %s in %.1f ms [request %s]",
                scope.get("method"),
                scope.get("path"),
                status.get("code"),
                (time.perf_counter() - started) * 1000,
                rid,
            )
            request_id_var.reset(token_rid)
            client_request_id_var.reset(token_given)
            client_var.reset(token_client)


class HttpMetricsMiddleware:
    """Count and time every HTTP request by method, route template (never the raw path) and status.

    Outermost, so it sees what the client got: 413s of the body limit, the 500s the request
    context answers. ``routes`` (the app's) name the template of requests refused before routing.
    """

    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: dict[str, int] = {}

        async def send_noting_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            self.metrics.observe(
                method=str(scope.get("method", "")),
                route=self.route_of(scope),
                status=status.get("code", 500),
                seconds=time.perf_counter() - started,
            )

    def route_of(self, scope: Scope) -> str:
        """The path template of the route that took (or would have taken) the request."""
        route = scope.get("route")  # set by the router on the shared scope when it matched
        if isinstance(getattr(route, "path", None), str):
            return str(route.path)  # type: ignore[union-attr]
        for candidate in _flat(self.routes):
            match, _ = candidate.matches(scope)
            if match is not Match.NONE and isinstance(getattr(candidate, "path", None), str):
                return str(candidate.path)  # type: ignore[attr-defined]
        return UNMATCHED


def _flat(routes: Sequence[BaseRoute]) -> Iterator[BaseRoute]:
    # FastAPI >= 0.160 keeps included routers whole (their routes carry the router's prefix).
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _flat(included.routes)
        else:
            yield route


class BodyLimitMiddleware:
    """Refuse bodies over ``limit`` bytes with 413: by Content-Length, or while buffering.

    ``overrides`` maps path patterns to their own limits (the first match wins).
    """

    def __init__(
        self, app: ASGIApp, *, limit: int, overrides: Sequence[tuple[str, int]] = ()
    ) -> None:
        self.app = app
        self.default = limit
        self.overrides = [(re.compile(pattern), size) for pattern, size in overrides]

    def limit_for(self, path: str) -> int:
        """The body limit of a request path."""
        for pattern, size in self.overrides:
            if pattern.match(path):
                return size
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(str(scope.get("path", "")))
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit() or int(declared) > limit:
                await self._refuse(scope, receive, send, limit)
                return
            await self.app(scope, receive, send)
            return
        # No declared length (chunked): buffer up to the limit, then replay to the app.
        body = await read_body(receive, limit)
        if body is None:
            await self._refuse(scope, receive, send, limit)
            return
        await self.app(scope, replaying(body, receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        exc = TooLarge(f"request body exceeds {limit} bytes")
        response = error_response(413, exc.code, exc.detail)
        await response(scope, receive, send)


async def read_body(receive: Receive, limit: float = math.inf) -> bytes | None:
    """The whole request body, or None once it exceeds ``limit`` bytes."""
    chunks: list[bytes] = []
    size, more = 0, True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        size += len(message.get("body", b""))
        if size > limit:
            return None
        chunks.append(message.get("body", b""))
        more = bool(message.get("more_body", False))
    return b"".join(chunks)


def replaying(body: bytes, receive: Receive) -> Receive:
    """A receive channel that yields a buffered body once, then the server's own messages."""
    pending: bytes | None = body

    async def replay() -> Message:
        # After the body, the server's messages (e.g. http.disconnect, which a streaming
        # response waits for: answering it with empty bodies forever would spin the event loop
        # and the response would never finish).
        nonlocal pending
        if pending is None:
            return await receive()
        data, pending = pending, None
        return {"type": "http.request", "body": data, "more_body": False}

    return replay


class InputGuardMiddleware:
    """Refuse, as 422 naming the field, input that parses but that no route can use.

    JSON bodies with ``NaN``, ``Infinity`` or ``-Infinity`` (not JSON by RFC 8259, yet
    Python's parser, and so FastAPI's and every ``json.loads``, takes them), and date-times in
    the query or in a JSON body that leave the representable range on conversion to UTC (year 1
    with a positive offset, year 9999 with a negative one). Checked here, once for every route,
    free-form bodies and hand-parsed uploads included; a fast byte scan spares the common case a
    second parse. Must run inside the body limit, which bounds what it buffers.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problems = query_problems(scope.get("query_string") or b"")
        if not problems and _is_json(dict(scope.get("headers") or [])):
            body = await read_body(receive) or b""
            receive = replaying(body, receive)
            problems = json_body_problems(body)
        if problems:
            await invalid_input_response(problems)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _is_json(headers: dict[bytes, bytes]) -> bool:
    # No Content-Type counts: the ingest routes take such bodies as JSON.
    value = headers.get(b"content-type")
    if value is None:
        return True
    header = MimeHeader()
    header["content-type"] = value.decode("latin-1")
    subtype = header.get_content_subtype()
    return header.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


_YEAR_EDGES = (b"0001-", b"9999-")
_NON_FINITE = (b"NaN", b"Infinity")
Problem = dict[str, Any]


def query_problems(query: bytes) -> list[Problem]:
    """Query parameters holding a date-time out of range in UTC."""
    if not any(edge in query for edge in _YEAR_EDGES):
        return []
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    return [_out_of_range(["query", name]) for name, value in pairs if _overflows_utc(value)]


def json_body_problems(body: bytes) -> list[Problem]:
    """Places of a JSON body holding a non-finite number, or a date-time out of range in UTC."""
    if not any(token in body for token in (*_NON_FINITE, *_YEAR_EDGES)):
        return []
    try:
        doc = json.loads(body, parse_constant=_Constant)
    except (ValueError, RecursionError):
        return []  # not JSON at all: the route says so in its own words
    found: list[Problem] = []
    for loc, value in _leaves(doc):
        if isinstance(value, _Constant) or (isinstance(value, float) and not math.isfinite(value)):
            found.append({"loc": loc, "msg": "NaN and Infinity are not valid JSON numbers"})
        elif isinstance(value, str) and _overflows_utc(value):
            found.append(_out_of_range(loc))
        if len(found) == MAX_REPORTED_PROBLEMS:
            break
    return found


class _Constant(str):
    """A NaN or Infinity literal, marked where ``json.loads`` met it."""


def _leaves(doc: Any) -> Iterator[tuple[list[str | int], Any]]:
    # Iterative, depth-first in document order: nesting as deep as the parser allows is fine.
    stack: list[tuple[list[str | int], Any]] = [(["body"], doc)]
    while stack:
        loc, node = stack.pop()
        if isinstance(node, dict):
            stack.extend(([*loc, k], v) for k, v in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend(([*loc, i], v) for i, v in reversed(list(enumerate(node))))
        else:
            yield loc, node


def _overflows_utc(text: str) -> bool:
    if not text.startswith(("0001-", "9999-")) or len(text) > 64:
        return False
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return False
    if value.tzinfo is None:  # naive times are taken as UTC already
        return False
    try:
        value.astimezone(UTC)
    except OverflowError:
        return True
    return False


def _out_of_range(loc: list[str | int] | list[str]) -> Problem:
    return {"loc": loc, "msg": "date-time out of range when converted to UTC"}
