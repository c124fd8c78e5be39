"""Routes of retrain's triggers: define (JSON or YAML), read, change, delete, fire, launches."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from governance.core.context import client_request_id_var
from retrain.pipelines.schemas import PipelineRun
from retrain.triggers import service
from retrain.triggers.document import load_triggers
from retrain.triggers.schemas import (
    Applied,
    FireRequest,
    Trigger,
    TriggerLaunch,
    TriggerSpec,
    TriggerUpdate,
)
from steward.api.deps import Caller, ServicesDep, require
from steward.api.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["triggers"], responses=ERROR_RESPONSES)

ProjectName = Annotated[str, Path(max_length=64)]
TriggerName = Annotated[str, Path(max_length=64)]
_BASE = "/projects/{project}/triggers"
_ONE = _BASE + "/{trigger}"


@router.get(_BASE, response_model=list[Trigger])
def list_triggers(
    project: ProjectName,
    caller: Annotated[Caller, Depends(require("trigger", "read"))],
    svc: ServicesDep,
) -> list[Trigger]:
    """The project's triggers by name."""
    return service.list_triggers(svc.db, project=project)


@router.post(_BASE, response_model=Trigger, status_code=201)
def create_trigger(
    project: ProjectName,
    body: TriggerSpec,
    caller: Annotated[Caller, Depends(require("trigger", "write"))],
    svc: ServicesDep,
) -> Trigger:
    """Create a trigger; the caller becomes its owner."""
    return service.create_trigger(
        svc.db, project=project, spec=body, actor=caller.principal, clock=svc.clock
    )


@router.post(_BASE + "/apply", response_model=list[Applied])
async def apply_triggers(
    project: ProjectName,
    request: Request,
    caller: Annotated[Caller, Depends(require("trigger", "write"))],
    svc: ServicesDep,
) -> list[Applied]:
    """Create or update triggers by name from a YAML (or JSON) document, all or none."""
    specs = load_triggers((await request.body()).decode("utf-8", errors="replace"))
    # a write transaction: off the event loop, like a sync route
    return await run_in_threadpool(
        service.apply_triggers, svc.db, project=project, specs=specs, actor=caller.principal,
        clock=svc.clock,
    )  # fmt: skip


@router.get(_ONE, response_model=Trigger)
def get_trigger(
    project: ProjectName,
    trigger: TriggerName,
    caller: Annotated[Caller, Depends(require("trigger", "read"))],
    svc: ServicesDep,
) -> Trigger:
    """One trigger."""
    return service.get_trigger(svc.db, project=project, name=trigger)


@router.patch(_ONE, response_model=Trigger)
def update_trigger(
    project: ProjectName,
    trigger: TriggerName,
    body: TriggerUpdate,
    caller: Annotated[Caller, Depends(require("trigger", "write"))],
    svc: ServicesDep,
) -> Trigger:
    """Switch a trigger on or off, or change its cooldown."""
    return service.update_trigger(
        svc.db, project=project, name=trigger, data=body, actor=caller.principal, clock=svc.clock
    )


@router.delete(_ONE, status_code=204)
def delete_trigger(
    project: ProjectName,
    trigger: TriggerName,
    caller: Annotated[Caller, Depends(require("trigger", "delete"))],
    svc: ServicesDep,
) -> None:
    """Delete a trigger (the runs it launched stay)."""
    service.delete_trigger(svc.db, project=project, name=trigger, actor=caller.principal)


@router.post(_ONE + "/fire", response_model=PipelineRun, status_code=202)
def fire_trigger(
    project: ProjectName,
    trigger: TriggerName,
    caller: Annotated[Caller, Depends(require("trigger", "run"))],
    svc: ServicesDep,
    body: FireRequest | None = None,
) -> PipelineRun:
    """Launch the trigger's pipeline now; the same request id (or X-Request-ID) launches once."""
    request_id = (body.request_id if body else None) or client_request_id_var.get()
    launched = service.fire_trigger(
        svc.db, settings=svc.settings, project=project, name=trigger, actor=caller.principal,
        request_id=request_id, clock=svc.clock,
    )  # fmt: skip
    return launched.run


@router.get(_ONE + "/launches", response_model=list[TriggerLaunch])
def list_launches(
    project: ProjectName,
    trigger: TriggerName,
    caller: Annotated[Caller, Depends(require("trigger", "read"))],
    svc: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=service.MAX_LAUNCHES)] = 100,
) -> list[TriggerLaunch]:
    """The trigger's launches, newest first, each with the run it started."""
    return service.list_launches(svc.db, project=project, name=trigger, limit=limit)
