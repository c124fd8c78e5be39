"""Tables of the audit log; the database refuses UPDATE and DELETE on both (see migrations)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from governance.core.db import Base, UTCDateTime


class AuditEntryRow(Base):
    """One hash-chained audit entry."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_project_seq", "project", "seq"),
        Index("ix_audit_entries_actor_seq", "actor", "seq"),
        Index("ix_audit_entries_action_seq", "action", "seq"),
        Index("ix_audit_entries_ts", "ts"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(256))
    project: Mapped[str | None] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(128))
    target: Mapped[str | None] = mapped_column(String(512))
    decision: Mapped[str] = mapped_column(String(16))
    request_id: Mapped[str | None] = mapped_column(String(64))
    client: Mapped[str | None] = mapped_column(String(128))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditCheckpointRow(Base):
    """A signed checkpoint sealing the first ``tree_size`` entries."""

    __tablename__ = "audit_checkpoints"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    root_hash: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text)
    frontier: Mapped[dict[str, Any]] = mapped_column(JSON)


class AuditBlobRow(Base):
    """Large audit details, stored once by the SHA-256 of their canonical JSON.

    An entry whose details are large holds only ``{"$digest": "sha256:…", "bytes": n}``; the
    entry's hash covers the digest, so the blob is as tamper-evident as the entry itself.
    """

    __tablename__ = "audit_blobs"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
