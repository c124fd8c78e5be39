"""``steward monitor``: list, apply YAML, run a window, backfill, show results.

Local by default (the operator acts with database access); with a server configured the
commands call its API as the token's principal.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from governance.core.db import Database
from monitors.runs.schemas import Backfill, BackfillStatus, MonitorRun, RerunScope, RunReport
from monitors.runs.sources import RunEnvironment
from monitors.specs.schemas import Monitor
from steward.cli import monitor_view as view
from steward.cli.client import is_remote, remote
from steward.cli.context import authorized, database, operator, settings
from steward.cli.output import console, emit, err, machine

if TYPE_CHECKING:
    from monitors.runs.dryrun import SpecCheck
    from monitors.runs.schemas import ResultPage
    from monitors.specs.schemas import MonitorSpec

monitor_app = typer.Typer(name="monitor", help="Scheduled monitors.", no_args_is_help=True)
Project = typer.Option("default", "--project", "-p")
_ENDED = (BackfillStatus.succeeded, BackfillStatus.failed, BackfillStatus.cancelled)


def register(app: typer.Typer) -> None:
    """Add the ``monitor`` command group to ``app``."""
    app.add_typer(monitor_app)


def _env(db: Database) -> RunEnvironment:
    from steward.environment import run_environment

    return run_environment(db, settings())


def _path(project: str, name: str | None = None) -> str:
    path = f"/projects/{quote(project, safe='')}/monitors"
    return path if name is None else f"{path}/{quote(name, safe='')}"


def _local(project: str, act: str) -> Database:
    """The local database, the operator allowed ``(monitor, act)`` in an existing project."""
    from governance.access.service import get_project

    db = database()
    authorized(db, project=project, obj="monitor", act=act)
    get_project(db, name=project)  # an unknown project is "not found", not an empty list
    return db


def _monitors(project: str) -> list[tuple[Monitor, MonitorRun | None]]:
    if is_remote():
        found = [Monitor.model_validate(m) for m in remote("GET", _path(project))]
        lasts = [
            remote("GET", f"{_path(project, m.name)}/runs", params={"limit": 1}) for m in found
        ]
        return [
            (m, MonitorRun.model_validate(r[0]) if r else None)
            for m, r in zip(found, lasts, strict=True)
        ]
    from monitors.runs.service import list_runs
    from monitors.specs.service import list_monitors

    db = _local(project, "read")
    pairs = []
    for m in list_monitors(db, project=project):
        last = list_runs(db, project=project, name=m.name, limit=1)
        pairs.append((m, last[0] if last else None))
    return pairs


@monitor_app.command("list")
def monitor_list(project: str = Project) -> None:
    """List the monitors of a project with their schedule and newest run."""
    found = _monitors(project)
    data = [m.model_dump(mode="json") | {"last_run": last} for m, last in found]
    emit(data, lambda: view.monitors_table(found))


@monitor_app.command("apply")
def monitor_apply(
    file: Path = typer.Option(..., "--file", "-f", exists=True, dir_okay=False, readable=True),
    project: str = Project,
    dry_run: bool = typer.Option(
        False, "--dry-run", help="compute the monitors on one window instead; store nothing"
    ),
    window_end: datetime = typer.Option(None, help="with --dry-run: the window (default: newest)"),
) -> None:
    """Create or update the monitors of a YAML file (all or none)."""
    if dry_run:
        checks = _dry_run(project, file, window_end)
        emit(checks, lambda: view.dry_run_view(project, checks))
        return
    if is_remote():
        found = remote("POST", f"{_path(project)}/apply", content=file.read_bytes(),
                       content_type="application/yaml")  # fmt: skip
        monitors = [Monitor.model_validate(m) for m in found]
        lines = [f"applied   {project}/{m.name} (rev {m.revision})" for m in monitors]
    else:
        from monitors.specs.document import load_file
        from monitors.specs.service import apply_monitors

        db = database()
        actor = authorized(db, project=project, obj="monitor", act="write")
        applied = apply_monitors(db, project=project, specs=load_file(file), actor=actor)
        monitors = [item.monitor for item in applied]
        lines = [f"{a.action:9} {project}/{a.monitor.name} (rev {a.monitor.revision})"
                 for a in applied]  # fmt: skip
    emit(monitors, lambda: "\n".join(lines))


def _dry_run(project: str, file: Path, window_end: datetime | None) -> list[SpecCheck]:
    from monitors.runs.dryrun import SpecCheck, validate_specs

    if is_remote():
        found = remote(
            "POST", f"{_path(project)}/validate", content=file.read_bytes(),
            content_type="application/yaml", params={"window_end": window_end},
        )  # fmt: skip
        return [SpecCheck.model_validate(c) for c in found]
    from monitors.specs.document import load_file

    db = database()
    authorized(db, project=project, obj="monitor", act="write")
    specs: list[MonitorSpec] = load_file(file)
    return list(
        validate_specs(db, project=project, specs=specs, env=_env(db), window_end=window_end)
    )


@monitor_app.command("run")
def monitor_run(
    name: str,
    project: str = Project,
    window_end: datetime = typer.Option(None, help="window end (default: newest ended window)"),
    rerun: bool = typer.Option(False, "--rerun", help="run again a window that already ran"),
) -> None:
    """Run one window of a monitor now (a window that already ran is shown unless --rerun)."""
    if is_remote():
        body = {"window_end": window_end.isoformat() if window_end else None, "rerun": rerun}
        report = RunReport.model_validate(remote("POST", f"{_path(project, name)}/run", body))
    else:
        from monitors.runs.service import run_now

        db = database()
        actor = authorized(db, project=project, obj="monitor", act="run")
        report = run_now(db, project=project, name=name, env=_env(db), window_end=window_end,
                         actor=actor, rerun=rerun)  # fmt: skip
    emit(report, lambda: view.ran(name, report))


@monitor_app.command("backfill")
def monitor_backfill(
    name: str,
    since: datetime = typer.Option(..., help="run windows ending after this"),
    until: datetime = typer.Option(None, help="and at or before this (default: now)"),
    project: str = Project,
    rerun: RerunScope | None = typer.Option(
        None, "--rerun", help="also run again windows whose latest run ended this way"
    ),
    wait: bool = typer.Option(True, help="with a server: follow the backfill until it ends"),
) -> None:
    """Run every past window of a monitor that has not run yet, oldest first.

    Locally it runs here and now, recorded like one the server runs (``GET .../backfills``); if
    this command dies, a server's worker resumes it once its heartbeat is stale. With a server,
    the server's worker runs it and the command follows it (``--no-wait``: only queue it).
    """
    if is_remote():
        body = {"since": since.isoformat(), "until": until.isoformat() if until else None,
                "rerun": str(rerun) if rerun else None}  # fmt: skip
        job = Backfill.model_validate(remote("POST", f"{_path(project, name)}/backfill", body))
        if wait:
            job = _follow(job)
    else:
        job = _backfill_here(name, since, until, project, rerun)
    emit(job, lambda: view.backfilled(name, job, rerun))
    if (wait or not is_remote()) and job.status is not BackfillStatus.succeeded:
        raise typer.Exit(1)


def _backfill_here(
    name: str, since: datetime, until: datetime | None, project: str, rerun: RerunScope | None
) -> Backfill:
    from monitors.runs.backfills import new_worker_id, request_backfill

    db = database()
    actor = authorized(db, project=project, obj="monitor", act="run")
    worker = new_worker_id("cli")
    job = request_backfill(db, project=project, name=name, since=since, until=until,
                           rerun=rerun, actor=actor, worker=worker)  # fmt: skip
    return _run_backfill(db, job, worker)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("windows, {task.fields[breached]} breached"), TimeElapsedColumn(),
        console=err if machine() else console, disable=machine(),
    )  # fmt: skip


def _follow(job: Backfill) -> Backfill:
    """Poll a server's backfill until it ends, behind a progress bar."""
    path = f"{_path(job.project, job.monitor)}/backfills/{job.id}"
    with _progress() as progress:
        task = progress.add_task(f"backfill {job.monitor}", total=job.windows_total, breached=0)
        while job.status not in _ENDED:
            time.sleep(0.5)
            job = Backfill.model_validate(remote("GET", path))
            progress.update(task, completed=job.windows_done, total=job.windows_total,
                            breached=job.counts.breached)  # fmt: skip
    return job


def _run_backfill(db: Database, job: Backfill, worker: str) -> Backfill:
    """Run a claimed backfill in this process behind a progress bar (Ctrl-C cancels it)."""
    from monitors.runs.backfills import cancel_backfill, execute_backfill

    with _progress() as progress:
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
    project: str = Project,
    since: datetime = typer.Option(None, help="windows ending at or after this"),
    limit: int = typer.Option(100, min=1, max=1000),
) -> None:
    """List a monitor's runs, newest window first, superseded runs with their rerun."""
    if is_remote():
        params = {"since": since, "limit": limit}
        found = [MonitorRun.model_validate(r)
                 for r in remote("GET", f"{_path(project, name)}/runs", params=params)]  # fmt: skip
    else:
        from monitors.runs.service import list_runs

        db = _local(project, "read")
        found = list_runs(db, project=project, name=name, since=since, limit=limit)
    emit(found, lambda: view.runs_table(found))


@monitor_app.command("results")
def monitor_results(
    name: str,
    project: str = Project,
    since: datetime = typer.Option(None, help="windows ending at or after this"),
    signal: str = typer.Option(None, help="only this signal"),
    features: bool = typer.Option(False, help="include per-feature values"),
) -> None:
    """Show a monitor's results time series."""
    page = _results(project, name, since, signal)
    emit(page, lambda: view.results_table(page, features=features))


def _results(project: str, name: str, since: datetime | None, signal: str | None) -> ResultPage:
    from monitors.runs.schemas import ResultPage

    if is_remote():
        params = {"since": since, "signal": signal}
        return ResultPage.model_validate(
            remote("GET", f"{_path(project, name)}/results", params=params)
        )
    from monitors.runs.service import list_results

    db = _local(project, "read")
    return list_results(db, project=project, name=name, since=since, signal=signal)


def _specs(project: str) -> list[MonitorSpec]:
    if is_remote():
        return [Monitor.model_validate(m).spec for m in remote("GET", _path(project))]
    from monitors.specs.service import list_monitors

    return [m.spec for m in list_monitors(_local(project, "read"), project=project)]


@monitor_app.command("export")
def monitor_export(
    project: str = Project,
    full: bool = typer.Option(False, help="include every default"),
) -> None:
    """Print a project's monitors as YAML (``apply -f`` reads it back)."""
    from monitors.specs.document import dump_specs, spec_to_dict

    specs = _specs(project)
    if machine():
        emit([spec_to_dict(s, full=full) for s in specs], lambda: None)
        return
    print(dump_specs(specs, full=full), end="")


@monitor_app.command("set")
def monitor_set(
    name: str,
    project: str = Project,
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
    from steward.cli.project import DEFAULT

    rule = {"breaches": breaches, "of": of, "cooldown": cooldown}
    asked = {k: None if v == DEFAULT else v for k, v in rule.items() if v is not None}
    if not asked and retention is None:
        from governance.core.errors import InvalidInput

        raise InvalidInput("nothing to change: give --cooldown, --retention, --breaches or --of")
    monitor = _update(project, name, asked, retention)
    emit(monitor, lambda: view.set_line(project, name, monitor))


def _update(project: str, name: str, asked: dict[str, Any], retention: str | None) -> Monitor:
    from monitors.alerts.schemas import AlertRule
    from monitors.specs.schemas import MonitorUpdate
    from steward.cli.project import DEFAULT, validate_options

    if is_remote():
        spec = Monitor.model_validate(remote("GET", _path(project, name))).spec
    else:
        from monitors.specs.service import get_monitor

        db = database()
        actor = authorized(db, project=project, obj="monitor", act="write")
        spec = get_monitor(db, project=project, name=name).spec
    alert = validate_options(AlertRule, spec.alert.model_dump() | asked)
    changes: dict[str, object] = {"alert": alert}
    if retention is not None:  # left out: kept; 'default': null, which resets it
        changes["retention"] = None if retention == DEFAULT else retention
    data = validate_options(MonitorUpdate, changes)
    if is_remote():
        body = data.model_dump(mode="json", include=data.model_fields_set)
        return Monitor.model_validate(remote("PATCH", _path(project, name), body))
    from monitors.specs.service import update_monitor

    return update_monitor(db, project=project, name=name, data=data, actor=actor)
