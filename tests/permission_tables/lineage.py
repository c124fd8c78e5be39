"""Permission table of the lineage and registry routes: (method, path) -> (object, action, scope).

``POST /api/v1/lineage`` only authenticates in its route: the project comes from the event's job
namespace, so ``lineage.openlineage.ingest_event`` checks (lineage, write) in that project itself
(404 without a role there, 403 without the permission), as ``require`` would.
"""

from __future__ import annotations

P = "/api/v1/projects/{project}"

ROUTES: dict[tuple[str, str], tuple[str, str, str]] = {
    ("POST", "/api/v1/lineage"): ("lineage", "write", "self"),
    ("POST", "/api/v1/lineage/batch"): ("lineage", "write", "self"),
    ("GET", f"{P}/lineage/nodes"): ("lineage", "read", "project"),
    ("GET", f"{P}/lineage/nodes/{{node_id}}"): ("lineage", "read", "project"),
    ("GET", f"{P}/lineage/nodes/{{node_id}}/upstream"): ("lineage", "read", "project"),
    ("GET", f"{P}/lineage/nodes/{{node_id}}/downstream"): ("lineage", "read", "project"),
    ("GET", f"{P}/lineage/nodes/{{node_id}}/impact"): ("lineage", "read", "project"),
    ("GET", f"{P}/lineage/nodes/{{node_id}}/columns"): ("lineage", "read", "project"),
    ("GET", f"{P}/lineage/nodes/{{node_id}}/runs"): ("lineage", "read", "project"),
    ("GET", f"{P}/lineage/nodes/{{node_id}}/render"): ("lineage", "read", "project"),
    ("GET", f"{P}/lineage/path"): ("lineage", "read", "project"),
    ("GET", f"{P}/lineage/export"): ("lineage", "read", "project"),
    ("POST", f"{P}/datasets"): ("dataset", "write", "project"),
    ("GET", f"{P}/datasets"): ("dataset", "read", "project"),
    ("GET", f"{P}/datasets/{{name}}/versions"): ("dataset", "read", "project"),
    ("GET", f"{P}/datasets/{{name}}/versions/{{version}}"): ("dataset", "read", "project"),
    ("PUT", f"{P}/datasets/{{name}}/versions/{{version}}/file"): ("dataset", "write", "project"),
    ("GET", f"{P}/models"): ("model", "read", "project"),
    ("POST", f"{P}/models/{{name}}/versions"): ("model", "write", "project"),
    ("GET", f"{P}/models/{{name}}/versions"): ("model", "read", "project"),
    ("GET", f"{P}/models/{{name}}/versions/{{version}}"): ("model", "read", "project"),
    ("GET", f"{P}/models/{{name}}/aliases/{{alias}}"): ("model", "read", "project"),
    ("PUT", f"{P}/models/{{name}}/aliases/{{alias}}"): ("model", "write", "project"),
    ("DELETE", f"{P}/models/{{name}}/aliases/{{alias}}"): ("model", "write", "project"),
    ("PUT", f"{P}/models/{{name}}/versions/{{version}}/artifact"): ("model", "write", "project"),
    ("GET", f"{P}/models/{{name}}/versions/{{version}}/artifact"): ("model", "read", "project"),
    ("GET", f"{P}/models/{{name}}/card"): ("model", "read", "project"),
    ("PATCH", f"{P}/models/{{name}}/card"): ("model", "write", "project"),
    ("POST", f"{P}/endpoints"): ("endpoint", "write", "project"),
    ("GET", f"{P}/endpoints"): ("endpoint", "read", "project"),
    ("GET", f"{P}/endpoints/{{name}}"): ("endpoint", "read", "project"),
    ("POST", f"{P}/endpoints/{{name}}/deployments"): ("model", "deploy", "project"),
    ("GET", f"{P}/endpoints/{{name}}/deployments"): ("endpoint", "read", "project"),
    ("GET", f"{P}/endpoints/{{name}}/served"): ("endpoint", "read", "project"),
    ("POST", f"{P}/endpoints/{{endpoint}}/score"): ("endpoint", "score", "project"),
    ("POST", f"{P}/runs"): ("run", "write", "project"),
    ("GET", f"{P}/runs/{{run_id}}"): ("run", "read", "project"),
    ("GET", f"{P}/jobs"): ("job", "read", "project"),
}
