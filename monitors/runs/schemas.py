"""Read models of monitor runs and of the results time series."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class RunStatus(StrEnum):
    """How a run ended."""

    succeeded = "succeeded"
    partial = "partial"  # some signals failed; the others' results are stored
    no_data = "no_data"
    failed = "failed"


class RerunScope(StrEnum):
    """Which windows that already ran a backfill runs again."""

    failed = "failed"  # runs that failed, wholly or in part
    no_data = "no-data"
    all = "all"

    def covers(self, status: RunStatus) -> bool:
        """Whether a window whose latest run ended with ``status`` runs again."""
        if self is RerunScope.all:
            return True
        if self is RerunScope.no_data:
            return status is RunStatus.no_data
        return status in (RunStatus.failed, RunStatus.partial)


class RunTrigger(StrEnum):
    """Who asked for a run."""

    schedule = "schedule"
    backfill = "backfill"
    manual = "manual"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class MonitorRun(_Frozen):
    """One run: the window it covered, how it went, whether a signal breached."""

    id: UUID
    monitor: str
    project: str
    window_start: datetime
    window_end: datetime
    status: RunStatus
    trigger: RunTrigger
    row_count: int
    reference_rows: int
    breached: bool
    started_at: datetime
    finished_at: datetime
    duration_seconds: float
    reference: str
    lineage_ref: str | None
    error: str | None
    summary: dict[str, Any]
    attempt: int = 0
    superseded_by: UUID | None = None


class ResultPoint(_Frozen):
    """One value of the time series: a metric of a signal (per feature, or overall)."""

    window_end: datetime
    run_id: UUID
    signal: str
    metric: str
    feature: str
    value: float | None
    threshold: float | None
    breached: bool


class ResultPage(_Frozen):
    """A page of results, oldest first."""

    monitor: str
    items: list[ResultPoint]
    next_cursor: str | None


class BackfillRequest(_Frozen):
    """Windows ending in ``(since, until]`` (``until`` defaults to now)."""

    since: datetime
    until: datetime | None = None
    rerun: RerunScope | None = Field(
        default=None,
        description="also run again the windows whose latest run ended so (superseding it)",
    )


class RunRequest(_Frozen):
    """Run one window now (default: the newest window that has ended)."""

    window_end: datetime | None = None
    rerun: bool = Field(
        default=False, description="run a window that ran again; its earlier run is kept"
    )


class RunReport(_Frozen):
    """What a run request did: the run, and whether this call created it."""

    run: MonitorRun
    created: bool
    alerts: list[str] = []
    superseded: UUID | None = None  # the earlier run of the window this call replaced


class BackfillReport(_Frozen):
    """What a backfill did, window by window."""

    monitor: str
    created: int
    existing: int
    runs: list[RunReport]
    rerun: int = 0  # of ``created``: windows that ran again, superseding a run


class BackfillStatus(StrEnum):
    """Where a backfill job is: waiting, being run by a worker, or ended."""

    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"  # a window could not be run at all (a window that ran and failed counts)
    cancelled = "cancelled"


class BackfillCounts(_Frozen):
    """What the windows a backfill went through so far came to."""

    created: int = 0  # windows run by this backfill
    existing: int = 0  # windows that had run already, left alone
    rerun: int = 0  # of ``created``: windows run again, superseding a run
    breached: int = 0  # windows whose current run breached
    failed: int = 0  # windows whose current run failed


class Backfill(_Frozen):
    """A backfill job: its windows, its progress and how it ended."""

    id: UUID
    project: str
    monitor: str
    since: datetime
    until: datetime
    rerun: RerunScope | None
    status: BackfillStatus
    windows_total: int
    windows_done: int
    counts: BackfillCounts
    error: str | None
    requested_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    worker: str | None


@dataclass(frozen=True, kw_only=True, slots=True)
class RunCreate:
    """A finished run to store under its (monitor, window end) key."""

    monitor_id: UUID
    monitor: str
    project: str
    window_start: datetime
    window_end: datetime
    status: RunStatus
    trigger: RunTrigger
    row_count: int
    reference_rows: int
    breached: bool
    started_at: datetime
    finished_at: datetime
    duration_seconds: float
    reference: str
    error: str | None
    summary: dict[str, Any]
    holder: str = ""
    attempt: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class Metric:
    """One computed value of a signal, judged against its threshold."""

    metric: str
    value: float | None
    threshold: float | None = None
    breached: bool = False
    feature: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class SignalOutcome:
    """The result of one signal for one window."""

    key: str
    kind: str
    breached: bool
    metrics: tuple[Metric, ...]
    summary: dict[str, Any] = field(default_factory=dict)
    error: str | None = None  # the signal failed: no metrics, the others still count
