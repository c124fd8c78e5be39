"""The demo from start to end: setup, training, replayed traffic, daemon, alerts, audit."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from governance.access import service as access
from governance.audit.schemas import VerifyResult
from governance.audit.service import seal, verify_audit
from governance.core.clock import ManualClock
from governance.core.db import Database
from governance.core.principal import Principal
from governance.core.secrets import SecretBox
from governance.core.settings import Settings
from monitors.alerts import service as alerts
from monitors.alerts.schemas import Alert
from monitors.alerts.webhook import WebhookSender
from monitors.runs.adapters import (
    AlertsSink,
    CaptureWindowReader,
    LineageReferenceLoader,
    LineageRunSink,
)
from monitors.runs.sources import RunEnvironment
from monitors.scheduler.daemon import Daemon, DaemonOptions
from steward.demo import setup
from steward.demo.data import Split, load_adult, split
from steward.demo.model import TrainedModel
from steward.demo.receiver import Received, WebhookReceiver
from steward.demo.replay import Day, Replay

FIRST_DAY = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday; fixed so that a rerun finds its work done


@dataclass(frozen=True, kw_only=True, slots=True)
class DemoOptions:
    """Size of the replay."""

    days: int = 7
    shift_from: int = 5
    rows_per_day: int = 2000


@dataclass(kw_only=True)
class DemoReport:
    """What the demo did, for the summary and for tests."""

    project: str = setup.PROJECT
    people: dict[str, str] = field(default_factory=dict)
    reference_rows: int = 0
    validation_rows: int = 0
    dataset_version: str = ""
    model_version: int = 0
    accuracy: float = 0.0
    trained: bool = False
    days: list[Day] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    webhooks: list[Received] = field(default_factory=list)
    audit: VerifyResult | None = None
    token: str = ""
    seconds: float = 0.0


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description:<34}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


@contextmanager
def _daemon(db: Database, settings: Settings, clock: ManualClock) -> Iterator[Daemon]:
    env = RunEnvironment(
        windows=CaptureWindowReader(db, settings),
        references=LineageReferenceLoader(db, settings),
        alerts=AlertsSink(settings, clock=clock, sender=WebhookSender(allowlist=setup.LOOPBACK)),
        lineage=LineageRunSink(clock),
    )
    options = DaemonOptions(
        lease_ttl=5,
        renew_every=0.5,
        sync_every=0.5,
        tick=0.05,
        deliver_every=1,
        lease_name="monitor-daemon-demo",
        project=setup.PROJECT,
    )
    daemon = Daemon(db, env=env, clock=clock, options=options)
    # The demo ticks every 50 ms on purpose; APScheduler's "skipped: maximum number of running
    # instances" warning for the ticks that land during a run is expected here, not news.
    scheduler_log = logging.getLogger("apscheduler")
    level = scheduler_log.level
    scheduler_log.setLevel(logging.ERROR)
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()
        scheduler_log.setLevel(level)


@dataclass(kw_only=True)
class _Run:
    """The state the demo's steps share."""

    db: Database
    settings: Settings
    options: DemoOptions
    clock: ManualClock
    progress: Progress
    report: DemoReport


def _prepare(run: _Run, operator: Principal) -> tuple[setup.Cast, Split, TrainedModel]:
    db, settings, clock, progress, report = (
        run.db,
        run.settings,
        run.clock,
        run.progress,
        run.report,
    )
    step = progress.add_task("project, people, reference data", total=3)
    cast = setup.ensure_people(db, operator=operator, clock=clock)
    progress.advance(step)
    data = split(load_adult())
    progress.advance(step)
    dataset = setup.register_reference(
        db, settings, data.reference, actor=cast["data-scientist"], clock=clock
    )
    report.reference_rows, report.dataset_version = data.reference.num_rows, dataset.version
    progress.advance(step)
    step = progress.add_task("train torch MLP, register, deploy", total=2)
    version, model, report.trained = setup.ensure_model(
        db, settings, data.reference, dataset, actor=cast["data-scientist"], clock=clock
    )
    report.model_version, report.accuracy = version.version, model.accuracy
    setup.register_validation(
        db, settings, data.validation, model, actor=cast["data-scientist"], clock=clock
    )
    report.validation_rows = data.validation.num_rows
    progress.advance(step)
    setup.ensure_endpoint(db, version, actor=cast["ml-engineer"], clock=clock)
    progress.advance(step)
    return cast, data, model


def _replay(run: _Run, cast: setup.Cast, data: Split, model: TrainedModel) -> None:
    db, clock, options = run.db, run.clock, run.options
    secret = secrets.token_urlsafe(24)
    box = SecretBox.from_settings(run.settings)
    with WebhookReceiver(secret) as receiver:
        engineer = cast["ml-engineer"]
        setup.ensure_channel(
            db, url=receiver.url, secret=secret, secrets=box, actor=engineer, clock=clock
        )
        spec = setup.monitor_spec(FIRST_DAY, options.days)
        setup.ensure_monitor(db, spec, actor=engineer, clock=clock)
        replay = Replay(
            db=db,
            settings=run.settings,
            clock=clock,
            model=model,
            pool=data.pool,
            app=cast["app-developer"],
            first_day=FIRST_DAY,
            rows_per_day=options.rows_per_day,
            shift_from=options.shift_from,
        )
        task = run.progress.add_task(f"replay {options.days} days, daemon runs", total=options.days)
        with _daemon(db, run.settings, clock):
            for number in range(1, options.days + 1):
                stored, shifted = replay.ingest_day(number)
                result = replay.close_day(number, monitor=setup.MONITOR)
                run.report.days.append(
                    Day(
                        number=number,
                        start=FIRST_DAY + timedelta(days=number - 1),
                        rows=options.rows_per_day,
                        shifted=shifted,
                        stored=stored,
                        run=result,
                    )
                )
                run.progress.advance(task)
        run.report.webhooks = list(receiver.received)
        setup.disable_channel(db, secrets=box, actor=engineer, clock=clock)


def run_demo(
    db: Database,
    settings: Settings,
    *,
    operator: Principal,
    console: Console,
    options: DemoOptions | None = None,
) -> DemoReport:
    """Run the whole demo against ``db`` (at schema head) and return what happened."""
    started = time.perf_counter()
    report = DemoReport(people={n: r for n, (r, _) in setup.PEOPLE.items()})
    with _progress(console) as progress:
        run = _Run(
            db=db,
            settings=settings,
            options=options or DemoOptions(),
            progress=progress,
            clock=ManualClock(FIRST_DAY - timedelta(days=1)),
            report=report,
        )
        cast, data, model = _prepare(run, operator)
        _replay(run, cast, data, model)
        step = progress.add_task("seal and verify the audit chain", total=1)
        report.alerts = alerts.list_alerts(db, project=setup.PROJECT, monitor=setup.MONITOR)
        seal(db)  # a signed checkpoint over everything the demo did
        report.audit = verify_audit(db)
        progress.advance(step)
    report.token = access.issue_token(
        db, principal="alice", name="demo", expires_in_days=30, actor=operator
    ).token
    report.seconds = time.perf_counter() - started
    return report
