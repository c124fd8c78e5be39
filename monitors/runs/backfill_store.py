"""SQL storage of backfill jobs: the queue, its claims and progress; never commits.

Every change a worker makes is a conditional UPDATE (on the status, and on the worker holding
the backfill): of two processes claiming one backfill one wins, and a worker whose backfill was
cancelled or taken over learns it from an update that changed nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, func, literal, or_, select, update
from sqlalchemy.orm import Session

from governance.core.db import UTCDateTime
from governance.core.ids import new_id
from monitors.runs.models import BackfillRow, RunRow
from monitors.runs.schemas import (
    Backfill,
    BackfillCounts,
    BackfillStatus,
    RerunScope,
    RunStatus,
)

_QUEUED, _RUNNING = BackfillStatus.queued.value, BackfillStatus.running.value


@dataclass(frozen=True, kw_only=True, slots=True)
class BackfillCreate:
    """A backfill to queue (or, with ``worker``, to store already claimed by that worker)."""

    project: str
    monitor_id: uuid.UUID
    monitor: str
    since: datetime
    until: datetime
    rerun: RerunScope | None
    windows_total: int
    requested_by: str
    now: datetime
    worker: str | None = None


def _backfill(row: BackfillRow) -> Backfill:
    """The schema of a stored backfill."""
    counts = BackfillCounts(
        created=row.created,
        existing=row.existing,
        rerun=row.rerun_count,
        breached=row.breached,
        failed=row.failed,
    )
    return Backfill(
        id=row.id, project=row.project, monitor=row.monitor, since=row.since, until=row.until,
        rerun=RerunScope(row.rerun) if row.rerun else None, status=BackfillStatus(row.status),
        windows_total=row.windows_total, windows_done=row.windows_done, counts=counts,
        error=row.error, requested_by=row.requested_by, created_at=row.created_at,
        started_at=row.started_at, finished_at=row.finished_at, heartbeat_at=row.heartbeat_at,
        worker=row.worker,
    )  # fmt: skip


def _claimable(stale_before: datetime) -> ColumnElement[bool]:
    """Queued, or running under a worker whose heartbeat stopped before ``stale_before``."""
    stale = and_(BackfillRow.status == _RUNNING, BackfillRow.heartbeat_at < stale_before)
    return or_(BackfillRow.status == _QUEUED, stale)


class BackfillStore(Protocol):
    """Storage of backfill jobs.

    Methods work inside the caller's transaction and never commit. The worker's changes
    (``record_progress``, ``finish``, ``release``) apply only while the backfill is running
    under that worker and return None otherwise: it was cancelled, or another worker took it
    over after its heartbeat went stale. Nothing returned is an ORM row.
    """

    def add(self, data: BackfillCreate) -> Backfill:
        """Store a new backfill (queued, or running under ``data.worker``)."""
        ...

    def get(self, backfill_id: uuid.UUID) -> Backfill | None:
        """One backfill, if it exists."""
        ...

    def of_monitor(self, monitor_id: uuid.UUID, *, limit: int) -> list[Backfill]:
        """A monitor's backfills, newest first."""
        ...

    def claimable(self, *, stale_before: datetime, limit: int) -> list[uuid.UUID]:
        """Backfills a worker may claim, oldest request first."""
        ...

    def claim(
        self, backfill_id: uuid.UUID, *, worker: str, now: datetime, stale_before: datetime
    ) -> Backfill | None:
        """Take a claimable backfill for ``worker``; None when another took it first."""
        ...

    def record_progress(
        self, backfill_id: uuid.UUID, *, worker: str, done: int, total: int,
        counts: BackfillCounts, now: datetime,
    ) -> Backfill | None:  # fmt: skip
        """Store the windows done, the counts and the heartbeat."""
        ...

    def finish(
        self, backfill_id: uuid.UUID, *, worker: str, status: BackfillStatus, now: datetime,
        error: str | None = None,
    ) -> Backfill | None:  # fmt: skip
        """End a backfill (succeeded or failed)."""
        ...

    def release(self, backfill_id: uuid.UUID, *, worker: str) -> Backfill | None:
        """Put a backfill back in the queue, its progress kept (the worker is stopping)."""
        ...

    def cancel(self, backfill_id: uuid.UUID, *, now: datetime) -> Backfill | None:
        """Cancel a backfill that has not ended; None when it had."""
        ...

    def current_runs(
        self, monitor_id: uuid.UUID, since: datetime
    ) -> dict[datetime, tuple[RunStatus, str]]:
        """Status and holder of the current run of every window ending after ``since``."""
        ...


class SqlBackfillStore:
    """BackfillStore on SQLAlchemy (SQLite and PostgreSQL)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, data: BackfillCreate) -> Backfill:
        """Store a new backfill (queued, or running under ``data.worker``)."""
        claimed = data.worker is not None
        row = BackfillRow(
            id=new_id(), project=data.project, monitor_id=data.monitor_id, monitor=data.monitor,
            since=data.since, until=data.until, rerun=data.rerun.value if data.rerun else None,
            status=_RUNNING if claimed else _QUEUED, windows_total=data.windows_total,
            windows_done=0, created=0, existing=0, rerun_count=0, breached=0, failed=0,
            error=None, requested_by=data.requested_by, created_at=data.now,
            started_at=data.now if claimed else None, finished_at=None,
            heartbeat_at=data.now if claimed else None, worker=data.worker,
        )  # fmt: skip
        self.session.add(row)
        self.session.flush()
        return _backfill(row)

    def get(self, backfill_id: uuid.UUID) -> Backfill | None:
        """One backfill, if it exists."""
        row = self.session.get(BackfillRow, backfill_id, populate_existing=True)
        return None if row is None else _backfill(row)

    def of_monitor(self, monitor_id: uuid.UUID, *, limit: int) -> list[Backfill]:
        """A monitor's backfills, newest first."""
        query = select(BackfillRow).where(BackfillRow.monitor_id == monitor_id)
        order = (BackfillRow.created_at.desc(), BackfillRow.id.desc())
        return [_backfill(r) for r in self.session.scalars(query.order_by(*order).limit(limit))]

    def claimable(self, *, stale_before: datetime, limit: int) -> list[uuid.UUID]:
        """Backfills a worker may claim, oldest request first."""
        query = select(BackfillRow.id).where(_claimable(stale_before))
        return list(self.session.scalars(query.order_by(BackfillRow.created_at).limit(limit)))

    def claim(
        self, backfill_id: uuid.UUID, *, worker: str, now: datetime, stale_before: datetime
    ) -> Backfill | None:
        """Take a claimable backfill for ``worker``; None when another took it first."""
        # PostgreSQL re-checks the condition on the row a concurrent claim just changed, and
        # SQLite runs one writer at a time: either way the second claim changes nothing.
        return self._change(
            backfill_id,
            _claimable(stale_before),
            status=_RUNNING,
            worker=worker,
            heartbeat_at=now,
            started_at=func.coalesce(BackfillRow.started_at, literal(now, UTCDateTime())),
        )

    def record_progress(
        self, backfill_id: uuid.UUID, *, worker: str, done: int, total: int,
        counts: BackfillCounts, now: datetime,
    ) -> Backfill | None:  # fmt: skip
        """Store the windows done, the counts and the heartbeat."""
        return self._change(
            backfill_id, self._held(worker), windows_done=done, windows_total=total,
            created=counts.created, existing=counts.existing, rerun_count=counts.rerun,
            breached=counts.breached, failed=counts.failed, heartbeat_at=now,
        )  # fmt: skip

    def finish(
        self, backfill_id: uuid.UUID, *, worker: str, status: BackfillStatus, now: datetime,
        error: str | None = None,
    ) -> Backfill | None:  # fmt: skip
        """End a backfill (succeeded or failed)."""
        return self._change(
            backfill_id, self._held(worker), status=status.value, finished_at=now,
            heartbeat_at=now, error=error,
        )  # fmt: skip

    def release(self, backfill_id: uuid.UUID, *, worker: str) -> Backfill | None:
        """Put a backfill back in the queue, its progress kept (the worker is stopping)."""
        return self._change(
            backfill_id, self._held(worker), status=_QUEUED, worker=None, heartbeat_at=None
        )

    def cancel(self, backfill_id: uuid.UUID, *, now: datetime) -> Backfill | None:
        """Cancel a backfill that has not ended; None when it had."""
        live = BackfillRow.status.in_((_QUEUED, _RUNNING))
        return self._change(
            backfill_id, live, status=BackfillStatus.cancelled.value, finished_at=now
        )

    def current_runs(
        self, monitor_id: uuid.UUID, since: datetime
    ) -> dict[datetime, tuple[RunStatus, str]]:
        """Status and holder of the current run of every window ending after ``since``."""
        query = select(RunRow.window_end, RunRow.status, RunRow.holder).where(
            RunRow.monitor_id == monitor_id,
            RunRow.window_end > since,
            RunRow.superseded_by.is_(None),
        )
        return {end: (RunStatus(s), holder) for end, s, holder in self.session.execute(query)}

    @staticmethod
    def _held(worker: str) -> ColumnElement[bool]:
        return and_(BackfillRow.status == _RUNNING, BackfillRow.worker == worker)

    def _change(
        self, backfill_id: uuid.UUID, condition: ColumnElement[bool], **values: Any
    ) -> Backfill | None:
        """Apply ``values`` if the backfill meets ``condition``; the changed backfill or None."""
        stmt = (
            update(BackfillRow)
            .where(BackfillRow.id == backfill_id, condition)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if self.session.execute(stmt).rowcount != 1:  # type: ignore[attr-defined]
            return None
        return self.get(backfill_id)
