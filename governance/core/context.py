"""Per-request context (request ids, client address) that audit entries pick up."""

from __future__ import annotations

from contextvars import ContextVar

# The id the server gave the request: always its own, so that no client can forge or reuse one.
request_id_var: ContextVar[str | None] = ContextVar("steward_request_id", default=None)
# The X-Request-ID a client sent (sanitised), recorded apart from the server's own id.
client_request_id_var: ContextVar[str | None] = ContextVar(
    "steward_client_request_id", default=None
)
client_var: ContextVar[str | None] = ContextVar("steward_client", default=None)
