"""Schema migrations: upgrade, inspect, and refuse to serve a schema that is behind."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from governance.core.db import Database
from governance.core.errors import Unavailable

SCRIPT_LOCATION = Path(__file__).resolve().parents[1] / "migrations"


def alembic_config(db: Database) -> Config:
    """An Alembic config pointing at the shipped migrations and ``db``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return cfg


def head_revision() -> str | None:
    """The newest revision shipped with this code."""
    return ScriptDirectory.from_config(_bare_config()).get_current_head()


def _bare_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    return cfg


def current_revision(db: Database) -> str | None:
    """The revision the database is at (None when empty)."""
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema to ``revision``."""
    cfg = alembic_config(db)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def ensure_current(db: Database) -> None:
    """Raise Unavailable unless the schema is exactly at the code's head revision."""
    current, head = current_revision(db), head_revision()
    if current != head:
        raise Unavailable(
            f"database schema is at {current or 'nothing'}, this version needs {head}: "
            "run `steward db upgrade`"
        )
