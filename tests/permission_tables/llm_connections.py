"""Permission table of the judge-connection and evaluate routes: (method, path) -> rule."""

from __future__ import annotations

P = "/api/v1/projects/{project}"

ROUTES: dict[tuple[str, str], tuple[str, str, str]] = {
    ("GET", f"{P}/connections"): ("evaluation", "read", "project"),
    ("GET", f"{P}/connections/{{name}}"): ("evaluation", "read", "project"),
    ("PUT", f"{P}/connections/{{name}}"): ("evaluation", "write", "project"),
    ("DELETE", f"{P}/connections/{{name}}"): ("evaluation", "delete", "project"),
    ("POST", f"{P}/evaluate"): ("evaluation", "run", "project"),
}
