"""SQL bookkeeping of captured batches and ingest totals; never commits."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from monitors.capture.models import CaptureBatchRow, IngestTotalRow
from monitors.capture.schemas import CaptureKind, IngestCount, StoredBatch

_COUNTERS = ("batches", "rows", "refused", "duplicates")


def _batch(row: CaptureBatchRow) -> StoredBatch:
    return StoredBatch(
        id=row.id,
        project=row.project,
        endpoint=row.endpoint,
        kind=CaptureKind(row.kind),
        content_hash=row.content_hash,
        idempotency_key=row.idempotency_key,
        rows=row.rows,
        actor=row.actor,
        days=list(row.days),
        created_at=row.created_at,
    )


class CaptureStore(Protocol):
    """Bookkeeping of stored inference and label batches, and running ingest totals.

    Methods work inside the caller's transaction and never commit. A batch is unique per
    (project, endpoint, kind) by content hash and by idempotency key: ``add_batch`` raises
    IntegrityError when either is taken, so of two concurrent uploads of one batch only one is
    recorded. Totals are monotonic counters that any number of workers add to concurrently.
    """

    def find_batch(
        self, project: str, endpoint: str, kind: CaptureKind, content_hash: str, key: str | None
    ) -> StoredBatch | None:
        """The stored batch with this content hash or idempotency key, if any."""
        ...

    def batch(self, batch_id: UUID) -> StoredBatch | None:
        """A stored batch by id."""
        ...

    def add_batch(self, batch: StoredBatch) -> None:
        """Record a stored batch (IntegrityError when its hash or key is taken)."""
        ...

    def forget_batches(self, project: str, endpoint: str, before: datetime) -> int:
        """Drop the bookkeeping of batches stored before ``before``; how many."""
        ...

    def count_ingest(
        self,
        project: str,
        endpoint: str,
        kind: CaptureKind,
        *,
        batches: int = 0,
        rows: int = 0,
        refused: int = 0,
        duplicates: int = 0,
    ) -> None:
        """Add to the running totals of one endpoint."""
        ...

    def totals(self) -> list[IngestCount]:
        """Every endpoint's running totals."""
        ...


class SqlCaptureStore:
    """CaptureStore on SQLAlchemy (SQLite and PostgreSQL)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def find_batch(
        self, project: str, endpoint: str, kind: CaptureKind, content_hash: str, key: str | None
    ) -> StoredBatch | None:
        """The stored batch with this content hash or idempotency key, if any."""
        same = CaptureBatchRow.content_hash == content_hash
        match = same if key is None else or_(same, CaptureBatchRow.idempotency_key == key)
        stmt = select(CaptureBatchRow).where(
            CaptureBatchRow.project == project,
            CaptureBatchRow.endpoint == endpoint,
            CaptureBatchRow.kind == str(kind),
            match,
        )
        row = self.session.scalars(stmt.order_by(CaptureBatchRow.created_at)).first()
        return None if row is None else _batch(row)

    def batch(self, batch_id: UUID) -> StoredBatch | None:
        """A stored batch by id."""
        row = self.session.get(CaptureBatchRow, batch_id)
        return None if row is None else _batch(row)

    def add_batch(self, batch: StoredBatch) -> None:
        """Record a stored batch (IntegrityError when its hash or key is taken)."""
        self.session.add(CaptureBatchRow(**{**batch.model_dump(), "kind": str(batch.kind)}))
        self.session.flush()

    def forget_batches(self, project: str, endpoint: str, before: datetime) -> int:
        """Drop the bookkeeping of batches stored before ``before``; how many."""
        result = self.session.execute(
            delete(CaptureBatchRow).where(
                CaptureBatchRow.project == project,
                CaptureBatchRow.endpoint == endpoint,
                CaptureBatchRow.created_at < before,
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def count_ingest(
        self,
        project: str,
        endpoint: str,
        kind: CaptureKind,
        *,
        batches: int = 0,
        rows: int = 0,
        refused: int = 0,
        duplicates: int = 0,
    ) -> None:
        """Add to the running totals of one endpoint (created on first use)."""
        counts = {"batches": batches, "rows": rows, "refused": refused, "duplicates": duplicates}
        key = (IngestTotalRow.project == project, IngestTotalRow.endpoint == endpoint,
               IngestTotalRow.kind == str(kind))  # fmt: skip
        values = {name: getattr(IngestTotalRow, name) + counts[name] for name in _COUNTERS}
        if self._update(key, values):
            return
        try:
            with self.session.begin_nested():
                self.session.add(
                    IngestTotalRow(project=project, endpoint=endpoint, kind=str(kind), **counts)
                )
        except IntegrityError:
            # Another worker created the row first: add to it instead.
            self._update(key, values)

    def _update(self, key: tuple[ColumnElement[bool], ...], values: dict[str, object]) -> bool:
        result = self.session.execute(update(IngestTotalRow).where(*key).values(values))
        return bool(getattr(result, "rowcount", 0))

    def totals(self) -> list[IngestCount]:
        """Every endpoint's running totals."""
        rows = self.session.scalars(
            select(IngestTotalRow).order_by(
                IngestTotalRow.project, IngestTotalRow.endpoint, IngestTotalRow.kind
            )
        )
        return [
            IngestCount(
                project=r.project,
                endpoint=r.endpoint,
                kind=CaptureKind(r.kind),
                batches=r.batches,
                rows=r.rows,
                refused=r.refused,
                duplicates=r.duplicates,
            )
            for r in rows
        ]
