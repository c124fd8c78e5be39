"""Routes of retrain's pipelines: apply specs, launch runs, read them, their logs, cancel."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from retrain.pipelines import service
from retrain.pipelines.schemas import (
    LaunchRequest,
    LogChunk,
    Pipeline,
    PipelineRun,
    PipelineRunPage,
    RunState,
)
from retrain.pipelines.spec import MAX_SPEC_BYTES, parse_spec
from steward.api.deps import Caller, Cursor, Limit, ServicesDep, require
from steward.api.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["pipelines"], responses=ERROR_RESPONSES)

ProjectName = Annotated[str, Path(max_length=64)]
PipelineName = Annotated[str, Path(max_length=64)]
_BASE = "/projects/{project}/pipelines"
_ONE = _BASE + "/{name}"
_RUNS = "/projects/{project}/pipeline-runs"
_RUN = _RUNS + "/{run_id}"


@router.post(_BASE, response_model=Pipeline, status_code=201)
async def apply_pipeline(
    project: ProjectName,
    request: Request,
    response: Response,
    caller: Annotated[Caller, Depends(require("job", "write"))],
    svc: ServicesDep,
) -> Pipeline:
    """Apply a spec (JSON, or YAML as application/yaml): 201 a new version, 200 unchanged."""
    body = b""
    async for chunk in request.stream():  # bounded here too, whatever the body limit allows
        body += chunk
        if len(body) > MAX_SPEC_BYTES:
            break
    spec = parse_spec(body)  # JSON is YAML: one bounded parser for both
    applied = await run_in_threadpool(
        service.apply_pipeline, svc.db, settings=svc.settings, project=project, spec=spec,
        actor=caller.principal, clock=svc.clock,
    )  # fmt: skip
    response.status_code = 201 if applied.created else 200
    return applied.pipeline


@router.get(_BASE, response_model=list[Pipeline])
def list_pipelines(
    project: ProjectName,
    caller: Annotated[Caller, Depends(require("job", "read"))],
    svc: ServicesDep,
) -> list[Pipeline]:
    """The newest version of each pipeline of the project."""
    return service.list_pipelines(svc.db, project=project)


@router.get(_ONE, response_model=Pipeline)
def get_pipeline(
    project: ProjectName,
    name: PipelineName,
    caller: Annotated[Caller, Depends(require("job", "read"))],
    svc: ServicesDep,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Pipeline:
    """One version of a pipeline (the newest by default)."""
    return service.get_pipeline(svc.db, project=project, name=name, version=version)


@router.post(_ONE + "/runs", response_model=PipelineRun, status_code=202)
def launch_run(
    project: ProjectName,
    name: PipelineName,
    body: LaunchRequest,
    request: Request,
    caller: Annotated[Caller, Depends(require("job", "write"))],
    svc: ServicesDep,
) -> PipelineRun:
    """Queue a run (inputs resolved now); the worker executes it."""
    launch = service.launch_run(
        svc.db, settings=svc.settings, project=project, pipeline=name, version=body.version,
        inputs=body.inputs, actor=caller.principal, launch_key=body.launch_key, plan=body.plan,
        clock=svc.clock,
    )  # fmt: skip
    worker = getattr(request.app.state, "pipelines", None)
    if worker is not None and launch.created:
        worker.wake()
    return launch.run


@router.get(_RUNS, response_model=PipelineRunPage)
def list_runs(
    project: ProjectName,
    caller: Annotated[Caller, Depends(require("job", "read"))],
    svc: ServicesDep,
    pipeline: Annotated[str | None, Query(max_length=64)] = None,
    state: RunState | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PipelineRunPage:
    """The project's runs, newest first."""
    return service.list_runs(
        svc.db, project=project, pipeline=pipeline, state=state, limit=limit, cursor=cursor
    )


@router.get(_RUN, response_model=PipelineRun)
def get_run(
    project: ProjectName,
    run_id: UUID,
    caller: Annotated[Caller, Depends(require("job", "read"))],
    svc: ServicesDep,
) -> PipelineRun:
    """One run with its steps, inputs and outputs."""
    return service.get_run(svc.db, project=project, run_id=run_id)


@router.post(_RUN + "/cancel", response_model=PipelineRun)
def cancel_run(
    project: ProjectName,
    run_id: UUID,
    caller: Annotated[Caller, Depends(require("job", "write"))],
    svc: ServicesDep,
) -> PipelineRun:
    """Cancel a queued or running run."""
    return service.cancel_run(
        svc.db, project=project, run_id=run_id, actor=caller.principal, clock=svc.clock
    )


@router.get(_RUN + "/logs", response_model=LogChunk)
def read_logs(
    project: ProjectName,
    run_id: UUID,
    caller: Annotated[Caller, Depends(require("job", "read"))],
    svc: ServicesDep,
    step: Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$")],
    offset: Annotated[int, Query(ge=0)] = 0,
) -> LogChunk:
    """A step's printed lines from byte ``offset``; read on from ``next_offset``."""
    return service.read_logs(
        svc.db, settings=svc.settings, project=project, run_id=run_id, step=step, offset=offset
    )
