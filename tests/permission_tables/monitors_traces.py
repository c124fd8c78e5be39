"""Permission table of trace ingest and the redaction setting."""

from __future__ import annotations

_REDACTION = "/api/v1/projects/{project}/traces/redaction"

ROUTES: dict[tuple[str, str], tuple[str, str, str]] = {
    # the service checks (inference, write) in each project the spans name
    ("POST", "/v1/traces"): ("inference", "write", "self"),
    ("GET", _REDACTION): ("project", "read", "project"),
    ("PUT", _REDACTION): ("project", "write", "project"),
}
