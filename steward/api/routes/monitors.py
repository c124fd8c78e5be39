"""Monitors of a project: CRUD, YAML apply, run, backfill jobs, runs and the results time series."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from monitors.runs import backfills
from monitors.runs import service as runs
from monitors.runs.dryrun import SpecCheck, validate_specs
from monitors.runs.schemas import (
    Backfill,
    BackfillRequest,
    MonitorRun,
    ResultPage,
    RunReport,
    RunRequest,
)
from monitors.runs.sources import RunEnvironment
from monitors.runs.worker import BackfillWorker
from monitors.specs import service
from monitors.specs.document import load_specs
from monitors.specs.schemas import Monitor, MonitorSpec, MonitorUpdate
from steward.api.deps import Caller, Cursor, Limit, Services, ServicesDep, require
from steward.api.errors import ERROR_RESPONSES
from steward.environment import run_environment

router = APIRouter(prefix="/api/v1", tags=["monitors"], responses=ERROR_RESPONSES)

ProjectName = Annotated[str, Path(max_length=64)]
MonitorName = Annotated[str, Path(max_length=64)]
Since = Annotated[datetime | None, Query(description="only windows ending at or after this")]
_BASE = "/projects/{project}/monitors"
_ONE = _BASE + "/{monitor}"


def _env(svc: Services) -> RunEnvironment:
    return run_environment(svc.db, svc.settings, clock=svc.clock)


@router.get(_BASE, response_model=list[Monitor])
def list_monitors(
    project: ProjectName,
    caller: Annotated[Caller, Depends(require("monitor", "read"))],
    svc: ServicesDep,
) -> list[Monitor]:
    """The project's monitors by name."""
    return service.list_monitors(svc.db, project=project)


@router.post(_BASE, response_model=Monitor, status_code=201)
def create_monitor(
    project: ProjectName,
    body: MonitorSpec,
    caller: Annotated[Caller, Depends(require("monitor", "write"))],
    svc: ServicesDep,
) -> Monitor:
    """Create a monitor (every field but ``name`` and ``target`` has a working default)."""
    return service.create_monitor(
        svc.db, project=project, spec=body, actor=caller.principal, clock=svc.clock
    )


@router.post(_BASE + "/apply", response_model=list[Monitor])
async def apply_monitors(
    project: ProjectName,
    request: Request,
    caller: Annotated[Caller, Depends(require("monitor", "write"))],
    svc: ServicesDep,
) -> list[Monitor]:
    """Create or replace monitors from a YAML (or JSON) document, all or none."""
    specs = load_specs((await request.body()).decode("utf-8", errors="replace"))
    # a write transaction: off the event loop, like a sync route
    applied = await run_in_threadpool(
        service.apply_monitors, svc.db, project=project, specs=specs, actor=caller.principal,
        clock=svc.clock,
    )  # fmt: skip
    return [a.monitor for a in applied]


@router.post(_BASE + "/validate", response_model=list[SpecCheck])
async def validate_monitors(
    project: ProjectName,
    request: Request,
    caller: Annotated[Caller, Depends(require("monitor", "write"))],
    svc: ServicesDep,
    window_end: Annotated[
        datetime | None, Query(description="the window to compute (default: newest ended)")
    ] = None,
) -> list[SpecCheck]:
    """Compute a YAML (or JSON) document's monitors on one window, storing nothing."""
    specs = load_specs((await request.body()).decode("utf-8", errors="replace"))
    # The statistics take a while: off the event loop, like a sync route.
    return await run_in_threadpool(
        validate_specs, svc.db, project=project, specs=specs, env=_env(svc),
        window_end=window_end, clock=svc.clock,
    )  # fmt: skip


@router.get(_ONE, response_model=Monitor)
def get_monitor(
    project: ProjectName,
    monitor: MonitorName,
    caller: Annotated[Caller, Depends(require("monitor", "read"))],
    svc: ServicesDep,
) -> Monitor:
    """One monitor."""
    return service.get_monitor(svc.db, project=project, name=monitor)


@router.patch(_ONE, response_model=Monitor)
def update_monitor(
    project: ProjectName,
    monitor: MonitorName,
    body: MonitorUpdate,
    caller: Annotated[Caller, Depends(require("monitor", "write"))],
    svc: ServicesDep,
) -> Monitor:
    """Change a monitor (its name and target stay)."""
    return service.update_monitor(
        svc.db, project=project, name=monitor, data=body, actor=caller.principal, clock=svc.clock
    )


@router.delete(_ONE, status_code=204)
def delete_monitor(
    project: ProjectName,
    monitor: MonitorName,
    caller: Annotated[Caller, Depends(require("monitor", "delete"))],
    svc: ServicesDep,
) -> None:
    """Delete a monitor with its runs and results."""
    service.delete_monitor(svc.db, project=project, name=monitor, actor=caller.principal)


@router.get(_ONE + "/results", response_model=ResultPage)
def list_results(
    project: ProjectName,
    monitor: MonitorName,
    caller: Annotated[Caller, Depends(require("monitor", "read"))],
    svc: ServicesDep,
    since: Since = None,
    until: Annotated[datetime | None, Query(description="only windows ending before this")] = None,
    signal: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 500,
    cursor: Cursor = None,
) -> ResultPage:
    """The monitor's values as a time series, oldest window first."""
    return runs.list_results(
        svc.db, project=project, name=monitor, since=since, until=until, signal=signal,
        limit=limit, cursor=cursor,
    )  # fmt: skip


@router.get(_ONE + "/runs", response_model=list[MonitorRun])
def list_runs(
    project: ProjectName,
    monitor: MonitorName,
    caller: Annotated[Caller, Depends(require("monitor", "read"))],
    svc: ServicesDep,
    since: Since = None,
    limit: Limit = 100,
) -> list[MonitorRun]:
    """The monitor's runs, newest window first."""
    return runs.list_runs(svc.db, project=project, name=monitor, since=since, limit=limit)


@router.post(_ONE + "/run", response_model=RunReport)
def run_monitor(
    project: ProjectName,
    monitor: MonitorName,
    body: RunRequest,
    caller: Annotated[Caller, Depends(require("monitor", "run"))],
    svc: ServicesDep,
) -> RunReport:
    """Run one window now (default: the newest that has ended); a window runs only once."""
    return runs.run_now(
        svc.db, project=project, name=monitor, env=_env(svc), window_end=body.window_end,
        actor=caller.principal, clock=svc.clock, rerun=body.rerun,
    )  # fmt: skip


@router.post(_ONE + "/backfill", response_model=Backfill, status_code=202)
def backfill(
    project: ProjectName,
    monitor: MonitorName,
    body: BackfillRequest,
    caller: Annotated[Caller, Depends(require("monitor", "run"))],
    svc: ServicesDep,
    request: Request,
    response: Response,
) -> Backfill:
    """Queue a run of every past window ending in ``(since, until]``; poll the backfill."""
    job = backfills.request_backfill(
        svc.db, project=project, name=monitor, since=body.since, until=body.until,
        rerun=body.rerun, actor=caller.principal, clock=svc.clock,
    )  # fmt: skip
    response.headers["Location"] = (
        f"/api/v1/projects/{project}/monitors/{monitor}/backfills/{job.id}"
    )
    worker = getattr(request.app.state, "backfills", None)
    if isinstance(worker, BackfillWorker):  # this process's worker starts it at once
        worker.wake()
    return job


@router.get(_ONE + "/backfills", response_model=list[Backfill])
def list_backfills(
    project: ProjectName,
    monitor: MonitorName,
    caller: Annotated[Caller, Depends(require("monitor", "read"))],
    svc: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=backfills.MAX_LIST)] = 20,
) -> list[Backfill]:
    """The monitor's backfills, newest first, with their progress."""
    return backfills.list_backfills(svc.db, project=project, name=monitor, limit=limit)


@router.get(_ONE + "/backfills/{backfill_id}", response_model=Backfill)
def get_backfill(
    project: ProjectName,
    monitor: MonitorName,
    backfill_id: UUID,
    caller: Annotated[Caller, Depends(require("monitor", "read"))],
    svc: ServicesDep,
) -> Backfill:
    """One backfill: its status, windows done of total, and what they came to."""
    return backfills.get_backfill(svc.db, project=project, name=monitor, backfill_id=backfill_id)


@router.post(_ONE + "/backfills/{backfill_id}/cancel", response_model=Backfill)
def cancel_backfill(
    project: ProjectName,
    monitor: MonitorName,
    backfill_id: UUID,
    caller: Annotated[Caller, Depends(require("monitor", "run"))],
    svc: ServicesDep,
) -> Backfill:
    """Cancel a backfill: a queued one never runs, a running one stops after its window."""
    return backfills.cancel_backfill(
        svc.db, project=project, name=monitor, backfill_id=backfill_id, actor=caller.principal
    )
