"""Use cases of alerts and notification channels; each owns its transaction (or joins one)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final
from uuid import UUID

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from governance.audit.service import record_audit
from governance.core.clock import Clock, SystemClock, isoformat
from governance.core.db import Database
from governance.core.errors import Conflict, InvalidState, NotFound
from governance.core.ids import new_id
from governance.core.principal import SYSTEM, Principal
from monitors.alerts.guard import Allowlist, check_static
from monitors.alerts.models import AlertRow, ChannelRow, DeliveryRow
from monitors.alerts.schemas import (
    Alert,
    AlertEvent,
    AlertOutcome,
    AlertPolicy,
    AlertState,
    Breach,
    Channel,
    ChannelCreate,
    ChannelUpdate,
    Delivery,
    DeliveryState,
    Severity,
)
from monitors.alerts.store import SqlAlertStore, active_key, apply, to_alert, to_channel

_WALL: Final = SystemClock()
_DEFAULT_POLICY: Final = AlertPolicy()
_CHANNELS = "channels"  # key in an alert's details: the channel names chosen by its monitor


def raise_or_update_alert(
    session: Session,
    *,
    project: str,
    breach: Breach,
    channels: Sequence[str] | None = None,
    policy: AlertPolicy = _DEFAULT_POLICY,
    actor: Principal = SYSTEM,
    clock: Clock = _WALL,
) -> AlertOutcome:
    """Open an alert for a breach, or update the signal's unresolved one (inside the caller's
    transaction, with its audit entry); queue notifications unless the alert is cooling down.

    ``channels`` names the project's channels to notify (None: every enabled channel).
    """
    store, now = SqlAlertStore(session), clock.now()
    row = store.active_row(project, breach.monitor, breach.signal)
    if row is None:
        row = _open(session, store, project, breach, channels, now)
        if row is not None:
            notified = _notify(store, row, AlertEvent.opened, now)
            _audit(session, actor, "alert.open", row, breach)
            return AlertOutcome(alert=to_alert(row), opened=True, notified=notified)
        # Another transaction opened it a moment ago: update that one instead.
        row = store.active_row(project, breach.monitor, breach.signal)
        assert row is not None
    escalated = Severity(breach.severity).rank > Severity(row.severity).rank
    _record_breach(row, breach, escalated, now)
    notified = 0
    if _should_notify(row, escalated, policy, now):
        notified = _notify(store, row, AlertEvent.updated, now)
    _audit(session, actor, "alert.update", row, breach)
    return AlertOutcome(alert=to_alert(row), opened=False, notified=notified)


def _open(
    session: Session,
    store: SqlAlertStore,
    project: str,
    breach: Breach,
    channels: Sequence[str] | None,
    now: datetime,
) -> AlertRow | None:
    details: dict[str, Any] = {
        **breach.details,
        _CHANNELS: None if channels is None else list(channels),
    }
    row = AlertRow(
        id=new_id(), project=project, monitor=breach.monitor, signal=breach.signal,
        active_key=active_key(project, breach.monitor, breach.signal),
        severity=str(breach.severity), state=str(AlertState.open), value=breach.value,
        threshold=breach.threshold, window_start=breach.window_start,
        window_end=breach.window_end, breach_count=1, opened_at=now, updated_at=now,
        last_breach_at=now, last_notified_at=None, note="", details=details,
    )  # fmt: skip
    try:
        with session.begin_nested():
            store.add(row)
    except IntegrityError:
        return None
    return row


def _record_breach(row: AlertRow, breach: Breach, escalated: bool, now: datetime) -> None:
    keep = {_CHANNELS: row.details.get(_CHANNELS)}
    apply(
        row, value=breach.value, threshold=breach.threshold, window_start=breach.window_start,
        window_end=breach.window_end, breach_count=row.breach_count + 1, updated_at=now,
        last_breach_at=now, details={**breach.details, **keep},
    )  # fmt: skip
    if escalated:
        row.severity = str(breach.severity)


def _should_notify(row: AlertRow, escalated: bool, policy: AlertPolicy, now: datetime) -> bool:
    if escalated:
        return True
    if row.state == AlertState.acknowledged:
        return False  # someone is on it; only a worse breach is news
    last = row.last_notified_at
    return last is None or now - last >= policy.cooldown


def _audit(session: Session, actor: Principal, action: str, row: AlertRow, breach: Breach) -> None:
    record_audit(
        session, actor=actor, action=action, project=row.project, target=f"alert:{row.id}",
        details={"monitor": row.monitor, "signal": row.signal, "severity": row.severity,
                 "value": breach.value, "threshold": breach.threshold},
    )  # fmt: skip


def payload(row: AlertRow, event: AlertEvent) -> dict[str, Any]:
    """The JSON document a webhook receives."""
    when = {
        k: None if getattr(row, k) is None else isoformat(getattr(row, k))
        for k in ("window_start", "window_end", "opened_at", "updated_at", "resolved_at")
    }
    alert = {
        "id": str(row.id), "project": row.project, "monitor": row.monitor, "signal": row.signal,
        "severity": row.severity, "state": row.state, "value": row.value,
        "threshold": row.threshold, "breach_count": row.breach_count, **when,
    }  # fmt: skip
    return {"event": str(event), "alert": alert}


def _notify(store: SqlAlertStore, row: AlertRow, event: AlertEvent, now: datetime) -> int:
    names = row.details.get(_CHANNELS)
    targets = store.notify_targets(row.project, names, Severity(row.severity))
    body = payload(row, event)
    for channel in targets:
        store.add_delivery(
            DeliveryRow(
                id=new_id(), project=row.project, alert_id=row.id, channel_id=channel.id,
                channel=channel.name, event=str(event), payload=body,
                state=str(DeliveryState.pending), attempts=0, next_attempt_at=now,
                lease_until=None, last_status=None, last_error=None, created_at=now,
                delivered_at=None,
            )
        )  # fmt: skip
    if targets:
        row.last_notified_at = now
    return len(targets)


def _change(
    db: Database,
    *,
    project: str,
    alert_id: UUID,
    to: AlertState,
    actor: Principal,
    note: str,
    clock: Clock,
) -> Alert:
    with db.transaction() as session:
        store, now = SqlAlertStore(session), clock.now()
        row = store.alert_row(project, alert_id)
        if row is None:
            raise NotFound("alert not found")
        if row.state == AlertState.resolved or row.state == to:
            raise InvalidState(f"alert is already {row.state}")
        apply(row, state=str(to), updated_at=now, note=note or row.note)
        if to == AlertState.acknowledged:
            apply(row, acknowledged_at=now, acknowledged_by=actor.ref)
        else:
            apply(row, resolved_at=now, resolved_by=actor.ref, active_key=None)
            _notify(store, row, AlertEvent.resolved, now)
        session.flush()
        action = "alert.acknowledge" if to == AlertState.acknowledged else "alert.resolve"
        record_audit(
            session, actor=actor, action=action, project=project, target=f"alert:{row.id}",
            details={"note": note},
        )  # fmt: skip
        return to_alert(row)


def acknowledge_alert(
    db: Database, *, project: str, alert_id: UUID, actor: Principal, note: str = "",
    clock: Clock = _WALL,
) -> Alert:  # fmt: skip
    """Mark an open alert acknowledged (repeats stop notifying unless the severity rises)."""
    return _change(
        db, project=project, alert_id=alert_id, to=AlertState.acknowledged, actor=actor,
        note=note, clock=clock,
    )  # fmt: skip


def resolve_alert(
    db: Database, *, project: str, alert_id: UUID, actor: Principal, note: str = "",
    clock: Clock = _WALL,
) -> Alert:  # fmt: skip
    """Resolve an alert; the next breach of its signal opens a new one."""
    return _change(
        db, project=project, alert_id=alert_id, to=AlertState.resolved, actor=actor,
        note=note, clock=clock,
    )  # fmt: skip


def get_alert(db: Database, *, project: str, alert_id: UUID) -> Alert:
    """One alert; raises NotFound."""
    with db.read() as session:
        row = session.get(AlertRow, alert_id)
        if row is None or row.project != project:
            raise NotFound("alert not found")
        return to_alert(row)


def list_alerts(
    db: Database,
    *,
    project: str,
    states: Sequence[AlertState] = (),
    monitor: str | None = None,
    before: UUID | None = None,
    limit: int = 100,
) -> list[Alert]:
    """Alerts of a project, newest first; page with ``before`` = the last id seen."""
    with db.read() as session:
        return SqlAlertStore(session).alerts(
            project, states=states, monitor=monitor, before=before, limit=limit
        )


def count_open_alerts(db: Database) -> dict[tuple[str, str, str], int]:
    """Unresolved alerts per (project, monitor, severity), for ``/metrics``."""
    with db.read() as session:
        return SqlAlertStore(session).count_open()


def list_deliveries(
    db: Database, *, project: str, alert_id: UUID | None = None, limit: int = 100
) -> list[Delivery]:
    """The webhook delivery log, newest first."""
    with db.read() as session:
        return SqlAlertStore(session).deliveries(project, alert_id=alert_id, limit=limit)


# ---------------------------------------------------------------- channels


def create_channel(
    db: Database, *, project: str, data: ChannelCreate, actor: Principal,
    allowlist: Sequence[str] = (), clock: Clock = _WALL,
) -> Channel:  # fmt: skip
    """Add a webhook channel (literal internal addresses are refused now, names at delivery)."""
    check_static(str(data.url), allow=Allowlist(allowlist))
    now = clock.now()
    with db.transaction() as session:
        store = SqlAlertStore(session)
        if store.channel_row(project, data.name) is not None:
            raise Conflict(f"channel {data.name!r} already exists")
        channel = store.add_channel(
            ChannelRow(
                id=new_id(), project=project, name=data.name, kind=str(data.kind),
                url=str(data.url), secret=data.secret, min_severity=str(data.min_severity),
                enabled=data.enabled, created_at=now, updated_at=now,
            )
        )  # fmt: skip
        _audit_channel(session, actor, "channel.create", channel)
    return channel


def _audit_channel(session: Session, actor: Principal, action: str, channel: Channel) -> None:
    record_audit(
        session, actor=actor, action=action, project=channel.project,
        target=f"channel:{channel.name}",
        details={"url": channel.url, "enabled": channel.enabled,
                 "min_severity": str(channel.min_severity)},
    )  # fmt: skip


def list_channels(db: Database, *, project: str) -> list[Channel]:
    """Channels of a project."""
    with db.read() as session:
        return SqlAlertStore(session).channels(project)


def get_channel(db: Database, *, project: str, name: str) -> Channel:
    """One channel; raises NotFound."""
    with db.read() as session:
        row = SqlAlertStore(session).channel_row(project, name)
        if row is None:
            raise NotFound(f"channel {name!r} not found")
        return to_channel(row)


def update_channel(
    db: Database, *, project: str, name: str, data: ChannelUpdate, actor: Principal,
    allowlist: Sequence[str] = (), clock: Clock = _WALL,
) -> Channel:  # fmt: skip
    """Change a channel's URL, secret, threshold or state."""
    if data.url is not None:
        check_static(str(data.url), allow=Allowlist(allowlist))
    with db.transaction() as session:
        row = SqlAlertStore(session).channel_row(project, name)
        if row is None:
            raise NotFound(f"channel {name!r} not found")
        changes = data.model_dump(exclude_none=True)
        changes = {k: str(v) if k in ("url", "min_severity") else v for k, v in changes.items()}
        apply(row, **changes, updated_at=clock.now())
        session.flush()
        channel = to_channel(row)
        _audit_channel(session, actor, "channel.update", channel)
    return channel


def delete_channel(db: Database, *, project: str, name: str, actor: Principal) -> None:
    """Remove a channel; queued deliveries to it fail."""
    with db.transaction() as session:
        store = SqlAlertStore(session)
        row = store.channel_row(project, name)
        if row is None:
            raise NotFound(f"channel {name!r} not found")
        channel = to_channel(row)
        store.delete_channel(row)
        _audit_channel(session, actor, "channel.delete", channel)
