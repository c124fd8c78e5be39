"""SQL storage of audit entries and checkpoints; never commits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Select, func, select, text
from sqlalchemy.orm import Session

from governance.audit.chain import EntryRecord
from governance.audit.models import AuditBlobRow, AuditCheckpointRow, AuditEntryRow
from governance.audit.schemas import (
    AuditCheckpointInfo,
    AuditEntry,
    AuditFilter,
    ChainHead,
    SealedPrefix,
)

# Any constant works: it only has to be the same for every writer of this database.
_PG_AUDIT_LOCK = 0x5747_4155_4449_54


class AuditStore(Protocol):
    """The hash-chained entries and the signed checkpoints of the audit log.

    Appending is ``lock``, ``head``, ``append`` in one transaction: ``lock`` serialises appenders
    until the transaction ends, so that no two entries take the same sequence number or link to
    the same predecessor. Entries and checkpoints are written once and never changed (the
    database refuses UPDATE and DELETE on both tables).
    """

    def lock(self) -> None:
        """Serialise appenders until the transaction ends."""
        ...

    def head(self) -> ChainHead | None:
        """The newest entry's sequence number and hash; None for an empty log."""
        ...

    def append(self, record: EntryRecord) -> None:
        """Insert one entry, already numbered and hashed."""
        ...

    def hashes_between(self, after: int, through: int) -> list[str]:
        """Entry hashes with ``after < seq <= through``, in order."""
        ...

    def last_sealed(self) -> SealedPrefix | None:
        """The checkpoint covering the most entries, with its Merkle frontier; None if none."""
        ...

    def add_checkpoint(
        self,
        *,
        tree_size: int,
        created_at: datetime,
        root: str,
        note: str,
        frontier: dict[str, Any],
    ) -> None:
        """Insert a checkpoint: the signed note over the first ``tree_size`` entries."""
        ...

    def checkpoints(self) -> list[AuditCheckpointInfo]:
        """All checkpoints, smallest first."""
        ...

    def iter_hashes(self, after: int, through: int, batch: int = 10_000) -> Iterator[str]:
        """Entry hashes with ``after < seq <= through``, in order, streamed."""
        ...

    def page_from(self, seq: int, *, limit: int) -> list[AuditEntry]:
        """Entries with ``seq >= seq``, oldest first, at most ``limit``."""
        ...

    def iter_records(self, batch: int = 2000) -> Iterator[EntryRecord]:
        """Every entry in sequence order, streamed in batches of ``batch`` rows."""
        ...

    def page(self, flt: AuditFilter, *, after: int, limit: int) -> list[AuditEntry]:
        """Entries matching ``flt`` with ``seq > after``, oldest first, at most ``limit``."""
        ...

    def count(self) -> int:
        """Number of entries."""
        ...

    def put_blob(self, *, digest: str, body: str, created_at: datetime) -> None:
        """Store large details under their digest (once: a digest already stored is kept)."""
        ...

    def blob(self, digest: str) -> str | None:
        """The canonical JSON stored under ``digest``, if any."""
        ...

    def iter_blobs(self) -> Iterator[tuple[str, str]]:
        """Every ``(digest, body)``, by digest."""
        ...


def _record(row: AuditEntryRow) -> EntryRecord:
    return EntryRecord(
        seq=row.seq,
        ts=row.ts,
        actor=row.actor,
        project=row.project,
        action=row.action,
        target=row.target,
        decision=row.decision,
        request_id=row.request_id,
        client=row.client,
        details=row.details,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


class SqlAuditStore:
    """Audit entries and checkpoints in the metadata database."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def lock(self) -> None:
        """Serialise appenders until the transaction ends (SQLite already holds its write lock)."""
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})

    def head(self) -> ChainHead | None:
        """Sequence number and hash of the newest entry."""
        row = self.session.execute(
            select(AuditEntryRow.seq, AuditEntryRow.hash)
            .order_by(AuditEntryRow.seq.desc())
            .limit(1)
        ).first()
        return None if row is None else ChainHead(seq=int(row[0]), hash=str(row[1]))

    def append(self, record: EntryRecord) -> None:
        """Insert one entry."""
        self.session.add(AuditEntryRow(**record.to_dict() | {"ts": record.ts}))
        self.session.flush()

    def hashes_between(self, after: int, through: int) -> list[str]:
        """Entry hashes with ``after < seq <= through``, in order."""
        stmt = (
            select(AuditEntryRow.hash)
            .where(AuditEntryRow.seq > after, AuditEntryRow.seq <= through)
            .order_by(AuditEntryRow.seq)
        )
        return list(self.session.scalars(stmt))

    def last_sealed(self) -> SealedPrefix | None:
        """The checkpoint covering the most entries, with its Merkle frontier."""
        stmt = select(AuditCheckpointRow).order_by(AuditCheckpointRow.tree_size.desc()).limit(1)
        row = self.session.scalars(stmt).first()
        return (
            None
            if row is None
            else SealedPrefix(tree_size=row.tree_size, frontier=row.frontier, note=row.note)
        )

    def add_checkpoint(
        self,
        *,
        tree_size: int,
        created_at: datetime,
        root: str,
        note: str,
        frontier: dict[str, Any],
    ) -> None:
        """Insert a checkpoint."""
        self.session.add(
            AuditCheckpointRow(
                tree_size=tree_size,
                created_at=created_at,
                root_hash=root,
                note=note,
                frontier=frontier,
            )
        )
        self.session.flush()

    def checkpoints(self) -> list[AuditCheckpointInfo]:
        """All checkpoints, smallest first."""
        rows = self.session.scalars(select(AuditCheckpointRow).order_by("tree_size"))
        return [
            AuditCheckpointInfo(
                tree_size=r.tree_size, created_at=r.created_at, root_hash=r.root_hash, note=r.note
            )
            for r in rows
        ]

    def iter_hashes(self, after: int, through: int, batch: int = 10_000) -> Iterator[str]:
        """Entry hashes with ``after < seq <= through``, in order, streamed."""
        stmt = (
            select(AuditEntryRow.hash)
            .where(AuditEntryRow.seq > after, AuditEntryRow.seq <= through)
            .order_by(AuditEntryRow.seq)
            .execution_options(yield_per=batch)
        )
        yield from self.session.scalars(stmt)

    def page_from(self, seq: int, *, limit: int) -> list[AuditEntry]:
        """Entries with ``seq >= seq``, oldest first, at most ``limit``."""
        return self.page(AuditFilter(), after=seq - 1, limit=limit)

    def iter_records(self, batch: int = 2000) -> Iterator[EntryRecord]:
        """Every entry in sequence order, streamed."""
        stmt = select(AuditEntryRow).order_by(AuditEntryRow.seq).execution_options(yield_per=batch)
        for row in self.session.scalars(stmt):
            yield _record(row)

    def page(self, flt: AuditFilter, *, after: int, limit: int) -> list[AuditEntry]:
        """Entries matching ``flt`` with ``seq > after``, oldest first."""
        stmt = _filtered(select(AuditEntryRow), flt).where(AuditEntryRow.seq > after)
        rows: list[AuditEntryRow] = list(
            self.session.scalars(stmt.order_by(AuditEntryRow.seq).limit(limit))
        )
        return [AuditEntry.model_validate(_record(r).to_dict() | {"ts": r.ts}) for r in rows]

    def put_blob(self, *, digest: str, body: str, created_at: datetime) -> None:
        """Store large details under their digest (once: a digest already stored is kept)."""
        if self.session.get(AuditBlobRow, digest) is None:
            self.session.add(
                AuditBlobRow(
                    digest=digest, size=len(body.encode()), body=body, created_at=created_at
                )
            )
            self.session.flush()

    def blob(self, digest: str) -> str | None:
        """The canonical JSON stored under ``digest``, if any."""
        return self.session.scalar(select(AuditBlobRow.body).where(AuditBlobRow.digest == digest))

    def iter_blobs(self) -> Iterator[tuple[str, str]]:
        """Every ``(digest, body)``, by digest."""
        stmt = select(AuditBlobRow.digest, AuditBlobRow.body).order_by(AuditBlobRow.digest)
        for digest, body in self.session.execute(stmt.execution_options(yield_per=100)):
            yield str(digest), str(body)

    def count(self) -> int:
        """Number of entries."""
        return int(self.session.scalar(select(func.count()).select_from(AuditEntryRow)) or 0)


def _filtered(stmt: Select[Any], flt: AuditFilter) -> Select[Any]:
    equal = {
        AuditEntryRow.actor: flt.actor,
        AuditEntryRow.action: flt.action,
        AuditEntryRow.project: flt.project,
        AuditEntryRow.target: flt.target,
    }
    for column, value in equal.items():
        if value is not None:
            stmt = stmt.where(column == value)
    if flt.since is not None:
        stmt = stmt.where(AuditEntryRow.ts >= flt.since)
    if flt.until is not None:
        stmt = stmt.where(AuditEntryRow.ts < flt.until)
    if flt.projects_visible is not None:
        visible = AuditEntryRow.project.in_(sorted(flt.projects_visible))
        if flt.include_global:
            stmt = stmt.where(visible | AuditEntryRow.project.is_(None))
        else:
            stmt = stmt.where(visible)
    return stmt
