"""``steward init``, ``serve`` and ``db``."""

from __future__ import annotations

import copy
from typing import Any

import typer

from steward.cli.context import console, database, operator, settings

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
    from steward.migrations import upgrade

    s = settings()
    db = database(check_schema=False)
    upgrade(db)
    issued = bootstrap(db, owner=owner, project=project, actor=operator())
    console.print(f"home      {s.home.resolve()}")
    console.print(f"database  {s.database_url.split('@')[-1]}")
    console.print(f"audit key {s.key_path.resolve()}")
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

    ensure_current(database(check_schema=False))
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
    from steward.migrations import current_revision, upgrade

    db = database(check_schema=False)
    upgrade(db, revision)
    console.print(f"schema at {current_revision(db)}")


@db_app.command("check")
def db_check() -> None:
    """Exit non-zero unless the schema is at the code's head."""
    from steward.migrations import current_revision, ensure_current, head_revision

    db = database(check_schema=False)
    ensure_current(db)
    console.print(f"schema at {current_revision(db)} (head {head_revision()}): up to date")
