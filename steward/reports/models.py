"""Tables of stored reports (ORM rows; they never leave the service)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from governance.core.db import Base, UTCDateTime


class ReportRow(Base):
    """A stored, signed report file: what it is about and where its bytes are.

    ``path`` is relative to the report folder and named by the file's SHA-256, so a file is
    only ever read from a row. ``schedule_key`` is set on scheduled reports (the model version
    and the schedule's fire time): a second daemon or a retry finds it taken and stores nothing.
    """

    __tablename__ = "reports"
    __table_args__ = (
        Index("ix_reports_project", "project", "generated_at"),
        Index("ix_reports_model", "project", "model", "version"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    project: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    model: Mapped[str | None] = mapped_column(String(200))
    version: Mapped[int | None] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(8))
    digest: Mapped[str] = mapped_column(String(71))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    path: Mapped[str] = mapped_column(String(200))
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    generated_by: Mapped[str] = mapped_column(String(200))
    origin: Mapped[str] = mapped_column(String(16))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime)
    schedule_key: Mapped[str | None] = mapped_column(String(400), unique=True)
