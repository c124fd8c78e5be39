"""Jobs and their runs, logged by training scripts through the REST API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from lineage import service
from lineage.schemas import Job, Run, RunCreate
from steward.api.deps import Caller, Cursor, Limit, ServicesDep, require
from steward.api.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["runs"], responses=ERROR_RESPONSES)

ProjectName = Annotated[str, Path(max_length=64)]


@router.post("/projects/{project}/runs", response_model=Run, status_code=201)
def log_run(
    project: ProjectName,
    body: RunCreate,
    caller: Annotated[Caller, Depends(require("run", "write"))],
    svc: ServicesDep,
) -> Run:
    """Record (or update) a run with its input and output node ids."""
    return service.log_run(
        svc.db,
        project=project,
        job_namespace=body.job_namespace or project,
        job_name=body.job,
        run_id=str(body.run_id) if body.run_id else str(service.new_run_id()),
        state=body.state,
        inputs=body.inputs,
        outputs=body.outputs,
        started_at=body.started_at,
        ended_at=body.ended_at,
        facets=body.facets,
        parameters=body.parameters,
        code_version=body.code_version,
        actor=caller.principal,
        clock=svc.clock,
    )


@router.get("/projects/{project}/runs/{run_id}", response_model=Run)
def get_run(
    project: ProjectName,
    run_id: Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")],
    caller: Annotated[Caller, Depends(require("run", "read"))],
    svc: ServicesDep,
) -> Run:
    """A run by its run id."""
    return service.get_run(svc.db, project=project, run_id=run_id)


@router.get("/projects/{project}/jobs", response_model=list[Job])
def list_jobs(
    project: ProjectName,
    caller: Annotated[Caller, Depends(require("job", "read"))],
    svc: ServicesDep,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> list[Job]:
    """Jobs by name (the cursor is the last name of the previous page)."""
    after = (cursor or "").replace("\x00", "")
    return service.list_jobs(svc.db, project=project, after=after, limit=limit)
