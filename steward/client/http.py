"""The SDK's HTTP core: bearer auth, retries with backoff, and error answers as typed errors.

What is retried, and why it is safe:

- 429 and 503 always: the server refused before doing anything (rate limiter, a database that
  is down and rolled back). The wait is the server's ``Retry-After`` when it sends one.
- A connection that could not be made (nothing was sent) always.
- A request that was sent but got no answer (timeout, dropped connection) only when repeating it
  cannot do the work twice: GET/PUT/DELETE, or a request carrying an ``Idempotency-Key``.
"""

from __future__ import annotations

import email.utils
import json
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

from steward.client import errors

API = "/api/v1"
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_CHUNK = 1 << 20
Body = bytes | Path | None


@dataclass(frozen=True, kw_only=True, slots=True)
class RetryPolicy:
    """How often and how long to retry; waits grow ``backoff * 2**n`` with jitter."""

    attempts: int = 5  # tries in all, the first included
    backoff: float = 0.5  # seconds before the first retry (without Retry-After)
    max_wait: float = 30.0  # cap of one computed wait
    max_retry_after: float = 120.0  # a longer Retry-After is not waited for: the error is raised
    statuses: frozenset[int] = frozenset({429, 503})

    def wait(self, retry: int, retry_after: float | None) -> float:
        """Seconds to sleep before retry number ``retry`` (0-based)."""
        if retry_after is not None:
            return retry_after
        ceiling = min(self.max_wait, self.backoff * 2**retry)
        return float(ceiling / 2 + random.uniform(0, ceiling / 2))


def dumps(value: Any) -> bytes:
    """JSON bytes of ``value``; datetimes as ISO 8601 (naive ones taken as UTC), UUIDs as text."""
    return json.dumps(value, default=_jsonable, allow_nan=False).encode()


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date | UUID):
        return str(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", exclude_none=True)
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


def retry_after(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header in seconds (delta or HTTP date), None when absent or bad."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            yield chunk


class Http:
    """One server and token; ``request`` returns a 2xx response or raises an ``APIError``."""

    def __init__(
        self,
        http: httpx.Client,
        token: str,
        *,
        retry: RetryPolicy,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.http, self.retry, self.sleep = http, retry, sleep
        self.headers = {"Authorization": f"Bearer {token}"}

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: Body = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send with retries; ``path`` is under ``/api/v1``; ``json`` or ``content`` is the body."""
        sent = {**self.headers, **(headers or {})}
        if json is not None:
            content, sent = dumps(json), {"Content-Type": "application/json", **sent}
        query = {k: v for k, v in (params or {}).items() if v is not None}
        replayable = method in _IDEMPOTENT or "Idempotency-Key" in sent
        for attempt in range(self.retry.attempts):
            last = attempt == self.retry.attempts - 1
            try:
                response = self._send(method, API + path, content, query, sent)
            except httpx.TransportError as exc:
                never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                if last or not (never_sent or replayable):
                    raise self._unreachable(exc) from None
                self.sleep(self.retry.wait(attempt, None))
                continue
            if response.is_success:
                return response
            wait = retry_after(response)
            retryable = response.status_code in self.retry.statuses
            if last or not retryable or (wait or 0) > self.retry.max_retry_after:
                raise error_from(response)
            self.sleep(self.retry.wait(attempt, wait))
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _send(
        self, method: str, url: str, content: Body, params: dict[str, Any], headers: dict[str, str]
    ) -> httpx.Response:
        body = _file_chunks(content) if isinstance(content, Path) else content
        request = self.http.build_request(method, url, content=body, params=params, headers=headers)
        response = self.http.send(request)
        try:
            response.read()
        finally:
            response.close()
        return response

    def _unreachable(self, exc: httpx.TransportError) -> errors.ServerUnavailable:
        where = str(exc.request.url) if _has_request(exc) else str(self.http.base_url)
        reason = type(exc).__name__
        detail = f"cannot reach the Steward server at {where} ({reason}: {exc})"
        return errors.ServerUnavailable(detail)

    def json(self, method: str, path: str, **kw: Any) -> Any:
        """``request`` and decode the JSON answer (None for 204)."""
        response = self.request(method, path, **kw)
        return None if response.status_code == 204 or not response.content else response.json()


def _has_request(exc: httpx.TransportError) -> bool:
    try:
        exc.request  # noqa: B018 - raises RuntimeError when the error has no request
    except RuntimeError:
        return False
    return True


def error_from(response: httpx.Response) -> errors.APIError:
    """The typed error for an error answer, with the server's code, detail and request id."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {}
    status = response.status_code
    code = str(body.get("code") or f"http_{status}")
    detail = str(body.get("detail") or response.reason_phrase or f"HTTP {status}")
    request_id = body.get("request_id") or response.headers.get("X-Request-ID")
    cls = errors.error_class(code, status)
    kw: dict[str, Any] = {"status": status, "code": code, "request_id": request_id, "body": body}
    if cls is errors.Throttled:
        return errors.Throttled(detail, retry_after=retry_after(response), **kw)
    return cls(detail, **kw)
