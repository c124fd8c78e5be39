"""Projects and the role bindings inside them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from governance.access import service
from governance.access.schemas import (
    ROLES,
    ProjectCreate,
    ProjectInfo,
    ProjectUpdate,
    RoleBinding,
    RoleGrant,
)
from governance.core.errors import NotFound
from steward.api.deps import Caller, ServicesDep, require
from steward.api.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["projects"], responses=ERROR_RESPONSES)

ProjectName = Annotated[str, Path(max_length=64)]


@router.get("/projects", response_model=list[ProjectInfo])
def list_projects(
    caller: Annotated[Caller, Depends(require("self", "read", scope="self"))], svc: ServicesDep
) -> list[ProjectInfo]:
    """Projects where the caller holds a role."""
    names = set(svc.policy.projects(caller.principal.name))
    return service.list_projects(svc.db, names=names)


@router.post("/projects", response_model=ProjectInfo, status_code=201)
def create_project(
    body: ProjectCreate,
    caller: Annotated[Caller, Depends(require("project", "write", scope="system"))],
    svc: ServicesDep,
) -> ProjectInfo:
    """Create a project; the caller becomes its owner."""
    return service.create_project(svc.db, data=body, actor=caller.principal, clock=svc.clock)


@router.get("/projects/{project}", response_model=ProjectInfo)
def get_project(
    project: ProjectName,
    caller: Annotated[Caller, Depends(require("project", "read"))],
    svc: ServicesDep,
) -> ProjectInfo:
    """One project."""
    return service.get_project(svc.db, name=project)


@router.patch("/projects/{project}", response_model=ProjectInfo)
def update_project(
    project: ProjectName,
    body: ProjectUpdate,
    caller: Annotated[Caller, Depends(require("project", "write"))],
    svc: ServicesDep,
) -> ProjectInfo:
    """Change the project's retention or alert cooldown (null: back to the server default)."""
    return service.update_project(svc.db, name=project, data=body, actor=caller.principal)


@router.get("/projects/{project}/roles", response_model=list[RoleBinding])
def list_roles(
    project: ProjectName,
    caller: Annotated[Caller, Depends(require("member", "read"))],
    svc: ServicesDep,
) -> list[RoleBinding]:
    """Who holds which role in the project."""
    return service.list_bindings(svc.db, project=project)


@router.post("/projects/{project}/roles", response_model=RoleBinding, status_code=201)
def grant_role(
    project: ProjectName,
    body: RoleGrant,
    caller: Annotated[Caller, Depends(require("member", "write"))],
    svc: ServicesDep,
) -> RoleBinding:
    """Grant a role in the project."""
    return service.grant_role(
        svc.db,
        project=project,
        principal=body.principal,
        role=body.role,
        actor=caller.principal,
        clock=svc.clock,
    )


@router.delete("/projects/{project}/roles/{principal}/{role}", status_code=204)
def revoke_role(
    project: ProjectName,
    principal: Annotated[str, Path(max_length=200)],
    role: Annotated[str, Path(max_length=64)],
    caller: Annotated[Caller, Depends(require("member", "delete"))],
    svc: ServicesDep,
) -> None:
    """Revoke a role in the project."""
    if role not in ROLES:
        raise NotFound("binding not found")
    service.revoke_role(
        svc.db, project=project, principal=principal, role=role, actor=caller.principal
    )
