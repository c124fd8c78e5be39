"""Automatic launches: alert triggers on their monitor's breaches, schedule triggers on time.

At-least-once evaluation, exactly-once effects: any number of daemons may evaluate at once or
again; every launch is keyed by (trigger, breach window end) or (trigger, fire time), so each
breach or fire time launches one pipeline run. A trigger looks only at windows and fire times
after it became active, and after the mark its last evaluation left (an optimisation: a stale
mark only re-reads windows whose launches are already recorded).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from governance.core.clock import Clock, SystemClock
from governance.core.db import Database
from governance.core.errors import StewardError
from governance.core.settings import Settings
from monitors.runs.service import list_runs
from monitors.scheduler.daemon import LeaderJob
from monitors.specs.schemas import Schedule
from monitors.specs.service import find_monitor
from monitors.specs.windows import frequency_of, latest_window_end
from retrain.pipelines.schemas import Launch
from retrain.triggers.launch import (
    TRIGGER_ACTOR,
    Occasion,
    alert_occasion,
    find_launch,
    launch,
    schedule_occasion,
)
from retrain.triggers.rules import breach_ends, due_launches
from retrain.triggers.schemas import (
    AlertCondition,
    ConditionKind,
    ScheduleCondition,
    Trigger,
)
from retrain.triggers.store import SqlTriggerStore

log = logging.getLogger(__name__)
_WALL = SystemClock()
# Runs read per evaluation of one alert trigger: far more windows than pass between two
# evaluations (the leader evaluates every EVERY seconds).
MAX_RUNS = 5000
EVERY = 30.0


def evaluate_triggers(
    db: Database, *, settings: Settings, clock: Clock = _WALL, project: str | None = None
) -> list[Launch]:
    """Launch what every enabled alert and schedule trigger is due; the launches it made.

    A launch whose run another evaluation had made comes back with ``created`` False. A
    trigger that cannot launch (its monitor or pipeline gone) is logged and skipped.
    """
    with db.read() as session:
        triggers = SqlTriggerStore(session).of_project(project, enabled_only=True)
    made: list[Launch] = []
    for trigger in triggers:
        try:
            made += _evaluate(db, settings, trigger, clock)
        except StewardError as exc:
            log.warning("trigger %s/%s: %s", trigger.project, trigger.name, exc.detail)
        except Exception:  # one trigger's failure must not stop the others; the next run retries
            log.exception("trigger %s/%s failed", trigger.project, trigger.name)
    return made


def _evaluate(db: Database, settings: Settings, trigger: Trigger, clock: Clock) -> list[Launch]:
    on = trigger.spec.on
    if isinstance(on, AlertCondition):
        occasions, decided = _alert_occasions(db, trigger, on, _start(db, trigger))
    elif isinstance(on, ScheduleCondition):
        occasions, decided = _schedule_occasions(db, trigger, on, clock)
    else:
        return []
    return _launch_all(db, settings, trigger, clock, occasions, decided)


def _start(db: Database, trigger: Trigger) -> datetime:
    """Windows and fire times after this are undecided."""
    with db.read() as session:
        mark = SqlTriggerStore(session).checked_until(trigger.id)
    return trigger.active_since if mark is None else max(mark, trigger.active_since)


def _alert_occasions(
    db: Database, trigger: Trigger, on: AlertCondition, start: datetime
) -> tuple[list[Occasion], datetime | None]:
    """The breaching windows to launch for, and the newest window end they were decided to."""
    monitor = find_monitor(db, project=trigger.project, name=on.monitor)
    if monitor is None:
        log.warning("trigger %s/%s: monitor %r is gone", trigger.project, trigger.name, on.monitor)
        return [], None
    # The windows before the first undecided one that its N-of-M count looks back on.
    back = frequency_of(monitor.spec.schedule) * (on.windows + 1)
    runs = list_runs(
        db, project=trigger.project, name=on.monitor, since=start - back, limit=MAX_RUNS
    )
    if len(runs) == MAX_RUNS:
        log.warning(
            "trigger %s/%s: more than %d runs to read", trigger.project, trigger.name, MAX_RUNS
        )
    ends = breach_ends(
        runs, signal=on.signal, breaches=on.breaches, windows=on.windows, after=start
    )
    newest = max((r.window_end for r in runs if r.window_end > start), default=None)
    due = _due(db, trigger, ends)
    return [alert_occasion(end) for end in due], newest


def _schedule_occasions(
    db: Database, trigger: Trigger, on: ScheduleCondition, clock: Clock
) -> tuple[list[Occasion], datetime | None]:
    """The newest fire time not yet decided (missed older ones coalesce into it)."""
    start = _start(db, trigger)
    fire = latest_window_end(Schedule(cron=on.cron, timezone=on.timezone), now=clock.now())
    if fire is None or fire <= start:
        return [], None
    return [schedule_occasion(at) for at in _due(db, trigger, [fire])], fire


def _due(db: Database, trigger: Trigger, candidates: list[datetime]) -> list[datetime]:
    """The candidates not launched yet and outside the cooldown of the launch before them."""
    if not candidates:
        return []
    cooldown = trigger.spec.cooldown
    since = min(candidates) - max(cooldown, timedelta(0))
    with db.read() as session:
        recorded = SqlTriggerStore(session).launches(trigger.id, since=since, limit=100_000)
    launched = [r.at for r in recorded if r.kind is not ConditionKind.manual]
    return due_launches(candidates, launched=launched, cooldown=cooldown)


def _launch_all(
    db: Database,
    settings: Settings,
    trigger: Trigger,
    clock: Clock,
    occasions: list[Occasion],
    decided: datetime | None,
) -> list[Launch]:
    """Launch each occasion not recorded meanwhile, oldest first; then move the mark."""
    made = []
    for occasion in occasions:
        if find_launch(db, trigger, occasion.key) is not None:
            continue  # another daemon launched and recorded it since this one read
        launched, _ = launch(
            db, settings=settings, trigger=trigger, occasion=occasion, actor=TRIGGER_ACTOR,
            clock=clock,
        )  # fmt: skip
        made.append(launched)
    if decided is not None:
        _advance(db, trigger, decided)
    return made


def _advance(db: Database, trigger: Trigger, until: datetime) -> None:
    try:
        with db.transaction() as session:
            SqlTriggerStore(session).advance(trigger.id, until)
    except IntegrityError:
        pass  # another daemon stored the first mark at the same moment: either one will do


def trigger_leader_job(
    db: Database, settings: Settings, clock: Clock = _WALL, *, every: float = EVERY
) -> LeaderJob:
    """The daemon's job: the leader evaluates every trigger every ``every`` seconds."""

    def run() -> int:
        made = evaluate_triggers(db, settings=settings, clock=clock)
        created = sum(1 for m in made if m.created)
        if made:
            log.info("triggers launched %d pipeline runs (%d new)", len(made), created)
        return created

    return LeaderJob(name="retrain-triggers", every=every, run=run)
