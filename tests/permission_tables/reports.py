"""Permission table of the reports routes: (method, path) -> (object, action, scope)."""

from __future__ import annotations

_P = "/api/v1/projects/{project}"

ROUTES: dict[tuple[str, str], tuple[str, str, str]] = {
    ("GET", f"{_P}/models/{{name}}/versions/{{version}}/report"): ("report", "read", "project"),
    ("GET", f"{_P}/report"): ("report", "read", "project"),
    ("POST", f"{_P}/reports"): ("report", "write", "project"),
    ("GET", f"{_P}/reports"): ("report", "read", "project"),
    ("GET", f"{_P}/reports/{{report_id}}"): ("report", "read", "project"),
}
