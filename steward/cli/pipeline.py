"""``steward pipeline``: apply specs, launch and follow runs, read logs, cancel."""

from __future__ import annotations

import json
import runpy
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from steward.cli.context import authorized, console, database, read_database, settings

if TYPE_CHECKING:
    from retrain.pipelines.spec import PipelineSpec

pipeline_app = typer.Typer(name="pipeline", help="Retraining pipelines.", no_args_is_help=True)
Project = typer.Option("default", "--project", "-p")


def register(app: typer.Typer) -> None:
    """Add the ``pipeline`` command group to ``app``."""
    app.add_typer(pipeline_app)


def _load(file: Path) -> PipelineSpec:
    """A spec from YAML/JSON, or from a Python file defining ``pipeline = PipelineSpec(...)``."""
    from retrain.pipelines.spec import PipelineSpec, parse_spec

    if file.suffix == ".py":
        found = runpy.run_path(str(file)).get("pipeline")  # the operator's own file
        if not isinstance(found, PipelineSpec):
            raise typer.BadParameter("a Python spec defines `pipeline = PipelineSpec(...)`")
        return found
    return parse_spec(file.read_bytes())


@pipeline_app.command("apply")
def pipeline_apply(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    project: str = Project,
) -> None:
    """Apply a pipeline spec: a new version when it changed."""
    from retrain.pipelines.service import apply_pipeline

    db = database()
    actor = authorized(db, project=project, obj="job", act="write")
    applied = apply_pipeline(db, settings=settings(), project=project, spec=_load(file),
                             actor=actor)  # fmt: skip
    what = "created" if applied.created else "unchanged"
    console.print(f"pipeline {applied.pipeline.name} version {applied.pipeline.version} {what}")


def _inputs(pairs: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise typer.BadParameter(f"--input {pair!r} is not key=value")
        try:
            values[key] = json.loads(raw)
        except ValueError:
            values[key] = raw  # a bare word: a dataset name or a string
    return values


@pipeline_app.command("run")
def pipeline_run(
    name: str,
    project: str = Project,
    version: int = typer.Option(None, help="the pipeline version (default: newest)"),
    inputs: list[str] = typer.Option([], "--input", "-i", help="key=value (JSON or a name)"),
    wait: bool = typer.Option(False, help="follow the run until it ends (a worker executes it)"),
) -> None:
    """Launch a run."""
    from retrain.pipelines.service import launch_run

    db = database()
    actor = authorized(db, project=project, obj="job", act="write")
    launch = launch_run(db, settings=settings(), project=project, pipeline=name,
                        version=version, inputs=_inputs(inputs), actor=actor)  # fmt: skip
    console.print(f"run {launch.run.id} {launch.run.state}")
    if wait:
        _follow(project, launch.run.id)


def _follow(project: str, run_id: uuid.UUID) -> None:
    from retrain.pipelines.service import get_run

    db = read_database()
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("queued", total=None)
        while True:
            run = get_run(db, project=project, run_id=run_id)
            current = next((s.name for s in run.steps if s.state == "running"), "")
            progress.update(task, description=f"{run.state} {current}".strip())
            if run.state.ended:
                break
            time.sleep(1.0)
    console.print(f"run {run.id} {run.state}" + (f": {run.error}" if run.error else ""))
    if run.state != "succeeded":
        raise typer.Exit(1)


@pipeline_app.command("list")
def pipeline_list(project: str = Project) -> None:
    """List the pipelines of a project (newest versions)."""
    from retrain.pipelines.service import list_pipelines

    db = read_database()
    authorized(db, project=project, obj="job", act="read")
    table = Table("pipeline", "version", "steps", "applied", "by")
    for p in list_pipelines(db, project=project):
        steps = " -> ".join(s.name for s in p.spec.steps)
        table.add_row(p.name, str(p.version), steps, str(p.created_at), p.created_by)
    console.print(table)


@pipeline_app.command("runs")
def pipeline_runs(
    project: str = Project,
    pipeline: str = typer.Option(None, help="only this pipeline's runs"),
    limit: int = typer.Option(20, min=1, max=200),
) -> None:
    """List runs, newest first."""
    from retrain.pipelines.service import list_runs

    db = read_database()
    authorized(db, project=project, obj="job", act="read")
    table = Table("run", "pipeline", "state", "created", "launched by", "error")
    for r in list_runs(db, project=project, pipeline=pipeline, limit=limit).items:
        table.add_row(str(r.id), f"{r.pipeline}@{r.pipeline_version}", str(r.state),
                      str(r.created_at), r.launched_by, r.error or "")  # fmt: skip
    console.print(table)


@pipeline_app.command("show")
def pipeline_show(run_id: uuid.UUID, project: str = Project) -> None:
    """Show a run as JSON: steps, inputs, outputs."""
    from retrain.pipelines.service import get_run

    db = read_database()
    authorized(db, project=project, obj="job", act="read")
    console.print_json(get_run(db, project=project, run_id=run_id).model_dump_json())


@pipeline_app.command("logs")
def pipeline_logs(
    run_id: uuid.UUID,
    step: str = typer.Option(..., "--step", "-s"),
    project: str = Project,
    follow: bool = typer.Option(False, "--follow", "-f", help="keep reading until the step ends"),
) -> None:
    """Print a step's log."""
    from retrain.pipelines.service import read_logs

    db = read_database()
    authorized(db, project=project, obj="job", act="read")
    offset = 0
    while True:
        chunk = read_logs(db, settings=settings(), project=project, run_id=run_id, step=step,
                          offset=offset)  # fmt: skip
        console.out(chunk.text, end="")
        offset = chunk.next_offset
        if not follow or (chunk.ended and not chunk.text):
            return
        if not chunk.text:
            time.sleep(1.0)


@pipeline_app.command("cancel")
def pipeline_cancel(run_id: uuid.UUID, project: str = Project) -> None:
    """Cancel a queued or running run."""
    from retrain.pipelines.service import cancel_run

    db = database()
    actor = authorized(db, project=project, obj="job", act="write")
    run = cancel_run(db, project=project, run_id=run_id, actor=actor)
    console.print(f"run {run.id} {run.state}")
