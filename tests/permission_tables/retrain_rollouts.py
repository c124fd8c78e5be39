"""Permission table of the rollouts routes: (method, path) -> (object, action, scope)."""

from __future__ import annotations

_E = "/api/v1/projects/{project}/endpoints/{endpoint}"

ROUTES: dict[tuple[str, str], tuple[str, str, str]] = {
    ("POST", f"{_E}/rollouts"): ("model", "deploy", "project"),
    ("GET", f"{_E}/rollouts"): ("endpoint", "read", "project"),
    ("POST", f"{_E}/rollouts/{{rollout_id}}/promote"): ("model", "deploy", "project"),
    ("POST", f"{_E}/rollback"): ("model", "deploy", "project"),
    ("PUT", "/api/v1/projects/{project}/deploy-webhook"): ("project", "write", "project"),
    ("GET", "/api/v1/projects/{project}/deploy-webhook"): ("project", "read", "project"),
}
