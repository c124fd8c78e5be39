"""The ``steward`` command line: one clear line on error, never a traceback.

Exit codes (``output.Exit``): 0 ok, 1 a finding (a check that failed), 2 usage (a bad argument
or request), 3 not found, 4 denied or unauthenticated, 5 the server (or its database or
storage) failed or could not be reached.
"""

from __future__ import annotations

import sys
from importlib import metadata

import typer

from governance.core.errors import StewardError
from steward.cli import (
    admin,
    approval,
    audit,
    catalog,
    daemon,
    demo,
    evaluation,
    lineage,
    monitor,
    pipeline,
    project,
    prompt,
    report,
    rollout,
    server,
    trigger,
)
from steward.cli.client import FLAGS, Flags
from steward.cli.context import local_only, seal_opened
from steward.cli.output import OPTIONS, Exit, Format, Options, err, exit_code, print_error

app = typer.Typer(
    name="steward",
    help="Steward: self-hosted MLOps monitoring, governance and responsible AI.\n\n"
    "With a server (--url/--token, STEWARD_URL/STEWARD_TOKEN, or --profile NAME from "
    "profiles.toml in the user's config folder) every command but the admin ones (init, serve, "
    "daemon, demo, db, policy, audit seal|rotate-key, report verify) calls its REST API; "
    "without one, commands act on the home named by STEWARD_HOME (default ./.steward). "
    "Exit codes: 0 ok, 1 a finding, 2 usage, 3 not found, 4 denied, 5 server error.",
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
evaluation.register(app)
prompt.register(app)
trigger.register(app)
approval.register(app)
rollout.register(app)
report.register(app)
catalog.register(app)

# Commands that act on this host's home whatever server is configured (``steward --help`` lists
# every other command as a client of the REST API when a server is set). ``audit verify
# --file|--entry|--consistency`` is offline too, but plain ``audit verify`` asks the server.
ADMIN_COMMANDS = frozenset({
    "init", "serve", "daemon", "demo", "db upgrade", "db check", "policy check", "policy explain",
    "audit seal", "audit rotate-key", "report verify",
})  # fmt: skip
_ADMIN_GROUPS = {"init", "serve", "daemon", "demo", "db", "policy"}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"steward {metadata.version('steward')}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    url: str = typer.Option(
        None, "--url", help="call this server's API (else STEWARD_URL, or a profile)"
    ),
    token: str = typer.Option(None, "--token", help="the API token (else STEWARD_TOKEN)"),
    profile: str = typer.Option(
        None, "--profile", help="a server and token from profiles.toml (else STEWARD_PROFILE)"
    ),
    output: Format = typer.Option(Format.table, "--output", "-o", help="table, json or yaml"),
    no_wrap: bool = typer.Option(
        False, "--no-wrap", help="tables at full width, one line per row (as into a pipe)"
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="print the version"
    ),
) -> None:
    """Set the invocation's server and output options (the app's help describes them)."""
    FLAGS.url, FLAGS.token, FLAGS.profile = url, token, profile
    OPTIONS.format, OPTIONS.no_wrap = output, no_wrap
    if ctx.invoked_subcommand in _ADMIN_GROUPS:
        local_only(ctx.invoked_subcommand or "")


def _reset() -> None:
    """Forget the options of a previous invocation (tests run many in one process)."""
    for target, fresh in ((FLAGS, Flags()), (OPTIONS, Options())):
        for name in fresh.__slots__:
            setattr(target, name, getattr(fresh, name))


def main() -> None:
    """Entry point of the ``steward`` script."""
    _reset()
    try:
        # Without standalone mode click returns (not raises) the code of ``typer.Exit``.
        try:
            code = app(standalone_mode=False)
        finally:
            seal_opened()
    except StewardError as exc:
        print_error(exc)
        sys.exit(exit_code(exc))
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except (typer.Exit, typer.Abort) as exc:
        sys.exit(getattr(exc, "exit_code", 1))
    except Exception as exc:  # any other failure is still one line, never a traceback
        show = getattr(exc, "show", None)
        if callable(show):  # usage errors of (typer's vendored) click print their own message
            show()
            sys.exit(int(getattr(exc, "exit_code", Exit.usage)))
        err.print(f"[red]error[/red]: {type(exc).__name__}: {exc}", highlight=False)
        sys.exit(Exit.usage if isinstance(exc, OSError) else Exit.server)
    sys.exit(code if isinstance(code, int) else 0)
