"""Schema migrations (Alembic, every table): upgrade, inspect, refuse a schema that is behind."""

from __future__ import annotations

import importlib
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from governance.core.db import Database
from governance.core.errors import Unavailable
from steward.migrations.roles import RoleReport, apply_app_role

SCRIPT_LOCATION = Path(__file__).resolve().parent

# Every module that declares tables, named here rather than found by globbing files, so that a
# module called ``models`` elsewhere (a route module, say) never lands in the metadata.
MODEL_MODULES = (
    "governance.access.models",
    "governance.audit.models",
    "lineage.models",
    "lineage.catalog.models",
    "lineage.prompts.models",
    "monitors.capture.models",
    "monitors.traces.models",
    "monitors.alerts.models",
    "monitors.evaluators.models",
    "monitors.specs.models",
    "monitors.runs.models",
    "monitors.scheduler.models",
    "retrain.pipelines.models",
    "retrain.triggers.models",
    "retrain.gate.models",
    "retrain.approvals.models",
    "retrain.rollout.models",
    "retrain.evaluation.models",
    "steward.reports.models",
)


def import_all_models() -> None:
    """Import every table-declaring module so that ``Base.metadata`` holds every table."""
    for module in MODEL_MODULES:
        importlib.import_module(module)


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


def upgrade(
    db: Database, revision: str = "head", *, app_role: str | None = None
) -> RoleReport | None:
    """Bring the schema to ``revision``; on PostgreSQL with ``app_role``, also create that
    application role and re-apply its grants in the same transaction (see ``roles``)."""
    cfg = alembic_config(db)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        if app_role is None or db.is_sqlite:
            return None
        import_all_models()
        return apply_app_role(conn, app_role)


def ensure_current(db: Database) -> None:
    """Raise Unavailable unless the schema is exactly at the code's head revision."""
    current, head = current_revision(db), head_revision()
    if current != head:
        raise Unavailable(
            f"database schema is at {current or 'nothing'}, this version needs {head}: "
            "run `steward db upgrade`"
        )
