"""Tables of retrain.evaluation (ORM rows; they never leave the store)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from governance.core.db import Base, CanonicalJSON, UTCDateTime


class EvaluationRow(Base):
    """An evaluation run: what it compares (pinned at launch), where it is, its comparisons."""

    __tablename__ = "retrain_evaluations"
    __table_args__ = (Index("ix_retrain_evaluations_project", "project", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    project: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    dataset: Mapped[str] = mapped_column(String(300))
    dataset_version: Mapped[str] = mapped_column(String(200))
    # variants (pinned prompt versions), evaluators, judge connection, sample, alpha, columns
    config: Mapped[dict[str, Any]] = mapped_column(CanonicalJSON)
    pipeline_run_id: Mapped[uuid.UUID | None] = mapped_column()
    rows_dataset: Mapped[str | None] = mapped_column(String(300))
    rows_version: Mapped[str | None] = mapped_column(String(200))
    rows: Mapped[int] = mapped_column(Integer, default=0)
    comparisons: Mapped[list[Any]] = mapped_column(CanonicalJSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EvaluationAggregateRow(Base):
    """One variant's summary on one evaluator."""

    __tablename__ = "retrain_evaluation_aggregates"

    evaluation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("retrain_evaluations.id", ondelete="CASCADE"), primary_key=True
    )
    variant: Mapped[str] = mapped_column(String(64), primary_key=True)
    evaluator: Mapped[str] = mapped_column(String(32), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
    failures: Mapped[int] = mapped_column(Integer)
    mean: Mapped[float | None] = mapped_column(Float)
    std: Mapped[float | None] = mapped_column(Float)
    ci_low: Mapped[float | None] = mapped_column(Float)
    ci_high: Mapped[float | None] = mapped_column(Float)
    bootstrap_low: Mapped[float | None] = mapped_column(Float)
    bootstrap_high: Mapped[float | None] = mapped_column(Float)


class EvaluationHeartbeatRow(Base):
    """When the server generating an evaluation's answers last showed it was alive.

    Bookkeeping, not governed state (as a pipeline run's heartbeat): the beats are not audited;
    the start of generation and a run failed for a stale heartbeat are.
    """

    __tablename__ = "retrain_evaluation_heartbeats"
    __table_args__ = ({"info": {"governed": False}},)

    evaluation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("retrain_evaluations.id", ondelete="CASCADE"), primary_key=True
    )
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime)
