"""Storage of notification channels and the webhook delivery outbox; never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from governance.core.errors import NotFound
from governance.core.ids import new_id
from monitors.alerts.models import ChannelRow, DeliveryRow
from monitors.alerts.schemas import (
    Alert,
    AlertEvent,
    Channel,
    ChannelCreate,
    ChannelKind,
    ChannelUpdate,
    Delivery,
    DeliveryState,
    SealedChannel,
    Severity,
)

_SEALED_PREFIX = "v1:"  # governance.core.secrets.VERSION; legacy rows read "plain:<secret>"


class ChannelStore(Protocol):
    """Channels and the delivery outbox (see ``AlertStore`` for the rules every method keeps)."""

    def find_channel(self, project: str, name: str) -> Channel | None:
        """A channel by name, if any."""
        ...

    def add_channel(
        self,
        project: str,
        data: ChannelCreate,
        *,
        channel_id: UUID,
        sealed_secret: str,
        when: datetime,
    ) -> Channel:
        """Insert a channel, storing ``sealed_secret`` (never ``data.secret``)."""
        ...

    def update_channel(
        self, channel_id: UUID, data: ChannelUpdate, *, sealed_secret: str | None, when: datetime
    ) -> Channel:
        """Apply the fields ``data`` sets, storing ``sealed_secret`` (if any) for the secret."""
        ...

    def set_stored_secret(self, channel_id: UUID, stored: str) -> None:
        """Replace a channel's stored secret (sealing a legacy one)."""
        ...

    def unsealed_channels(self) -> list[SealedChannel]:
        """Channels of every project whose secret is not sealed (legacy plain text)."""
        ...

    def sealed_key_ids(self) -> dict[str, int]:
        """How many sealed channel secrets each secrets key (by key id) sealed."""
        ...

    def delete_channel(self, channel_id: UUID) -> None:
        """Remove a channel (its delivery log stays)."""
        ...

    def channels(self, project: str) -> list[Channel]:
        """Every channel of a project, by name."""
        ...

    def notify_targets(
        self, project: str, names: Sequence[str] | None, severity: Severity
    ) -> list[Channel]:
        """Enabled channels (all, or those named) whose minimum severity the alert reaches."""
        ...

    def queue_delivery(
        self,
        alert: Alert,
        channel: Channel,
        *,
        event: AlertEvent,
        payload: dict[str, Any],
        when: datetime,
    ) -> None:
        """Queue one notification of an alert to a channel, due at ``when``."""
        ...

    def claim_due(self, now: datetime, limit: int, *, lease_until: datetime) -> list[Delivery]:
        """Lease the pending deliveries that are due and that nobody holds."""
        ...

    def target(self, channel_id: UUID) -> SealedChannel | None:
        """Where to send for a channel and its stored secret (None once deleted or disabled)."""
        ...

    def record_delivery_attempt(
        self, delivery_id: UUID, *, status: int | None, error: str | None
    ) -> Delivery:
        """Count one attempt of a delivery with its outcome and release its lease."""
        ...

    def mark_delivered(self, delivery_id: UUID, when: datetime) -> None:
        """Close a delivery as delivered."""
        ...

    def schedule_retry(self, delivery_id: UUID, at: datetime) -> None:
        """Make a delivery due again at ``at``."""
        ...

    def mark_failed(self, delivery_id: UUID) -> None:
        """Close a delivery as failed for good."""
        ...

    def deliveries(
        self, project: str, *, alert_id: UUID | None = None, limit: int = 100
    ) -> list[Delivery]:
        """The delivery log of a project (or one alert), newest first."""
        ...


def _channel(row: ChannelRow) -> Channel:
    fields = {name: getattr(row, name) for name in Channel.model_fields}
    return Channel.model_validate({**fields, "kind": ChannelKind(row.kind)})


def _sealed(row: ChannelRow) -> SealedChannel:
    return SealedChannel(
        id=row.id, project=row.project, name=row.name, url=row.url, stored_secret=row.secret
    )


def _delivery(row: DeliveryRow) -> Delivery:
    return Delivery.model_validate({name: getattr(row, name) for name in Delivery.model_fields})


class SqlChannelStore:
    """ChannelStore on SQLAlchemy (SQLite and PostgreSQL)."""

    session: Session

    def _channel_row(self, channel_id: UUID) -> ChannelRow:
        row = self.session.get(ChannelRow, channel_id)
        if row is None:
            raise NotFound("channel not found")
        return row

    def find_channel(self, project: str, name: str) -> Channel | None:
        """A channel by name, if any."""
        stmt = select(ChannelRow).where(ChannelRow.project == project, ChannelRow.name == name)
        row = self.session.scalars(stmt).first()
        return None if row is None else _channel(row)

    def add_channel(
        self,
        project: str,
        data: ChannelCreate,
        *,
        channel_id: UUID,
        sealed_secret: str,
        when: datetime,
    ) -> Channel:
        """Insert a channel, storing ``sealed_secret`` (never ``data.secret``)."""
        row = ChannelRow(
            id=channel_id, project=project, name=data.name, kind=str(data.kind),
            url=str(data.url), secret=sealed_secret, min_severity=str(data.min_severity),
            enabled=data.enabled, created_at=when, updated_at=when,
        )  # fmt: skip
        self.session.add(row)
        self.session.flush()
        return _channel(row)

    def update_channel(
        self, channel_id: UUID, data: ChannelUpdate, *, sealed_secret: str | None, when: datetime
    ) -> Channel:
        """Apply the fields ``data`` sets, storing ``sealed_secret`` (if any) for the secret."""
        row = self._channel_row(channel_id)
        changes = data.model_dump(exclude_none=True, exclude={"secret"})
        for name, value in changes.items():
            setattr(row, name, str(value) if name in ("url", "min_severity") else value)
        if sealed_secret is not None:
            row.secret = sealed_secret
        row.updated_at = when
        self.session.flush()
        return _channel(row)

    def set_stored_secret(self, channel_id: UUID, stored: str) -> None:
        """Replace a channel's stored secret (sealing a legacy one)."""
        self._channel_row(channel_id).secret = stored
        self.session.flush()

    def unsealed_channels(self) -> list[SealedChannel]:
        """Channels of every project whose secret is not sealed (legacy plain text)."""
        stmt = select(ChannelRow).where(ChannelRow.secret.not_like(f"{_SEALED_PREFIX}%"))
        return [_sealed(r) for r in self.session.scalars(stmt.order_by(ChannelRow.id))]

    def sealed_key_ids(self) -> dict[str, int]:
        """How many sealed channel secrets each secrets key (by key id) sealed."""
        stmt = select(ChannelRow.secret).where(ChannelRow.secret.like(f"{_SEALED_PREFIX}%"))
        counts: dict[str, int] = {}
        for stored in self.session.scalars(stmt):
            kid = stored.split(":", 2)[1]
            counts[kid] = counts.get(kid, 0) + 1
        return counts

    def delete_channel(self, channel_id: UUID) -> None:
        """Remove a channel (its delivery log stays)."""
        self.session.delete(self._channel_row(channel_id))
        self.session.flush()

    def channels(self, project: str) -> list[Channel]:
        """Every channel of a project, by name."""
        stmt = select(ChannelRow).where(ChannelRow.project == project).order_by(ChannelRow.name)
        return [_channel(r) for r in self.session.scalars(stmt)]

    def notify_targets(
        self, project: str, names: Sequence[str] | None, severity: Severity
    ) -> list[Channel]:
        """Enabled channels (all, or those named) whose minimum severity the alert reaches."""
        stmt = select(ChannelRow).where(ChannelRow.project == project, ChannelRow.enabled)
        if names is not None:
            stmt = stmt.where(ChannelRow.name.in_(list(names)))
        rows = self.session.scalars(stmt.order_by(ChannelRow.name))
        return [_channel(r) for r in rows if Severity(r.min_severity).rank <= severity.rank]

    # deliveries
    def _delivery_row(self, delivery_id: UUID) -> DeliveryRow:
        row = self.session.get(DeliveryRow, delivery_id)
        if row is None:
            raise NotFound("delivery not found")
        return row

    def queue_delivery(
        self,
        alert: Alert,
        channel: Channel,
        *,
        event: AlertEvent,
        payload: dict[str, Any],
        when: datetime,
    ) -> None:
        """Queue one notification of an alert to a channel, due at ``when``."""
        self.session.add(
            DeliveryRow(
                id=new_id(), project=alert.project, alert_id=alert.id, channel_id=channel.id,
                channel=channel.name, event=str(event), payload=payload,
                state=str(DeliveryState.pending), attempts=0, next_attempt_at=when,
                lease_until=None, last_status=None, last_error=None, created_at=when,
                delivered_at=None,
            )
        )  # fmt: skip

    def claim_due(self, now: datetime, limit: int, *, lease_until: datetime) -> list[Delivery]:
        """Lease the pending deliveries that are due and that nobody holds."""
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
        rows = list(self.session.scalars(stmt))
        for row in rows:
            row.lease_until = lease_until
        self.session.flush()
        return [_delivery(r) for r in rows]

    def target(self, channel_id: UUID) -> SealedChannel | None:
        """Where to send for a channel and its stored secret (None once deleted or disabled)."""
        row = self.session.get(ChannelRow, channel_id)
        return None if row is None or not row.enabled else _sealed(row)

    def record_delivery_attempt(
        self, delivery_id: UUID, *, status: int | None, error: str | None
    ) -> Delivery:
        """Count one attempt of a delivery with its outcome and release its lease."""
        row = self._delivery_row(delivery_id)
        row.attempts += 1
        row.lease_until, row.last_status, row.last_error = None, status, error
        self.session.flush()
        return _delivery(row)

    def mark_delivered(self, delivery_id: UUID, when: datetime) -> None:
        """Close a delivery as delivered."""
        row = self._delivery_row(delivery_id)
        row.state, row.delivered_at = str(DeliveryState.delivered), when
        self.session.flush()

    def schedule_retry(self, delivery_id: UUID, at: datetime) -> None:
        """Make a delivery due again at ``at``."""
        self._delivery_row(delivery_id).next_attempt_at = at
        self.session.flush()

    def mark_failed(self, delivery_id: UUID) -> None:
        """Close a delivery as failed for good."""
        self._delivery_row(delivery_id).state = str(DeliveryState.failed)
        self.session.flush()

    def deliveries(
        self, project: str, *, alert_id: UUID | None = None, limit: int = 100
    ) -> list[Delivery]:
        """The delivery log of a project (or one alert), newest first."""
        stmt = select(DeliveryRow).where(DeliveryRow.project == project)
        if alert_id is not None:
            stmt = stmt.where(DeliveryRow.alert_id == alert_id)
        rows = self.session.scalars(stmt.order_by(DeliveryRow.created_at.desc()).limit(limit))
        return [_delivery(r) for r in rows]
