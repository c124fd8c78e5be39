"""Entry point of ``steward daemon``: wire the database, clock, seams and signals, then run."""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from types import FrameType

from governance.audit.sealer import Sealer
from governance.core.clock import Clock, SystemClock
from governance.core.db import Database
from governance.core.settings import Settings
from monitors.capture.files import ParquetCaptureStore
from monitors.capture.service import apply_retention, capture_files, clean_leftovers
from monitors.runs.adapters import default_environment
from monitors.runs.retention import apply_run_retention
from monitors.runs.sources import ModelExplainerSource
from monitors.scheduler.clock import AcceleratedClock
from monitors.scheduler.daemon import Daemon, DaemonOptions, LeaderJob
from monitors.scheduler.dispatch import LocalPool, WindowDispatch

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, slots=True)
class Acceleration:
    """Run on simulated time: ``origin`` at ``wall_start`` (epoch seconds), ``speed`` times fast."""

    origin: datetime
    speed: float
    wall_start: float | None = None
    tick: float = 0.5


def build_daemon(
    db: Database,
    settings: Settings,
    *,
    options: DaemonOptions | None = None,
    accelerate: Acceleration | None = None,
    jobs: Callable[[Clock], Sequence[LeaderJob]] | None = None,
    explainers: ModelExplainerSource | None = None,
    dispatch: WindowDispatch | None = None,
) -> Daemon:
    """A daemon on the real seams (capture store, lineage, alerts) and the chosen clock.

    ``jobs`` are what packages above monitors run on the leader (retrain triggers, rollout
    watch); ``explainers`` explain deployed models for attribution drift; ``dispatch`` computes
    the due windows (default: ``settings.monitor_concurrency`` threads of the daemon).
    """
    clock: Clock = SystemClock()
    options = options or DaemonOptions()
    if accelerate is not None:
        clock = AcceleratedClock(
            accelerate.origin, speed=accelerate.speed, wall_start=accelerate.wall_start
        )
        options = replace(options, tick=accelerate.tick)
    env = default_environment(db, settings, clock=clock, explainers=explainers)
    files = capture_files(settings)
    clean_leftovers(db, settings)  # files that writers killed mid-way left
    return Daemon(
        db,
        env=env,
        clock=clock,
        options=options,
        retention=lambda: _apply_retention(db, files, clock),
        jobs=jobs(clock) if jobs is not None else (),
        dispatch=dispatch or LocalPool(concurrency=settings.monitor_concurrency),
    )


def _apply_retention(db: Database, files: ParquetCaptureStore, clock: Clock) -> None:
    """Delete runs, then inference partitions, past retention (a failure spares the other)."""
    jobs: dict[str, Callable[[], object]] = {
        "monitor runs": lambda: apply_run_retention(db, clock=clock),
        "inference data": lambda: apply_retention(db, files=files, clock=clock),
    }
    for what, job in jobs.items():
        try:
            job()
        except Exception:  # the next round retries; the failure is logged
            log.exception("retention of %s failed", what)


def configure_logging(*, verbose: bool = False) -> None:
    """Log INFO (DEBUG when ``verbose``) to stderr; APScheduler's own loggers WARNING and up."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # APScheduler logs every job it adds, runs and finishes at INFO: noise next to our lines.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def main(db: Database, settings: Settings, daemon: Daemon) -> None:
    """Run until SIGTERM or SIGINT; seal the audit log meanwhile; hand the lease on at exit.

    Exits the process itself (``os._exit``) once the audit log is sealed when a job is still
    stuck after the daemon's grace period: a hung job thread would otherwise block exit forever.
    """
    sealer = Sealer(db, interval=settings.checkpoint_interval_seconds)

    def _stop(signum: int, frame: FrameType | None) -> None:
        log.info("daemon %s: %s received, stopping", daemon.holder, signal.Signals(signum).name)
        daemon.request_stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    sealer.start()
    log.info("daemon %s started", daemon.holder)
    finished = False
    try:
        finished = daemon.run_forever()
    finally:
        sealer.stop()
    if not finished:
        log.warning("daemon %s stopped; abandoned jobs end with the process", daemon.holder)
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
