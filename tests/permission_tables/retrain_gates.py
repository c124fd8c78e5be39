"""Permission table of the gates routes."""

from __future__ import annotations

_BASE = "/api/v1/projects/{project}/gates"

ROUTES: dict[tuple[str, str], tuple[str, str, str]] = {
    ("GET", _BASE): ("job", "read", "project"),
    ("GET", f"{_BASE}/{{decision_id}}"): ("job", "read", "project"),
}
