"""Aggregates of the stored runs for ``/metrics``: last success and run durations per monitor.

Every stored run counts, superseded ones included: each took the time it took, and a window
that succeeded before a rerun did succeed then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select

from governance.core.db import Database
from monitors.runs.models import RunRow
from monitors.runs.schemas import RunStatus
from monitors.specs.models import MonitorRow


@dataclass(frozen=True, kw_only=True, slots=True)
class RunDurations:
    """How long a monitor's runs took: cumulative counts at each bucket bound, count, sum."""

    project: str
    monitor: str
    bounds: tuple[float, ...]
    cumulative: tuple[int, ...]
    count: int
    total_seconds: float


def last_successes(db: Database) -> list[tuple[str, str, datetime]]:
    """Per monitor: (project, monitor, when its newest succeeded run finished)."""
    query = (
        select(MonitorRow.project, MonitorRow.name, func.max(RunRow.finished_at))
        .join(MonitorRow, MonitorRow.id == RunRow.monitor_id)
        .where(RunRow.status == RunStatus.succeeded.value)
        .group_by(MonitorRow.project, MonitorRow.name)
        .order_by(MonitorRow.project, MonitorRow.name)
    )
    with db.read() as session:
        return [(p, n, when) for p, n, when in session.execute(query)]


def run_durations(db: Database, bounds: Sequence[float]) -> list[RunDurations]:
    """Per monitor: its runs' durations counted into buckets ``<= bound`` (one query)."""
    edges = tuple(sorted(bounds))
    under = [func.sum(case((RunRow.duration_seconds <= b, 1), else_=0)) for b in edges]
    query = (
        select(
            MonitorRow.project,
            MonitorRow.name,
            func.count(),
            func.sum(RunRow.duration_seconds),
            *under,
        )
        .join(MonitorRow, MonitorRow.id == RunRow.monitor_id)
        .group_by(MonitorRow.project, MonitorRow.name)
        .order_by(MonitorRow.project, MonitorRow.name)
    )
    with db.read() as session:
        return [
            RunDurations(
                project=project,
                monitor=name,
                bounds=edges,
                cumulative=tuple(int(n or 0) for n in counts),
                count=int(count),
                total_seconds=float(total or 0.0),
            )
            for project, name, count, total, *counts in session.execute(query)
        ]
