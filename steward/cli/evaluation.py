"""``steward eval``: launch an evaluation run from a YAML file, follow it, show its comparison.

Local by default (the operator acts with database access: this process generates, a worker
runs its pipeline); with ``STEWARD_URL`` set the commands call that server's API.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from steward.cli.client import is_remote, remote
from steward.cli.context import authorized, console, database, settings
from steward.cli.output import Format, machine, output_format, print_data, show, table

if TYPE_CHECKING:
    from retrain.evaluation.schemas import Evaluation, EvaluationCreate

eval_app = typer.Typer(name="eval", help="Evaluation runs of prompt variants.",
                       no_args_is_help=True)  # fmt: skip
Project = typer.Option("default", "--project", "-p")
Output = typer.Option(None, "--output", "-o", help="table, json or yaml (default: steward -o)")
MAX_FILE_BYTES = 256 * 1024


def register(app: typer.Typer) -> None:
    """Add the ``eval`` command group to ``app``."""
    app.add_typer(eval_app)


def _path(project: str, evaluation_id: uuid.UUID | None = None) -> str:
    path = f"/projects/{quote(project, safe='')}/evaluations"
    return path if evaluation_id is None else f"{path}/{evaluation_id}"


def _load(file: Path) -> EvaluationCreate:
    """The evaluation request a YAML (or JSON) file describes."""
    from pydantic import ValidationError

    from monitors.specs.document import load_documents
    from retrain.evaluation.schemas import EvaluationCreate

    raw = file.read_bytes()
    if len(raw) > MAX_FILE_BYTES:
        raise typer.BadParameter(f"{file.name} is larger than {MAX_FILE_BYTES} bytes")
    documents = [d for d in load_documents(raw.decode("utf-8")) if d is not None]
    if len(documents) != 1 or not isinstance(documents[0], dict):
        raise typer.BadParameter("the file must hold exactly one evaluation mapping")
    try:
        return EvaluationCreate.model_validate(documents[0])
    except ValidationError as exc:
        shown = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
        raise typer.BadParameter(shown) from None


def _launch(project: str, data: EvaluationCreate) -> Evaluation:
    from retrain.evaluation.schemas import Evaluation

    if is_remote():
        return Evaluation.model_validate(
            remote("POST", _path(project), data.model_dump(mode="json"))
        )
    from retrain.evaluation.execute import execute_evaluation
    from retrain.evaluation.service import launch_evaluation

    db = database()
    actor = authorized(db, project=project, obj="evaluation", act="run")
    launched = launch_evaluation(db, settings=settings(), project=project, data=data, actor=actor)
    return execute_evaluation(db, settings=settings(), project=project,
                              evaluation_id=launched.id, actor=actor)  # fmt: skip


def _fetcher(project: str, evaluation_id: uuid.UUID) -> Callable[[], Evaluation]:
    from retrain.evaluation.schemas import Evaluation

    if is_remote():
        return lambda: Evaluation.model_validate(remote("GET", _path(project, evaluation_id)))
    from retrain.evaluation.service import get_evaluation

    db = database()
    authorized(db, project=project, obj="evaluation", act="read")
    return lambda: get_evaluation(db, project=project, evaluation_id=evaluation_id)


def _follow(fetch: Callable[[], Evaluation], *, quiet: bool) -> Evaluation:
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=quiet) as progress:
        task = progress.add_task("queued", total=None)
        while True:
            found = fetch()
            progress.update(task, description=f"evaluation {found.state}")
            if found.state.ended:
                return found
            time.sleep(1.0)


@eval_app.command("run")
def eval_run(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    project: str = Project,
    wait: bool = typer.Option(True, help="follow the run until it ends (a worker compares)"),
    output: str | None = Output,
) -> None:
    """Launch an evaluation run described by FILE (YAML or JSON)."""
    found = _launch(project, _load(file))
    if wait:
        found = _follow(_fetcher(project, found.id), quiet=machine(output))
    _print(found, output)
    if wait and found.state != "succeeded":
        raise typer.Exit(1)


@eval_app.command("show")
def eval_show(
    evaluation_id: uuid.UUID, project: str = Project, output: str | None = Output
) -> None:
    """Show an evaluation run: its aggregates and the comparison of its variants."""
    if is_remote():
        found = _fetcher(project, evaluation_id)()
    else:
        from retrain.evaluation.service import get_evaluation

        db = database()  # reading a run whose pipeline ended keeps its results (a write)
        authorized(db, project=project, obj="evaluation", act="read")
        found = get_evaluation(db, project=project, evaluation_id=evaluation_id)
    _print(found, output)


def _print(found: Evaluation, output: str | None) -> None:
    if machine(output):
        fmt = output_format(output)
        print_data(found.model_dump(mode="json"), Format.json if fmt is Format.table else fmt)
        return
    console.print(f"evaluation {found.id} {found.state}"
                  + (f": {found.error}" if found.error else ""))  # fmt: skip
    show(_aggregates(found))
    if found.comparisons:
        show(_comparisons(found))


def _number(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _aggregates(found: Evaluation) -> Any:
    shown = table("evaluator", "variant", "prompt", "n", "failures", "mean", "sd", "95% CI")
    prompts = {v.name: f"{v.prompt}@{v.prompt_version}" for v in found.variants}
    for a in found.aggregates:
        shown.add_row(a.evaluator.value, a.variant, prompts.get(a.variant, ""), str(a.n),
                      str(a.failures), _number(a.mean), _number(a.std),
                      f"[{_number(a.ci_low)}, {_number(a.ci_high)}]")  # fmt: skip
    return shown


def _comparisons(found: Evaluation) -> Any:
    shown = table("evaluator", "pair", "n", "mean diff", "95% CI", "t p", "wilcoxon p",
                  "p (adj.)", "winner", "significant")  # fmt: skip
    for c in found.comparisons:
        mark = "[bold green]yes[/]" if c.significant else "no"
        shown.add_row(
            c.evaluator.value, f"{c.a} - {c.b}", str(c.n), _number(c.mean_difference),
            f"[{_number(c.ci_low)}, {_number(c.ci_high)}]", _number(c.t_p, 4),
            _number(c.wilcoxon_p, 4), _number(c.p_adjusted, 4), c.winner or "-", mark,
        )  # fmt: skip
    return shown
