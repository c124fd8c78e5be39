"""What the caller may do: read-only, so that a client (the web console) shows only what it can use.

The answer comes from the policy engine that ``require`` consults (its loaded role bindings and
policy lines); it is a hint for showing buttons, and every request is still decided by the API.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict

from governance.access.enforcer import PolicyEngine
from governance.access.schemas import SYSTEM_PROJECT
from steward.api.deps import Caller, ServicesDep, require
from steward.api.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["console"], responses=ERROR_RESPONSES)


class Permissions(BaseModel):
    """The caller's roles in a project and the ``object.action`` pairs it is allowed there."""

    model_config = ConfigDict(frozen=True)

    project: str
    roles: list[str]
    allowed: list[str]
    system: list[str]


def _allowed(policy: PolicyEngine, principal: str, project: str) -> list[str]:
    # The policy's own matcher (a role bound in the project, an exact object and action) over
    # its loaded lines: asking casbin once per pair would log every "no" as a warning.
    roles = policy.roles(principal, project)
    return sorted({f"{o}.{a}" for o, a, role in policy.policy_lines() if role in roles})


@router.get("/projects/{project}/permissions", response_model=Permissions)
def permissions(
    project: Annotated[str, Path(max_length=64)],
    caller: Annotated[Caller, Depends(require("project", "read"))],
    svc: ServicesDep,
) -> Permissions:
    """The caller's allowed actions in the project and on the platform (``_system``)."""
    name = caller.principal.name
    return Permissions(
        project=project,
        roles=sorted(svc.policy.roles(name, project)),
        allowed=_allowed(svc.policy, name, project),
        system=_allowed(svc.policy, name, SYSTEM_PROJECT),
    )
