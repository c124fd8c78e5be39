"""Use cases of monitor runs: run one window exactly once, backfill, read the time series."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import pyarrow as pa
from sqlalchemy.exc import IntegrityError

from governance.audit.service import record_audit
from governance.core.clock import Clock, SystemClock, to_utc
from governance.core.cursor import decode_cursor, encode_cursor
from governance.core.db import Database
from governance.core.errors import InvalidInput, InvalidState, NotFound, StewardError
from governance.core.principal import SYSTEM, Principal
from monitors.runs.schemas import (
    BackfillReport,
    MonitorRun,
    ResultPage,
    ResultPoint,
    RunCreate,
    RunReport,
    RunStatus,
    RunTrigger,
    SignalOutcome,
)
from monitors.runs.signals import SignalInput, compute_signal, summary_of
from monitors.runs.sources import LoadedReference, RunEnvironment, RunRecord
from monitors.runs.store import RunStore, SqlRunStore
from monitors.specs.schemas import Monitor, SignalKind
from monitors.specs.service import get_monitor
from monitors.specs.windows import WindowPlan, latest_window_end, plan_window, window_ends

log = logging.getLogger(__name__)
_WALL = SystemClock()
MAX_BACKFILL = 2000
LABELLED = frozenset({SignalKind.performance, SignalKind.fairness})


@dataclass(frozen=True, kw_only=True, slots=True)
class _Computed:
    """Everything a run produced before it is stored."""

    plan: WindowPlan
    reference: LoadedReference
    rows: int
    status: RunStatus
    outcomes: tuple[SignalOutcome, ...]
    error: str | None
    seconds: float


def _compute(monitor: Monitor, plan: WindowPlan, env: RunEnvironment) -> _Computed:
    started = time.perf_counter()
    spec = monitor.spec
    empty = LoadedReference(key="", table=pa.table({}))
    reference, rows, error = empty, 0, None
    outcomes: tuple[SignalOutcome, ...] = ()
    try:
        reference = env.references.load(
            project=monitor.project, spec=spec, span=plan.reference, windows=env.windows
        )
        labels = any(s.kind in LABELLED for s in spec.signals)
        current = env.windows.read(
            project=monitor.project, target=spec.target, span=plan.production, labels=labels
        )
        rows = current.num_rows
        if rows and reference.table.num_rows:
            data = SignalInput(
                profile=env.profiles.profile(reference), reference=reference.table, current=current
            )
            outcomes = tuple(compute_signal(s, data) for s in spec.signals)
    except StewardError as exc:
        # A missing endpoint, reference or schema is the run's outcome, kept like any other.
        error = f"{exc.code}: {exc.detail}"
    except (ArithmeticError, LookupError, TypeError, ValueError, pa.ArrowException) as exc:
        # Data the statistics cannot digest fails this window only (logged in full here, kept
        # as a failed run without its text, which may quote data): later windows still run.
        log.exception("monitor %s/%s failed on its window", monitor.project, monitor.name)
        error = f"internal: {type(exc).__name__}"
    status = RunStatus.failed if error else RunStatus.succeeded if outcomes else RunStatus.no_data
    return _Computed(
        plan=plan,
        reference=reference,
        rows=rows,
        status=status,
        outcomes=outcomes,
        error=error,
        seconds=time.perf_counter() - started,
    )


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
) -> RunReport:
    """Run the window ending at ``window_end`` unless it already ran (then return that run)."""
    window_end = to_utc(window_end)
    with db.read() as session:
        existing = SqlRunStore(session).find(monitor.id, window_end, name=monitor.name)
        if existing is not None:
            return RunReport(run=existing, created=False)
    ctx = _Context(trigger=trigger, actor=actor, started_at=clock.now(), clock=clock, holder=holder)
    computed = _compute(monitor, plan_window(monitor.spec, window_end), env)
    try:
        run, alerts = _store(db, monitor, computed, ctx, env)
    except IntegrityError:
        # Another daemon or request took the key first: its run stands, ours is discarded.
        with db.read() as session:
            taken = SqlRunStore(session).find(monitor.id, window_end, name=monitor.name)
        if taken is None:
            raise
        return RunReport(run=taken, created=False)
    if alerts:
        _deliver(db, env, alerts)
    return RunReport(run=run, created=True, alerts=alerts)


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


def _draft(monitor: Monitor, computed: _Computed, ctx: _Context) -> RunCreate:
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
        summary=summary_of(computed.outcomes),
        holder=ctx.holder,
    )


def _store(
    db: Database, monitor: Monitor, computed: _Computed, ctx: _Context, env: RunEnvironment
) -> tuple[MonitorRun, list[str]]:
    draft = _draft(monitor, computed, ctx)
    with db.transaction() as session:
        store: RunStore = SqlRunStore(session)
        run = store.add_run(draft)  # first statement: a taken key fails before anything else
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
        record_audit(
            session,
            actor=ctx.actor,
            action="monitor.run",
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
) -> BackfillReport:
    """Run every window ending in ``(since, until]`` that has not run yet, oldest first."""
    monitor = get_monitor(db, project=project, name=name)
    now = clock.now()
    until = min(to_utc(until), now) if until else now
    if to_utc(since) >= until:
        raise InvalidInput("since must be before until (and before now)", field="since")
    ends = list(window_ends(monitor.spec.schedule, after=since, until=until))
    if len(ends) > MAX_BACKFILL:
        raise InvalidInput(f"at most {MAX_BACKFILL} windows at once", field="since")
    reports = [
        run_window(
            db,
            monitor=monitor,
            window_end=end,
            env=env,
            trigger=RunTrigger.backfill,
            actor=actor,
            clock=clock,
        )
        for end in ends
    ]
    created = sum(1 for r in reports if r.created)
    return BackfillReport(
        monitor=name, created=created, existing=len(reports) - created, runs=reports
    )


def list_runs(
    db: Database, *, project: str, name: str, since: datetime | None = None, limit: int = 100
) -> list[MonitorRun]:
    """Runs of a monitor, newest window first."""
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
    """The run of a monitor for one window end."""
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
