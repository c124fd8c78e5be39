"""Rollouts of model versions to endpoints (immediate, shadow, canary), promotion, rollback."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path

from governance.core.errors import NotFound
from lineage.schemas import NAME_RE
from retrain.rollout import service, webhook
from retrain.rollout.schemas import (
    DeployWebhook,
    DeployWebhookSet,
    PromoteRequest,
    RollbackRequest,
    Rollout,
    RolloutStart,
)
from steward.api.deps import Caller, Limit, Services, ServicesDep, require
from steward.api.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["rollouts"], responses=ERROR_RESPONSES)

ProjectName = Annotated[str, Path(max_length=64)]
EndpointName = Annotated[str, Path(max_length=200, pattern=NAME_RE.pattern)]
Deployer = Annotated[Caller, Depends(require("model", "deploy"))]
BASE = "/projects/{project}/endpoints/{endpoint}"


def _changed(svc: Services, project: str, endpoint: str) -> None:
    """This server's scorer looks the endpoint's rollout up again at once (others within
    their cache's few seconds)."""
    svc.endpoint_changed(project, endpoint)


@router.post(f"{BASE}/rollouts", response_model=Rollout, status_code=201)
def start_rollout(
    project: ProjectName, endpoint: EndpointName, body: RolloutStart, caller: Deployer,
    svc: ServicesDep,
) -> Rollout:  # fmt: skip
    """Roll a model version out: immediately, as a shadow, or as a canary taking a share."""
    rollout = service.start_rollout(
        svc.db, settings=svc.settings, project=project, endpoint=endpoint, model=body.model,
        version=body.version, plan=body.plan, actor=caller.principal, reason=body.reason,
        clock=svc.clock,
    )  # fmt: skip
    _changed(svc, project, endpoint)
    return rollout


@router.get(f"{BASE}/rollouts", response_model=list[Rollout])
def list_rollouts(
    project: ProjectName,
    endpoint: EndpointName,
    caller: Annotated[Caller, Depends(require("endpoint", "read"))],
    svc: ServicesDep,
    limit: Limit = 100,
) -> list[Rollout]:
    """The endpoint's rollouts, newest first, with their candidates' request and error counts."""
    return service.list_rollouts(svc.db, project=project, endpoint=endpoint, limit=limit)


@router.post(f"{BASE}/rollouts/{{rollout_id}}/promote", response_model=Rollout)
def promote_rollout(
    project: ProjectName, endpoint: EndpointName, rollout_id: UUID, caller: Deployer,
    svc: ServicesDep, body: PromoteRequest | None = None,
) -> Rollout:  # fmt: skip
    """Deploy the rollout's candidate (an immediate rollout's watch ends)."""
    rollout = service.promote_rollout(
        svc.db, settings=svc.settings, project=project, endpoint=endpoint,
        rollout_id=rollout_id, actor=caller.principal,
        reason=body.reason if body else "", clock=svc.clock,
    )  # fmt: skip
    _changed(svc, project, endpoint)
    return rollout


@router.post(f"{BASE}/rollback", response_model=Rollout)
def rollback(
    project: ProjectName, endpoint: EndpointName, body: RollbackRequest, caller: Deployer,
    svc: ServicesDep,
) -> Rollout:  # fmt: skip
    """End the endpoint's rollout, or serve again the version served before the last one."""
    rollout = service.rollback(
        svc.db, settings=svc.settings, project=project, endpoint=endpoint,
        actor=caller.principal, reason=body.reason, clock=svc.clock,
    )  # fmt: skip
    _changed(svc, project, endpoint)
    return rollout


@router.put("/projects/{project}/deploy-webhook", response_model=DeployWebhook)
def set_deploy_webhook(
    project: ProjectName,
    body: DeployWebhookSet,
    caller: Annotated[Caller, Depends(require("project", "write"))],
    svc: ServicesDep,
) -> DeployWebhook:
    """Post signed deploy, promote and rollback events to this URL (the secret signs them)."""
    return webhook.set_deploy_webhook(
        svc.db, settings=svc.settings, project=project, data=body, actor=caller.principal,
        clock=svc.clock,
    )  # fmt: skip


@router.get("/projects/{project}/deploy-webhook", response_model=DeployWebhook)
def get_deploy_webhook(
    project: ProjectName,
    caller: Annotated[Caller, Depends(require("project", "read"))],
    svc: ServicesDep,
) -> DeployWebhook:
    """The project's deploy webhook (never its secret)."""
    found = webhook.get_deploy_webhook(svc.db, project=project)
    if found is None:
        raise NotFound("no deploy webhook is set")
    return found
