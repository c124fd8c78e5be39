"""Alembic environment: runs on the connection Steward hands over (or the configured URL)."""

from __future__ import annotations

import importlib
from pathlib import Path

from alembic import context
from sqlalchemy import create_engine

from governance.core.db import Base, normalise_url

_ROOT = Path(__file__).resolve().parents[2]


def import_all_models() -> None:
    """Import every ``models`` module so that the metadata holds every table."""
    for package in ("governance", "lineage", "monitors", "retrain"):
        for path in sorted((_ROOT / package).rglob("models.py")):
            if "migrations" in path.parts:
                continue
            module = ".".join(path.relative_to(_ROOT).with_suffix("").parts)
            importlib.import_module(module)


import_all_models()
config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    """Run migrations online, on a passed-in connection when there is one."""
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(normalise_url(config.get_main_option("sqlalchemy.url") or ""))
    with engine.connect() as conn:
        context.configure(
            connection=conn,
            target_metadata=target_metadata,
            render_as_batch=conn.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
