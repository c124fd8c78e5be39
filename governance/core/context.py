"""Per-request context (request id, client address) that audit entries pick up."""

from __future__ import annotations

from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("steward_request_id", default=None)
client_var: ContextVar[str | None] = ContextVar("steward_client", default=None)
