"""Permission table of the evaluation-run routes: (method, path) -> (object, action, scope)."""

from __future__ import annotations

R = "/api/v1/projects/{project}/evaluations"

ROUTES: dict[tuple[str, str], tuple[str, str, str]] = {
    ("POST", R): ("evaluation", "run", "project"),
    ("GET", R): ("evaluation", "read", "project"),
    ("GET", f"{R}/{{evaluation_id}}"): ("evaluation", "read", "project"),
    ("GET", f"{R}/{{evaluation_id}}/rows"): ("evaluation", "read", "project"),
    ("POST", f"{R}/{{evaluation_id}}/cancel"): ("evaluation", "run", "project"),
}
