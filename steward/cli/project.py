"""``steward project set|show``: a project's retention and alert cooldown."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError

from governance.access import service
from governance.access.schemas import ProjectInfo, ProjectUpdate
from governance.core.durations import iso_duration
from governance.core.errors import InvalidInput
from steward.cli.admin import project_app
from steward.cli.client import is_remote, remote
from steward.cli.context import authorized, console, database
from steward.cli.output import machine, output_format, print_data

ModelT = TypeVar("ModelT", bound=BaseModel)
# What ``--retention-days`` / ``--alert-cooldown`` take to go back to the server default.
DEFAULT = "default"


def register(app: typer.Typer) -> None:
    """Add ``set`` and ``show`` to the ``project`` group (``admin`` adds the group to ``app``)."""
    project_app.command("set")(project_set)
    project_app.command("show")(project_show)


def project_set(
    name: str,
    retention_days: str = typer.Option(
        None, help=f"days inference data and monitor runs are kept ({DEFAULT!r}: forever)"
    ),
    alert_cooldown: str = typer.Option(
        None,
        help=f"ISO-8601 duration between repeated alert notifications, e.g. PT6H "
        f"({DEFAULT!r}: the server's)",
    ),
) -> None:
    """Change a project's retention or alert cooldown."""
    asked = {"retention_days": retention_days, "alert_cooldown": alert_cooldown}
    data = validate_options(
        ProjectUpdate, {k: None if v == DEFAULT else v for k, v in asked.items() if v is not None}
    )
    if not data.model_fields_set:
        raise InvalidInput("nothing to change: give --retention-days or --alert-cooldown")
    if is_remote():
        body = data.model_dump(mode="json", include=data.model_fields_set)
        _print(ProjectInfo.model_validate(remote("PATCH", f"/projects/{name}", body)))
        return
    db = database()
    actor = authorized(db, project=name, obj="project", act="write")
    _print(service.update_project(db, name=name, data=data, actor=actor))


def project_show(name: str) -> None:
    """Show a project and its settings."""
    if is_remote():
        _print(ProjectInfo.model_validate(remote("GET", f"/projects/{name}")))
        return
    db = database()
    authorized(db, project=name, obj="project", act="read")
    _print(service.get_project(db, name=name))


def validate_options(model: type[ModelT], values: dict[str, Any]) -> ModelT:
    """``values`` (named after options) as the API would take them; a bad one is one line."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "value"
        option = "--" + field.replace("_", "-")
        raise InvalidInput(f"{option}: {first['msg']}", field=field) from None


def duration_text(value: timedelta | None, default: str) -> str:
    """A setting's duration as ISO-8601, or what applies when it is unset."""
    return default if value is None else iso_duration(value)


def _print(project: ProjectInfo) -> None:
    if machine():
        print_data(project, output_format())
        return
    console.print(f"project {project.name}")
    console.print(f"  description     {project.description or '-'}")
    console.print(f"  retention_days  {project.retention_days or 'forever'}")
    console.print(f"  alert_cooldown  {duration_text(project.alert_cooldown, 'server default')}")
