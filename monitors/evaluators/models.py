"""Tables of the LLM evaluators: judge connections, daily call budgets, cached judge answers."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from governance.core.db import Base, UTCDateTime


class ConnectionRow(Base):
    """A named OpenAI-compatible endpoint a project's judges call; the key only sealed or named."""

    __tablename__ = "monitors_llm_connections"
    __table_args__ = (UniqueConstraint("project", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    project: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    base_url: Mapped[str] = mapped_column(String(2000))
    model: Mapped[str] = mapped_column(String(200))
    key_env: Mapped[str | None] = mapped_column(String(128))
    sealed_key: Mapped[str | None] = mapped_column(String(8000))
    daily_budget: Mapped[int] = mapped_column(Integer)
    timeout_seconds: Mapped[float] = mapped_column(Float)
    max_retries: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(200))


class BudgetRow(Base):
    """Judge calls a connection has made on one UTC day."""

    __tablename__ = "monitors_llm_budgets"
    __table_args__ = ({"info": {"governed": False}},)  # bookkeeping, written by every judge call

    connection_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    calls: Mapped[int] = mapped_column(Integer)


class JudgeAnswerRow(Base):
    """A judge's verdict, keyed by SHA-256 of (project, evaluator, prompt version, model, input)."""

    __tablename__ = "monitors_llm_judge_cache"
    __table_args__ = ({"info": {"governed": False}},)  # a cache: losing it costs calls, not truth

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    project: Mapped[str] = mapped_column(String(64), index=True)
    evaluator: Mapped[str] = mapped_column(String(32))
    value: Mapped[float] = mapped_column(Float)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
