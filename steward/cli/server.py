"""``steward init``, ``serve`` and ``db``."""

from __future__ import annotations

import copy
import logging
from typing import TYPE_CHECKING, Any

import typer

from steward.cli.context import console, database, operator, settings

if TYPE_CHECKING:
    from governance.core.db import Database
    from steward.migrations.roles import RoleReport

log = logging.getLogger("steward")

db_app = typer.Typer(name="db", help="Schema migrations.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add ``init``, ``serve`` and the ``db`` group to ``app``."""
    app.command("init")(init)
    app.command("serve")(serve)
    app.add_typer(db_app)


def init(
    owner: str = typer.Option("admin", help="name of the first owner"),
    project: str = typer.Option("default", help="name of the first project"),
) -> None:
    """Create the home, bring the database to head, a default project and the first owner."""
    from governance.access.service import bootstrap
    from governance.core.secrets import SecretBox

    s = settings()
    db = database(check_schema=False, create=True)
    _upgrade(db, "head")
    issued = bootstrap(db, owner=owner, project=project, actor=operator())
    SecretBox.from_settings(s).create_key()
    console.print(f"home      {s.home.resolve()}")
    console.print(f"database  {s.database_url.split('@')[-1]}")
    console.print(f"audit key {s.key_path.resolve()}")
    console.print(f"secrets   {s.secrets_key.resolve()}")
    if issued is None:
        console.print(f"already initialised: owner {owner!r} exists (no new token issued)")
        return
    console.print(f"owner {owner!r} of projects '_system' and {project!r}; token (shown once):")
    print(issued.token)


def serve(
    host: str = typer.Option("127.0.0.1", help="interface to bind"),
    port: int = typer.Option(8000, help="port"),
    workers: int = typer.Option(1, help="worker processes"),
) -> None:
    """Run the REST API (refuses to start on a schema that is behind)."""
    import uvicorn

    from steward.migrations import ensure_current

    db = database(check_schema=False)
    ensure_current(db)
    warn_at_start(db)
    uvicorn.run(
        "steward.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=_log_config(),
    )


def _log_config() -> dict[str, Any]:
    """uvicorn's logging plus Steward's loggers; our access line carries the request id."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["steward"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    config["loggers"]["uvicorn.access"]["level"] = "WARNING"
    return config


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply migrations up to REVISION."""
    from steward.migrations import current_revision

    db = database(check_schema=False, create=True)  # a new database is what it is asked for
    _upgrade(db, revision)
    console.print(f"schema at {current_revision(db)}")


def _upgrade(db: Database, revision: str) -> None:
    """Migrate; on PostgreSQL set up the application role; seal secrets kept in plain text."""
    from governance.core.secrets import SecretBox
    from monitors.alerts.service import seal_legacy_secrets
    from steward.migrations import current_revision, head_revision, upgrade

    s = settings()
    report = upgrade(db, revision, app_role=s.db_app_role or None)
    if report is not None:
        _print_role(report)
    if current_revision(db) == head_revision():
        box = SecretBox.from_settings(s)
        for name in seal_legacy_secrets(db, secrets=box, actor=operator()):
            console.print(f"sealed the secret of channel {name} (key {box.path})")


def _print_role(report: RoleReport) -> None:
    if report.pending_sql:
        console.print(
            f"[yellow]this role may not manage the application role {report.role!r}[/yellow]; "
            "as a role that may (CREATEROLE, or a superuser), run:"
        )
        for sql in report.pending_sql:
            print(f"  {sql}")
        if not report.granted:
            console.print("then run `steward db upgrade` again to grant it its rights")
    verb = "created" if report.created else "corrected" if report.corrected else "checked"
    if report.granted:
        console.print(f"application role {report.role!r} {verb}; grants re-applied")


def warn_at_start(db: Database) -> None:
    """Say loudly, before serving, what makes this instance unsafe or unable to notify."""
    from governance.core.secrets import SecretBox
    from monitors.alerts.service import check_secrets_key
    from steward.migrations.roles import warn_if_privileged

    privileged = warn_if_privileged(db)
    if privileged is not None:
        console.print(f"[bold red]WARNING[/bold red] {privileged}", highlight=False)
    problem = check_secrets_key(db, secrets=SecretBox.from_settings(settings()))
    if problem is not None:
        log.error("%s", problem)
        console.print(f"[bold red]error[/bold red] {problem}", highlight=False)


@db_app.command("check")
def db_check() -> None:
    """Exit non-zero unless the schema is at the code's head."""
    from steward.migrations import current_revision, ensure_current, head_revision

    db = database(check_schema=False)
    ensure_current(db)
    console.print(f"schema at {current_revision(db)} (head {head_revision()}): up to date")
