"""Storage of alerts, channels and the webhook delivery outbox; never commits.

The channels and the outbox are in ``channel_store``; ``AlertStore`` and ``SqlAlertStore`` are
the whole, as the service and the delivery worker use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from governance.core.errors import NotFound
from governance.core.ids import new_id
from monitors.alerts.channel_store import ChannelStore, SqlChannelStore
from monitors.alerts.models import AlertRow
from monitors.alerts.schemas import (
    Alert,
    AlertState,
    Breach,
    Severity,
)


class AlertStore(ChannelStore, Protocol):
    """Alerts, notification channels and the delivery outbox of every project.

    Methods work inside the caller's transaction and never commit. Reads return frozen schemas;
    writes take schemas or plain values, build the rows themselves and return the state after
    the change. ``active_alert`` and ``lock_alert`` lock the alert until the transaction ends,
    so concurrent breaches and state changes of one alert serialise. At most one unresolved
    alert exists per (project, monitor, signal): ``open_alert`` returns None when another
    transaction holds that place. Methods taking the id of an alert or delivery raise NotFound
    when it does not exist. ``claim_due`` skips deliveries another transaction has locked.
    """

    def active_alert(self, project: str, monitor: str, signal: str) -> Alert | None:
        """The unresolved alert of a signal, locked for update."""
        ...

    def lock_alert(self, project: str, alert_id: UUID) -> Alert | None:
        """An alert of the project, locked for update."""
        ...

    def find_alert(self, project: str, alert_id: UUID) -> Alert | None:
        """An alert of the project, if any."""
        ...

    def open_alert(
        self, project: str, breach: Breach, *, details: dict[str, Any], when: datetime
    ) -> Alert | None:
        """Open the alert of a breached signal; None when the signal already has one."""
        ...

    def record_breach(
        self,
        alert_id: UUID,
        breach: Breach,
        *,
        severity: Severity,
        details: dict[str, Any],
        when: datetime,
    ) -> Alert:
        """Count one more breach on an alert with the breach's values."""
        ...

    def mark_notified(self, alert_id: UUID, when: datetime) -> Alert:
        """Note when notifications of an alert were last queued."""
        ...

    def acknowledge(self, alert_id: UUID, *, by: str, note: str, when: datetime) -> Alert:
        """Mark an alert acknowledged by ``by``."""
        ...

    def resolve(self, alert_id: UUID, *, by: str, note: str, when: datetime) -> Alert:
        """Resolve an alert, freeing its signal for a new one."""
        ...

    def alerts(
        self,
        project: str,
        *,
        states: Sequence[AlertState] = (),
        monitor: str | None = None,
        before: UUID | None = None,
        limit: int = 100,
    ) -> list[Alert]:
        """Alerts of a project, newest first."""
        ...

    def count_open(self) -> dict[tuple[str, str, str], int]:
        """Unresolved alerts per (project, monitor, severity)."""
        ...


def _active_key(project: str, monitor: str, signal: str) -> str:
    """The uniqueness key of the one unresolved alert of a (monitor, signal)."""
    return f"{project}\x1f{monitor}\x1f{signal}"


def _alert(row: AlertRow) -> Alert:
    fields = {name: getattr(row, name) for name in Alert.model_fields}
    return Alert.model_validate(
        {**fields, "severity": Severity(row.severity), "state": AlertState(row.state)}
    )


class SqlAlertStore(SqlChannelStore):
    """AlertStore on SQLAlchemy (SQLite and PostgreSQL)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # alerts
    def _alert_row(self, alert_id: UUID) -> AlertRow:
        row = self.session.get(AlertRow, alert_id)
        if row is None:
            raise NotFound("alert not found")
        return row

    def active_alert(self, project: str, monitor: str, signal: str) -> Alert | None:
        """The unresolved alert of a signal, locked for update."""
        stmt = select(AlertRow).where(AlertRow.active_key == _active_key(project, monitor, signal))
        row = self.session.scalars(stmt.with_for_update()).first()
        return None if row is None else _alert(row)

    def lock_alert(self, project: str, alert_id: UUID) -> Alert | None:
        """An alert of the project, locked for update."""
        stmt = select(AlertRow).where(AlertRow.id == alert_id, AlertRow.project == project)
        row = self.session.scalars(stmt.with_for_update()).first()
        return None if row is None else _alert(row)

    def find_alert(self, project: str, alert_id: UUID) -> Alert | None:
        """An alert of the project, if any."""
        row = self.session.get(AlertRow, alert_id)
        return None if row is None or row.project != project else _alert(row)

    def open_alert(
        self, project: str, breach: Breach, *, details: dict[str, Any], when: datetime
    ) -> Alert | None:
        """Open the alert of a breached signal; None when the signal already has one."""
        row = AlertRow(
            id=new_id(), project=project, monitor=breach.monitor, signal=breach.signal,
            active_key=_active_key(project, breach.monitor, breach.signal),
            severity=str(breach.severity), state=str(AlertState.open), value=breach.value,
            threshold=breach.threshold, window_start=breach.window_start,
            window_end=breach.window_end, breach_count=1, opened_at=when, updated_at=when,
            last_breach_at=when, last_notified_at=None, note="", details=details,
        )  # fmt: skip
        try:
            with self.session.begin_nested():
                self.session.add(row)
                self.session.flush()
        except IntegrityError:
            return None  # another transaction opened it a moment ago
        return _alert(row)

    def record_breach(
        self,
        alert_id: UUID,
        breach: Breach,
        *,
        severity: Severity,
        details: dict[str, Any],
        when: datetime,
    ) -> Alert:
        """Count one more breach on an alert with the breach's values."""
        row = self._alert_row(alert_id)
        row.value, row.threshold = breach.value, breach.threshold
        row.window_start, row.window_end = breach.window_start, breach.window_end
        row.breach_count += 1
        row.updated_at = row.last_breach_at = when
        row.details = details
        row.severity = str(severity)
        self.session.flush()
        return _alert(row)

    def mark_notified(self, alert_id: UUID, when: datetime) -> Alert:
        """Note when notifications of an alert were last queued."""
        row = self._alert_row(alert_id)
        row.last_notified_at = when
        self.session.flush()
        return _alert(row)

    def acknowledge(self, alert_id: UUID, *, by: str, note: str, when: datetime) -> Alert:
        """Mark an alert acknowledged by ``by``."""
        row = self._alert_row(alert_id)
        row.state, row.updated_at, row.note = str(AlertState.acknowledged), when, note
        row.acknowledged_at, row.acknowledged_by = when, by
        self.session.flush()
        return _alert(row)

    def resolve(self, alert_id: UUID, *, by: str, note: str, when: datetime) -> Alert:
        """Resolve an alert, freeing its signal for a new one."""
        row = self._alert_row(alert_id)
        row.state, row.updated_at, row.note = str(AlertState.resolved), when, note
        row.resolved_at, row.resolved_by, row.active_key = when, by, None
        self.session.flush()
        return _alert(row)

    def alerts(
        self,
        project: str,
        *,
        states: Sequence[AlertState] = (),
        monitor: str | None = None,
        before: UUID | None = None,
        limit: int = 100,
    ) -> list[Alert]:
        """Alerts of a project, newest first."""
        stmt = select(AlertRow).where(AlertRow.project == project)
        if states:
            stmt = stmt.where(AlertRow.state.in_([str(s) for s in states]))
        if monitor is not None:
            stmt = stmt.where(AlertRow.monitor == monitor)
        if before is not None:
            stmt = stmt.where(AlertRow.id < before)
        rows = self.session.scalars(stmt.order_by(AlertRow.id.desc()).limit(limit))
        return [_alert(r) for r in rows]

    def count_open(self) -> dict[tuple[str, str, str], int]:
        """Unresolved alerts per (project, monitor, severity)."""
        stmt = select(AlertRow.project, AlertRow.monitor, AlertRow.severity).where(
            AlertRow.active_key.is_not(None)
        )
        counts: dict[tuple[str, str, str], int] = {}
        for project, monitor, severity in self.session.execute(stmt):
            counts[(project, monitor, severity)] = counts.get((project, monitor, severity), 0) + 1
        return counts
