"""Permission table of the triggers routes."""

from __future__ import annotations

_BASE = "/api/v1/projects/{project}/triggers"
_ONE = _BASE + "/{trigger}"

ROUTES: dict[tuple[str, str], tuple[str, str, str]] = {
    ("GET", _BASE): ("trigger", "read", "project"),
    ("POST", _BASE): ("trigger", "write", "project"),
    ("POST", f"{_BASE}/apply"): ("trigger", "write", "project"),
    ("GET", _ONE): ("trigger", "read", "project"),
    ("PATCH", _ONE): ("trigger", "write", "project"),
    ("DELETE", _ONE): ("trigger", "delete", "project"),
    ("POST", f"{_ONE}/fire"): ("trigger", "run", "project"),
    ("GET", f"{_ONE}/launches"): ("trigger", "read", "project"),
}
