"""Tables of retrain.rollout (ORM rows; they never leave the store)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from governance.core.db import Base, UTCDateTime

_ACTIVE = text("state = 'active'")


class RolloutRow(Base):
    """A rollout of a model version to an endpoint (at most one active per endpoint)."""

    __tablename__ = "retrain_rollouts"
    __table_args__ = (
        Index("ix_retrain_rollouts_endpoint", "project", "endpoint", "started_at"),
        # one active rollout per endpoint: two starts racing, one wins
        Index(
            "ux_retrain_rollouts_active",
            "project",
            "endpoint",
            unique=True,
            sqlite_where=_ACTIVE,
            postgresql_where=_ACTIVE,
        ),
        Index("ix_retrain_rollouts_state", "state"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    project: Mapped[str] = mapped_column(String(64))
    endpoint: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    previous_model: Mapped[str | None] = mapped_column(String(200))
    previous_version: Mapped[int | None] = mapped_column(Integer)
    strategy: Mapped[str] = mapped_column(String(16))
    percent: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    shadow_endpoint: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_by: Mapped[str] = mapped_column(String(200))
    ended_by: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    end_reason: Mapped[str] = mapped_column(Text, default="")
    approval_id: Mapped[uuid.UUID | None] = mapped_column()
    gate_decision_id: Mapped[uuid.UUID | None] = mapped_column()


class RolloutCountRow(Base):
    """A rollout's scoring requests and failures, added to by every server in batches.

    Bookkeeping, not governed state: counts are not audited one by one; the rollback they
    cause is.
    """

    __tablename__ = "retrain_rollout_counts"
    __table_args__ = ({"info": {"governed": False}},)

    rollout_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("retrain_rollouts.id", ondelete="CASCADE"), primary_key=True
    )
    requests: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DeployWebhookRow(Base):
    """A project's deploy webhook; ``secret`` holds the signing secret sealed."""

    __tablename__ = "retrain_deploy_webhooks"

    project: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(1000))
    enabled: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(200))
