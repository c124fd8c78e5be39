"""Use cases of monitor runs: run one window exactly once (or rerun it), backfill, read results.

A window runs once unless asked to rerun: a rerun is the window's next attempt, stored beside
the earlier run, which is linked to it (``superseded_by``) and stops counting for results,
latest values and alerts. A signal that raises fails alone: the run keeps the others.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy.exc import IntegrityError

from governance.audit.service import record_audit
from governance.core.clock import Clock, SystemClock, to_utc
from governance.core.cursor import decode_cursor, encode_cursor
from governance.core.db import Database
from governance.core.errors import InvalidInput, InvalidState, NotFound
from governance.core.principal import SYSTEM, Principal
from monitors.runs.compute import compute_window, run_summary
from monitors.runs.schemas import (
    BackfillReport,
    MonitorRun,
    RerunScope,
    ResultPage,
    ResultPoint,
    RunCreate,
    RunReport,
    RunTrigger,
)
from monitors.runs.sources import Computed, RunEnvironment, RunRecord
from monitors.runs.store import RunStore, SqlRunStore
from monitors.specs.schemas import Monitor
from monitors.specs.service import get_monitor
from monitors.specs.windows import latest_window_end, plan_window, window_ends

log = logging.getLogger(__name__)
_WALL = SystemClock()
MAX_BACKFILL = 2000


def run_window(
    db: Database,
    *,
    monitor: Monitor,
    window_end: datetime,
    env: RunEnvironment,
    trigger: RunTrigger = RunTrigger.schedule,
    actor: Principal = SYSTEM,
    clock: Clock = _WALL,
    holder: str = "",
    rerun: bool = False,
    computed: Computed | None = None,
) -> RunReport:
    """Run the window ending at ``window_end`` unless it already ran (then return that run).

    With ``rerun`` a window that ran runs again and supersedes its current run; of reruns
    racing for one window, one is stored and the others return it. ``computed``: the window
    was computed already (by a backfill's runner) and is only stored here.
    """
    window_end = to_utc(window_end)
    with db.read() as session:
        existing = SqlRunStore(session).find(monitor.id, window_end, name=monitor.name)
    if existing is not None and not rerun:
        return RunReport(run=existing, created=False)
    ctx = _Context(trigger=trigger, actor=actor, started_at=clock.now(), clock=clock, holder=holder)
    if computed is None:
        computed = compute_window(monitor, plan_window(monitor.spec, window_end), env)
    try:
        run, alerts = _store(db, monitor, computed, ctx, env, replaces=existing)
    except IntegrityError:
        # Another daemon or request took the key first: its run stands, ours is discarded.
        with db.read() as session:
            taken = SqlRunStore(session).find(monitor.id, window_end, name=monitor.name)
        if taken is None or (existing is not None and taken.id == existing.id):
            raise
        return RunReport(run=taken, created=False)
    if alerts:
        _deliver(db, env, alerts)
    superseded = existing.id if existing is not None else None
    return RunReport(run=run, created=True, alerts=alerts, superseded=superseded)


def _deliver(db: Database, env: RunEnvironment, alerts: list[str]) -> None:
    try:
        env.alerts.deliver(db, alerts)
    except Exception:  # delivery has its own retries and log; the run itself is committed
        log.exception("alert delivery failed")


@dataclass(frozen=True, kw_only=True, slots=True)
class _Context:
    """Who asked for a run, when it started, and which daemon ran it."""

    trigger: RunTrigger
    actor: Principal
    started_at: datetime
    clock: Clock
    holder: str


def _draft(monitor: Monitor, computed: Computed, ctx: _Context, attempt: int) -> RunCreate:
    return RunCreate(
        monitor_id=monitor.id,
        monitor=monitor.name,
        project=monitor.project,
        window_start=computed.plan.production.start,
        window_end=computed.plan.window_end,
        status=computed.status,
        trigger=ctx.trigger,
        row_count=computed.rows,
        reference_rows=computed.reference.table.num_rows,
        breached=any(o.breached for o in computed.outcomes),
        started_at=ctx.started_at,
        finished_at=ctx.clock.now(),
        duration_seconds=computed.seconds,
        reference=computed.reference.key,
        error=computed.error,
        summary=run_summary(computed.outcomes),
        holder=ctx.holder,
        attempt=attempt,
    )


def _store(
    db: Database,
    monitor: Monitor,
    computed: Computed,
    ctx: _Context,
    env: RunEnvironment,
    *,
    replaces: MonitorRun | None,
) -> tuple[MonitorRun, list[str]]:
    attempt = replaces.attempt + 1 if replaces is not None else 0
    draft = _draft(monitor, computed, ctx, attempt)
    with db.transaction() as session:
        store: RunStore = SqlRunStore(session)
        run = store.add_run(draft)  # first statement: a taken key fails before anything else
        if replaces is not None:
            store.supersede(replaces.id, run.id)
        store.add_results(run.id, [(o.key, m) for o in computed.outcomes for m in o.metrics])
        record = RunRecord(
            run_id=run.id,
            monitor=monitor,
            plan=computed.plan,
            reference=computed.reference,
            status=computed.status,
            outcomes=computed.outcomes,
        )
        run = store.link_lineage(run.id, env.lineage.record_run(session, record), name=monitor.name)
        alerts = env.alerts.raise_alerts(session, record) if run.breached else []
        details = {
            "run_id": str(run.id),
            "window_end": run.window_end.isoformat(),
            "status": run.status.value,
            "trigger": run.trigger.value,
            "breached": run.breached,
            "rows": run.row_count,
            "alerts": alerts,
        }
        if replaces is not None:
            details |= {"supersedes": str(replaces.id), "superseded_status": replaces.status.value}
        record_audit(
            session,
            actor=ctx.actor,
            action="monitor.rerun" if replaces is not None else "monitor.run",
            project=monitor.project,
            target=f"monitor:{monitor.name}",
            details=details,
        )
        return run, alerts


def run_now(
    db: Database,
    *,
    project: str,
    name: str,
    env: RunEnvironment,
    window_end: datetime | None = None,
    actor: Principal = SYSTEM,
    clock: Clock = _WALL,
    rerun: bool = False,
) -> RunReport:
    """Run one window of a monitor now (default: the newest window that has ended)."""
    monitor = get_monitor(db, project=project, name=name)
    now = clock.now()
    end = window_end or latest_window_end(monitor.spec.schedule, now=now)
    if end is None:
        raise InvalidState("the monitor's schedule has no window that has ended yet")
    if to_utc(end) > now:
        raise InvalidInput("window_end is in the future", field="window_end")
    return run_window(
        db,
        monitor=monitor,
        window_end=end,
        env=env,
        trigger=RunTrigger.manual,
        actor=actor,
        clock=clock,
        rerun=rerun,
    )


def pending_windows(
    db: Database, *, monitor: Monitor, since: datetime, until: datetime
) -> list[datetime]:
    """Window ends in ``(since, until]`` that have no run yet, oldest first."""
    ends = list(window_ends(monitor.spec.schedule, after=since, until=until))
    if len(ends) > MAX_BACKFILL:
        raise InvalidInput(f"at most {MAX_BACKFILL} windows at once", field="since")
    with db.read() as session:
        done = SqlRunStore(session).done_ends(monitor.id, to_utc(since))
    return [e for e in ends if e not in done]


def backfill_until(until: datetime | None, clock: Clock) -> datetime:
    """The end of a backfill asked to end at ``until``: never later than now (the default)."""
    now = clock.now()
    return min(to_utc(until), now) if until else now


def backfill_windows(monitor: Monitor, *, since: datetime, until: datetime) -> list[datetime]:
    """Window ends of a backfill in ``(since, until]``, oldest first (at most MAX_BACKFILL)."""
    if to_utc(since) >= until:
        raise _invalid_since("must be before until (and before now)")
    ends = list(window_ends(monitor.spec.schedule, after=since, until=until))
    if len(ends) > MAX_BACKFILL:
        raise _invalid_since(f"{len(ends)} windows from here; at most {MAX_BACKFILL} at once")
    return ends


def _invalid_since(msg: str) -> InvalidInput:
    return InvalidInput(
        f"since: {msg}", field="since", errors=[{"loc": ["body", "since"], "msg": msg}]
    )


def backfill(
    db: Database,
    *,
    project: str,
    name: str,
    since: datetime,
    until: datetime | None,
    env: RunEnvironment,
    actor: Principal = SYSTEM,
    clock: Clock = _WALL,
    rerun: RerunScope | None = None,
) -> BackfillReport:
    """Run every window ending in ``(since, until]`` that has not run yet, oldest first.

    With ``rerun``, windows whose current run is in that scope run again (superseding it).
    This runs in the caller's thread; ``monitors.runs.backfills`` runs one as a job.
    """
    monitor = get_monitor(db, project=project, name=name)
    ends = backfill_windows(monitor, since=since, until=backfill_until(until, clock))
    with db.read() as session:
        statuses = SqlRunStore(session).statuses(monitor.id, to_utc(since)) if rerun else {}
    reports = [
        run_window(
            db,
            monitor=monitor,
            window_end=end,
            env=env,
            trigger=RunTrigger.backfill,
            actor=actor,
            clock=clock,
            rerun=rerun is not None and end in statuses and rerun.covers(statuses[end]),
        )
        for end in ends
    ]
    created = sum(1 for r in reports if r.created)
    return BackfillReport(
        monitor=name,
        created=created,
        existing=len(reports) - created,
        runs=reports,
        rerun=sum(1 for r in reports if r.superseded is not None),
    )


def list_runs(
    db: Database, *, project: str, name: str, since: datetime | None = None, limit: int = 100
) -> list[MonitorRun]:
    """Runs of a monitor, newest window first; a window's superseded runs follow its current."""
    monitor = get_monitor(db, project=project, name=name)
    with db.read() as session:
        return SqlRunStore(session).runs(monitor.id, name=name, since=since, limit=limit)


def _decode(cursor: str | None) -> tuple[datetime, UUID] | None:
    if not cursor:
        return None
    when, ident = decode_cursor(cursor, arity=2)
    try:
        return datetime.fromisoformat(when), UUID(ident)
    except ValueError as exc:
        raise InvalidInput("malformed cursor", field="cursor") from exc


def _encode(when: datetime, ident: UUID) -> str:
    return encode_cursor(when.isoformat(), str(ident))


def list_results(
    db: Database,
    *,
    project: str,
    name: str,
    since: datetime | None = None,
    until: datetime | None = None,
    signal: str | None = None,
    limit: int = 500,
    cursor: str | None = None,
) -> ResultPage:
    """The time series of a monitor's values, oldest window first, in cursor pages."""
    monitor = get_monitor(db, project=project, name=name)
    with db.read() as session:
        found = SqlRunStore(session).results(
            monitor.id,
            since=since,
            until=until,
            signal=signal,
            after=_decode(cursor),
            limit=limit + 1,
        )
    more = len(found) > limit
    found = found[:limit]
    nxt = _encode(found[-1][0].window_end, found[-1][1]) if more else None
    return ResultPage(monitor=name, items=[p for p, _ in found], next_cursor=nxt)


def get_run(db: Database, *, project: str, name: str, window_end: datetime) -> MonitorRun:
    """The current run of a monitor for one window end."""
    monitor = get_monitor(db, project=project, name=name)
    with db.read() as session:
        found = SqlRunStore(session).find(monitor.id, to_utc(window_end), name=name)
        if found is None:
            raise NotFound("run not found")
        return found


def latest_values(db: Database) -> list[tuple[str, str, ResultPoint]]:
    """The newest value of every monitor series as (project, monitor, point), for ``/metrics``."""
    with db.read() as session:
        return SqlRunStore(session).latest(None)


def run_stats(db: Database) -> list[tuple[str, str, str, int, float, float]]:
    """Per (project, monitor, status): run count, total and longest seconds, for ``/metrics``."""
    with db.read() as session:
        return SqlRunStore(session).run_stats()
