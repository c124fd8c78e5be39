"""Read models of monitor runs and of the results time series."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict


class RunStatus(StrEnum):
    """How a run ended."""

    succeeded = "succeeded"
    no_data = "no_data"
    failed = "failed"


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


class RunRequest(_Frozen):
    """Run one window now (default: the newest window that has ended)."""

    window_end: datetime | None = None


class RunReport(_Frozen):
    """What a run request did: the run, and whether this call created it."""

    run: MonitorRun
    created: bool
    alerts: list[str] = []


class BackfillReport(_Frozen):
    """What a backfill did, window by window."""

    monitor: str
    created: int
    existing: int
    runs: list[RunReport]


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
