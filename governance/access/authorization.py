"""The one authorisation decision, made for every route, ingest path, CLI command and daemon job.

What a caller learns is part of the decision, so it is made here and nowhere else: a caller with
no role in a project gets ``NotFound`` (indistinguishable from a project that does not exist),
a role without the permission gets ``PermissionDenied``, and both are audited as denials before
the error is raised. The platform project ``_system`` is never hidden (it always exists), so a
missing permission there is a plain ``PermissionDenied``.

System principals (the local operator of the CLI, the daemon) act with database access and are
allowed here; what they change is audited by the services they call.
"""

from __future__ import annotations

from governance.access.enforcer import PolicyEngine
from governance.access.schemas import SYSTEM_PROJECT
from governance.audit.service import record_denial
from governance.core.db import Database
from governance.core.errors import NotFound, PermissionDenied
from governance.core.principal import Principal, PrincipalKind


def authorize(
    caller: Principal,
    project: str,
    obj: str,
    act: str,
    *,
    db: Database,
    policy: PolicyEngine | None,
) -> None:
    """Allow ``caller`` to ``act`` on ``obj`` in ``project`` or raise (404, then 403), audited.

    ``policy`` may be None only where every caller is a system principal (CLI, daemon); any
    other caller is then refused, never waved through.
    """
    if caller.kind is PrincipalKind.system:
        return
    visible = project == SYSTEM_PROJECT or (
        policy is not None and bool(policy.roles(caller.name, project))
    )
    if visible and policy is not None and policy.enforce(caller.name, project, obj, act):
        return
    record_denial(
        db,
        actor=caller,
        action=f"{obj}.{act}",
        project=None if project == SYSTEM_PROJECT else project,
        target=f"project:{project}",
        details={"reason": "denied by policy"},
    )
    if not visible:
        raise NotFound(f"project {project!r} not found")
    raise PermissionDenied(f"not allowed to {act} {obj} in this project")
