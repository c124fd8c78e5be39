"""Run the ``steward`` command line in this process, exactly as the console script runs it.

Each call goes through ``steward.cli.main`` (so its one-line errors and exit codes are what the
tests see) inside ``typer.testing.CliRunner``'s isolation (captured stdout and stderr, the
environment overridden for the call). A subprocess per command would pay the ~1 s import of the
application every time; the console script itself keeps a few subprocess smoke tests.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import Pool
from typer.testing import CliRunner

from steward.cli import context, main

ANSI = re.compile(r"\x1b\[[0-9;]*m")
WIDTH = 250  # a wide terminal, so that rich does not wrap or cut the table rows tests search


@dataclass(frozen=True, kw_only=True, slots=True)
class CliResult:
    """What ``steward ARGS`` printed and how it exited (the shape of ``CompletedProcess``)."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def _code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    return exc.code if isinstance(exc.code, int) else 1


@contextmanager
def _closing_pools() -> Iterator[None]:
    """Close the connections of every engine used in the block, as the end of a process would."""
    pools: dict[int, Pool] = {}

    def remember(connection: Connection) -> None:
        pools[id(connection.engine.pool)] = connection.engine.pool

    event.listen(Engine, "engine_connect", remember)
    try:
        yield
    finally:
        event.remove(Engine, "engine_connect", remember)
        for pool in pools.values():
            pool.dispose()


def _consoles() -> list[Console]:
    """The rich consoles of the command line's modules: what they print is what tests read."""
    modules = [
        m
        for n, m in list(sys.modules.items())
        if n == "steward.cli" or n.startswith("steward.cli.")
    ]
    found = {id(v): v for m in modules for v in vars(m).values() if isinstance(v, Console)}
    return list(found.values())


@contextmanager
def _wide(consoles: list[Console]) -> Iterator[None]:
    """Give the CLI's consoles a wide terminal for the block.

    A console reads COLUMNS once, when it is built (at import); pytest-xdist workers have it set
    to 80 by then, so the width is set on the consoles themselves and put back afterwards.
    """
    saved = [c._width for c in consoles]
    for c in consoles:
        c.width = WIDTH
    try:
        yield
    finally:
        for c, width in zip(consoles, saved, strict=True):
            c._width = width


def run_steward(*args: str, env: Mapping[str, str | None]) -> CliResult:
    """Run ``steward ARGS`` with ``env`` (None deletes a variable) laid over the environment."""
    # Settings are read once per process by the CLI: each call here is a new "process".
    context.settings.cache_clear()
    runner = CliRunner()
    code = 0
    argv = sys.argv
    # Each command opens its own database and leaves it to process exit: close what it opened.
    with (
        _closing_pools(),
        _wide(_consoles()),
        # No application role unless a test asks: roles are cluster-wide and would outlive it.
        runner.isolation(env={"COLUMNS": str(WIDTH), "STEWARD_DB_APP_ROLE": "", **env}) as (
            out,
            err,
            _,
        ),
    ):
        sys.argv = ["steward", *args]
        try:
            main()
        except SystemExit as exc:
            code = _code(exc)
        finally:
            sys.argv = argv
            sys.stdout.flush()
            sys.stderr.flush()
            stdout, stderr = out.getvalue().decode(), err.getvalue().decode()
    context.settings.cache_clear()
    return CliResult(
        args=args, returncode=code, stdout=ANSI.sub("", stdout), stderr=ANSI.sub("", stderr)
    )
