"""Endpoints, what they serve, and their production history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from governance.core.errors import NotFound
from lineage import service
from lineage.schemas import (
    NAME_RE,
    Deployment,
    DeployRequest,
    Endpoint,
    EndpointCreate,
    UtcDateTime,
)
from steward.api.deps import Caller, Cursor, Limit, ServicesDep, require
from steward.api.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["endpoints"], responses=ERROR_RESPONSES)

ProjectName = Annotated[str, Path(max_length=64)]
EndpointName = Annotated[str, Path(max_length=200, pattern=NAME_RE.pattern)]
Reader = Annotated[Caller, Depends(require("endpoint", "read"))]


@router.post("/projects/{project}/endpoints", response_model=Endpoint, status_code=201)
def create_endpoint(
    project: ProjectName,
    body: EndpointCreate,
    caller: Annotated[Caller, Depends(require("endpoint", "write"))],
    svc: ServicesDep,
) -> Endpoint:
    """Create an endpoint."""
    return service.create_endpoint(
        svc.db, project=project, data=body, actor=caller.principal, clock=svc.clock
    )


@router.get("/projects/{project}/endpoints", response_model=list[Endpoint])
def list_endpoints(
    project: ProjectName,
    caller: Reader,
    svc: ServicesDep,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> list[Endpoint]:
    """Endpoints by name, each with the model version it serves now."""
    after = (cursor or "").replace("\x00", "")
    return service.list_endpoints(svc.db, project=project, after=after, limit=limit)


@router.get("/projects/{project}/endpoints/{name}", response_model=Endpoint)
def get_endpoint(
    project: ProjectName, name: EndpointName, caller: Reader, svc: ServicesDep
) -> Endpoint:
    """An endpoint and the model version (with its signature) it serves now."""
    return service.get_endpoint(svc.db, project=project, name=name)


@router.post(
    "/projects/{project}/endpoints/{name}/deployments", response_model=Deployment, status_code=201
)
def deploy(
    project: ProjectName,
    name: EndpointName,
    body: DeployRequest,
    caller: Annotated[Caller, Depends(require("model", "deploy"))],
    svc: ServicesDep,
) -> Deployment:
    """Serve a model version (by number or alias) at the endpoint from now on."""
    deployed = service.deploy(
        svc.db, project=project, endpoint=name, model=body.model, version=body.version,
        alias=body.alias, note=body.note, actor=caller.principal, clock=svc.clock,
    )  # fmt: skip
    svc.endpoint_changed(project, name)
    return deployed


@router.get("/projects/{project}/endpoints/{name}/deployments", response_model=list[Deployment])
def list_deployments(
    project: ProjectName, name: EndpointName, caller: Reader, svc: ServicesDep
) -> list[Deployment]:
    """The endpoint's production history, oldest first."""
    return service.list_deployments(svc.db, project=project, endpoint=name)


@router.get("/projects/{project}/endpoints/{name}/served", response_model=Deployment)
def served_at(
    project: ProjectName,
    name: EndpointName,
    caller: Reader,
    svc: ServicesDep,
    at: Annotated[UtcDateTime | None, Query(description="default: now")] = None,
) -> Deployment:
    """Which model version served the endpoint at time ``at``."""
    when = at or svc.clock.now()
    found = service.find_deployment_at(svc.db, project=project, endpoint=name, at=when)
    if found is None:
        raise NotFound(f"endpoint {name!r} served nothing at that time")
    return found
