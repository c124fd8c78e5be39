"""Tables of the capture bookkeeping: stored batches (idempotency) and running ingest totals."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from governance.core.db import Base, CanonicalJSON, UTCDateTime

# Captured rows are data, not governed state: their batches are bookkeeping (retention deletions
# are audited by the service).
_UNGOVERNED = {"info": {"governed": False}}


class CaptureBatchRow(Base):
    """One stored batch: its content hash and idempotency key make a retry a no-op."""

    __tablename__ = "monitor_capture_batches"
    __table_args__ = (
        Index(
            "uq_monitor_capture_batches_hash", "project", "endpoint", "kind", "content_hash",
            unique=True,
        ),
        Index(
            "uq_monitor_capture_batches_key", "project", "endpoint", "kind", "idempotency_key",
            unique=True,
        ),
        Index("ix_monitor_capture_batches_created", "project", "created_at"),
        _UNGOVERNED,
    )  # fmt: skip

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    project: Mapped[str] = mapped_column(String(64))
    endpoint: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    content_hash: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    rows: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(256))
    days: Mapped[list[str]] = mapped_column(CanonicalJSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IngestTotalRow(Base):
    """Monotonic ingest counters per endpoint and kind, shared by every worker."""

    __tablename__ = "monitor_capture_totals"
    __table_args__ = (_UNGOVERNED,)

    project: Mapped[str] = mapped_column(String(64), primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    batches: Mapped[int] = mapped_column(BigInteger, default=0)
    rows: Mapped[int] = mapped_column(BigInteger, default=0)
    refused: Mapped[int] = mapped_column(BigInteger, default=0)
    duplicates: Mapped[int] = mapped_column(BigInteger, default=0)
