"""The ``steward`` command line: one clear line on error, never a traceback."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from governance.core.errors import StewardError
from steward.cli import (
    admin,
    approval,
    audit,
    daemon,
    demo,
    lineage,
    monitor,
    pipeline,
    project,
    report,
    rollout,
    server,
    trigger,
)
from steward.cli.context import seal_opened

app = typer.Typer(
    name="steward",
    help="Steward: self-hosted MLOps monitoring, governance and responsible AI.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


# Registration order is the order of ``steward --help``: init and serve first.
server.register(app)
admin.register(app)
project.register(app)
audit.register(app)
daemon.register(app)
demo.register(app)
lineage.register(app)
monitor.register(app)
pipeline.register(app)
trigger.register(app)
approval.register(app)
rollout.register(app)
report.register(app)

err = Console(stderr=True)


def main() -> None:
    """Entry point of the ``steward`` script."""
    try:
        # Without standalone mode click returns (not raises) the code of ``typer.Exit``.
        try:
            code = app(standalone_mode=False)
        finally:
            seal_opened()
    except StewardError as exc:
        err.print(f"[red]error[/red] ({exc.code}): {exc.detail}", highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except (typer.Exit, typer.Abort) as exc:
        sys.exit(getattr(exc, "exit_code", 1))
    except Exception as exc:  # any other failure is still one line, never a traceback
        show = getattr(exc, "show", None)
        if callable(show):  # usage errors of (typer's vendored) click print their own message
            show()
            sys.exit(int(getattr(exc, "exit_code", 2)))
        err.print(f"[red]error[/red]: {type(exc).__name__}: {exc}", highlight=False)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
