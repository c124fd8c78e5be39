"""Permission table of the LLM endpoint report route: (method, path) -> (object, action, scope)."""

from __future__ import annotations

_P = "/api/v1/projects/{project}"

ROUTES: dict[tuple[str, str], tuple[str, str, str]] = {
    ("GET", f"{_P}/endpoints/{{endpoint}}/report"): ("report", "read", "project"),
}
