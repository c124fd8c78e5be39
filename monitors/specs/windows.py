"""Window arithmetic: when windows end, and which rows a window and its reference cover."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from governance.core.clock import to_utc
from monitors.specs.cron import crontab_trigger
from monitors.specs.schemas import MonitorSpec, ReferenceKind, Schedule

DEFAULT_INTERVAL = timedelta(days=1)
# A fixed origin so that interval schedules without a start align across processes and restarts.
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, kw_only=True, slots=True)
class Span:
    """A half-open time range ``[start, end)``."""

    start: datetime
    end: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class WindowPlan:
    """The production window of one run and, for past-window references, its reference window."""

    window_end: datetime
    production: Span
    reference: Span | None


def _cron_trigger(cron: str, schedule: Schedule) -> Any:
    from apscheduler.util import convert_to_datetime

    trigger = crontab_trigger(cron, timezone=schedule.timezone)
    # from_crontab takes no start or end date: set them as CronTrigger's constructor does.
    trigger.start_date = convert_to_datetime(schedule.start, trigger.timezone, "start_date")
    trigger.end_date = convert_to_datetime(schedule.end, trigger.timezone, "end_date")
    return trigger


def trigger_of(schedule: Schedule) -> Any:
    """Build the APScheduler 3 trigger that fires at each window end."""
    from apscheduler.triggers.interval import IntervalTrigger

    if schedule.cron is not None:
        return _cron_trigger(schedule.cron, schedule)
    interval = schedule.interval or DEFAULT_INTERVAL
    return IntervalTrigger(
        seconds=int(interval.total_seconds()),
        start_date=schedule.start or EPOCH,
        end_date=schedule.end,
        timezone=schedule.timezone,
    )


def window_ends(schedule: Schedule, *, after: datetime, until: datetime) -> Iterator[datetime]:
    """Yield every window end in ``(after, until]``, oldest first, in UTC."""
    trigger = trigger_of(schedule)
    previous: datetime | None = None
    cursor = to_utc(after) + timedelta(seconds=1)
    limit = to_utc(until)
    while True:
        fire = trigger.get_next_fire_time(previous, cursor)
        if fire is None or to_utc(fire) > limit:
            return
        fire = to_utc(fire)
        if fire > to_utc(after):
            yield fire
        previous, cursor = fire, fire + timedelta(seconds=1)


def latest_window_end(schedule: Schedule, *, now: datetime) -> datetime | None:
    """The newest window end at or before ``now`` (None before the schedule starts)."""
    frequency = frequency_of(schedule)
    found = None
    for found in window_ends(schedule, after=to_utc(now) - 2 * frequency, until=now):  # noqa: B007
        pass
    return found


def frequency_of(schedule: Schedule) -> timedelta:
    """The schedule's period: its interval, or the gap between two cron fires."""
    if schedule.cron is None:
        return schedule.interval or DEFAULT_INTERVAL
    trigger = trigger_of(schedule.model_copy(update={"start": None, "end": None}))
    first = trigger.get_next_fire_time(None, EPOCH)
    second = trigger.get_next_fire_time(first, first + timedelta(seconds=1))
    return to_utc(second) - to_utc(first)


def production_lookback(spec: MonitorSpec) -> timedelta:
    """Azure's default: the production window is as long as the schedule's period."""
    return spec.window.lookback or frequency_of(spec.schedule)


def plan_window(spec: MonitorSpec, window_end: datetime) -> WindowPlan:
    """The spans one run reads for the window ending at ``window_end``."""
    end = to_utc(window_end) - spec.window.offset
    lookback = production_lookback(spec)
    production = Span(start=end - lookback, end=end)
    reference = None
    if spec.reference.kind is ReferenceKind.production_window:
        ref_lookback = spec.reference.lookback or lookback
        # Azure's default reference offset: twice the production window.
        ref_offset = spec.reference.offset if spec.reference.offset is not None else 2 * lookback
        ref_end = end - ref_offset
        reference = Span(start=ref_end - ref_lookback, end=ref_end)
    return WindowPlan(window_end=to_utc(window_end), production=production, reference=reference)
