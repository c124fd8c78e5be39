"""Permission table of the prompt routes: (method, path) -> (object, action, scope)."""

from __future__ import annotations

P = "/api/v1/projects/{project}"
R = f"{P}/prompts"

ROUTES: dict[tuple[str, str], tuple[str, str, str]] = {
    ("GET", R): ("prompt", "read", "project"),
    ("POST", R): ("prompt", "write", "project"),
    ("GET", f"{R}/{{name}}"): ("prompt", "read", "project"),
    ("GET", f"{R}/{{name}}/versions/{{version}}"): ("prompt", "read", "project"),
    ("GET", f"{R}/{{name}}/aliases/{{alias}}"): ("prompt", "read", "project"),
    ("PUT", f"{R}/{{name}}/aliases/{{alias}}"): ("prompt", "write", "project"),
    ("DELETE", f"{R}/{{name}}/aliases/{{alias}}"): ("prompt", "write", "project"),
    ("POST", f"{R}/{{name}}/render"): ("prompt", "read", "project"),
    ("POST", f"{R}/{{name}}/versions/{{version}}/deploy"): ("prompt", "write", "project"),
    ("POST", f"{R}/{{name}}/aliases/{{alias}}/deploy"): ("prompt", "write", "project"),
    ("GET", f"{P}/endpoints/{{name}}/prompts"): ("prompt", "read", "project"),
    ("GET", f"{P}/endpoints/{{name}}/prompt"): ("prompt", "read", "project"),
}
