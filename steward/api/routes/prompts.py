"""Prompt assets: immutable template and flow versions, aliases, rendering, endpoint links."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from lineage import prompts as service
from lineage.prompts.schemas import (
    PROMPT_NAME_RE,
    Prompt,
    PromptAlias,
    PromptAliasSet,
    PromptCreate,
    PromptDeploy,
    PromptDeployment,
    PromptServed,
    PromptVersion,
    Rendered,
    RenderRequest,
)
from lineage.schemas import ALIAS_RE, UtcDateTime
from steward.api.deps import Caller, Cursor, Limit, ServicesDep, require
from steward.api.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["prompts"], responses=ERROR_RESPONSES)

ProjectName = Annotated[str, Path(max_length=64)]
PromptName = Annotated[str, Path(max_length=128, pattern=PROMPT_NAME_RE.pattern)]
EndpointName = Annotated[str, Path(max_length=200)]
Version = Annotated[int, Path(ge=1, le=2**31 - 1)]
Alias = Annotated[str, Path(pattern=ALIAS_RE.pattern)]
Reader = Annotated[Caller, Depends(require("prompt", "read"))]
Writer = Annotated[Caller, Depends(require("prompt", "write"))]
_BASE = "/projects/{project}/prompts"


@router.get(_BASE, response_model=list[Prompt])
def list_prompts(
    project: ProjectName,
    caller: Reader,
    svc: ServicesDep,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> list[Prompt]:
    """Prompt assets by name (the cursor is the last name of the previous page)."""
    after = (cursor or "").replace("\x00", "")
    return service.list_prompts(svc.db, project=project, after=after, limit=limit)


@router.post(_BASE, response_model=PromptVersion, status_code=201)
def create_prompt_version(
    project: ProjectName, body: PromptCreate, caller: Writer, svc: ServicesDep, response: Response
) -> PromptVersion:
    """Record a new version of a prompt or flow; identical content returns its version (200)."""
    version, created = service.create_prompt_version(
        svc.db, project=project, data=body, actor=caller.principal, clock=svc.clock
    )
    if not created:
        response.status_code = 200
    return version


@router.get(_BASE + "/{name}", response_model=list[PromptVersion])
def list_prompt_versions(
    project: ProjectName, name: PromptName, caller: Reader, svc: ServicesDep
) -> list[PromptVersion]:
    """Every version of a prompt, oldest first."""
    return service.list_prompt_versions(svc.db, project=project, name=name)


@router.get(_BASE + "/{name}/versions/{version}", response_model=PromptVersion)
def get_prompt_version(
    project: ProjectName, name: PromptName, version: Version, caller: Reader, svc: ServicesDep
) -> PromptVersion:
    """One version of a prompt."""
    return service.get_prompt_version(svc.db, project=project, ref=f"{name}@{version}")


@router.get(_BASE + "/{name}/aliases/{alias}", response_model=PromptVersion)
def get_prompt_alias(
    project: ProjectName, name: PromptName, alias: Alias, caller: Reader, svc: ServicesDep
) -> PromptVersion:
    """The version an alias points at."""
    return service.get_prompt_version(svc.db, project=project, ref=f"{name}@{alias}")


@router.put(_BASE + "/{name}/aliases/{alias}", response_model=PromptAlias)
def set_prompt_alias(
    project: ProjectName,
    name: PromptName,
    alias: Alias,
    body: PromptAliasSet,
    caller: Writer,
    svc: ServicesDep,
) -> PromptAlias:
    """Point an alias (e.g. production, candidate) at a version; audited with the old one."""
    return service.set_prompt_alias(
        svc.db, project=project, name=name, alias=alias, version=body.version,
        actor=caller.principal, clock=svc.clock,
    )  # fmt: skip


@router.delete(_BASE + "/{name}/aliases/{alias}", status_code=204)
def delete_prompt_alias(
    project: ProjectName, name: PromptName, alias: Alias, caller: Writer, svc: ServicesDep
) -> None:
    """Remove an alias."""
    service.delete_prompt_alias(
        svc.db, project=project, name=name, alias=alias, actor=caller.principal
    )


@router.post(_BASE + "/{name}/render", response_model=Rendered)
def render_prompt(
    project: ProjectName, name: PromptName, body: RenderRequest, caller: Reader, svc: ServicesDep
) -> Rendered:
    """Render a version (``ref``: empty for the newest, ``3`` or an alias) with variables."""
    ref = f"{name}@{body.ref}" if body.ref else name
    version = service.get_prompt_version(svc.db, project=project, ref=ref)
    messages = service.render_prompt(version, body.variables)
    return Rendered(
        name=version.name, version=version.version, content_hash=version.content_hash,
        model=version.model, model_parameters=version.model_parameters, messages=messages,
    )  # fmt: skip


@router.post(
    _BASE + "/{name}/versions/{version}/deploy", response_model=PromptDeployment, status_code=201
)
def deploy_prompt_version(
    project: ProjectName,
    name: PromptName,
    version: Version,
    body: PromptDeploy,
    caller: Writer,
    svc: ServicesDep,
) -> PromptDeployment:
    """Serve a prompt version at an endpoint from now on (ends the endpoint's previous one)."""
    return _deploy(svc, caller, project, f"{name}@{version}", body)


@router.post(
    _BASE + "/{name}/aliases/{alias}/deploy", response_model=PromptDeployment, status_code=201
)
def deploy_prompt_alias(
    project: ProjectName,
    name: PromptName,
    alias: Alias,
    body: PromptDeploy,
    caller: Writer,
    svc: ServicesDep,
) -> PromptDeployment:
    """Serve the version an alias points at now at an endpoint."""
    return _deploy(svc, caller, project, f"{name}@{alias}", body)


def _deploy(
    svc: ServicesDep, caller: Caller, project: str, ref: str, body: PromptDeploy
) -> PromptDeployment:
    return service.deploy_prompt(
        svc.db, project=project, ref=ref, endpoint=body.endpoint, note=body.note,
        actor=caller.principal, clock=svc.clock,
    )  # fmt: skip


@router.get("/projects/{project}/endpoints/{name}/prompts", response_model=list[PromptDeployment])
def list_endpoint_prompts(
    project: ProjectName, name: EndpointName, caller: Reader, svc: ServicesDep
) -> list[PromptDeployment]:
    """The prompt versions an endpoint served, oldest first."""
    return service.list_prompt_deployments(svc.db, project=project, endpoint=name)


@router.get("/projects/{project}/endpoints/{name}/prompt", response_model=PromptServed)
def endpoint_prompt_at(
    project: ProjectName,
    name: EndpointName,
    caller: Reader,
    svc: ServicesDep,
    at: Annotated[UtcDateTime | None, Query(description="default: now")] = None,
) -> PromptServed:
    """Which prompt version served the endpoint at time ``at``."""
    return service.find_prompt_served(
        svc.db, project=project, endpoint=name, at=at, clock=svc.clock
    )
