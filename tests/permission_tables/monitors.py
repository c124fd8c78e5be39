"""Permission table of the monitor routes and ``/metrics``."""

from __future__ import annotations

_BASE = "/api/v1/projects/{project}/monitors"
_ONE = _BASE + "/{monitor}"

ROUTES: dict[tuple[str, str], tuple[str, str, str]] = {
    ("GET", _BASE): ("monitor", "read", "project"),
    ("POST", _BASE): ("monitor", "write", "project"),
    ("POST", f"{_BASE}/apply"): ("monitor", "write", "project"),
    ("POST", f"{_BASE}/validate"): ("monitor", "write", "project"),
    ("GET", _ONE): ("monitor", "read", "project"),
    ("PATCH", _ONE): ("monitor", "write", "project"),
    ("DELETE", _ONE): ("monitor", "delete", "project"),
    ("GET", f"{_ONE}/results"): ("monitor", "read", "project"),
    ("GET", f"{_ONE}/runs"): ("monitor", "read", "project"),
    ("POST", f"{_ONE}/run"): ("monitor", "run", "project"),
    ("POST", f"{_ONE}/backfill"): ("monitor", "run", "project"),
    ("GET", f"{_ONE}/backfills"): ("monitor", "read", "project"),
    ("GET", f"{_ONE}/backfills/{{backfill_id}}"): ("monitor", "read", "project"),
    ("POST", f"{_ONE}/backfills/{{backfill_id}}/cancel"): ("monitor", "run", "project"),
    # Every token may scrape; it sees only series of projects where it holds metrics:read.
    ("GET", "/metrics"): ("metrics", "read", "self"),
}
