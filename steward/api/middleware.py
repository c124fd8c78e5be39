"""ASGI middleware: request ids, client address for audit, and the request body limit."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from governance.core.context import client_var, request_id_var
from governance.core.errors import TooLarge
from governance.core.ids import new_request_id
from steward.api.errors import error_response

log = logging.getLogger("steward.access")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestContextMiddleware:
    """Give every request an id (echoed as X-Request-ID) and log it with status and time."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        rid = given if _SAFE_ID.match(given) else new_request_id()
        client = scope.get("client")
        token_rid = request_id_var.set(rid)
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
            client_var.reset(token_client)


class BodyLimitMiddleware:
    """Refuse bodies over ``limit`` bytes with 413: by Content-Length, or while buffering.

    ``overrides`` maps path patterns to their own limits (the first match wins).
    """

    def __init__(
        self, app: ASGIApp, *, limit: int, overrides: Sequence[tuple[str, int]] = ()
    ) -> None:
        self.app = app
        self.default = limit
        self.limit = limit
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
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > limit:
                await self._refuse(scope, receive, send, limit)
                return
            chunks.append(message.get("body", b""))
            more = bool(message.get("more_body", False))
        body: bytes | None = b"".join(chunks)

        async def replay() -> Message:
            # The buffered body once, then the server's own messages (e.g. http.disconnect,
            # which a streaming response waits for: answering it with empty bodies forever
            # would spin the event loop and the response would never finish).
            nonlocal body
            if body is None:
                return await receive()
            data, body = body, None
            return {"type": "http.request", "body": data, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        exc = TooLarge(f"request body exceeds {limit} bytes")
        response = error_response(413, exc.code, exc.detail)
        await response(scope, receive, send)
