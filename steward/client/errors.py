"""The SDK's exception tree: one class per stable API error code, never a raw httpx error.

    StewardClientError
    ├── APIError                 any error answer: ``code``, ``detail``, ``status``, ``request_id``
    │   ├── Unauthenticated      401 unauthenticated
    │   ├── Forbidden            403 permission_denied
    │   ├── NotFound             404 not_found
    │   ├── Conflict             409 conflict
    │   │   └── InvalidState     409 invalid_state
    │   ├── TooLarge             413 payload_too_large
    │   ├── Invalid              422 invalid_input (``field_errors``)
    │   ├── Throttled            429 rate_limited (``retry_after``)
    │   ├── ServerError          500 internal, other 5xx
    │   ├── ServerUnavailable    503 unavailable, and a server that cannot be reached
    │   └── InsufficientStorage  507 insufficient_storage
    └── VerificationUnavailable  offline report verification needs the full ``steward`` install

A code the SDK does not know is mapped by its HTTP status (a 422 ``invalid_spec`` is ``Invalid``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


class StewardClientError(Exception):
    """Base of every error the SDK raises."""


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one field of a request: where (``loc``) and what (``msg``)."""

    loc: tuple[str, ...]
    msg: str

    def __str__(self) -> str:
        return f"{'.'.join(self.loc) or '(request)'}: {self.msg}"


class APIError(StewardClientError):
    """An error answer of the server, or no answer at all (``status`` None)."""

    code: ClassVar[str] = "error"

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.code = code or type(self).code  # type: ignore[misc]
        self.request_id = request_id
        self.body = body or {}

    def __str__(self) -> str:
        where = f" (request {self.request_id})" if self.request_id else ""
        return f"{self.code}: {self.detail}{where}"


class Unauthenticated(APIError):
    """No valid token was presented (401)."""

    code = "unauthenticated"


class Forbidden(APIError):
    """The token's principal may not do this (403)."""

    code = "permission_denied"


class NotFound(APIError):
    """The object does not exist or is not visible to the caller (404)."""

    code = "not_found"


class Conflict(APIError):
    """The request collides with the current state (409)."""

    code = "conflict"


class InvalidState(Conflict):
    """The object's state does not allow the operation (409)."""

    code = "invalid_state"


class TooLarge(APIError):
    """The request body is over the server's limit: send smaller batches (413)."""

    code = "payload_too_large"


class Invalid(APIError):
    """The request is malformed; ``field_errors`` names each field and what is wrong (422)."""

    code = "invalid_input"

    @property
    def field_errors(self) -> list[FieldError]:
        """The server's per-field problems, in its order."""
        found = self.body.get("errors") or []
        return [_field_error(e) for e in found if isinstance(e, dict)]


def _field_error(raw: dict[str, Any]) -> FieldError:
    loc = raw.get("loc", ())
    parts = loc.split(".") if isinstance(loc, str) else [str(p) for p in loc]
    if "monitor" in raw:  # a monitor document's problems name the monitor too
        parts = [str(raw.get("name", raw["monitor"])), *parts]
    return FieldError(loc=tuple(parts), msg=str(raw.get("msg", "")))


class Throttled(APIError):
    """Rate limited (429) after every retry; ``retry_after`` is the server's advice in seconds."""

    code = "rate_limited"

    def __init__(self, detail: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(detail, **kw)
        self.retry_after = retry_after


class ServerError(APIError):
    """The server failed (500 and other 5xx); quote ``request_id`` to its operators."""

    code = "internal"


class ServerUnavailable(APIError):
    """The server answered 503 after every retry, or could not be reached at all."""

    code = "unavailable"


class InsufficientStorage(APIError):
    """The server's storage is full; nothing was stored (507)."""

    code = "insufficient_storage"


class VerificationUnavailable(StewardClientError):
    """Offline report verification needs ``steward.reports.signing`` (the full install)."""


_BY_CODE: dict[str, type[APIError]] = {
    cls.code: cls
    for cls in (
        Unauthenticated,
        Forbidden,
        NotFound,
        Conflict,
        InvalidState,
        TooLarge,
        Invalid,
        Throttled,
        ServerError,
        ServerUnavailable,
        InsufficientStorage,
    )
}
_BY_STATUS: dict[int, type[APIError]] = {
    401: Unauthenticated,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: TooLarge,
    422: Invalid,
    429: Throttled,
    503: ServerUnavailable,
    507: InsufficientStorage,
}


def error_class(code: str, status: int) -> type[APIError]:
    """The class for an error answer: by its stable code, else by its HTTP status."""
    if code in _BY_CODE:
        return _BY_CODE[code]
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return ServerError if status >= 500 else APIError
