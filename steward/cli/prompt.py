"""``steward prompt``: push, list, show, alias and deploy versioned prompt templates and flows.

Local by default (the operator acts with database access); with ``STEWARD_URL`` set the
commands call that server's API with ``STEWARD_TOKEN``, as the token's principal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
import yaml
from pydantic import ValidationError

from governance.core.errors import InvalidInput
from lineage.prompts.schemas import (
    Prompt,
    PromptAlias,
    PromptCreate,
    PromptDeployment,
    PromptVersion,
)
from steward.cli.context import authorized, database, is_remote, read_database, remote
from steward.cli.output import Format, emit, output_format, print_data, table

prompt_app = typer.Typer(
    name="prompt", help="Versioned prompt templates and flows, their aliases.", no_args_is_help=True
)
Project = typer.Option("default", "--project", "-p")
Output = typer.Option(None, "--output", "-o", help="table, json or yaml (default: steward -o)")
MAX_FILE_BYTES = 1024 * 1024


def register(app: typer.Typer) -> None:
    """Add ``prompt`` to ``app``."""
    app.add_typer(prompt_app)


def _read(path: Path) -> PromptCreate:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InvalidInput(f"{path.name} is larger than {MAX_FILE_BYTES} bytes")
        document = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InvalidInput(f"cannot read {path.name}: {type(exc).__name__}") from None
    try:
        return PromptCreate.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "document"
        raise InvalidInput(f"{path.name}: {where}: {first['msg']}") from None


def _push(project: str, data: PromptCreate) -> tuple[PromptVersion, bool]:
    if is_remote():
        from steward.cli.client import remote_status

        status, body = remote_status(
            "POST", f"/projects/{project}/prompts", data.model_dump(mode="json", exclude_unset=True)
        )
        return PromptVersion.model_validate(body), status == 201
    from lineage.prompts import create_prompt_version

    db = database()
    actor = authorized(db, project=project, obj="prompt", act="write")
    return create_prompt_version(db, project=project, data=data, actor=actor)


@prompt_app.command("push")
def prompt_push(file: Path, project: str = Project, output: str | None = Output) -> None:
    """Record FILE (YAML: name, kind, messages or flow, model...) as a new version."""
    version, created = _push(project, _read(file))
    verb = "created" if created else "unchanged, already"
    emit(version, lambda: f"{verb} {version.ref} ({version.content_hash[:12]})", override=output)


@prompt_app.command("list")
def prompt_list(project: str = Project, output: str | None = Output) -> None:
    """List a project's prompts with their version counts and aliases."""
    if is_remote():
        found = [Prompt.model_validate(p) for p in remote("GET", f"/projects/{project}/prompts")]
    else:
        from lineage.prompts import list_prompts

        db = read_database()
        authorized(db, project=project, obj="prompt", act="read")
        found = list_prompts(db, project=project, limit=1000)

    def human() -> Any:
        shown = table("name", "kind", "versions", "aliases", "description")
        for p in found:
            aliases = ", ".join(f"{a}={v}" for a, v in p.aliases.items()) or "-"
            shown.add_row(p.name, str(p.kind), str(p.versions), aliases, p.description)
        return shown

    emit(found, human, override=output)


def _remote_show(project: str, ref: str) -> PromptVersion:
    from lineage.prompts import parse_ref

    name, version, alias = parse_ref(ref)
    base = f"/projects/{project}/prompts/{name}"
    if alias is not None:
        return PromptVersion.model_validate(remote("GET", f"{base}/aliases/{alias}"))
    if version is not None:
        return PromptVersion.model_validate(remote("GET", f"{base}/versions/{version}"))
    return PromptVersion.model_validate(remote("GET", base)[-1])


@prompt_app.command("show")
def prompt_show(ref: str, project: str = Project) -> None:
    """Show the version REF names: NAME (the newest), NAME@3 or NAME@ALIAS."""
    if is_remote():
        shown = _remote_show(project, ref)
    else:
        from lineage.prompts import get_prompt_version

        db = read_database()
        authorized(db, project=project, obj="prompt", act="read")
        shown = get_prompt_version(db, project=project, ref=ref)
    fmt = output_format()
    print_data(shown, Format.json if fmt is Format.table else fmt)


@prompt_app.command("alias")
def prompt_alias(
    name: str, version: int, alias: str, project: str = Project, output: str | None = Output
) -> None:
    """Point ALIAS of prompt NAME at VERSION (audited with the version it pointed at)."""
    if is_remote():
        path = f"/projects/{project}/prompts/{name}/aliases/{alias}"
        moved = PromptAlias.model_validate(remote("PUT", path, {"version": version}))
    else:
        from lineage.prompts import set_prompt_alias

        db = database()
        actor = authorized(db, project=project, obj="prompt", act="write")
        moved = set_prompt_alias(
            db, project=project, name=name, alias=alias, version=version, actor=actor
        )
    before = "new" if moved.previous is None else f"was {moved.previous}"
    emit(moved, lambda: f"{name}@{alias} -> {moved.version} ({before})", override=output)


@prompt_app.command("deploy")
def prompt_deploy(
    ref: str,
    endpoint: str = typer.Option(..., "--endpoint", "-e", help="the endpoint it serves"),
    note: str = typer.Option("", "--note"),
    project: str = Project,
    output: str | None = Output,
) -> None:
    """Serve the prompt version REF (NAME@3 or NAME@ALIAS) at an endpoint from now on."""
    if is_remote():
        deployed = _remote_deploy(project, ref, endpoint, note)
    else:
        from lineage.prompts import deploy_prompt

        db = database()
        actor = authorized(db, project=project, obj="prompt", act="write")
        deployed = deploy_prompt(
            db, project=project, ref=ref, endpoint=endpoint, note=note, actor=actor
        )
    emit(deployed, lambda: f"{endpoint} serves {deployed.name}@{deployed.version}", override=output)


def _remote_deploy(project: str, ref: str, endpoint: str, note: str) -> PromptDeployment:
    from lineage.prompts import parse_ref

    name, version, alias = parse_ref(ref)
    where = f"aliases/{alias}" if alias is not None else f"versions/{version}"
    if alias is None and version is None:
        raise InvalidInput("name the version to deploy: NAME@VERSION or NAME@ALIAS")
    path = f"/projects/{project}/prompts/{name}/{where}/deploy"
    return PromptDeployment.model_validate(
        remote("POST", path, {"endpoint": endpoint, "note": note})
    )
