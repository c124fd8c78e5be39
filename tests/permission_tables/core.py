"""Permission table of the core routes: (method, path) -> (object, action, scope)."""

from __future__ import annotations

ROUTES: dict[tuple[str, str], tuple[str, str, str]] = {
    ("GET", "/api/v1/me"): ("self", "read", "self"),
    ("POST", "/api/v1/tokens"): ("self", "read", "self"),
    ("GET", "/api/v1/tokens"): ("self", "read", "self"),
    ("DELETE", "/api/v1/tokens/{token_id}"): ("self", "read", "self"),
    ("GET", "/api/v1/principals"): ("principal", "read", "system"),
    ("POST", "/api/v1/principals"): ("principal", "write", "system"),
    ("POST", "/api/v1/principals/{name}/tokens"): ("token", "write", "system"),
    ("GET", "/api/v1/principals/{name}/tokens"): ("token", "read", "system"),
    ("DELETE", "/api/v1/principals/{name}/tokens/{token_id}"): ("token", "delete", "system"),
    ("GET", "/api/v1/projects"): ("self", "read", "self"),
    ("POST", "/api/v1/projects"): ("project", "write", "system"),
    ("GET", "/api/v1/projects/{project}"): ("project", "read", "project"),
    ("PATCH", "/api/v1/projects/{project}"): ("project", "write", "project"),
    ("GET", "/api/v1/projects/{project}/roles"): ("member", "read", "project"),
    ("POST", "/api/v1/projects/{project}/roles"): ("member", "write", "project"),
    ("DELETE", "/api/v1/projects/{project}/roles/{principal}/{role}"): (
        "member",
        "delete",
        "project",
    ),
    ("GET", "/api/v1/audit"): ("audit", "read", "system"),
    ("GET", "/api/v1/audit/verify"): ("audit", "verify", "system"),
    ("GET", "/api/v1/audit/export"): ("audit", "export", "system"),
    ("GET", "/api/v1/audit/checkpoints"): ("audit", "read", "system"),
    ("GET", "/api/v1/audit/public-key"): ("audit", "read", "system"),
    ("GET", "/api/v1/audit/proof"): ("audit", "read", "system"),
    ("GET", "/api/v1/audit/blobs/{digest}"): ("audit", "read", "system"),
    ("GET", "/api/v1/audit/consistency"): ("audit", "read", "system"),
    ("GET", "/api/v1/projects/{project}/audit"): ("audit", "read", "project"),
    ("GET", "/api/v1/projects/{project}/audit/export"): ("audit", "export", "project"),
}
