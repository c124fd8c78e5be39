"""Tables of alerts, notification channels and the webhook delivery log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from governance.core.db import Base, CanonicalJSON, UTCDateTime


class AlertRow(Base):
    """One alert per breached (monitor, signal); ``active_key`` is set while it is not resolved."""

    __tablename__ = "monitor_alerts"
    __table_args__ = (
        # NULLs are distinct, so resolved alerts never collide: at most one active per signal.
        UniqueConstraint("active_key"),
        Index("ix_monitor_alerts_project_opened", "project", "opened_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    project: Mapped[str] = mapped_column(String(64))
    monitor: Mapped[str] = mapped_column(String(128))
    signal: Mapped[str] = mapped_column(String(200))
    active_key: Mapped[str | None] = mapped_column(String(400))
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    value: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    breach_count: Mapped[int] = mapped_column(Integer)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_breach_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(256))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(256))
    note: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(CanonicalJSON)


class ChannelRow(Base):
    """A notification channel of a project (a webhook URL and its sealed signing secret)."""

    __tablename__ = "monitor_alert_channels"
    __table_args__ = (UniqueConstraint("project", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    project: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(String(2048))
    # Sealed under the secrets key with the channel id bound in (governance.core.secrets);
    # the plain secret is never stored.
    secret: Mapped[str] = mapped_column(String(512))
    min_severity: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DeliveryRow(Base):
    """One notification to send (an outbox entry) and how its attempts went."""

    __tablename__ = "monitor_alert_deliveries"
    __table_args__ = (
        Index("ix_monitor_alert_deliveries_due", "state", "next_attempt_at"),
        {"info": {"governed": False}},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    project: Mapped[str] = mapped_column(String(64))
    alert_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("monitor_alerts.id", ondelete="CASCADE"), index=True
    )
    channel_id: Mapped[uuid.UUID] = mapped_column(index=True)
    channel: Mapped[str] = mapped_column(String(128))
    event: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(CanonicalJSON)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
