"""How commands print: ``--output table|json|yaml``, tables that never cut an id, errors.

A command hands ``emit`` its data (pydantic models, lists, dicts) and how to show it to a person;
``-o json`` and ``-o yaml`` print the data itself, the same shape locally and remotely.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import typer
from pydantic import BaseModel
from rich.console import Console, RenderableType
from rich.measure import Measurement
from rich.segment import Segment, Segments
from rich.table import Column, Table

from governance.core.errors import (
    InsufficientStorage,
    NotFound,
    PermissionDenied,
    StewardError,
    Throttled,
    Unauthenticated,
    Unavailable,
)

console = Console()
err = Console(stderr=True)


class Format(StrEnum):
    """What ``--output`` prints."""

    table = "table"
    json = "json"
    yaml = "yaml"


class Exit:
    """The exit codes of ``steward``: scripts branch on them."""

    ok = 0
    finding = 1  # the command worked and found a problem (tampered log, failed check)
    usage = 2  # a bad argument, option or request (also conflicts and invalid states)
    not_found = 3
    denied = 4  # unauthenticated or not allowed
    server = 5  # the server, its database or its storage failed or is unreachable


@dataclass(kw_only=True, slots=True)
class Options:
    """The output options of one invocation (set by the root command)."""

    format: Format = Format.table
    no_wrap: bool = False


OPTIONS = Options()


def output_format(override: str | None = None) -> Format:
    """The format asked for: a command's own ``--output``, else the global one."""
    if override is None or override == "text":
        return OPTIONS.format
    try:
        return Format(override)
    except ValueError:
        raise typer.BadParameter(
            f"{override!r} is not one of table, json, yaml", param_hint="--output"
        ) from None


def machine(override: str | None = None) -> bool:
    """Whether the output is for a program (JSON or YAML): progress and chatter stay quiet."""
    return output_format(override) is not Format.table


def jsonable(data: Any) -> Any:
    """``data`` with pydantic models dumped as JSON-compatible values."""
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json")
    if isinstance(data, list | tuple):
        return [jsonable(item) for item in data]
    if isinstance(data, dict):
        return {str(k): jsonable(v) for k, v in data.items()}
    return data


def print_data(data: Any, fmt: Format) -> None:
    """Print ``data`` as JSON or YAML on stdout."""
    plain = jsonable(data)
    if fmt is Format.yaml:
        import yaml

        typer.echo(yaml.safe_dump(plain, sort_keys=False, allow_unicode=True), nl=False)
    else:
        typer.echo(json.dumps(plain, indent=2, default=str))


def emit(
    data: Any, human: Callable[[], RenderableType | None], *, override: str | None = None
) -> None:
    """Print ``data`` in the asked format; for a person, what ``human()`` renders."""
    fmt = output_format(override)
    if fmt is not Format.table:
        print_data(data, fmt)
        return
    shown = human()
    if shown is not None:
        show(shown)


def table(*headers: str) -> Table:
    """A table whose cells fold instead of being cut: ids and names stay whole."""
    columns = [Column(h, overflow="fold", no_wrap=OPTIONS.no_wrap) for h in headers]
    return Table(*columns)


def show(renderable: RenderableType) -> None:
    """Print for a person; with ``--no-wrap`` or into a pipe, tables keep their full width."""
    if isinstance(renderable, str):
        console.print(renderable, highlight=False, soft_wrap=True)
        return
    if OPTIONS.no_wrap or not console.is_terminal:
        # Laid out as wide as it wants to be (print would clamp it to the terminal's width).
        width = Measurement.get(console, console.options.update_width(10**6), renderable).maximum
        lines = console.render_lines(renderable, console.options.update_width(max(width, 1)))
        segments = [seg for line in lines for seg in (*line, Segment.line())]
        console.print(Segments(segments), crop=False, end="")
        return
    console.print(renderable)


def exit_code(exc: StewardError) -> int:
    """The exit code of an error: by the server's HTTP status, else by its kind."""
    status = exc.extra.get("status")
    if isinstance(status, int):
        if status == 404:
            return Exit.not_found
        if status in (401, 403):
            return Exit.denied
        return Exit.server if status == 429 or status >= 500 else Exit.usage
    if isinstance(exc, NotFound):
        return Exit.not_found
    if isinstance(exc, PermissionDenied | Unauthenticated):
        return Exit.denied
    if isinstance(exc, Unavailable | InsufficientStorage | Throttled):
        return Exit.server
    return Exit.usage


def print_error(exc: StewardError) -> None:
    """The error in one line, then each field error on a line of its own."""
    err.print(f"[red]error[/red] ({exc.code}): {exc.detail}", highlight=False, soft_wrap=True)
    problems = [_field_error(p) for p in exc.extra.get("errors") or []]
    if len(problems) == 1 and problems[0] in exc.detail:
        return  # the one line said it all
    for problem in problems:
        err.print(f"  {problem}", highlight=False, soft_wrap=True, markup=False)


def _field_error(problem: Any) -> str:
    if not isinstance(problem, dict):
        return str(problem)
    loc = problem.get("loc", "")
    where = ".".join(str(p) for p in loc) if isinstance(loc, list | tuple) else str(loc)
    message = str(problem.get("msg", problem.get("message", "")))
    # Which document item it is about: its name when it has one, else its position.
    items = [f"{k} {v}" for k, v in problem.items() if k not in _PLAIN_KEYS]
    item = repr(problem["name"]) if "name" in problem else ", ".join(items)
    return ": ".join(part for part in (item, where, message) if part)


_PLAIN_KEYS = {"loc", "msg", "message", "type", "input", "ctx", "url", "name"}
