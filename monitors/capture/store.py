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
    """Bookkeeping of stored batches and running totals."""

    def find_batch(
        self, project: str, endpoint: str, kind: CaptureKind, content_hash: str, key: str | None
    ) -> StoredBatch | None:
        """The stored batch with this content hash or idempotency key, if any."""
        ...

    def add_batch(self, batch: StoredBatch) -> None:
        """Record a stored batch (IntegrityError when its hash or key is taken)."""
        ...

    def bump(self, project: str, endpoint: str, kind: CaptureKind, **counts: int) -> None:
        """Add to the running totals of one endpoint."""
        ...


class SqlCaptureStore:
    """Batches and totals in the metadata database."""

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
        """Drop the bookkeeping of batches stored before ``before``."""
        result = self.session.execute(
            delete(CaptureBatchRow).where(
                CaptureBatchRow.project == project,
                CaptureBatchRow.endpoint == endpoint,
                CaptureBatchRow.created_at < before,
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def bump(self, project: str, endpoint: str, kind: CaptureKind, **counts: int) -> None:
        """Add to the running totals of one endpoint (created on first use)."""
        key = (IngestTotalRow.project == project, IngestTotalRow.endpoint == endpoint,
               IngestTotalRow.kind == str(kind))  # fmt: skip
        values = {name: getattr(IngestTotalRow, name) + counts.get(name, 0) for name in _COUNTERS}
        if self._update(key, values):
            return
        try:
            with self.session.begin_nested():
                row = {name: counts.get(name, 0) for name in _COUNTERS}
                self.session.add(
                    IngestTotalRow(project=project, endpoint=endpoint, kind=str(kind), **row)
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
