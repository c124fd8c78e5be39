"""Routes of retrain's approvals: a project's deploy policy, and approving or rejecting releases."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Path, Query

from governance.core.errors import InvalidInput
from retrain.approvals import service
from retrain.approvals.schemas import (
    Approval,
    ApprovalState,
    DecisionNote,
    DeployPolicy,
    DeployPolicySet,
)
from steward.api.deps import Caller, Limit, ServicesDep, require
from steward.api.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["approvals"], responses=ERROR_RESPONSES)

ProjectName = Annotated[str, Path(max_length=64)]
Note = Annotated[DecisionNote | None, Body()]
_POLICY = "/projects/{project}/deploy-policy"
_BASE = "/projects/{project}/approvals"
_ONE = _BASE + "/{approval_id}"
DECIDE = ("approval", "decide")


@router.get(_POLICY, response_model=DeployPolicy)
def get_deploy_policy(
    project: ProjectName,
    caller: Annotated[Caller, Depends(require("project", "read"))],
    svc: ServicesDep,
) -> DeployPolicy:
    """Whether gated challengers roll out at once (auto) or wait for an approval, and by whom."""
    return service.get_deploy_policy(svc.db, project=project)


@router.put(_POLICY, response_model=DeployPolicy)
def set_deploy_policy(
    project: ProjectName,
    body: DeployPolicySet,
    caller: Annotated[Caller, Depends(require("project", "write"))],
    svc: ServicesDep,
) -> DeployPolicy:
    """Replace the project's deploy policy (its approver role must be one that may decide
    approvals under the loaded policy: any other could never approve)."""
    deciders = sorted({r for o, a, r in svc.policy.policy_lines() if (o, a) == DECIDE})
    if body.approver_role not in deciders:
        raise InvalidInput(
            f"role {body.approver_role!r} may not decide approvals under the policy; "
            f"one of {', '.join(deciders)}",
            field="approver_role", code="approver_cannot_decide",
        )  # fmt: skip
    return service.set_deploy_policy(
        svc.db, project=project, data=body, actor=caller.principal, clock=svc.clock
    )


@router.get(_BASE, response_model=list[Approval])
def list_approvals(
    project: ProjectName,
    caller: Annotated[Caller, Depends(require("approval", "read"))],
    svc: ServicesDep,
    state: Annotated[
        ApprovalState | None, Query(description="only approvals in this state")
    ] = None,
    limit: Limit = 100,
) -> list[Approval]:
    """The project's approvals, newest first."""
    return service.list_approvals(svc.db, project=project, state=state, limit=limit)


@router.get(_ONE, response_model=Approval)
def get_approval(
    project: ProjectName,
    approval_id: UUID,
    caller: Annotated[Caller, Depends(require("approval", "read"))],
    svc: ServicesDep,
) -> Approval:
    """One approval."""
    return service.get_approval(svc.db, project=project, approval_id=approval_id)


@router.post(_ONE + "/approve", response_model=Approval)
def approve(
    project: ProjectName,
    approval_id: UUID,
    caller: Annotated[Caller, Depends(require("approval", "decide"))],
    svc: ServicesDep,
    body: Note = None,
) -> Approval:
    """Approve and start the rollout; not by the run's launcher or its trigger's owner (403)."""
    approved = service.approve(
        svc.db, settings=svc.settings, project=project, approval_id=approval_id,
        actor=caller.principal, note=body.note if body else "", clock=svc.clock,
    )  # fmt: skip
    svc.endpoint_changed(project, approved.endpoint)
    return approved


@router.post(_ONE + "/reject", response_model=Approval)
def reject(
    project: ProjectName,
    approval_id: UUID,
    caller: Annotated[Caller, Depends(require("approval", "decide"))],
    svc: ServicesDep,
    body: Note = None,
) -> Approval:
    """Reject: the challenger is not rolled out."""
    return service.reject(
        svc.db, project=project, approval_id=approval_id, actor=caller.principal,
        note=body.note if body else "", clock=svc.clock,
    )  # fmt: skip
