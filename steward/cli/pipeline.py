"""``steward pipeline``: apply specs, launch and follow runs, read logs, cancel.

Local by default (the operator acts with database access); with ``STEWARD_URL`` set the
commands call that server's API with ``STEWARD_TOKEN``, as the token's principal.
"""

from __future__ import annotations

import json
import runpy
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from steward.cli.context import (
    authorized,
    console,
    database,
    is_remote,
    read_database,
    remote,
    remote_status,
    settings,
)
from steward.cli.output import Format, machine, output_format, print_data, show, table

if TYPE_CHECKING:
    from retrain.pipelines.schemas import LogChunk, Pipeline, PipelineRun
    from retrain.pipelines.spec import PipelineSpec

pipeline_app = typer.Typer(name="pipeline", help="Retraining pipelines.", no_args_is_help=True)
Project = typer.Option("default", "--project", "-p")
Output = typer.Option(None, "--output", "-o", help="table, json or yaml (default: steward -o)")
_DONE = ("succeeded", "skipped")


def register(app: typer.Typer) -> None:
    """Add the ``pipeline`` command group to ``app``."""
    app.add_typer(pipeline_app)


def _json(data: Any, output: str | None = None) -> None:
    """Print ``data`` as JSON (or YAML when asked): the same bytes locally and remotely."""
    fmt = output_format(output)
    print_data(data, Format.json if fmt is Format.table else fmt)


def _runs_path(project: str, run_id: uuid.UUID | None = None) -> str:
    path = f"/projects/{quote(project, safe='')}/pipeline-runs"
    return path if run_id is None else f"{path}/{run_id}"


def _remote_run(method: str, path: str, body: dict[str, Any] | None = None) -> PipelineRun:
    from retrain.pipelines.schemas import PipelineRun

    return PipelineRun.model_validate(remote(method, path, body))


def _load(file: Path) -> PipelineSpec:
    """A spec from YAML/JSON, or from a Python file defining ``pipeline = PipelineSpec(...)``."""
    from retrain.pipelines.spec import PipelineSpec, parse_spec

    if file.suffix == ".py":
        found = runpy.run_path(str(file)).get("pipeline")  # the operator's own file
        if not isinstance(found, PipelineSpec):
            raise typer.BadParameter("a Python spec defines `pipeline = PipelineSpec(...)`")
        return found
    return parse_spec(file.read_bytes())


def _apply(project: str, spec: PipelineSpec) -> tuple[Pipeline, bool]:
    """The applied pipeline version and whether it is new."""
    if is_remote():
        from retrain.pipelines.schemas import Pipeline

        path = f"/projects/{quote(project, safe='')}/pipelines"
        status, found = remote_status("POST", path, spec.model_dump(mode="json"))
        return Pipeline.model_validate(found), status == 201
    from retrain.pipelines.service import apply_pipeline

    db = database()
    actor = authorized(db, project=project, obj="job", act="write")
    applied = apply_pipeline(db, settings=settings(), project=project, spec=spec, actor=actor)
    return applied.pipeline, applied.created


@pipeline_app.command("apply")
def pipeline_apply(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    project: str = Project,
    output: str | None = Output,
) -> None:
    """Apply a pipeline spec: a new version when it changed."""
    pipeline, created = _apply(project, _load(file))
    if machine(output):
        _json(pipeline.model_dump(mode="json"), output)
        return
    what = "created" if created else "unchanged"
    console.print(f"pipeline {pipeline.name} version {pipeline.version} {what}")


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


def _launch(project: str, name: str, version: int | None, inputs: dict[str, Any]) -> PipelineRun:
    if is_remote():
        path = f"/projects/{quote(project, safe='')}/pipelines/{quote(name, safe='')}/runs"
        return _remote_run("POST", path, {"version": version, "inputs": inputs})
    from retrain.pipelines.service import launch_run

    db = database()
    actor = authorized(db, project=project, obj="job", act="write")
    return launch_run(db, settings=settings(), project=project, pipeline=name,
                      version=version, inputs=inputs, actor=actor).run  # fmt: skip


@pipeline_app.command("run")
def pipeline_run(
    name: str,
    project: str = Project,
    version: int = typer.Option(None, help="the pipeline version (default: newest)"),
    inputs: list[str] = typer.Option([], "--input", "-i", help="key=value (JSON or a name)"),
    wait: bool = typer.Option(False, help="follow the run until it ends (a worker executes it)"),
    output: str | None = Output,
) -> None:
    """Launch a run."""
    run = _launch(project, name, version, _inputs(inputs))
    if not machine(output):
        console.print(f"run {run.id} {run.state}")
    if wait:
        run = _follow(_fetcher(project, run.id), quiet=machine(output))
    if machine(output):
        _json(run.model_dump(mode="json"), output)
    if wait and run.state != "succeeded":
        raise typer.Exit(1)


def _fetcher(project: str, run_id: uuid.UUID) -> Callable[[], PipelineRun]:
    """How to read the run again: from the server, or from the local database."""
    if is_remote():
        return lambda: _remote_run("GET", _runs_path(project, run_id))
    from retrain.pipelines.service import get_run

    db = read_database()
    return lambda: get_run(db, project=project, run_id=run_id)


def _follow(fetch: Callable[[], PipelineRun], *, quiet: bool = False) -> PipelineRun:
    """Poll the run until it ends, showing its steps done out of all; the ended run."""
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               MofNCompleteColumn(), TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console, disable=quiet) as progress:
        task = progress.add_task("queued", total=None)
        while True:
            run = fetch()
            current = next((s.name for s in run.steps if s.state == "running"), "")
            done = sum(1 for s in run.steps if s.state in _DONE)
            progress.update(task, description=f"{run.state} {current}".strip(),
                            completed=done, total=len(run.steps) or None)  # fmt: skip
            if run.state.ended:
                break
            time.sleep(1.0)
    if not quiet:
        console.print(f"run {run.id} {run.state}" + (f": {run.error}" if run.error else ""))
    return run


def _pipelines(project: str) -> list[Pipeline]:
    if is_remote():
        from retrain.pipelines.schemas import Pipeline

        found = remote("GET", f"/projects/{quote(project, safe='')}/pipelines")
        return [Pipeline.model_validate(p) for p in found]
    from retrain.pipelines.service import list_pipelines

    db = read_database()
    authorized(db, project=project, obj="job", act="read")
    return list_pipelines(db, project=project)


@pipeline_app.command("list")
def pipeline_list(project: str = Project, output: str | None = Output) -> None:
    """List the pipelines of a project (newest versions)."""
    found = _pipelines(project)
    if machine(output):
        _json([p.model_dump(mode="json") for p in found], output)
        return
    shown = table("pipeline", "version", "steps", "applied", "by")
    for p in found:
        steps = " -> ".join(s.name for s in p.spec.steps)
        shown.add_row(p.name, str(p.version), steps, str(p.created_at), p.created_by)
    show(shown)


def _list_runs(project: str, pipeline: str | None, limit: int) -> list[PipelineRun]:
    if is_remote():
        from retrain.pipelines.schemas import PipelineRunPage

        query = {"limit": limit} | ({"pipeline": pipeline} if pipeline else {})
        page = remote("GET", f"{_runs_path(project)}?{urlencode(query)}")
        return list(PipelineRunPage.model_validate(page).items)
    from retrain.pipelines.service import list_runs

    db = read_database()
    authorized(db, project=project, obj="job", act="read")
    return list(list_runs(db, project=project, pipeline=pipeline, limit=limit).items)


@pipeline_app.command("runs")
def pipeline_runs(
    project: str = Project,
    pipeline: str = typer.Option(None, help="only this pipeline's runs"),
    limit: int = typer.Option(20, min=1, max=200),
    output: str | None = Output,
) -> None:
    """List runs, newest first."""
    found = _list_runs(project, pipeline, limit)
    if machine(output):
        _json([r.model_dump(mode="json") for r in found], output)
        return
    shown = table("run", "pipeline", "state", "created", "launched by", "error")
    for r in found:
        shown.add_row(str(r.id), f"{r.pipeline}@{r.pipeline_version}", str(r.state),
                      str(r.created_at), r.launched_by, r.error or "")  # fmt: skip
    show(shown)


@pipeline_app.command("show")
def pipeline_show(run_id: uuid.UUID, project: str = Project) -> None:
    """Show a run as JSON: steps, inputs, outputs."""
    if is_remote():
        run = _remote_run("GET", _runs_path(project, run_id))
    else:
        from retrain.pipelines.service import get_run

        db = read_database()
        authorized(db, project=project, obj="job", act="read")
        run = get_run(db, project=project, run_id=run_id)
    _json(run.model_dump(mode="json"))


def _log_reader(project: str, run_id: uuid.UUID, step: str) -> Callable[[int], LogChunk]:
    """How to read a step's log from an offset: from the server, or the local database."""
    from retrain.pipelines.schemas import LogChunk

    if is_remote():
        path = f"{_runs_path(project, run_id)}/logs"
        return lambda offset: LogChunk.model_validate(
            remote("GET", f"{path}?{urlencode({'step': step, 'offset': offset})}")
        )
    from retrain.pipelines.service import read_logs

    db = read_database()
    authorized(db, project=project, obj="job", act="read")
    return lambda offset: read_logs(db, settings=settings(), project=project, run_id=run_id,
                                    step=step, offset=offset)  # fmt: skip


@pipeline_app.command("logs")
def pipeline_logs(
    run_id: uuid.UUID,
    step: str = typer.Option(..., "--step", "-s"),
    project: str = Project,
    follow: bool = typer.Option(False, "--follow", "-f", help="keep reading until the step ends"),
) -> None:
    """Print a step's log."""
    read = _log_reader(project, run_id, step)
    offset = 0
    text: list[str] = []
    while True:
        chunk = read(offset)
        if machine():  # one document at the end, of everything read
            text.append(chunk.text)
        else:
            console.out(chunk.text, end="")
        offset = chunk.next_offset
        if not follow or (chunk.ended and not chunk.text):
            break
        if not chunk.text:
            time.sleep(1.0)
    if machine():
        _json({"step": step, "text": "".join(text), "next_offset": offset, "ended": chunk.ended})


@pipeline_app.command("cancel")
def pipeline_cancel(run_id: uuid.UUID, project: str = Project, output: str | None = Output) -> None:
    """Cancel a queued or running run."""
    if is_remote():
        run = _remote_run("POST", f"{_runs_path(project, run_id)}/cancel")
    else:
        from retrain.pipelines.service import cancel_run

        db = database()
        actor = authorized(db, project=project, obj="job", act="write")
        run = cancel_run(db, project=project, run_id=run_id, actor=actor)
    if machine(output):
        _json(run.model_dump(mode="json"), output)
        return
    console.print(f"run {run.id} {run.state}")
