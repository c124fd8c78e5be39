"""Permission table of the console's route: (method, path) -> (object, action, scope)."""

from __future__ import annotations

ROUTES: dict[tuple[str, str], tuple[str, str, str]] = {
    ("GET", "/api/v1/projects/{project}/permissions"): ("project", "read", "project"),
}
