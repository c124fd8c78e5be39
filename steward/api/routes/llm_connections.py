"""Judge connections of a project (OpenAI-compatible APIs) and synchronous scoring of answers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from monitors.evaluators import service
from monitors.evaluators.schemas import (
    CONNECTION_NAME,
    Connection,
    ConnectionSet,
    EvaluateRequest,
    EvaluateResult,
)
from steward.api.deps import Caller, ServicesDep, require
from steward.api.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["llm-evaluators"], responses=ERROR_RESPONSES)

ProjectName = Annotated[str, Path(max_length=64)]
ConnectionName = Annotated[str, Path(max_length=64, pattern=CONNECTION_NAME)]
_BASE = "/projects/{project}/connections"
_ONE = _BASE + "/{name}"


@router.put(_ONE, response_model=Connection)
def put_connection(
    project: ProjectName,
    name: ConnectionName,
    body: ConnectionSet,
    caller: Annotated[Caller, Depends(require("evaluation", "write"))],
    svc: ServicesDep,
) -> Connection:
    """Create or replace a judge connection; ``api_key`` is ``env:VAR`` or a key sealed at rest."""
    return service.put_connection(
        svc.db, settings=svc.settings, project=project, name=name, data=body,
        actor=caller.principal, clock=svc.clock,
    )  # fmt: skip


@router.get(_BASE, response_model=list[Connection])
def list_connections(
    project: ProjectName,
    caller: Annotated[Caller, Depends(require("evaluation", "read"))],
    svc: ServicesDep,
) -> list[Connection]:
    """The project's judge connections (never their keys)."""
    return service.list_connections(svc.db, project=project)


@router.get(_ONE, response_model=Connection)
def get_connection(
    project: ProjectName,
    name: ConnectionName,
    caller: Annotated[Caller, Depends(require("evaluation", "read"))],
    svc: ServicesDep,
) -> Connection:
    """One judge connection (never its key)."""
    return service.get_connection(svc.db, project=project, name=name)


@router.delete(_ONE, status_code=204)
def delete_connection(
    project: ProjectName,
    name: ConnectionName,
    caller: Annotated[Caller, Depends(require("evaluation", "delete"))],
    svc: ServicesDep,
) -> Response:
    """Remove a judge connection."""
    service.delete_connection(svc.db, project=project, name=name, actor=caller.principal)
    return Response(status_code=204)


@router.post("/projects/{project}/evaluate", response_model=EvaluateResult)
def evaluate(
    project: ProjectName,
    body: EvaluateRequest,
    caller: Annotated[Caller, Depends(require("evaluation", "run"))],
    svc: ServicesDep,
) -> EvaluateResult:
    """Score the cases with the named evaluators now (judges through ``connection``)."""
    scores = service.score_cases(
        svc.db, settings=svc.settings, project=project, evaluators=body.evaluators,
        cases=body.cases, connection=body.connection, clock=svc.clock,
    )  # fmt: skip
    return EvaluateResult(scores=scores)
