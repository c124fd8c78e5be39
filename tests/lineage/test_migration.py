"""Migration 0002 creates exactly the lineage tables the ORM describes, on every backend."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import lineage.models  # noqa: F401  (registers the lineage tables on the metadata)
from governance.core.db import Base, Database


def _table_of(diff: Any) -> str:
    op = diff[0] if isinstance(diff, list) else diff
    for item in op[1:]:
        name = getattr(item, "name", None) if not isinstance(item, str) else item
        table = getattr(item, "table", None)
        if table is not None:
            return str(table.name)
        if isinstance(name, str):
            return name
    return ""


def test_upgraded_schema_matches_the_lineage_models(db: Database) -> None:
    with db.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    ours = [d for d in diffs if _table_of(d).startswith("lineage_")]
    assert ours == []
    tables = {t for t in Base.metadata.tables if t.startswith("lineage_")}
    with db.engine.connect() as conn:
        present = set(conn.dialect.get_table_names(conn))
    assert tables <= present
