"""``steward daemon``: the leader-elected scheduler of monitor runs."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import typer

from governance.core.clock import Clock, SystemClock
from governance.core.db import Database
from steward.cli.context import console, database, settings
from steward.cli.server import warn_at_start

if TYPE_CHECKING:
    from governance.core.settings import Settings
    from monitors.scheduler.daemon import LeaderJob
    from monitors.scheduler.dispatch import WindowDispatch
    from retrain.pipelines.worker import PipelineWorker


def register(app: typer.Typer) -> None:
    """Add ``daemon`` to ``app``."""
    app.command("daemon")(daemon)


def daemon(
    lease_ttl: float = typer.Option(15.0, help="seconds a leader's lease lasts unrenewed"),
    renew_every: float = typer.Option(3.0, help="seconds between lease renewals"),
    speed: float = typer.Option(None, help="accelerate: simulated seconds per wall second"),
    clock_start: datetime = typer.Option(None, help="accelerate: simulated time at start"),
    wall_start: float = typer.Option(None, help="accelerate: wall epoch seconds of clock_start"),
    stop_grace: float = typer.Option(
        20.0, help="seconds running jobs get to finish on SIGTERM before they are abandoned"
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="log at DEBUG"),
) -> None:
    """Run monitors on schedule; several daemons may run, one leads (takeover < 30 s)."""
    from monitors.scheduler.daemon import DaemonOptions
    from monitors.scheduler.main import Acceleration, build_daemon, configure_logging, main
    from retrain.explain import model_source

    configure_logging(verbose=verbose)
    if renew_every * 2 > lease_ttl:
        raise typer.BadParameter("renew at least twice per lease (renew_every <= lease_ttl / 2)")
    accelerate = None
    if speed is not None:
        origin = clock_start or datetime.now().astimezone()
        accelerate = Acceleration(origin=origin, speed=speed, wall_start=wall_start)
    db = database()
    warn_at_start(db)
    options = DaemonOptions(
        lease_ttl=lease_ttl, renew_every=renew_every, stop_grace=max(stop_grace, 0.0)
    )
    worker = build_daemon(
        db, settings(), options=options, accelerate=accelerate,
        jobs=lambda clock: _leader_jobs(db, clock), explainers=model_source(db, settings()),
        dispatch=monitor_dispatch(settings()),
    )  # fmt: skip
    pipelines = _pipeline_worker(db)
    console.print(f"daemon {worker.holder}: waiting for the lease (Ctrl-C stops)")
    pipelines.start()
    try:
        main(db, settings(), worker)
    finally:
        pipelines.stop()  # the step running now ends; a killed daemon's run is found orphaned
    console.print("daemon stopped")


def _leader_jobs(db: Database, clock: Clock) -> list[LeaderJob]:
    """Beside monitors the leader evaluates triggers, watches rollouts, sweeps runs (orphaned,
    or ended without their release; evaluations whose server stopped generating) and stores the
    scheduled reports."""
    from governance.audit.keys import load_signer
    from governance.audit.runtime import log_is_empty
    from monitors.capture.compaction import compact_due
    from monitors.scheduler.daemon import LeaderJob
    from retrain.evaluation.service import evaluation_leader_job
    from retrain.loop import release_leader_job
    from retrain.pipelines.worker import pipeline_leader_job
    from retrain.rollout.watch import rollout_leader_job
    from retrain.triggers.service import trigger_leader_job
    from steward.reports.schedule import report_leader_job

    config = settings()
    signer = load_signer(config.key_path, origin=config.audit_origin, log_empty=log_is_empty(db))
    reports = report_leader_job(db, config, clock, signer)
    compaction = LeaderJob(
        name="capture-compaction", every=config.compaction_every_seconds,
        run=lambda: compact_due(db, config),
    )  # fmt: skip
    return [
        compaction,
        trigger_leader_job(db, config, clock),
        rollout_leader_job(db, config, clock),
        pipeline_leader_job(db),
        evaluation_leader_job(db),
        release_leader_job(db, config, SystemClock()),
        *([reports] if reports is not None else []),
    ]


def monitor_dispatch(settings: Settings) -> WindowDispatch:
    """Where the leader computes due windows: its own threads, or the Dask cluster's workers
    (``settings.dask_address``), ``settings.monitor_concurrency`` at a time."""
    from monitors.scheduler.dispatch import ExecutorDispatch, LocalPool

    bound = settings.monitor_concurrency
    if not settings.dask_address:
        return LocalPool(concurrency=bound)
    from distributed import Client

    # one client for every window; the workers stay warm (no process start per window)
    client = Client(settings.dask_address, set_as_default=False)  # type: ignore[no-untyped-call]
    executor = client.get_executor(pure=False)  # type: ignore[no-untyped-call]
    return ExecutorDispatch(
        executor=executor, concurrency=bound, name="dask",
        timeout=settings.pipeline_step_timeout_seconds, on_close=client.close,
    )  # fmt: skip


def _pipeline_worker(db: Database) -> PipelineWorker:
    """Every daemon, leader or not, executes queued pipeline runs and releases their models."""
    from retrain.evaluation.service import finished_callback
    from retrain.loop import release_callback
    from retrain.pipelines.worker import pipeline_worker
    from retrain.runners.select import runner_for

    config = settings()
    return pipeline_worker(
        db, settings=config, runner=runner_for(config),
        on_finished=[
            release_callback(db, settings=config, clock=SystemClock()), finished_callback(db)
        ],
    )  # fmt: skip
