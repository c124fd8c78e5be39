"""``steward trigger``: apply YAML, list, show, fire by hand, delete, show launches."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from steward.cli.context import authorized, console, database, settings

trigger_app = typer.Typer(
    name="trigger",
    help="What launches pipelines: alerts, schedules, a person.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add ``trigger`` to ``app``."""
    app.add_typer(trigger_app)


def _condition(on: object) -> str:
    """One line saying when a trigger launches."""
    from retrain.triggers.schemas import AlertCondition, ScheduleCondition

    if isinstance(on, AlertCondition):
        signal = f"/{on.signal}" if on.signal else ""
        return f"alert {on.monitor}{signal} {on.breaches} of {on.windows}"
    if isinstance(on, ScheduleCondition):
        return f"schedule {on.cron} {on.timezone}"
    return "manual"


@trigger_app.command("apply")
def trigger_apply(
    file: Path = typer.Option(..., "--file", "-f", exists=True, dir_okay=False, readable=True),
    project: str = typer.Option("default", "--project", "-p"),
) -> None:
    """Create or update the triggers of a YAML file by name (all or none)."""
    from retrain.triggers.document import load_file
    from retrain.triggers.service import apply_triggers

    db = database()
    actor = authorized(db, project=project, obj="trigger", act="write")
    for item in apply_triggers(db, project=project, specs=load_file(file), actor=actor):
        console.print(
            f"{item.action:9} {project}/{item.trigger.name} (rev {item.trigger.revision})"
        )


@trigger_app.command("list")
def trigger_list(project: str = typer.Option("default", "--project", "-p")) -> None:
    """List a project's triggers with their condition, pipeline and last launch."""
    from retrain.triggers.service import list_triggers

    db = database()
    authorized(db, project=project, obj="trigger", act="read")
    table = Table("trigger", "on", "pipeline", "cooldown", "enabled", "owner", "last fired")
    for t in list_triggers(db, project=project):
        version = f"@{t.spec.pipeline_version}" if t.spec.pipeline_version else ""
        table.add_row(
            t.name,
            _condition(t.spec.on),
            t.spec.pipeline + version,
            str(t.spec.cooldown),
            str(t.spec.enabled),
            t.owner,
            str(t.last_fired_at or "-"),
        )
    console.print(table)


@trigger_app.command("show")
def trigger_show(
    name: str,
    project: str = typer.Option("default", "--project", "-p"),
    limit: int = typer.Option(20, min=1, max=500, help="launches shown"),
) -> None:
    """Show one trigger and its newest launches."""
    from retrain.triggers.service import get_trigger, list_launches

    db = database()
    authorized(db, project=project, obj="trigger", act="read")
    t = get_trigger(db, project=project, name=name)
    console.print(
        f"{project}/{t.name} (rev {t.revision}): {_condition(t.spec.on)} -> pipeline "
        f"{t.spec.pipeline}, cooldown {t.spec.cooldown}, enabled={t.spec.enabled}, "
        f"owner {t.owner}"
    )
    table = Table("at", "kind", "key", "run", "launched by", "launched at")
    for launch in list_launches(db, project=project, name=name, limit=limit):
        table.add_row(
            str(launch.at), str(launch.kind), launch.key, str(launch.run_id),
            launch.launched_by, str(launch.launched_at),
        )  # fmt: skip
    console.print(table)


@trigger_app.command("fire")
def trigger_fire(
    name: str,
    project: str = typer.Option("default", "--project", "-p"),
    request_id: str = typer.Option(None, help="the same id again returns the same run"),
) -> None:
    """Launch a trigger's pipeline now."""
    from retrain.triggers.service import fire_trigger

    db = database()
    actor = authorized(db, project=project, obj="trigger", act="run")
    made = fire_trigger(
        db, settings=settings(), project=project, name=name, actor=actor, request_id=request_id
    )
    verb = "launched" if made.created else "already launched"
    run = made.run
    console.print(f"{verb} run {run.id} of {run.pipeline}@{run.pipeline_version}: {run.state}")


@trigger_app.command("delete")
def trigger_delete(
    name: str,
    project: str = typer.Option("default", "--project", "-p"),
) -> None:
    """Delete a trigger (the runs it launched stay)."""
    from retrain.triggers.service import delete_trigger

    db = database()
    actor = authorized(db, project=project, obj="trigger", act="delete")
    delete_trigger(db, project=project, name=name, actor=actor)
    console.print(f"deleted {project}/{name}")
