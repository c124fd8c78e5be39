"""Permission table of the inference capture and alert routes."""

from __future__ import annotations

_ENDPOINT = "/api/v1/projects/{project}/endpoints/{endpoint}"
_ALERT = "/api/v1/projects/{project}/alerts/{alert_id}"
_CHANNEL = "/api/v1/projects/{project}/channels"

ROUTES: dict[tuple[str, str], tuple[str, str, str]] = {
    ("POST", f"{_ENDPOINT}/inferences"): ("inference", "write", "project"),
    ("GET", f"{_ENDPOINT}/inferences"): ("inference", "read", "project"),
    ("POST", f"{_ENDPOINT}/labels"): ("label", "write", "project"),
    ("GET", "/api/v1/projects/{project}/alerts"): ("alert", "read", "project"),
    ("GET", _ALERT): ("alert", "read", "project"),
    ("POST", f"{_ALERT}/acknowledge"): ("alert", "write", "project"),
    ("POST", f"{_ALERT}/resolve"): ("alert", "write", "project"),
    ("GET", f"{_ALERT}/deliveries"): ("alert", "read", "project"),
    ("GET", _CHANNEL): ("monitor", "read", "project"),
    ("POST", _CHANNEL): ("monitor", "write", "project"),
    ("GET", f"{_CHANNEL}/{{name}}"): ("monitor", "read", "project"),
    ("PATCH", f"{_CHANNEL}/{{name}}"): ("monitor", "write", "project"),
    ("DELETE", f"{_CHANNEL}/{{name}}"): ("monitor", "write", "project"),
}
