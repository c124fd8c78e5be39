"""Tables of retrain.pipelines (ORM rows; they never leave the store)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from governance.core.db import Base, CanonicalJSON, UTCDateTime


class PipelineRow(Base):
    """One version of a pipeline spec; (project, name, version) is unique."""

    __tablename__ = "retrain_pipelines"
    __table_args__ = (
        UniqueConstraint("project", "name", "version"),
        Index("ix_retrain_pipelines_digest", "project", "name", "digest"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    project: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))
    spec: Mapped[dict[str, Any]] = mapped_column(CanonicalJSON)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PipelineRunRow(Base):
    """A run of a pipeline version; the unique launch key makes a keyed launch happen once.

    Bookkeeping, not governed state: the worker's claims, heartbeats and step progress are not
    audited one by one; the launch, each step's end, the run's end and a cancel are.
    """

    __tablename__ = "retrain_pipeline_runs"
    __table_args__ = (
        UniqueConstraint("launch_key"),
        Index("ix_retrain_pipeline_runs_state", "state", "created_at"),
        Index("ix_retrain_pipeline_runs_project", "project", "created_at"),
        {"info": {"governed": False}},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    project: Mapped[str] = mapped_column(String(64))
    pipeline_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("retrain_pipelines.id", ondelete="CASCADE")
    )
    pipeline: Mapped[str] = mapped_column(String(64))
    pipeline_version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    inputs: Mapped[dict[str, Any]] = mapped_column(CanonicalJSON)
    outputs: Mapped[dict[str, Any]] = mapped_column(CanonicalJSON)
    steps: Mapped[list[Any]] = mapped_column(CanonicalJSON)
    launched_by: Mapped[str] = mapped_column(String(200))
    trigger_id: Mapped[uuid.UUID | None] = mapped_column()
    trigger_owner: Mapped[str | None] = mapped_column(String(200))
    launch_key: Mapped[str | None] = mapped_column(String(300))
    plan: Mapped[dict[str, Any] | None] = mapped_column(CanonicalJSON)
    runner: Mapped[str | None] = mapped_column(String(64))
    worker: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(String(500))
