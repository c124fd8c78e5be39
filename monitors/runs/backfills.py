"""Backfills as jobs: queue one, let a worker claim and run it window by window, read or cancel it.

A worker runs the windows oldest first through ``run_window``, storing its progress and a
heartbeat after each, and checks between windows whether it should stop. A backfill whose
worker died (its heartbeat went stale) is claimed again and resumes after the last window it
counted; a window that already ran is left alone (runs are keyed by window), and a rerun asked
for runs a window again only once: the runs a backfill makes carry its id as their holder.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from governance.audit.service import record_audit
from governance.core.clock import Clock, SystemClock, to_utc
from governance.core.db import Database
from governance.core.errors import InvalidState, NotFound, StewardError
from governance.core.principal import Principal, PrincipalKind
from monitors.runs.backfill_store import BackfillCreate, SqlBackfillStore
from monitors.runs.compute import InProcessWindows
from monitors.runs.schemas import (
    Backfill,
    BackfillCounts,
    BackfillStatus,
    RerunScope,
    RunReport,
    RunStatus,
    RunTrigger,
)
from monitors.runs.service import backfill_until, backfill_windows, run_window
from monitors.runs.sources import Computed, RunEnvironment, WindowComputer
from monitors.specs.schemas import Monitor
from monitors.specs.service import get_monitor
from monitors.specs.windows import plan_window

log = logging.getLogger(__name__)
_WALL = SystemClock()
# A worker writes its heartbeat after every window: one silent this long has died.
STALE_AFTER = timedelta(minutes=5)
MAX_LIST = 100


def new_worker_id(kind: str) -> str:
    """A worker id naming the host and process, unique per start."""
    return f"{kind}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def request_backfill(
    db: Database,
    *,
    project: str,
    name: str,
    since: datetime,
    until: datetime | None,
    rerun: RerunScope | None,
    actor: Principal,
    clock: Clock = _WALL,
    wall: Clock = _WALL,
    worker: str | None = None,
) -> Backfill:
    """Queue a backfill of the windows ending in ``(since, until]`` (``until``: now at most).

    With ``worker`` the backfill is stored already claimed by it (the caller runs it itself).
    """
    monitor = get_monitor(db, project=project, name=name)
    until = backfill_until(until, clock)
    ends = backfill_windows(monitor, since=since, until=until)
    data = BackfillCreate(
        project=project, monitor_id=monitor.id, monitor=name, since=to_utc(since), until=until,
        rerun=rerun, windows_total=len(ends), requested_by=actor.ref, now=wall.now(),
        worker=worker,
    )  # fmt: skip
    with db.transaction() as session:
        job = SqlBackfillStore(session).add(data)
        details = {
            "backfill_id": str(job.id),
            "since": job.since.isoformat(),
            "until": job.until.isoformat(),
            "rerun": rerun.value if rerun else None,
            "windows": job.windows_total,
        }
        record_audit(
            session, actor=actor, action="monitor.backfill.request", project=project,
            target=f"monitor:{name}", details=details,
        )  # fmt: skip
    return job


def _owned(db: Database, project: str, name: str, backfill_id: uuid.UUID) -> Backfill:
    """A backfill of monitor ``name`` in ``project``; any other is not found."""
    with db.read() as session:
        job = SqlBackfillStore(session).get(backfill_id)
    if job is None or job.project != project or job.monitor != name:
        raise NotFound("backfill not found")
    return job


def get_backfill(db: Database, *, project: str, name: str, backfill_id: uuid.UUID) -> Backfill:
    """One backfill of a monitor, with its progress."""
    return _owned(db, project, name, backfill_id)


def list_backfills(db: Database, *, project: str, name: str, limit: int = 20) -> list[Backfill]:
    """A monitor's backfills, newest first (at most MAX_LIST)."""
    monitor = get_monitor(db, project=project, name=name)
    with db.read() as session:
        return SqlBackfillStore(session).of_monitor(monitor.id, limit=min(limit, MAX_LIST))


def cancel_backfill(
    db: Database,
    *,
    project: str,
    name: str,
    backfill_id: uuid.UUID,
    actor: Principal,
    wall: Clock = _WALL,
) -> Backfill:
    """Cancel a backfill: a queued one never runs, a running one stops after its window."""
    job = _owned(db, project, name, backfill_id)
    if job.status is BackfillStatus.cancelled:
        return job
    with db.transaction() as session:
        cancelled = SqlBackfillStore(session).cancel(backfill_id, now=wall.now())
        if cancelled is None:
            raise InvalidState("the backfill has already ended")
        record_audit(
            session, actor=actor, action="monitor.backfill.cancel", project=project,
            target=f"monitor:{name}", details=_outcome(cancelled),
        )  # fmt: skip
    return cancelled


def claim_backfill(
    db: Database, *, worker: str, wall: Clock = _WALL, stale_after: timedelta = STALE_AFTER
) -> Backfill | None:
    """Claim the oldest queued backfill, or one whose worker went silent; None when none."""
    now = wall.now()
    stale = now - stale_after
    with db.read() as session:  # a plain read first: an idle poll takes no write lock
        candidates = SqlBackfillStore(session).claimable(stale_before=stale, limit=5)
    for backfill_id in candidates:
        with db.transaction() as session:
            job = SqlBackfillStore(session).claim(
                backfill_id, worker=worker, now=now, stale_before=stale
            )
        if job is not None:
            if job.windows_done:
                log.warning("backfill %s resumes after window %d", job.id, job.windows_done)
            return job
    return None


def _never() -> bool:
    return False


def execute_backfill(
    db: Database,
    *,
    job: Backfill,
    worker: str,
    env: RunEnvironment,
    clock: Clock = _WALL,
    wall: Clock = _WALL,
    stopping: Callable[[], bool] = _never,
    on_progress: Callable[[Backfill], None] | None = None,
) -> Backfill:
    """Run the windows a claimed backfill has left, oldest first; the backfill as left.

    It ends succeeded, or failed when a window could not be run at all. It stops early, as
    the database says, when cancelled or taken over, and when ``stopping()`` is true (then the
    backfill goes back to the queue for another worker).
    """
    try:
        monitor = get_monitor(db, project=job.project, name=job.monitor)
        ends = backfill_windows(monitor, since=job.since, until=job.until)
    except StewardError as exc:
        return _end(db, job, worker, wall, error=exc.detail)
    with db.read() as session:
        current = SqlBackfillStore(session).current_runs(monitor.id, job.since)
    work = _Work(
        db=db, worker=worker, env=env, clock=clock, wall=wall, stopping=stopping,
        on_progress=on_progress, monitor=monitor, current=current, total=len(ends),
    )  # fmt: skip
    computer = env.windows_computer or InProcessWindows()
    left, size = ends[job.windows_done :], max(1, computer.chunk)
    for first in range(0, len(left), size):
        if stopping():
            return _release(db, job, worker)
        job, over = _chunk(work, job, computer, left[first : first + size])
        if over:
            return job
    return _end(db, job, worker, wall)


@dataclass(frozen=True, kw_only=True, slots=True)
class _Work:
    """What every chunk of one backfill's execution shares."""

    db: Database
    worker: str
    env: RunEnvironment
    clock: Clock
    wall: Clock
    stopping: Callable[[], bool]
    on_progress: Callable[[Backfill], None] | None
    monitor: Monitor
    current: dict[datetime, tuple[RunStatus, str]]
    total: int


def _chunk(
    work: _Work, job: Backfill, computer: WindowComputer, chunk: list[datetime]
) -> tuple[Backfill, bool]:
    """Compute and store one chunk of windows: the backfill, and whether its execution is over
    (ended, handed back, cancelled or taken over)."""
    db, worker, wall = work.db, work.worker, work.wall
    halted = _halted(db, job, worker, work.stopping)
    try:
        computed = _compute(job, work.monitor, chunk, work.current, work.env, computer, halted)
    except Exception as exc:  # the runner could not run the chunk at all
        if work.stopping():
            return _release(db, job, worker), True
        log.exception("backfill %s: windows from %s failed", job.id, chunk[0].isoformat())
        return _end(db, job, worker, wall, error=_failure(exc, chunk[0])), True
    for end in chunk:
        try:
            report = _run(
                db, job, work.monitor, end, work.env, work.clock, work.current.get(end), computed
            )
        except Exception as exc:  # the run could not even be stored: the backfill fails
            log.exception("backfill %s: window %s failed", job.id, end.isoformat())
            return _end(db, job, worker, wall, error=_failure(exc, end)), True
        advanced = _advance(db, job, worker, wall, report, total=work.total)
        if advanced is None:  # cancelled, or a worker took it over after a stale heartbeat
            return _reload(db, job), True
        job = advanced
        if work.on_progress is not None:
            work.on_progress(job)
    return job, False


def _compute(
    job: Backfill, monitor: Monitor, chunk: list[datetime],
    current: dict[datetime, tuple[RunStatus, str]], env: RunEnvironment, computer: WindowComputer,
    halted: Callable[[], bool],
) -> dict[datetime, Computed]:  # fmt: skip
    """The chunk's windows that will be stored, computed; in-process ones are left to the run."""
    if isinstance(computer, InProcessWindows):
        return {}  # computed by ``run_window`` itself, after its check for an existing run
    holder = f"backfill:{job.id}"
    todo = [e for e in chunk if e not in current or _rerun(job, current.get(e), holder)]
    plans = [plan_window(monitor.spec, end) for end in todo]
    if not plans:
        return {}
    return {c.plan.window_end: c for c in computer.compute(monitor, plans, env, cancelled=halted)}


def _halted(
    db: Database, job: Backfill, worker: str, stopping: Callable[[], bool], every: float = 2.0
) -> Callable[[], bool]:
    """True once the worker stops, or the backfill was cancelled or taken over (the database
    is asked at most every ``every`` seconds): a runner polls it to stop the chunk's process."""
    asked = [time.monotonic()]

    def halted() -> bool:
        if stopping():
            return True
        if time.monotonic() - asked[0] < every:
            return False
        asked[0] = time.monotonic()
        with db.read() as session:
            now = SqlBackfillStore(session).get(job.id)
        return now is None or now.status is not BackfillStatus.running or now.worker != worker

    return halted


def _requester(job: Backfill) -> Principal:
    kind, _, name = job.requested_by.partition(":")
    return Principal(id=None, name=name, kind=PrincipalKind(kind), via="backfill")


def _rerun(job: Backfill, current: tuple[RunStatus, str] | None, holder: str) -> bool:
    if job.rerun is None or current is None:
        return False
    status, made_by = current
    # A window this backfill already ran again (before its worker died) is not run a third time.
    return made_by != holder and job.rerun.covers(status)


def _run(
    db: Database,
    job: Backfill,
    monitor: Monitor,
    end: datetime,
    env: RunEnvironment,
    clock: Clock,
    current: tuple[RunStatus, str] | None,
    computed: dict[datetime, Computed],
) -> RunReport:
    holder = f"backfill:{job.id}"
    return run_window(
        db, monitor=monitor, window_end=end, env=env, trigger=RunTrigger.backfill,
        actor=_requester(job), clock=clock, holder=holder, rerun=_rerun(job, current, holder),
        computed=computed.get(end),
    )  # fmt: skip


def _tally(counts: BackfillCounts, report: RunReport) -> BackfillCounts:
    return BackfillCounts(
        created=counts.created + report.created,
        existing=counts.existing + (not report.created),
        rerun=counts.rerun + (report.superseded is not None),
        breached=counts.breached + report.run.breached,
        failed=counts.failed + (report.run.status is RunStatus.failed),
    )


def _advance(
    db: Database, job: Backfill, worker: str, wall: Clock, report: RunReport, *, total: int
) -> Backfill | None:
    with db.transaction() as session:
        return SqlBackfillStore(session).record_progress(
            job.id, worker=worker, done=job.windows_done + 1, total=total,
            counts=_tally(job.counts, report), now=wall.now(),
        )  # fmt: skip


def _failure(exc: Exception, end: datetime) -> str:
    # The message of an unexpected error may quote SQL or paths: the caller sees its type only.
    what = exc.detail if isinstance(exc, StewardError) else type(exc).__name__
    return f"window {end.isoformat()}: {what}"[:500]


def _outcome(job: Backfill) -> dict[str, object]:
    return {
        "backfill_id": str(job.id),
        "status": job.status.value,
        "windows": job.windows_total,
        "done": job.windows_done,
        **job.counts.model_dump(),
        "error": job.error,
    }


def _end(
    db: Database, job: Backfill, worker: str, wall: Clock, *, error: str | None = None
) -> Backfill:
    status = BackfillStatus.failed if error else BackfillStatus.succeeded
    with db.transaction() as session:
        ended = SqlBackfillStore(session).finish(
            job.id, worker=worker, status=status, now=wall.now(), error=error
        )
        if ended is not None:
            record_audit(
                session, actor=job.requested_by, action="monitor.backfill.finish",
                project=job.project, target=f"monitor:{job.monitor}",
                details=_outcome(ended) | {"worker": worker},
            )  # fmt: skip
    return ended or _reload(db, job)


def _release(db: Database, job: Backfill, worker: str) -> Backfill:
    with db.transaction() as session:
        released = SqlBackfillStore(session).release(job.id, worker=worker)
    return released or _reload(db, job)


def _reload(db: Database, job: Backfill) -> Backfill:
    with db.read() as session:
        return SqlBackfillStore(session).get(job.id) or job
