"""SQL storage of alerts, channels and deliveries; never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from monitors.alerts.models import AlertRow, ChannelRow, DeliveryRow
from monitors.alerts.schemas import (
    Alert,
    AlertState,
    Channel,
    ChannelKind,
    ChannelTarget,
    Delivery,
    DeliveryState,
    Severity,
)


def active_key(project: str, monitor: str, signal: str) -> str:
    """The uniqueness key of the one unresolved alert of a (monitor, signal)."""
    return f"{project}\x1f{monitor}\x1f{signal}"


def to_alert(row: AlertRow) -> Alert:
    """Row to read model."""
    fields = {name: getattr(row, name) for name in Alert.model_fields}
    return Alert.model_validate(
        {**fields, "severity": Severity(row.severity), "state": AlertState(row.state)}
    )


def to_channel(row: ChannelRow) -> Channel:
    """Row to read model (without the secret)."""
    fields = {name: getattr(row, name) for name in Channel.model_fields}
    return Channel.model_validate({**fields, "kind": ChannelKind(row.kind)})


def to_delivery(row: DeliveryRow) -> Delivery:
    """Row to read model."""
    return Delivery.model_validate({name: getattr(row, name) for name in Delivery.model_fields})


class SqlAlertStore:
    """Alerts, channels and the delivery outbox in the metadata database."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # alerts
    def active_row(self, project: str, monitor: str, signal: str) -> AlertRow | None:
        """The unresolved alert of a signal, locked for update."""
        stmt = select(AlertRow).where(AlertRow.active_key == active_key(project, monitor, signal))
        return self.session.scalars(stmt.with_for_update()).first()

    def alert_row(self, project: str, alert_id: UUID) -> AlertRow | None:
        """An alert of the project, locked for update."""
        stmt = select(AlertRow).where(AlertRow.id == alert_id, AlertRow.project == project)
        return self.session.scalars(stmt.with_for_update()).first()

    def add(self, row: AlertRow) -> AlertRow:
        """Insert an alert."""
        self.session.add(row)
        self.session.flush()
        return row

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
        return [to_alert(r) for r in rows]

    def count_open(self) -> dict[tuple[str, str, str], int]:
        """Unresolved alerts per (project, monitor, severity)."""
        stmt = select(AlertRow.project, AlertRow.monitor, AlertRow.severity).where(
            AlertRow.active_key.is_not(None)
        )
        counts: dict[tuple[str, str, str], int] = {}
        for project, monitor, severity in self.session.execute(stmt):
            counts[(project, monitor, severity)] = counts.get((project, monitor, severity), 0) + 1
        return counts

    # channels
    def channel_row(self, project: str, name: str) -> ChannelRow | None:
        """A channel by name."""
        stmt = select(ChannelRow).where(ChannelRow.project == project, ChannelRow.name == name)
        return self.session.scalars(stmt).first()

    def add_channel(self, row: ChannelRow) -> Channel:
        """Insert a channel."""
        self.session.add(row)
        self.session.flush()
        return to_channel(row)

    def channels(self, project: str) -> list[Channel]:
        """Every channel of a project, by name."""
        stmt = select(ChannelRow).where(ChannelRow.project == project).order_by(ChannelRow.name)
        return [to_channel(r) for r in self.session.scalars(stmt)]

    def notify_targets(
        self, project: str, names: Sequence[str] | None, severity: Severity
    ) -> list[ChannelRow]:
        """Enabled channels (all, or those named) whose minimum severity the alert reaches."""
        stmt = select(ChannelRow).where(ChannelRow.project == project, ChannelRow.enabled)
        if names is not None:
            stmt = stmt.where(ChannelRow.name.in_(list(names)))
        rows = self.session.scalars(stmt.order_by(ChannelRow.name))
        return [r for r in rows if Severity(r.min_severity).rank <= severity.rank]

    def delete_channel(self, row: ChannelRow) -> None:
        """Remove a channel (its delivery log stays)."""
        self.session.delete(row)
        self.session.flush()

    # deliveries
    def add_delivery(self, row: DeliveryRow) -> None:
        """Queue a notification."""
        self.session.add(row)

    def due(self, now: datetime, limit: int) -> list[DeliveryRow]:
        """Pending deliveries whose time has come and that nobody holds."""
        stmt = (
            select(DeliveryRow)
            .where(
                DeliveryRow.state == str(DeliveryState.pending),
                DeliveryRow.next_attempt_at <= now,
                or_(DeliveryRow.lease_until.is_(None), DeliveryRow.lease_until <= now),
            )
            .order_by(DeliveryRow.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(self.session.scalars(stmt))

    def delivery_row(self, delivery_id: UUID) -> DeliveryRow | None:
        """A delivery by id."""
        return self.session.get(DeliveryRow, delivery_id)

    def target(self, channel_id: UUID) -> ChannelTarget | None:
        """Where and how to send for a channel (None once it is deleted or disabled)."""
        row = self.session.get(ChannelRow, channel_id)
        if row is None or not row.enabled:
            return None
        return ChannelTarget(id=row.id, name=row.name, url=row.url, secret=row.secret)

    def deliveries(
        self, project: str, *, alert_id: UUID | None = None, limit: int = 100
    ) -> list[Delivery]:
        """The delivery log of a project (or one alert), newest first."""
        stmt = select(DeliveryRow).where(DeliveryRow.project == project)
        if alert_id is not None:
            stmt = stmt.where(DeliveryRow.alert_id == alert_id)
        rows = self.session.scalars(stmt.order_by(DeliveryRow.created_at.desc()).limit(limit))
        return [to_delivery(r) for r in rows]


def apply(row: Any, **values: Any) -> None:
    """Set attributes on an ORM row."""
    for name, value in values.items():
        setattr(row, name, value)
