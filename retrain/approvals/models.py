"""Tables of retrain.approvals (ORM rows; they never leave the store)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from governance.core.db import Base, CanonicalJSON, UTCDateTime


class DeployPolicyRow(Base):
    """A project's deploy policy; a project without a row has the default (approval by owner)."""

    __tablename__ = "retrain_deploy_policies"

    project: Mapped[str] = mapped_column(String(64), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))
    approver_role: Mapped[str] = mapped_column(String(32))
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApprovalRow(Base):
    """An approval request; the unique run id makes a run ask for approval once."""

    __tablename__ = "retrain_approvals"
    __table_args__ = (
        UniqueConstraint("run_id"),
        Index("ix_retrain_approvals_project", "project", "state", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    project: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[uuid.UUID | None] = mapped_column()
    endpoint: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    rollout: Mapped[dict[str, Any]] = mapped_column(CanonicalJSON)
    gate_decision_id: Mapped[uuid.UUID | None] = mapped_column()
    state: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[str] = mapped_column(String(200))
    trigger_owner: Mapped[str | None] = mapped_column(String(200))
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(String(1000), default="")
    rollout_id: Mapped[uuid.UUID | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
