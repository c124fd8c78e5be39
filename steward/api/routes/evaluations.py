"""Routes of evaluation runs: launch, list, read (results and comparison), rows, cancel."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, BackgroundTasks, Depends, Path, Query, Request

from retrain.evaluation import service
from retrain.evaluation.execute import execute_evaluation
from retrain.evaluation.schemas import Evaluation, EvaluationCreate, EvaluationPage, RowPage
from steward.api.deps import Caller, Cursor, Limit, Services, ServicesDep, require
from steward.api.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["evaluations"], responses=ERROR_RESPONSES)

ProjectName = Annotated[str, Path(max_length=64)]
_BASE = "/projects/{project}/evaluations"
_ONE = _BASE + "/{evaluation_id}"


@router.post(_BASE, response_model=Evaluation, status_code=202)
def launch_evaluation(
    project: ProjectName,
    body: EvaluationCreate,
    request: Request,
    background: BackgroundTasks,
    caller: Annotated[Caller, Depends(require("evaluation", "run"))],
    svc: ServicesDep,
) -> Evaluation:
    """Queue an evaluation run; the server generates, then its pipeline run compares."""
    launched = service.launch_evaluation(
        svc.db, settings=svc.settings, project=project, data=body, actor=caller.principal,
        clock=svc.clock,
    )  # fmt: skip
    background.add_task(_execute, svc, request, launched, caller)
    return launched


def _execute(svc: Services, request: Request, launched: Evaluation, caller: Caller) -> None:
    execute_evaluation(
        svc.db, settings=svc.settings, project=launched.project, evaluation_id=launched.id,
        actor=caller.principal, clock=svc.clock,
    )  # fmt: skip
    worker = getattr(request.app.state, "pipelines", None)
    if worker is not None:
        worker.wake()


@router.get(_BASE, response_model=EvaluationPage)
def list_evaluations(
    project: ProjectName,
    caller: Annotated[Caller, Depends(require("evaluation", "read"))],
    svc: ServicesDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> EvaluationPage:
    """The project's evaluation runs, newest first."""
    return service.list_evaluations(svc.db, project=project, limit=limit, cursor=cursor)


@router.get(_ONE, response_model=Evaluation)
def get_evaluation(
    project: ProjectName,
    evaluation_id: UUID,
    caller: Annotated[Caller, Depends(require("evaluation", "read"))],
    svc: ServicesDep,
) -> Evaluation:
    """One evaluation run: its state, aggregates and comparisons."""
    return service.get_evaluation(
        svc.db, project=project, evaluation_id=evaluation_id, clock=svc.clock
    )


@router.get(_ONE + "/rows", response_model=RowPage)
def read_rows(
    project: ProjectName,
    evaluation_id: UUID,
    caller: Annotated[Caller, Depends(require("evaluation", "read"))],
    svc: ServicesDep,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=service.MAX_ROWS_PAGE)] = 100,
    variant: Annotated[str | None, Query(max_length=64)] = None,
) -> RowPage:
    """Per-row results: rendered prompt, completion, latency, tokens and every score."""
    return service.read_rows(
        svc.db, settings=svc.settings, project=project, evaluation_id=evaluation_id,
        offset=offset, limit=limit, variant=variant,
    )  # fmt: skip


@router.post(_ONE + "/cancel", response_model=Evaluation)
def cancel_evaluation(
    project: ProjectName,
    evaluation_id: UUID,
    caller: Annotated[Caller, Depends(require("evaluation", "run"))],
    svc: ServicesDep,
) -> Evaluation:
    """Cancel a queued, generating or running evaluation."""
    return service.cancel_evaluation(
        svc.db, project=project, evaluation_id=evaluation_id, actor=caller.principal,
        clock=svc.clock,
    )  # fmt: skip
