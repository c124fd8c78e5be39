"""Retention of monitor runs: windows older than the monitor's (or project's) retention go."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from governance.access.service import list_projects
from governance.audit.service import record_audit
from governance.core.clock import Clock, SystemClock, isoformat, to_utc
from governance.core.db import Database
from governance.core.durations import iso_duration
from governance.core.principal import SYSTEM, Principal
from monitors.alerts.rules import open_alert_runs
from monitors.runs.models import ResultRow, RunRow
from monitors.specs.schemas import Monitor
from monitors.specs.service import list_monitors

_WALL: Final = SystemClock()
# Runs removed per transaction: each batch's results go with it, so a batch stays small.
BATCH: Final = 200


@dataclass(frozen=True, kw_only=True, slots=True)
class RunRetentionResult:
    """What one retention pass removed, per ``project/monitor``."""

    runs: dict[str, int] = field(default_factory=dict)
    results: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class _Batch:
    runs: int
    results: int
    first: datetime
    last: datetime


def retention_of(monitor: Monitor, project_days: int | None) -> timedelta | None:
    """How long a monitor's runs are kept: its own retention, else the project's, else forever."""
    if monitor.spec.retention is not None:
        return monitor.spec.retention
    return None if project_days is None else timedelta(days=project_days)


def monitor_retention(db: Database, monitor: Monitor) -> timedelta | None:
    """``retention_of`` a monitor, its project's setting read from the database."""
    found = list_projects(db, names={monitor.project})
    return retention_of(monitor, found[0].retention_days if found else None)


def apply_run_retention(
    db: Database, *, actor: Principal = SYSTEM, clock: Clock = _WALL, batch: int = BATCH
) -> RunRetentionResult:
    """Delete the runs (and their results) of windows that ended before their monitor's retention.

    Deletes at most ``batch`` runs per transaction, each batch with one audit entry counting
    what it removed. The window of a run that an unresolved alert names as its breach is kept.
    """
    days = {p.name: p.retention_days for p in list_projects(db)}
    now = to_utc(clock.now())
    result = RunRetentionResult()
    for monitor in list_monitors(db, skip_refused=True):
        keep = retention_of(monitor, days.get(monitor.project))
        if keep is None:
            continue
        runs, results = _expire(db, monitor, now - keep, keep, actor, batch)
        if runs:
            result.runs[f"{monitor.project}/{monitor.name}"] = runs
            result.results[f"{monitor.project}/{monitor.name}"] = results
    return result


def _expire(
    db: Database,
    monitor: Monitor,
    before: datetime,
    keep: timedelta,
    actor: Principal,
    batch: int,
) -> tuple[int, int]:
    """Delete a monitor's expired runs batch by batch; how many runs and results went."""
    runs = results = 0
    while True:
        with db.transaction() as session:
            done = _delete_batch(session, monitor, before, batch)
            if done is not None:
                record_audit(
                    session, actor=actor, action="monitor.retention.delete",
                    project=monitor.project, target=f"monitor:{monitor.name}",
                    details={"retention": iso_duration(keep), "before": isoformat(before),
                             "runs": done.runs, "results": done.results,
                             "first_window_end": isoformat(done.first),
                             "last_window_end": isoformat(done.last)},
                )  # fmt: skip
        if done is None:
            return runs, results
        runs, results = runs + done.runs, results + done.results
        if done.runs < batch:
            return runs, results


def _delete_batch(
    session: Session, monitor: Monitor, before: datetime, limit: int
) -> _Batch | None:
    """Delete the oldest ``limit`` expired runs of a monitor with their results (None: none)."""
    query = select(RunRow.id, RunRow.window_end).where(
        RunRow.monitor_id == monitor.id, RunRow.window_end < before
    )
    kept = open_alert_runs(session, monitor.project, monitor.name)
    if kept:  # the whole window stays, so a kept run's reruns and earlier attempts stay too
        windows = select(RunRow.window_end).where(RunRow.id.in_(sorted(kept)))
        query = query.where(RunRow.window_end.not_in(windows))
    rows = session.execute(query.order_by(RunRow.window_end, RunRow.attempt).limit(limit)).all()
    if not rows:
        return None
    ids = [row.id for row in rows]
    gone = session.execute(
        delete(ResultRow).where(ResultRow.run_id.in_(ids)),
        execution_options={"synchronize_session": False},
    )
    session.execute(
        delete(RunRow).where(RunRow.id.in_(ids)), execution_options={"synchronize_session": False}
    )
    return _Batch(
        runs=len(ids),
        results=int(getattr(gone, "rowcount", 0) or 0),
        first=rows[0].window_end,
        last=rows[-1].window_end,
    )
