"""The one exception tree of Steward; every error has a stable machine-readable code."""

from __future__ import annotations

from typing import Any, ClassVar


class StewardError(Exception):
    """Base of every error Steward raises on purpose."""

    code: ClassVar[str] = "error"

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code  # type: ignore[misc]
        self.extra = extra


class NotFound(StewardError):
    """The object does not exist, or the caller may not know that it does."""

    code = "not_found"


class Conflict(StewardError):
    """The request collides with the current state (duplicate name, taken key)."""

    code = "conflict"


class InvalidInput(StewardError):
    """The request is malformed or violates a documented constraint."""

    code = "invalid_input"


class InvalidState(StewardError):
    """The operation is not allowed in the object's current state."""

    code = "invalid_state"


class Unauthenticated(StewardError):
    """No valid credentials were presented."""

    code = "unauthenticated"


class PermissionDenied(StewardError):
    """The caller is known but the policy does not allow the action."""

    code = "permission_denied"


class TooLarge(StewardError):
    """The request body exceeds the configured limit."""

    code = "payload_too_large"


class Throttled(StewardError):
    """The caller exceeded its rate limit."""

    code = "rate_limited"

    def __init__(self, detail: str, *, retry_after: float) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after


class Unavailable(StewardError):
    """A dependency is down or the service is not ready (e.g. schema behind)."""

    code = "unavailable"


class InsufficientStorage(StewardError):
    """The disk or quota holding Steward's files is full; nothing was stored."""

    code = "insufficient_storage"


class AuditMissing(InvalidState):
    """A transaction wrote a governed table without writing an audit entry."""

    code = "audit_missing"
