"""Alerts of a project (list, acknowledge, resolve, delivery log) and notification channels."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query

from governance.core.errors import InvalidInput
from monitors.alerts import service
from monitors.alerts.schemas import (
    Alert,
    AlertChange,
    AlertState,
    Channel,
    ChannelCreate,
    ChannelUpdate,
    Delivery,
)
from steward.api.deps import Caller, Cursor, Limit, ServicesDep, require
from steward.api.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["alerts"], responses=ERROR_RESPONSES)

ProjectName = Annotated[str, Path(max_length=64)]
ChannelName = Annotated[str, Path(max_length=128)]


def _cursor(cursor: str | None) -> UUID | None:
    if cursor is None:
        return None
    try:
        return UUID(cursor)
    except ValueError as exc:
        raise InvalidInput("invalid cursor") from exc


@router.get("/projects/{project}/alerts", response_model=list[Alert])
def list_alerts(
    project: ProjectName,
    caller: Annotated[Caller, Depends(require("alert", "read"))],
    svc: ServicesDep,
    state: Annotated[list[AlertState] | None, Query()] = None,
    monitor: Annotated[str | None, Query(max_length=128)] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> list[Alert]:
    """Alerts, newest first; pass the last id as ``cursor`` for the next page."""
    return service.list_alerts(
        svc.db, project=project, states=state or (), monitor=monitor, before=_cursor(cursor),
        limit=limit,
    )  # fmt: skip


@router.get("/projects/{project}/alerts/{alert_id}", response_model=Alert)
def get_alert(
    project: ProjectName,
    alert_id: UUID,
    caller: Annotated[Caller, Depends(require("alert", "read"))],
    svc: ServicesDep,
) -> Alert:
    """One alert."""
    return service.get_alert(svc.db, project=project, alert_id=alert_id)


@router.post("/projects/{project}/alerts/{alert_id}/acknowledge", response_model=Alert)
def acknowledge_alert(
    project: ProjectName,
    alert_id: UUID,
    caller: Annotated[Caller, Depends(require("alert", "write"))],
    svc: ServicesDep,
    body: AlertChange | None = None,
) -> Alert:
    """Acknowledge an open alert."""
    return service.acknowledge_alert(
        svc.db, project=project, alert_id=alert_id, actor=caller.principal,
        note=body.note if body else "",
        clock=svc.clock,
    )  # fmt: skip


@router.post("/projects/{project}/alerts/{alert_id}/resolve", response_model=Alert)
def resolve_alert(
    project: ProjectName,
    alert_id: UUID,
    caller: Annotated[Caller, Depends(require("alert", "write"))],
    svc: ServicesDep,
    body: AlertChange | None = None,
) -> Alert:
    """Resolve an alert."""
    return service.resolve_alert(
        svc.db, project=project, alert_id=alert_id, actor=caller.principal,
        note=body.note if body else "",
        clock=svc.clock,
    )  # fmt: skip


@router.get("/projects/{project}/alerts/{alert_id}/deliveries", response_model=list[Delivery])
def list_deliveries(
    project: ProjectName,
    alert_id: UUID,
    caller: Annotated[Caller, Depends(require("alert", "read"))],
    svc: ServicesDep,
    limit: Limit = 100,
) -> list[Delivery]:
    """The webhook delivery log of one alert."""
    service.get_alert(svc.db, project=project, alert_id=alert_id)
    return service.list_deliveries(svc.db, project=project, alert_id=alert_id, limit=limit)


@router.get("/projects/{project}/channels", response_model=list[Channel])
def list_channels(
    project: ProjectName,
    caller: Annotated[Caller, Depends(require("monitor", "read"))],
    svc: ServicesDep,
) -> list[Channel]:
    """Notification channels of the project."""
    return service.list_channels(svc.db, project=project)


@router.post("/projects/{project}/channels", response_model=Channel, status_code=201)
def create_channel(
    project: ProjectName,
    body: ChannelCreate,
    caller: Annotated[Caller, Depends(require("monitor", "write"))],
    svc: ServicesDep,
) -> Channel:
    """Add a webhook channel; its secret signs every delivery and is never shown again."""
    return service.create_channel(
        svc.db, project=project, data=body, actor=caller.principal, secrets=svc.secrets,
        allowlist=svc.settings.webhook_allowlist, clock=svc.clock,
    )  # fmt: skip


@router.get("/projects/{project}/channels/{name}", response_model=Channel)
def get_channel(
    project: ProjectName,
    name: ChannelName,
    caller: Annotated[Caller, Depends(require("monitor", "read"))],
    svc: ServicesDep,
) -> Channel:
    """One channel."""
    return service.get_channel(svc.db, project=project, name=name)


@router.patch("/projects/{project}/channels/{name}", response_model=Channel)
def update_channel(
    project: ProjectName,
    name: ChannelName,
    body: ChannelUpdate,
    caller: Annotated[Caller, Depends(require("monitor", "write"))],
    svc: ServicesDep,
) -> Channel:
    """Change a channel."""
    return service.update_channel(
        svc.db, project=project, name=name, data=body, actor=caller.principal,
        secrets=svc.secrets, allowlist=svc.settings.webhook_allowlist, clock=svc.clock,
    )  # fmt: skip


@router.delete("/projects/{project}/channels/{name}", status_code=204)
def delete_channel(
    project: ProjectName,
    name: ChannelName,
    caller: Annotated[Caller, Depends(require("monitor", "write"))],
    svc: ServicesDep,
) -> None:
    """Remove a channel."""
    service.delete_channel(svc.db, project=project, name=name, actor=caller.principal)
