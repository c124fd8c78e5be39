"""Tables of monitor runs (one per monitor and window end), their results, and backfill jobs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from governance.core.db import Base, CanonicalJSON, UTCDateTime


class RunRow(Base):
    """A monitor run; the unique (monitor, window end, attempt) key makes every window run once.

    A rerun of a window is the next attempt: the earlier run stays, its ``superseded_by``
    naming the rerun. The run of a window that counts is the one nobody superseded.
    """

    __tablename__ = "monitor_runs"
    __table_args__ = (UniqueConstraint("monitor_id", "window_end", "attempt"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    monitor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("monitor_specs.id", ondelete="CASCADE")
    )
    project: Mapped[str] = mapped_column(String(64), index=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    trigger: Mapped[str] = mapped_column(String(16))
    row_count: Mapped[int] = mapped_column(Integer, default=0)
    reference_rows: Mapped[int] = mapped_column(Integer, default=0)
    breached: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_seconds: Mapped[float] = mapped_column(Float)
    reference: Mapped[str] = mapped_column(String(300), default="")
    lineage_ref: Mapped[str | None] = mapped_column(String(300))
    error: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[dict[str, Any]] = mapped_column(CanonicalJSON, default=dict)
    holder: Mapped[str] = mapped_column(String(200), default="")
    attempt: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    superseded_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("monitor_runs.id", ondelete="SET NULL")
    )


class ResultRow(Base):
    """One value of one signal of one run: the time series behind ``.../results``."""

    __tablename__ = "monitor_results"
    __table_args__ = (Index("ix_monitor_results_series", "monitor_id", "window_end"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    run_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("monitor_runs.id", ondelete="CASCADE"), index=True
    )
    monitor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("monitor_specs.id", ondelete="CASCADE")
    )
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    signal: Mapped[str] = mapped_column(String(64))
    metric: Mapped[str] = mapped_column(String(64))
    feature: Mapped[str] = mapped_column(String(200), default="")
    value: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    breached: Mapped[bool] = mapped_column(Boolean, default=False)


class BackfillRow(Base):
    """A backfill job: the windows of ``(since, until]`` run by a worker, with its progress.

    Bookkeeping, not governed state: the worker's claims, heartbeats and progress are not
    audited one by one; the request, the end and a cancel are.
    """

    __tablename__ = "monitor_backfills"
    __table_args__ = (
        Index("ix_monitor_backfills_status", "status", "created_at"),
        Index("ix_monitor_backfills_monitor", "monitor_id", "created_at"),
        {"info": {"governed": False}},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    project: Mapped[str] = mapped_column(String(64))
    monitor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("monitor_specs.id", ondelete="CASCADE")
    )
    monitor: Mapped[str] = mapped_column(String(64))
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    until: Mapped[datetime] = mapped_column(UTCDateTime)
    rerun: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    windows_total: Mapped[int] = mapped_column(Integer)
    windows_done: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    existing: Mapped[int] = mapped_column(Integer, default=0)
    rerun_count: Mapped[int] = mapped_column(Integer, default=0)
    breached: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(500))
    requested_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    worker: Mapped[str | None] = mapped_column(String(200))
