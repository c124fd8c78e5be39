"""Migrations: the chain builds exactly the ORM schema, and nothing serves a schema behind it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from governance.core.db import Base, Database, normalise_url
from governance.core.errors import Unavailable
from governance.core.settings import Settings
from steward.api.app import build_services, create_app
from steward.migrations import (
    MODEL_MODULES,
    SCRIPT_LOCATION,
    current_revision,
    head_revision,
    import_all_models,
    upgrade,
)
from tests.cli.runner import CliResult, run_steward

ROOT = Path(__file__).resolve().parents[2]
# The console script of the environment the tests run in (.venv locally, CI's own venv).
PG_URL = os.environ.get("STEWARD_TEST_DATABASE_URL")


def test_every_table_module_is_listed_for_migrations() -> None:
    # The explicit list in steward.migrations is what Alembic sees; a new domain ``models``
    # module that is not on it would silently miss its tables.
    # (steward/api/routes/models.py holds routes: of the front door only reports keep tables)
    found = {
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for package in ("governance", "lineage", "monitors", "retrain", "steward/reports")
        for path in (ROOT / package).rglob("models.py")
    }
    assert found == set(MODEL_MODULES)


def _pg_admin(sql: str) -> None:
    assert PG_URL
    engine = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(sql))
    engine.dispose()


@pytest.fixture
def empty_url(tmp_path: Path) -> Iterator[str]:
    """URL of an empty database (no tables at all)."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"steward_mig_{uuid.uuid4().hex[:12]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    yield normalise_url(PG_URL).rsplit("/", 1)[0] + f"/{name}"
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _revisions() -> list[str]:
    """Every revision, oldest first."""
    script = ScriptDirectory(str(SCRIPT_LOCATION))
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def test_the_chain_is_linear_and_has_one_head() -> None:
    script = ScriptDirectory(str(SCRIPT_LOCATION))
    assert len(script.get_heads()) == 1
    revisions = list(script.walk_revisions())
    assert [r.down_revision for r in revisions][-1] is None
    assert all(not r.is_merge_point for r in revisions)


def test_upgrading_an_empty_database_gives_exactly_the_orm_metadata(empty_url: str) -> None:
    import_all_models()
    db = Database(empty_url)
    try:
        assert current_revision(db) is None
        for revision in _revisions():  # one step at a time: each migration runs on its own
            upgrade(db, revision)
            assert current_revision(db) == revision
        assert current_revision(db) == head_revision()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
            tables = set(inspect(conn).get_table_names())
        assert diff == [], f"migrations differ from the ORM models: {diff}"
        assert set(Base.metadata.tables) <= tables
        assert tables - set(Base.metadata.tables) == {"alembic_version"}
    finally:
        db.dispose()


def test_upgrading_twice_is_a_no_op(empty_url: str) -> None:
    db = Database(empty_url)
    try:
        upgrade(db)
        upgrade(db)
        assert current_revision(db) == head_revision()
    finally:
        db.dispose()


def _behind(url: str) -> str:
    """Bring ``url`` to the revision just before head; return that revision."""
    previous = _revisions()[-2]
    db = Database(url)
    upgrade(db, previous)
    db.dispose()
    return previous


def test_create_app_refuses_a_schema_that_is_behind(empty_url: str, tmp_path: Path) -> None:
    previous = _behind(empty_url)
    settings = Settings(home=tmp_path / "home", database_url=empty_url)
    with pytest.raises(Unavailable, match=f"at {previous}, this version needs {head_revision()}"):
        create_app(settings)
    with pytest.raises(Unavailable):
        build_services(settings)


def test_create_app_refuses_an_empty_database(empty_url: str, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", database_url=empty_url)
    with pytest.raises(Unavailable, match="schema is at nothing"):
        create_app(settings)


def _steward(home: Path, url: str, *args: str) -> CliResult:
    return run_steward(*args, env={"STEWARD_HOME": str(home), "STEWARD_DATABASE_URL": url})


def _one_line_error(result: CliResult) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_cli_db_check_refuses_a_schema_behind_and_upgrade_fixes_it(
    empty_url: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    line = _one_line_error(_steward(home, empty_url, "db", "check"))
    assert "schema is at nothing" in line and "steward db upgrade" in line
    previous = _behind(empty_url)
    line = _one_line_error(_steward(home, empty_url, "db", "check"))
    assert f"at {previous}, this version needs {head_revision()}" in line
    # Neither the server nor a command that uses the database starts on it.
    line = _one_line_error(_steward(home, empty_url, "serve", "--port", "0"))
    assert "steward db upgrade" in line
    _one_line_error(_steward(home, empty_url, "token", "list"))

    upgraded = _steward(home, empty_url, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    checked = _steward(home, empty_url, "db", "check")
    assert checked.returncode == 0, checked.stderr
    assert "up to date" in checked.stdout
