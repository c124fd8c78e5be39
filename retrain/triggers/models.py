"""Tables of retrain.triggers (ORM rows; they never leave the store)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from governance.core.db import Base, CanonicalJSON, UTCDateTime


class TriggerRow(Base):
    """One trigger of a project; ``spec`` is the validated TriggerSpec as JSON."""

    __tablename__ = "retrain_triggers"
    __table_args__ = (UniqueConstraint("project", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    project: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    spec: Mapped[dict[str, Any]] = mapped_column(CanonicalJSON)
    enabled: Mapped[bool] = mapped_column(Boolean)
    owner: Mapped[str] = mapped_column(String(200))
    revision: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    active_since: Mapped[datetime] = mapped_column(UTCDateTime)
    last_fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TriggerLaunchRow(Base):
    """A launch of a trigger; the unique (trigger, key) makes each breach or fire launch once."""

    __tablename__ = "retrain_trigger_launches"
    __table_args__ = (
        UniqueConstraint("trigger_id", "key"),
        Index("ix_retrain_trigger_launches_at", "trigger_id", "at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    trigger_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("retrain_triggers.id", ondelete="CASCADE")
    )
    project: Mapped[str] = mapped_column(String(64))
    trigger: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    run_id: Mapped[uuid.UUID] = mapped_column()
    launched_by: Mapped[str] = mapped_column(String(200))
    launched_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TriggerProgressRow(Base):
    """How far evaluation got: every window or fire time up to ``checked_until`` is decided.

    Bookkeeping, not governed state: it only spares re-reading old windows (launches are keyed,
    so a lost or stale mark makes no duplicate); the launches themselves are audited.
    """

    __tablename__ = "retrain_trigger_progress"
    __table_args__ = ({"info": {"governed": False}},)

    trigger_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("retrain_triggers.id", ondelete="CASCADE"), primary_key=True
    )
    checked_until: Mapped[datetime] = mapped_column(UTCDateTime)
