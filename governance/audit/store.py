"""SQL storage of audit entries and checkpoints; never commits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, text
from sqlalchemy.orm import Session

from governance.audit.chain import EntryRecord
from governance.audit.models import AuditCheckpointRow, AuditEntryRow
from governance.audit.schemas import AuditEntry, AuditFilter

# Any constant works: it only has to be the same for every writer of this database.
_PG_AUDIT_LOCK = 0x5747_4155_4449_54


def row_to_record(row: AuditEntryRow) -> EntryRecord:
    """Stored row to the hashable record."""
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

    def head(self) -> tuple[int, str] | None:
        """Sequence number and hash of the newest entry."""
        row = self.session.execute(
            select(AuditEntryRow.seq, AuditEntryRow.hash)
            .order_by(AuditEntryRow.seq.desc())
            .limit(1)
        ).first()
        return None if row is None else (int(row[0]), str(row[1]))

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

    def last_checkpoint(self) -> AuditCheckpointRow | None:
        """The checkpoint covering the most entries."""
        stmt = select(AuditCheckpointRow).order_by(AuditCheckpointRow.tree_size.desc()).limit(1)
        return self.session.scalars(stmt).first()

    def add_checkpoint(
        self,
        *,
        tree_size: int,
        created_at: datetime,
        root: str,
        note: str,
        frontier: dict[str, Any],
    ) -> None:
        """Insert a checkpoint row."""
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

    def checkpoints(self) -> list[AuditCheckpointRow]:
        """All checkpoints, smallest first."""
        return list(self.session.scalars(select(AuditCheckpointRow).order_by("tree_size")))

    def iter_records(self, batch: int = 2000) -> Iterator[EntryRecord]:
        """Every entry in sequence order, streamed."""
        stmt = select(AuditEntryRow).order_by(AuditEntryRow.seq).execution_options(yield_per=batch)
        for row in self.session.scalars(stmt):
            yield row_to_record(row)

    def page(self, flt: AuditFilter, *, after: int, limit: int) -> list[AuditEntry]:
        """Entries matching ``flt`` with ``seq > after``, oldest first."""
        stmt = _filtered(select(AuditEntryRow), flt).where(AuditEntryRow.seq > after)
        rows: list[AuditEntryRow] = list(
            self.session.scalars(stmt.order_by(AuditEntryRow.seq).limit(limit))
        )
        return [AuditEntry.model_validate(row_to_record(r).to_dict() | {"ts": r.ts}) for r in rows]

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
