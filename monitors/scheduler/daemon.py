"""The monitoring daemon: APScheduler 3 fires every monitor's windows while this process leads.

A fire only offers the monitor to the dispatch slots (``monitors.scheduler.dispatch``), which run
at most ``dispatch.concurrency`` windows at once: a slow run never delays another monitor.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from governance.access.authorization import authorize
from governance.core.clock import Clock, SystemClock, to_utc
from governance.core.db import Database
from governance.core.principal import SYSTEM
from monitors.runs.retention import monitor_retention
from monitors.runs.schemas import RunReport, RunTrigger
from monitors.runs.service import pending_windows, run_window
from monitors.runs.sources import RunEnvironment
from monitors.scheduler.dispatch import LocalPool, Slots, WindowDispatch
from monitors.scheduler.lease import DEFAULT_LEASE, Lease, new_holder_id
from monitors.specs.schemas import Monitor
from monitors.specs.service import list_monitors
from monitors.specs.windows import frequency_of, plan_window, trigger_of

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, slots=True)
class DaemonOptions:
    """Timing of the daemon; the defaults give a takeover within 18 s of a leader's death."""

    lease_ttl: float = 15.0
    renew_every: float = 3.0
    sync_every: float = 10.0
    # With an injected (accelerated) clock the daemon polls instead of using the cron triggers.
    tick: float | None = None
    misfire_grace_time: int = 60
    max_catchup: int = 1000
    # Webhook retries that are due are sent this often by the leader.
    deliver_every: float = 30.0
    # Monitor runs and inference partitions past their retention are deleted this often by the
    # leader.
    retention_every: float = 3600.0
    # Separate fleets (e.g. the demo's own daemon) elect their leader under their own lease.
    lease_name: str = DEFAULT_LEASE
    project: str | None = None
    # On stop, running jobs get this long to finish; a job still running after it is abandoned
    # (its window has no run yet, so the next leader runs it again).
    stop_grace: float = 20.0


@dataclass(frozen=True, kw_only=True, slots=True)
class LeaderJob:
    """Work the leader does every ``every`` seconds (packages above monitors pass these in)."""

    name: str
    every: float
    run: Callable[[], object]


class Daemon:
    """Leader-elected scheduler of monitor runs; ``start``/``stop`` or ``run_forever``."""

    def __init__(
        self,
        db: Database,
        *,
        env: RunEnvironment,
        clock: Clock | None = None,
        options: DaemonOptions | None = None,
        holder: str | None = None,
        on_run: Callable[[Monitor, RunReport], None] | None = None,
        retention: Callable[[], object] | None = None,
        jobs: Sequence[LeaderJob] = (),
        dispatch: WindowDispatch | None = None,
    ) -> None:
        self.db = db
        self.env = env
        self.clock = clock or SystemClock()
        self.options = options or DaemonOptions()
        self.holder = holder or new_holder_id()
        self.lease = Lease(
            db, holder=self.holder, ttl=self.options.lease_ttl, name=self.options.lease_name
        )
        self.on_run = on_run
        self.retention = retention
        self.jobs = tuple(jobs)
        self.dispatch: WindowDispatch = dispatch or LocalPool()
        self.slots = Slots(self.dispatch.concurrency, self._advance, name="monitor-run")
        self.leading = False
        self._standby = False  # logged once per spell on standby
        self._jobs: dict[UUID, str] = {}
        # Per monitor, a window end up to which every window is known to have run.
        self._watermark: dict[UUID, datetime] = {}
        self._stopped = threading.Event()
        # heartbeat and the sync job both reshape the job set, from different worker threads
        self._sync_lock = threading.Lock()
        self._scheduler: Any = None

    def start(self) -> None:
        """Start the scheduler: heartbeats at once, monitor jobs while leading."""
        from apscheduler.schedulers.background import BackgroundScheduler

        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            # fires only offer monitors to the slots: a few threads are plenty
            executors={"default": {"type": "threadpool", "max_workers": 4}},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": self.options.misfire_grace_time,
            },
        )
        self._scheduler.add_job(
            self.heartbeat,
            "interval",
            seconds=self.options.renew_every,
            id="heartbeat",
            next_run_time=datetime.now(UTC),
        )
        self._scheduler.add_job(self.sync, "interval", seconds=self.options.sync_every, id="sync")
        self._scheduler.add_job(
            self.deliver, "interval", seconds=self.options.deliver_every, id="deliver"
        )
        if self.retention is not None:
            self._scheduler.add_job(
                self.apply_retention,
                "interval",
                seconds=self.options.retention_every,
                id="retention",
            )
        for job in self.jobs:
            self._scheduler.add_job(
                self._leader_only(job), "interval", seconds=job.every, id=f"leader:{job.name}"
            )
        self.slots.start()
        self._scheduler.start()

    def _leader_only(self, job: LeaderJob) -> Callable[[], None]:
        def run() -> None:
            if not self.leading or self._stopped.is_set():
                return
            try:
                job.run()
            except Exception:  # the next round retries; the failure is logged
                log.exception("leader job %s failed", job.name)

        return run

    def stop(self, *, release: bool = True) -> bool:
        """Stop scheduling, wait up to ``stop_grace`` for running jobs, and hand the lease on.

        Returns False when jobs were still running after the grace period: they are left to
        their (non-daemon) threads, so the caller must end the process with ``os._exit``.
        """
        self._stopped.set()
        finished = True
        if self._scheduler is not None:
            deadline = time.monotonic() + self.options.stop_grace
            finished = _shutdown(self._scheduler, self.options.stop_grace)
            finished = self.slots.stop(max(deadline - time.monotonic(), 0.0)) and finished
            if not finished:
                log.warning(
                    "%s: jobs still running %.0f s after stop; abandoning them",
                    self.holder,
                    self.options.stop_grace,
                )
        if finished:
            _close(self.dispatch)
        if release and self.leading:
            self.lease.release()
            log.info("%s released the lease", self.holder)
        self.leading = False
        return finished

    def request_stop(self) -> None:
        """Ask ``run_forever`` to stop (safe in a signal handler)."""
        self._stopped.set()

    def run_forever(self) -> bool:
        """Start and block until ``request_stop``; then stop (see ``stop`` for the result)."""
        self.start()
        while not self._stopped.wait(0.5):
            pass
        return self.stop()

    def heartbeat(self) -> None:
        """Renew or take the lease; start or stop leading accordingly."""
        if self._stopped.is_set():
            return
        try:
            held = self.lease.acquire()
        except Exception:  # a database hiccup: lose leadership rather than risk running blind
            log.exception("lease renewal failed")
            held = False
        if held and not self.leading:
            self.leading, self._standby = True, False
            info = self.lease.current()
            if info is not None:
                self.lease.record_takeover(info)
            epoch = info.epoch if info else "?"
            log.info("%s is the leader (lease %s, epoch %s)", self.holder, self.lease.name, epoch)
            self.sync()
        elif not held and self.leading:
            log.warning("%s lost the lease %s; on standby", self.holder, self.lease.name)
            self.leading, self._standby = False, True
            with self._sync_lock:
                self._drop_jobs(set(self._jobs))
        elif not held and not self._standby:
            self._standby = True
            log.info("%s on standby (%s)", self.holder, self._leader_text())

    def _leader_text(self) -> str:
        try:
            info = self.lease.current()
        except Exception:  # only a log line depends on it
            return "leader unknown"
        return "no leader yet" if info is None else f"leader {info.holder}, epoch {info.epoch}"

    def deliver(self) -> None:
        """Send alert notifications whose retry is due (leader only)."""
        if self.leading:
            try:
                self.env.alerts.deliver(self.db, [])
            except Exception:  # the next round retries; the failure is logged
                log.exception("alert delivery failed")

    def apply_retention(self) -> None:
        """Delete runs and inference partitions past their retention (leader only; audited)."""
        if self.leading and self.retention is not None:
            try:
                self.retention()
            except Exception:  # the next round retries; the failure is logged
                log.exception("retention failed")

    def sync(self) -> None:
        """Match the monitor jobs to the enabled monitors (leader only)."""
        with self._sync_lock:
            self._sync()

    def _sync(self) -> None:
        if not self.leading or self._scheduler is None:
            return
        found = list_monitors(
            self.db, project=self.options.project, enabled_only=True, skip_refused=True
        )
        monitors = {m.id: m for m in found}
        self._drop_jobs({i for i in self._jobs if i not in monitors})
        for monitor in monitors.values():
            version = f"{monitor.id}:{monitor.revision}"
            if self._jobs.get(monitor.id) == version:
                continue
            self._drop_jobs({monitor.id})
            self._scheduler.add_job(
                self.slots.offer,
                self._trigger(monitor),
                args=[monitor],
                id=version,
                next_run_time=datetime.now(UTC),
            )
            self._jobs[monitor.id] = version

    def _trigger(self, monitor: Monitor) -> Any:
        if self.options.tick is not None:
            from apscheduler.triggers.interval import IntervalTrigger

            return IntervalTrigger(seconds=self.options.tick, timezone=UTC)
        return trigger_of(monitor.spec.schedule.model_copy(update={"end": None}))

    def _drop_jobs(self, ids: set[UUID]) -> None:
        for monitor_id in ids:
            version = self._jobs.pop(monitor_id, None)
            if version is not None and self._scheduler is not None:
                try:
                    self._scheduler.remove_job(version)
                except LookupError:
                    pass

    def run_due(self, monitor: Monitor) -> int:
        """Run every window of a monitor that has ended and not run yet, here and in order;
        returns how many ran (the scheduler instead offers monitors to the slots)."""
        # The daemon runs monitors as SYSTEM, through the decision every other caller goes through.
        authorize(SYSTEM, monitor.project, "monitor", "run", db=self.db, policy=None)
        ran = 0
        for end in self.due(monitor):
            if not self.leading or self._stopped.is_set():
                break
            ran += int(self._run(monitor, end).created)
        return ran

    def _advance(self, monitor: Monitor) -> bool:
        """A slot's turn: run the oldest due window of ``monitor``; True when more are due."""
        if not self.leading or self._stopped.is_set():
            return False
        authorize(SYSTEM, monitor.project, "monitor", "run", db=self.db, policy=None)
        ends = self.due(monitor)
        if not ends:
            return False
        self._run(monitor, ends[0])
        return len(ends) > 1

    def _run(self, monitor: Monitor, end: datetime) -> RunReport:
        """Compute one window through the dispatch and store it under its run key."""
        plan = plan_window(monitor.spec, end)
        computed = self.dispatch.compute(monitor, plan, self.env, cancelled=self._stopped.is_set)
        report = run_window(
            self.db, monitor=monitor, window_end=end, env=self.env, trigger=RunTrigger.schedule,
            clock=self.clock, holder=self.holder, computed=computed,
        )  # fmt: skip
        self._watermark[monitor.id] = end
        _log_run(monitor, report)
        if self.on_run is not None:
            self.on_run(monitor, report)
        return report

    def due(self, monitor: Monitor) -> list[datetime]:
        """Window ends of a monitor that are due: after its start (or creation), up to now."""
        now = self.clock.now()
        schedule = monitor.spec.schedule
        horizon = now - self.options.max_catchup * frequency_of(schedule)
        since = max(to_utc(schedule.start or monitor.created_at) - timedelta(seconds=1), horizon)
        since = max(since, self._watermark.get(monitor.id, since))
        keep = monitor_retention(self.db, monitor)
        if keep is not None:  # windows past retention were deleted on purpose: never rerun them
            since = max(since, to_utc(now) - keep)
        return pending_windows(self.db, monitor=monitor, since=since, until=now)


def _log_run(monitor: Monitor, report: RunReport) -> None:
    """One INFO line per run this daemon stored (DEBUG when another one had run the window)."""
    run = report.run
    log.log(
        logging.INFO if report.created else logging.DEBUG,
        "monitor %s/%s window %s..%s: %s in %.3f s%s",
        monitor.project,
        monitor.name,
        run.window_start.isoformat(),
        run.window_end.isoformat(),
        run.status,
        run.duration_seconds,
        "" if report.created else " (ran earlier)",
    )


def _close(dispatch: WindowDispatch) -> None:
    try:
        dispatch.close()
    except Exception:  # the process is stopping: a failed close only loses a log line
        log.exception("closing the %s dispatch failed", dispatch.name)


def _shutdown(scheduler: Any, grace: float) -> bool:
    """Shut the scheduler down, waiting at most ``grace`` seconds for running jobs."""
    # shutdown(wait=True) joins the worker threads with no timeout: run it aside and give up on
    # it after the grace period, so a hung job cannot keep the process from stopping.
    waiter = threading.Thread(
        target=scheduler.shutdown, kwargs={"wait": True}, name="scheduler-shutdown", daemon=True
    )
    waiter.start()
    waiter.join(grace)
    return not waiter.is_alive()
