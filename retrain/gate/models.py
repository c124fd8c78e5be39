"""Tables of retrain.gate (ORM rows; they never leave the store)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from governance.core.db import Base, CanonicalJSON, UTCDateTime


class GateDecisionRow(Base):
    """A gate decision: the models compared, the verdict, and every number behind it."""

    __tablename__ = "retrain_gate_decisions"
    __table_args__ = (
        Index("ix_retrain_gate_decisions_project", "project", "id"),
        Index("ix_retrain_gate_decisions_run", "project", "run_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    project: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[uuid.UUID | None] = mapped_column()
    endpoint: Mapped[str | None] = mapped_column(String(200))
    challenger_model: Mapped[str] = mapped_column(String(200))
    challenger_version: Mapped[int] = mapped_column(Integer)
    champion_model: Mapped[str | None] = mapped_column(String(200))
    champion_version: Mapped[int | None] = mapped_column(Integer)
    passed: Mapped[bool] = mapped_column(Boolean)
    reasons: Mapped[list[str]] = mapped_column(CanonicalJSON)
    details: Mapped[dict[str, Any]] = mapped_column(CanonicalJSON)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[str] = mapped_column(String(200))
