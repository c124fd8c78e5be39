"""``steward monitor``: list, apply YAML, run a window, backfill, show results."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from governance.core.db import Database
from monitors.runs.schemas import Backfill, BackfillStatus, RerunScope
from monitors.runs.sources import RunEnvironment
from steward.cli.context import authorized, console, database, operator, settings

if TYPE_CHECKING:
    from monitors.specs.schemas import MonitorSpec

monitor_app = typer.Typer(name="monitor", help="Scheduled monitors.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the ``monitor`` command group to ``app``."""
    app.add_typer(monitor_app)


def _env(db: Database) -> RunEnvironment:
    from steward.environment import run_environment

    return run_environment(db, settings())


@monitor_app.command("list")
def monitor_list(project: str = typer.Option("default", "--project", "-p")) -> None:
    """List the monitors of a project with their schedule and newest run."""
    from monitors.runs.service import list_runs
    from monitors.specs.service import list_monitors

    db = database()
    authorized(db, project=project, obj="monitor", act="read")
    table = Table("monitor", "target", "schedule", "signals", "enabled", "last window", "status")
    for m in list_monitors(db, project=project):
        last = list_runs(db, project=project, name=m.name, limit=1)
        s = m.spec.schedule
        when = s.cron or (str(s.interval) if s.interval else "P1D")
        table.add_row(
            m.name,
            f"{m.spec.target.kind}:{m.spec.target.name}",
            f"{when} {s.timezone}",
            ",".join(sig.key for sig in m.spec.signals),
            str(m.spec.enabled),
            str(last[0].window_end) if last else "-",
            str(last[0].status) if last else "-",
        )
    console.print(table)


@monitor_app.command("apply")
def monitor_apply(
    file: Path = typer.Option(..., "--file", "-f", exists=True, dir_okay=False, readable=True),
    project: str = typer.Option("default", "--project", "-p"),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="compute the monitors on one window instead; store nothing"
    ),
    window_end: datetime = typer.Option(None, help="with --dry-run: the window (default: newest)"),
) -> None:
    """Create or update the monitors of a YAML file (all or none)."""
    from monitors.specs.document import load_file
    from monitors.specs.service import apply_monitors

    db = database()
    actor = authorized(db, project=project, obj="monitor", act="write")
    specs = load_file(file)
    if dry_run:
        _dry_run(db, project, specs, window_end)
        return
    applied = apply_monitors(db, project=project, specs=specs, actor=actor)
    for item in applied:
        console.print(
            f"{item.action:9} {project}/{item.monitor.name} (rev {item.monitor.revision})"
        )


def _dry_run(
    db: Database, project: str, specs: list[MonitorSpec], window_end: datetime | None
) -> None:
    """Print what each spec would compute, one table per monitor."""
    from monitors.runs.dryrun import validate_specs

    for check in validate_specs(
        db, project=project, specs=specs, env=_env(db), window_end=window_end
    ):
        console.print(
            f"dry run {project}/{check.monitor} window {check.window_start} .. "
            f"{check.window_end}: {check.status}, {check.rows} rows, "
            f"reference {check.reference or '-'} ({check.reference_rows} rows), "
            f"breached={check.breached}"
        )
        if check.error:
            console.print(f"error: {check.error}")
        table = Table("signal", "kind", "status", "columns", "feature", "metric", "value",
                      "threshold", "breached")  # fmt: skip
        for sig in check.signals:
            head = (sig.key, sig.kind, sig.status, ",".join(sig.columns))
            if sig.error:
                table.add_row(*head, "", f"error: {sig.error}", "", "", "")
            for v in sig.values:
                value = "-" if v.value is None else f"{v.value:.4f}"
                limit = "-" if v.threshold is None else f"{v.threshold:g}"
                table.add_row(*head, v.feature, v.metric, value, limit, "yes" if v.breached else "")
        console.print(table)


@monitor_app.command("run")
def monitor_run(
    name: str,
    project: str = typer.Option("default", "--project", "-p"),
    window_end: datetime = typer.Option(None, help="window end (default: newest ended window)"),
    rerun: bool = typer.Option(False, "--rerun", help="run again a window that already ran"),
) -> None:
    """Run one window of a monitor now (a window that already ran is shown unless --rerun)."""
    from monitors.runs.service import run_now

    db = database()
    actor = authorized(db, project=project, obj="monitor", act="run")
    report = run_now(
        db, project=project, name=name, env=_env(db), window_end=window_end, actor=actor,
        rerun=rerun,
    )  # fmt: skip
    run = report.run
    verb = "reran" if report.superseded else "ran" if report.created else "already ran"
    console.print(
        f"{verb} {name} window {run.window_start} .. {run.window_end}: {run.status}, "
        f"{run.row_count} rows, breached={run.breached}, alerts={len(report.alerts)}"
    )
    if report.superseded:
        console.print(f"run {run.id} supersedes run {report.superseded}")
    if run.error:
        console.print(f"error: {run.error}")


@monitor_app.command("backfill")
def monitor_backfill(
    name: str,
    since: datetime = typer.Option(..., help="run windows ending after this"),
    until: datetime = typer.Option(None, help="and at or before this (default: now)"),
    project: str = typer.Option("default", "--project", "-p"),
    rerun: RerunScope | None = typer.Option(
        None, "--rerun", help="also run again windows whose latest run ended this way"
    ),
) -> None:
    """Run every past window of a monitor that has not run yet, oldest first, here and now.

    The backfill is recorded like one the server runs (``GET .../backfills``); if this command
    dies, a server's worker resumes it once its heartbeat is stale.
    """
    from monitors.runs.backfills import new_worker_id, request_backfill

    db = database()
    actor = authorized(db, project=project, obj="monitor", act="run")
    worker = new_worker_id("cli")
    job = request_backfill(
        db, project=project, name=name, since=since, until=until, rerun=rerun, actor=actor,
        worker=worker,
    )  # fmt: skip
    job = _run_backfill(db, job, worker)
    counts = job.counts
    again = f" ({counts.rerun} rerun)" if rerun else ""
    console.print(
        f"{name}: {counts.created} windows run{again}, {counts.existing} already done, "
        f"{counts.breached} breached, {counts.failed} failed: backfill {job.id} {job.status}"
    )
    if job.error:
        console.print(f"error: {job.error}")
    if job.status is not BackfillStatus.succeeded:
        raise typer.Exit(1)


def _run_backfill(db: Database, job: Backfill, worker: str) -> Backfill:
    """Run a claimed backfill in this process behind a progress bar (Ctrl-C cancels it)."""
    from monitors.runs.backfills import cancel_backfill, execute_backfill

    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("windows, {task.fields[breached]} breached"), TimeElapsedColumn(),
        console=console,
    )  # fmt: skip
    with progress:
        task = progress.add_task(f"backfill {job.monitor}", total=job.windows_total, breached=0)

        def show(now: Backfill) -> None:
            progress.update(
                task, completed=now.windows_done, total=now.windows_total,
                breached=now.counts.breached,
            )  # fmt: skip

        try:
            return execute_backfill(db, job=job, worker=worker, env=_env(db), on_progress=show)
        except KeyboardInterrupt:
            cancel_backfill(
                db, project=job.project, name=job.monitor, backfill_id=job.id, actor=operator()
            )
            raise


@monitor_app.command("runs")
def monitor_runs(
    name: str,
    project: str = typer.Option("default", "--project", "-p"),
    since: datetime = typer.Option(None, help="windows ending at or after this"),
    limit: int = typer.Option(100, min=1, max=1000),
) -> None:
    """List a monitor's runs, newest window first, superseded runs with their rerun."""
    from monitors.runs.service import list_runs

    db = database()
    authorized(db, project=project, obj="monitor", act="read")
    table = Table(
        "window end", "attempt", "status", "trigger", "rows", "breached", "run", "superseded by"
    )
    for run in list_runs(db, project=project, name=name, since=since, limit=limit):
        table.add_row(
            str(run.window_end),
            str(run.attempt),
            str(run.status),
            str(run.trigger),
            str(run.row_count),
            "yes" if run.breached else "",
            str(run.id),
            str(run.superseded_by or ""),
        )
    console.print(table)


@monitor_app.command("results")
def monitor_results(
    name: str,
    project: str = typer.Option("default", "--project", "-p"),
    since: datetime = typer.Option(None, help="windows ending at or after this"),
    signal: str = typer.Option(None, help="only this signal"),
    features: bool = typer.Option(False, help="include per-feature values"),
) -> None:
    """Show a monitor's results time series."""
    from monitors.runs.service import list_results

    db = database()
    authorized(db, project=project, obj="monitor", act="read")
    page = list_results(db, project=project, name=name, since=since, signal=signal)
    table = Table("window end", "signal", "metric", "feature", "value", "threshold", "breached")
    for p in page.items:
        if p.feature and not features:
            continue
        value = "-" if p.value is None else f"{p.value:.4f}"
        limit = "-" if p.threshold is None else f"{p.threshold:g}"
        table.add_row(
            str(p.window_end),
            p.signal,
            p.metric,
            p.feature,
            value,
            limit,
            "yes" if p.breached else "",
        )
    console.print(table)


@monitor_app.command("export")
def monitor_export(
    project: str = typer.Option("default", "--project", "-p"),
    full: bool = typer.Option(False, help="include every default"),
) -> None:
    """Print a project's monitors as YAML (``apply -f`` reads it back)."""
    from monitors.specs.document import dump_specs
    from monitors.specs.service import list_monitors

    db = database()
    authorized(db, project=project, obj="monitor", act="read")
    print(dump_specs([m.spec for m in list_monitors(db, project=project)], full=full), end="")


@monitor_app.command("set")
def monitor_set(
    name: str,
    project: str = typer.Option("default", "--project", "-p"),
    cooldown: str = typer.Option(
        None, help="ISO-8601 duration between repeated notifications ('default': the project's)"
    ),
    retention: str = typer.Option(
        None, help="ISO-8601 duration runs are kept, e.g. P90D ('default': the project's)"
    ),
    breaches: int = typer.Option(None, help="alert when this many of the latest --of windows"),
    of: int = typer.Option(None, "--of", help="windows the alert rule looks at"),
) -> None:
    """Change a monitor's alert rule or retention (the fields left out keep their value)."""
    from governance.core.errors import InvalidInput
    from monitors.alerts.schemas import AlertRule
    from monitors.specs.schemas import MonitorUpdate
    from monitors.specs.service import get_monitor, update_monitor
    from steward.cli.project import DEFAULT, duration_text, validate_options

    db = database()
    actor = authorized(db, project=project, obj="monitor", act="write")
    spec = get_monitor(db, project=project, name=name).spec
    rule = {"breaches": breaches, "of": of, "cooldown": cooldown}
    asked = {k: None if v == DEFAULT else v for k, v in rule.items() if v is not None}
    if not asked and retention is None:
        raise InvalidInput("nothing to change: give --cooldown, --retention, --breaches or --of")
    alert = validate_options(AlertRule, spec.alert.model_dump() | asked)
    changes: dict[str, object] = {"alert": alert}
    if retention is not None:  # left out: kept; 'default': null, which resets it
        changes["retention"] = None if retention == DEFAULT else retention
    data = validate_options(MonitorUpdate, changes)
    monitor = update_monitor(db, project=project, name=name, data=data, actor=actor)
    now = monitor.spec
    console.print(
        f"{project}/{name} (rev {monitor.revision}): alert {now.alert.breaches} of "
        f"{now.alert.of}, cooldown {duration_text(now.alert.cooldown, 'project default')}, "
        f"retention {duration_text(now.retention, 'project default')}"
    )
