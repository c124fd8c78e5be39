"""Alembic environment: runs on the connection Steward hands over (or the configured URL)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from governance.core.db import Base, normalise_url
from steward.migrations import import_all_models

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
