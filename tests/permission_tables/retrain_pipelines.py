"""Permission table of the pipelines routes."""

from __future__ import annotations

_BASE = "/api/v1/projects/{project}/pipelines"
_RUNS = "/api/v1/projects/{project}/pipeline-runs"

ROUTES: dict[tuple[str, str], tuple[str, str, str]] = {
    ("POST", _BASE): ("job", "write", "project"),
    ("GET", _BASE): ("job", "read", "project"),
    ("GET", f"{_BASE}/{{name}}"): ("job", "read", "project"),
    ("POST", f"{_BASE}/{{name}}/runs"): ("job", "write", "project"),
    ("GET", _RUNS): ("job", "read", "project"),
    ("GET", f"{_RUNS}/{{run_id}}"): ("job", "read", "project"),
    ("POST", f"{_RUNS}/{{run_id}}/cancel"): ("job", "write", "project"),
    ("GET", f"{_RUNS}/{{run_id}}/logs"): ("job", "read", "project"),
}
