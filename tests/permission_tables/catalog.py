"""Permission table of the model-catalogue routes: (method, path) -> (object, action, scope).

Browsing (``self``) only authenticates: which entries a caller sees is decided per entry
(tests/catalog/test_visibility.py), and an entry it may not see is 404.
"""

from __future__ import annotations

P = "/api/v1/projects/{project}"
C = "/api/v1/catalog"

ROUTES: dict[tuple[str, str], tuple[str, str, str]] = {
    ("GET", C): ("catalog", "read", "self"),
    ("GET", f"{C}/{{entry}}"): ("catalog", "read", "self"),
    ("GET", f"{C}/{{entry}}/links"): ("catalog", "read", "self"),
    ("POST", f"{C}/external"): ("catalog", "write", "system"),
    ("PATCH", f"{C}/{{entry}}"): ("catalog", "write", "system"),
    ("POST", f"{C}/{{entry}}/withdraw"): ("catalog", "write", "system"),
    ("POST", f"{P}/catalog"): ("catalog", "publish", "project"),
    ("POST", f"{P}/catalog/{{entry}}/withdraw"): ("catalog", "publish", "project"),
    ("POST", f"{P}/catalog/{{entry}}/use"): ("catalog", "use", "project"),
    ("GET", f"{P}/catalog/licence-rule"): ("catalog", "read", "project"),
    ("PUT", f"{P}/catalog/licence-rule"): ("catalog", "write", "project"),
}
