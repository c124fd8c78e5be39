"""Permission table of the approvals routes and the deploy policy."""

from __future__ import annotations

_POLICY = "/api/v1/projects/{project}/deploy-policy"
_BASE = "/api/v1/projects/{project}/approvals"
_ONE = _BASE + "/{approval_id}"

ROUTES: dict[tuple[str, str], tuple[str, str, str]] = {
    ("GET", _POLICY): ("project", "read", "project"),
    ("PUT", _POLICY): ("project", "write", "project"),
    ("GET", _BASE): ("approval", "read", "project"),
    ("GET", _ONE): ("approval", "read", "project"),
    ("POST", f"{_ONE}/approve"): ("approval", "decide", "project"),
    ("POST", f"{_ONE}/reject"): ("approval", "decide", "project"),
}
