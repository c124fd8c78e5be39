"""``steward trigger``: apply YAML, list, show, fire by hand, delete, show launches.

Local by default (the operator acts with database access); with ``STEWARD_URL`` set the
commands call that server's API with ``STEWARD_TOKEN``, as the token's principal.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import typer

from steward.cli.context import authorized, console, database, is_remote, remote, settings
from steward.cli.output import emit, machine, output_format, print_data, show, table

if TYPE_CHECKING:
    from retrain.pipelines.schemas import PipelineRun
    from retrain.triggers.schemas import Applied, Trigger, TriggerLaunch

trigger_app = typer.Typer(
    name="trigger",
    help="What launches pipelines: alerts, schedules, a person.",
    no_args_is_help=True,
)
Project = typer.Option("default", "--project", "-p")
Output = typer.Option(None, "--output", "-o", help="table, json or yaml (default: steward -o)")


def register(app: typer.Typer) -> None:
    """Add ``trigger`` to ``app``."""
    app.add_typer(trigger_app)


def _json(data: Any, output: str | None) -> None:
    """Print ``data`` as JSON or YAML: the same bytes locally and remotely."""
    print_data(data, output_format(output))


def _path(project: str, name: str | None = None) -> str:
    path = f"/projects/{quote(project, safe='')}/triggers"
    return path if name is None else f"{path}/{quote(name, safe='')}"


def _condition(on: object) -> str:
    """One line saying when a trigger launches."""
    from retrain.triggers.schemas import AlertCondition, ScheduleCondition

    if isinstance(on, AlertCondition):
        signal = f"/{on.signal}" if on.signal else ""
        return f"alert {on.monitor}{signal} {on.breaches} of {on.windows}"
    if isinstance(on, ScheduleCondition):
        return f"schedule {on.cron} {on.timezone}"
    return "manual"


def _apply(project: str, file: Path) -> list[Applied]:
    if is_remote():
        from retrain.triggers.schemas import Applied

        found = remote("POST", f"{_path(project)}/apply", content=file.read_bytes(),
                       content_type="application/yaml")  # fmt: skip
        return [Applied.model_validate(a) for a in found]
    from retrain.triggers.document import load_file
    from retrain.triggers.service import apply_triggers

    db = database()
    actor = authorized(db, project=project, obj="trigger", act="write")
    return apply_triggers(db, project=project, specs=load_file(file), actor=actor)


@trigger_app.command("apply")
def trigger_apply(
    file: Path = typer.Option(..., "--file", "-f", exists=True, dir_okay=False, readable=True),
    project: str = Project,
    output: str | None = Output,
) -> None:
    """Create or update the triggers of a YAML file by name (all or none)."""
    applied = _apply(project, file)
    if machine(output):
        _json([a.model_dump(mode="json") for a in applied], output)
        return
    for item in applied:
        console.print(
            f"{item.action:9} {project}/{item.trigger.name} (rev {item.trigger.revision})"
        )


def _triggers(project: str) -> list[Trigger]:
    if is_remote():
        from retrain.triggers.schemas import Trigger

        return [Trigger.model_validate(t) for t in remote("GET", _path(project))]
    from retrain.triggers.service import list_triggers

    db = database()
    authorized(db, project=project, obj="trigger", act="read")
    return list_triggers(db, project=project)


@trigger_app.command("list")
def trigger_list(project: str = Project, output: str | None = Output) -> None:
    """List a project's triggers with their condition, pipeline and last launch."""
    found = _triggers(project)
    if machine(output):
        _json([t.model_dump(mode="json") for t in found], output)
        return
    shown = table("trigger", "on", "pipeline", "cooldown", "enabled", "owner", "last fired")
    for t in found:
        version = f"@{t.spec.pipeline_version}" if t.spec.pipeline_version else ""
        shown.add_row(
            t.name,
            _condition(t.spec.on),
            t.spec.pipeline + version,
            str(t.spec.cooldown),
            str(t.spec.enabled),
            t.owner,
            str(t.last_fired_at or "-"),
        )
    show(shown)


def _shown(project: str, name: str, limit: int) -> tuple[Trigger, list[TriggerLaunch]]:
    if is_remote():
        from retrain.triggers.schemas import Trigger, TriggerLaunch

        t = Trigger.model_validate(remote("GET", _path(project, name)))
        found = remote("GET", f"{_path(project, name)}/launches?limit={limit}")
        return t, [TriggerLaunch.model_validate(launch) for launch in found]
    from retrain.triggers.service import get_trigger, list_launches

    db = database()
    authorized(db, project=project, obj="trigger", act="read")
    t = get_trigger(db, project=project, name=name)
    return t, list_launches(db, project=project, name=name, limit=limit)


@trigger_app.command("show")
def trigger_show(
    name: str,
    project: str = Project,
    limit: int = typer.Option(20, min=1, max=500, help="launches shown"),
    output: str | None = Output,
) -> None:
    """Show one trigger and its newest launches."""
    t, launches = _shown(project, name, limit)
    if machine(output):
        _json({"trigger": t, "launches": launches}, output)
        return
    console.print(
        f"{project}/{t.name} (rev {t.revision}): {_condition(t.spec.on)} -> pipeline "
        f"{t.spec.pipeline}, cooldown {t.spec.cooldown}, enabled={t.spec.enabled}, "
        f"owner {t.owner}"
    )
    shown = table("at", "kind", "key", "run", "launched by", "launched at")
    for launch in launches:
        shown.add_row(
            str(launch.at), str(launch.kind), launch.key, str(launch.run_id),
            launch.launched_by, str(launch.launched_at),
        )  # fmt: skip
    show(shown)


def _fire(project: str, name: str, request_id: str | None) -> tuple[PipelineRun, bool]:
    """The run the trigger launched and whether this call launched it."""
    if is_remote():
        from retrain.pipelines.schemas import PipelineRun
        from retrain.triggers.service import MAX_LAUNCHES

        before: set[str] = set()
        if request_id:  # only a repeated request id can answer with an earlier run
            found = remote("GET", f"{_path(project, name)}/launches?limit={MAX_LAUNCHES}")
            before = {str(launch["run_id"]) for launch in found}
        body = {"request_id": request_id} if request_id else None
        run = PipelineRun.model_validate(remote("POST", f"{_path(project, name)}/fire", body))
        return run, str(run.id) not in before
    from retrain.triggers.service import fire_trigger

    db = database()
    actor = authorized(db, project=project, obj="trigger", act="run")
    made = fire_trigger(
        db, settings=settings(), project=project, name=name, actor=actor, request_id=request_id
    )
    return made.run, made.created


@trigger_app.command("fire")
def trigger_fire(
    name: str,
    project: str = Project,
    request_id: str = typer.Option(None, help="the same id again returns the same run"),
    output: str | None = Output,
) -> None:
    """Launch a trigger's pipeline now."""
    run, created = _fire(project, name, request_id)
    if machine(output):
        _json(run.model_dump(mode="json"), output)
        return
    verb = "launched" if created else "already launched"
    console.print(f"{verb} run {run.id} of {run.pipeline}@{run.pipeline_version}: {run.state}")


@trigger_app.command("delete")
def trigger_delete(name: str, project: str = Project) -> None:
    """Delete a trigger (the runs it launched stay)."""
    if is_remote():
        remote("DELETE", _path(project, name))
    else:
        from retrain.triggers.service import delete_trigger

        db = database()
        actor = authorized(db, project=project, obj="trigger", act="delete")
        delete_trigger(db, project=project, name=name, actor=actor)
    emit(
        {"project": project, "trigger": name, "deleted": True}, lambda: f"deleted {project}/{name}"
    )
