"""SQL storage of monitor runs and their results; never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from governance.core.errors import NotFound
from governance.core.ids import new_id
from monitors.runs.models import ResultRow, RunRow
from monitors.runs.schemas import (
    Metric,
    MonitorRun,
    ResultPoint,
    RunCreate,
    RunStatus,
    RunTrigger,
)
from monitors.specs.models import MonitorRow

# Runs whose results make a series' newest value (a partial run stores its working signals).
_WITH_VALUES = (RunStatus.succeeded.value, RunStatus.partial.value)


def _run(row: RunRow, monitor: str) -> MonitorRun:
    """The schema of a stored run."""
    return MonitorRun(
        id=row.id,
        monitor=monitor,
        project=row.project,
        window_start=row.window_start,
        window_end=row.window_end,
        status=RunStatus(row.status),
        trigger=RunTrigger(row.trigger),
        row_count=row.row_count,
        reference_rows=row.reference_rows,
        breached=row.breached,
        started_at=row.started_at,
        finished_at=row.finished_at,
        duration_seconds=row.duration_seconds,
        reference=row.reference,
        lineage_ref=row.lineage_ref,
        error=row.error,
        summary=row.summary,
        attempt=row.attempt,
        superseded_by=row.superseded_by,
    )


def _point(row: ResultRow) -> ResultPoint:
    return ResultPoint(
        window_end=row.window_end,
        run_id=row.run_id,
        signal=row.signal,
        metric=row.metric,
        feature=row.feature,
        value=row.value,
        threshold=row.threshold,
        breached=row.breached,
    )


class RunStore(Protocol):
    """Storage of monitor runs and of the results time series.

    Methods work inside the caller's transaction and never commit. A run is keyed by
    (monitor, window end, attempt): ``add_run`` raises IntegrityError when the key is taken,
    which is how two daemons (or two reruns) racing for one window learn that the other won.
    A window's current run is the one no rerun superseded; results and latest values come
    from current runs only, while ``runs`` lists every attempt. Runs are returned as
    ``MonitorRun`` under the monitor name the caller passes (``name``), results as
    ``ResultPoint``; nothing returned is an ORM row.
    """

    def find(self, monitor_id: uuid.UUID, window_end: datetime, *, name: str) -> MonitorRun | None:
        """The current run of a monitor (called ``name``) for one window end, if any."""
        ...

    def statuses(self, monitor_id: uuid.UUID, since: datetime) -> dict[datetime, RunStatus]:
        """Status of the current run of every window ending after ``since``."""
        ...

    def supersede(self, old: uuid.UUID, new: uuid.UUID) -> None:
        """Mark run ``old`` as replaced by run ``new``."""
        ...

    def done_ends(self, monitor_id: uuid.UUID, since: datetime) -> set[datetime]:
        """Window ends after ``since`` that already have a run."""
        ...

    def add_run(self, run: RunCreate) -> MonitorRun:
        """Insert a run; raises IntegrityError when its (monitor, window end, attempt) is taken."""
        ...

    def add_results(self, run_id: uuid.UUID, metrics: Sequence[tuple[str, Metric]]) -> None:
        """Insert the values of a run, as (signal, metric) pairs."""
        ...

    def link_lineage(self, run_id: uuid.UUID, ref: str | None, *, name: str) -> MonitorRun:
        """Attach the run's lineage node (None: the run links to nothing)."""
        ...

    def runs(
        self, monitor_id: uuid.UUID, *, name: str, since: datetime | None, limit: int
    ) -> list[MonitorRun]:
        """Runs of a monitor (called ``name``), newest window first, newest attempt first."""
        ...

    def results(
        self,
        monitor_id: uuid.UUID,
        *,
        since: datetime | None,
        until: datetime | None,
        signal: str | None,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[tuple[ResultPoint, uuid.UUID]]:
        """Values of a monitor, oldest window first, each with its id as a cursor."""
        ...

    def latest(self, project: str | None) -> list[tuple[str, str, ResultPoint]]:
        """The newest value of every series, as (project, monitor, point)."""
        ...

    def run_stats(self) -> list[tuple[str, str, str, int, float, float]]:
        """Per (project, monitor, status): count, total seconds, last duration."""
        ...


class SqlRunStore:
    """RunStore on SQLAlchemy (SQLite and PostgreSQL)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def find(self, monitor_id: uuid.UUID, window_end: datetime, *, name: str) -> MonitorRun | None:
        """The current run of a monitor (called ``name``) for one window end, if any."""
        query = select(RunRow).where(
            RunRow.monitor_id == monitor_id,
            RunRow.window_end == window_end,
            RunRow.superseded_by.is_(None),
        )
        # Newest attempt first: between a rerun's insert and its link both rows are current.
        row = self.session.scalars(query.order_by(RunRow.attempt.desc()).limit(1)).first()
        return None if row is None else _run(row, name)

    def statuses(self, monitor_id: uuid.UUID, since: datetime) -> dict[datetime, RunStatus]:
        """Status of the current run of every window ending after ``since``."""
        query = select(RunRow.window_end, RunRow.status).where(
            RunRow.monitor_id == monitor_id,
            RunRow.window_end > since,
            RunRow.superseded_by.is_(None),
        )
        return {end: RunStatus(status) for end, status in self.session.execute(query)}

    def supersede(self, old: uuid.UUID, new: uuid.UUID) -> None:
        """Mark run ``old`` as replaced by run ``new``."""
        self._row(old).superseded_by = new
        self.session.flush()

    def done_ends(self, monitor_id: uuid.UUID, since: datetime) -> set[datetime]:
        """Window ends after ``since`` that already have a run."""
        query = select(RunRow.window_end).where(
            RunRow.monitor_id == monitor_id, RunRow.window_end > since
        )
        return set(self.session.scalars(query))

    def add_run(self, run: RunCreate) -> MonitorRun:
        """Insert a run; raises IntegrityError when its (monitor, window end, attempt) is taken."""
        row = RunRow(
            id=new_id(),
            monitor_id=run.monitor_id,
            project=run.project,
            window_start=run.window_start,
            window_end=run.window_end,
            status=run.status.value,
            trigger=run.trigger.value,
            row_count=run.row_count,
            reference_rows=run.reference_rows,
            breached=run.breached,
            started_at=run.started_at,
            finished_at=run.finished_at,
            duration_seconds=run.duration_seconds,
            reference=run.reference,
            lineage_ref=None,
            error=run.error,
            summary=run.summary,
            holder=run.holder,
            attempt=run.attempt,
        )
        self.session.add(row)
        self.session.flush()
        return _run(row, run.monitor)

    def _row(self, run_id: uuid.UUID) -> RunRow:
        row = self.session.get(RunRow, run_id)
        if row is None:
            raise NotFound("run not found")
        return row

    def add_results(self, run_id: uuid.UUID, metrics: Sequence[tuple[str, Metric]]) -> None:
        """Insert the values of a run, as (signal, metric) pairs."""
        run = self._row(run_id)
        self.session.add_all(
            ResultRow(
                id=new_id(),
                run_id=run.id,
                monitor_id=run.monitor_id,
                window_end=run.window_end,
                signal=signal,
                metric=m.metric,
                feature=m.feature,
                value=m.value,
                threshold=m.threshold,
                breached=m.breached,
            )
            for signal, m in metrics
        )
        self.session.flush()

    def link_lineage(self, run_id: uuid.UUID, ref: str | None, *, name: str) -> MonitorRun:
        """Attach the run's lineage node (None: the run links to nothing)."""
        row = self._row(run_id)
        row.lineage_ref = ref
        self.session.flush()
        return _run(row, name)

    def runs(
        self, monitor_id: uuid.UUID, *, name: str, since: datetime | None, limit: int
    ) -> list[MonitorRun]:
        """Runs of a monitor (called ``name``), newest window first, newest attempt first."""
        query = select(RunRow).where(RunRow.monitor_id == monitor_id)
        if since is not None:
            query = query.where(RunRow.window_end >= since)
        query = query.order_by(RunRow.window_end.desc(), RunRow.attempt.desc()).limit(limit)
        return [_run(r, name) for r in self.session.scalars(query)]

    def results(
        self,
        monitor_id: uuid.UUID,
        *,
        since: datetime | None,
        until: datetime | None,
        signal: str | None,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[tuple[ResultPoint, uuid.UUID]]:
        """Values of a monitor, oldest window first, each with its id as a cursor."""
        query = (
            select(ResultRow)
            .join(RunRow, RunRow.id == ResultRow.run_id)
            .where(ResultRow.monitor_id == monitor_id, RunRow.superseded_by.is_(None))
        )
        if since is not None:
            query = query.where(ResultRow.window_end >= since)
        if until is not None:
            query = query.where(ResultRow.window_end < until)
        if signal is not None:
            query = query.where(ResultRow.signal == signal)
        if after is not None:
            query = query.where(tuple_(ResultRow.window_end, ResultRow.id) > after)
        query = query.order_by(ResultRow.window_end, ResultRow.id).limit(limit)
        return [(_point(r), r.id) for r in self.session.scalars(query)]

    def latest(self, project: str | None) -> list[tuple[str, str, ResultPoint]]:
        """The newest value of every series, as (project, monitor, point)."""
        current = RunRow.superseded_by.is_(None)
        newest = (
            select(RunRow.monitor_id, func.max(RunRow.window_end).label("end"))
            .where(RunRow.status.in_(_WITH_VALUES), current)
            .group_by(RunRow.monitor_id)
            .subquery()
        )
        query = (
            select(MonitorRow.project, MonitorRow.name, ResultRow)
            .join(newest, (newest.c.monitor_id == ResultRow.monitor_id))
            .join(MonitorRow, MonitorRow.id == ResultRow.monitor_id)
            .join(RunRow, RunRow.id == ResultRow.run_id)
            .where(ResultRow.window_end == newest.c.end, current)
        )
        if project is not None:
            query = query.where(MonitorRow.project == project)
        return [(p, n, _point(r)) for p, n, r in self.session.execute(query)]

    def run_stats(self) -> list[tuple[str, str, str, int, float, float]]:
        """Per (project, monitor, status): count, total seconds, last duration."""
        query = (
            select(
                MonitorRow.project,
                MonitorRow.name,
                RunRow.status,
                func.count(),
                func.sum(RunRow.duration_seconds),
                func.max(RunRow.duration_seconds),
            )
            .join(MonitorRow, MonitorRow.id == RunRow.monitor_id)
            .group_by(MonitorRow.project, MonitorRow.name, RunRow.status)
        )
        return [
            (p, n, s, int(c), float(t or 0), float(m or 0))
            for p, n, s, c, t, m in self.session.execute(query)
        ]
