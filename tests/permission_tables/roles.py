"""Who may do what, written out by hand (independently of policies/policy.csv) as a check on it."""

from __future__ import annotations

ALL = frozenset({"owner", "ml-engineer", "data-scientist", "app-developer", "auditor", "viewer"})
READERS = ALL - {"app-developer"}
BUILDERS = frozenset({"owner", "ml-engineer", "data-scientist"})
ENGINEERS = frozenset({"owner", "ml-engineer"})
OWNER = frozenset({"owner"})

ALLOWED: dict[tuple[str, str], frozenset[str]] = {
    ("project", "read"): ALL,
    ("project", "write"): OWNER,
    ("member", "read"): frozenset({"owner", "ml-engineer", "data-scientist", "auditor"}),
    ("member", "write"): OWNER,
    ("member", "delete"): OWNER,
    ("principal", "read"): frozenset({"owner", "auditor"}),
    ("principal", "write"): OWNER,
    ("token", "read"): frozenset({"owner", "auditor"}),
    ("token", "write"): OWNER,
    ("token", "delete"): OWNER,
    ("audit", "read"): frozenset({"owner", "auditor"}),
    ("audit", "verify"): frozenset({"owner", "auditor"}),
    ("audit", "export"): frozenset({"owner", "auditor"}),
    ("dataset", "read"): READERS,
    ("dataset", "write"): BUILDERS,
    ("dataset", "delete"): OWNER,
    ("job", "read"): READERS,
    ("job", "write"): BUILDERS,
    ("run", "read"): READERS,
    ("run", "write"): BUILDERS,
    ("model", "read"): READERS,
    ("model", "write"): BUILDERS,
    ("model", "deploy"): ENGINEERS,
    ("model", "delete"): OWNER,
    ("endpoint", "read"): ALL,
    ("endpoint", "write"): ENGINEERS,
    ("endpoint", "score"): frozenset({"owner", "ml-engineer", "app-developer"}),
    ("endpoint", "delete"): OWNER,
    ("lineage", "read"): READERS,
    ("lineage", "write"): BUILDERS,
    ("monitor", "read"): READERS,
    ("monitor", "write"): BUILDERS,
    ("monitor", "run"): BUILDERS,
    ("monitor", "delete"): OWNER,
    ("alert", "read"): READERS,
    ("alert", "write"): BUILDERS,
    ("trigger", "read"): READERS,
    ("trigger", "write"): ENGINEERS,
    ("trigger", "run"): ENGINEERS,
    ("approval", "read"): READERS,
    ("approval", "decide"): OWNER,
    ("report", "read"): READERS,
    ("inference", "read"): frozenset({"owner", "ml-engineer", "data-scientist", "auditor"}),
    ("inference", "write"): frozenset({"owner", "ml-engineer", "app-developer"}),
    ("inference", "delete"): OWNER,
    ("label", "read"): frozenset({"owner", "ml-engineer", "data-scientist", "auditor"}),
    ("label", "write"): frozenset({"owner", "ml-engineer", "app-developer"}),
    ("metrics", "read"): READERS,
}
