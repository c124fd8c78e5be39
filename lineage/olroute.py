"""Which project an OpenLineage event goes to, and whether its sender may write there.

An explicit ``?project=`` wins; else the namespace map, else the namespace itself when it is a
project the caller knows, else the configured default project, else a 404 that says how to map
the namespace. Restoring models, endpoints and deployments needs the registry routes' rights.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from governance.access.authorization import authorize
from governance.access.enforcer import PolicyEngine
from governance.access.schemas import SYSTEM_PROJECT
from governance.access.service import list_projects
from governance.core.db import Database
from governance.core.errors import NotFound
from governance.core.principal import Principal, PrincipalKind
from lineage import olrestore


@dataclass(frozen=True, kw_only=True, slots=True)
class Routing:
    """Where events without an explicit project go: the namespace map, then a default."""

    namespace_map: Mapping[str, str] = field(default_factory=dict)
    default_project: str | None = None


def namespace_of(payload: Mapping[str, Any]) -> str:
    """The namespace that names an event's project: its job's, or its dataset's."""
    part = payload.get("job") or payload.get("dataset") or {}
    return str(part.get("namespace", ""))


def project_of(
    payload: Mapping[str, Any], *, override: str | None, namespace_map: Mapping[str, str]
) -> str:
    """The project an event belongs to: explicit, mapped from its namespace, or the namespace."""
    if override:
        return override
    namespace = namespace_of(payload)
    return namespace_map.get(namespace, namespace)


def route(
    db: Database,
    payload: Mapping[str, Any],
    *,
    actor: Principal,
    policy: PolicyEngine,
    override: str | None,
    routing: Routing,
) -> str:
    """Authorise an event's write and return its project; an unmapped namespace that is no
    project the caller knows goes to the default project, or gets a 404 saying how to map it."""
    target = project_of(payload, override=override, namespace_map=routing.namespace_map)
    namespace = namespace_of(payload)
    unmapped = not override and namespace not in routing.namespace_map
    if unmapped and routing.default_project and not _known(db, policy, actor, target):
        target = routing.default_project
    try:
        authorize(actor, target, "lineage", "write", db=db, policy=policy)
    except NotFound as exc:
        if not unmapped:
            raise
        raise NotFound(_how_to_map(namespace, target), field="job.namespace") from exc
    return target


def _known(db: Database, policy: PolicyEngine, actor: Principal, project: str) -> bool:
    # Known means visible to this caller: a project it cannot see is treated as no project.
    if actor.kind is PrincipalKind.system:
        return bool(list_projects(db, names={project}))
    return project == SYSTEM_PROJECT or bool(policy.roles(actor.name, project))


def _how_to_map(namespace: str, project: str) -> str:
    example = json.dumps({namespace: "<project>"})
    return (
        f"OpenLineage namespace {namespace!r} is not mapped to a project, and project "
        f"{project!r} was not found: map it with STEWARD_LINEAGE_NAMESPACE_MAP='{example}', "
        "set STEWARD_LINEAGE_DEFAULT_PROJECT=<project>, or post with ?project=<project>"
    )


def authorize_restores(
    db: Database,
    payload: Mapping[str, Any],
    *,
    actor: Principal,
    policy: PolicyEngine,
    project: str,
) -> None:
    # Restoring models, endpoints and deployments is what their registry routes do: same rights.
    for obj, act in sorted(olrestore.permissions(payload)):
        authorize(actor, project, obj, act, db=db, policy=policy)
