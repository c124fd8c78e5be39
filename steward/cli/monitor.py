"""``steward monitor``: list, apply YAML, run a window, backfill, show results."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer
from rich.table import Table

from governance.core.db import Database
from monitors.runs.sources import RunEnvironment
from steward.cli.context import authorized, console, database, settings

monitor_app = typer.Typer(name="monitor", help="Scheduled monitors.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the ``monitor`` command group to ``app``."""
    app.add_typer(monitor_app)


def _env(db: Database) -> RunEnvironment:
    from monitors.runs.adapters import default_environment

    return default_environment(db, settings())


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
) -> None:
    """Create or update the monitors of a YAML file (all or none)."""
    from monitors.specs.document import load_file
    from monitors.specs.service import apply_monitors

    db = database()
    actor = authorized(db, project=project, obj="monitor", act="write")
    applied = apply_monitors(db, project=project, specs=load_file(file), actor=actor)
    for item in applied:
        console.print(
            f"{item.action:9} {project}/{item.monitor.name} (rev {item.monitor.revision})"
        )


@monitor_app.command("run")
def monitor_run(
    name: str,
    project: str = typer.Option("default", "--project", "-p"),
    window_end: datetime = typer.Option(None, help="window end (default: newest ended window)"),
) -> None:
    """Run one window of a monitor now (a window that already ran is shown, not rerun)."""
    from monitors.runs.service import run_now

    db = database()
    actor = authorized(db, project=project, obj="monitor", act="run")
    report = run_now(
        db, project=project, name=name, env=_env(db), window_end=window_end, actor=actor
    )
    run = report.run
    verb = "ran" if report.created else "already ran"
    console.print(
        f"{verb} {name} window {run.window_start} .. {run.window_end}: {run.status}, "
        f"{run.row_count} rows, breached={run.breached}, alerts={len(report.alerts)}"
    )


@monitor_app.command("backfill")
def monitor_backfill(
    name: str,
    since: datetime = typer.Option(..., help="run windows ending after this"),
    until: datetime = typer.Option(None, help="and at or before this (default: now)"),
    project: str = typer.Option("default", "--project", "-p"),
) -> None:
    """Run every past window of a monitor that has not run yet, oldest first."""
    from monitors.runs.service import backfill

    db = database()
    actor = authorized(db, project=project, obj="monitor", act="run")
    report = backfill(
        db, project=project, name=name, since=since, until=until, env=_env(db), actor=actor
    )
    breached = sum(1 for r in report.runs if r.run.breached)
    console.print(
        f"{name}: {report.created} windows run, {report.existing} already done, {breached} breached"
    )


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
