"""Shared fixtures: a fresh database per test (SQLite, or PostgreSQL when configured)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from governance.core.db import Database, normalise_url
from governance.core.settings import Settings
from steward.api.app import build_services, create_app
from steward.api.deps import Services
from steward.migrations import upgrade
from tests.builders import World, build_world

PG_URL = os.environ.get("STEWARD_TEST_DATABASE_URL")
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _admin_url(url: str) -> str:
    return normalise_url(url).rsplit("/", 1)[0] + "/postgres"


class DatabaseFactory:
    """Hands out fresh, migrated databases cheaply: copies of one template per session."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.template: str | None = None
        self.created: list[str] = []

    def _prepare(self) -> None:
        if self.template is not None:
            return
        if PG_URL:
            self.template = f"steward_tpl_{os.getpid()}"
            self._pg(f'DROP DATABASE IF EXISTS "{self.template}"')
            self._pg(f'CREATE DATABASE "{self.template}"')
            db = Database(self._pg_url(self.template))
            upgrade(db)
            db.dispose()
        else:
            self.template = str(self.root / "template.db")
            db = Database(f"sqlite:///{self.template}")
            upgrade(db)
            db.dispose()

    def _pg_url(self, name: str) -> str:
        assert PG_URL
        return normalise_url(PG_URL).rsplit("/", 1)[0] + f"/{name}"

    def _pg(self, sql: str) -> None:
        assert PG_URL
        engine = create_engine(_admin_url(PG_URL), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(sql))
        engine.dispose()

    def new(self, directory: Path) -> str:
        """A URL of a new database at schema head."""
        self._prepare()
        assert self.template is not None
        if PG_URL:
            name = f"steward_t_{uuid.uuid4().hex[:12]}"
            self._pg(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
            self.created.append(name)
            return self._pg_url(name)
        target = directory / "steward.db"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.template, target)
        return f"sqlite:///{target}"

    def drop(self, url: str) -> None:
        """Drop a PostgreSQL test database (SQLite files go with tmp_path)."""
        if PG_URL:
            name = url.rsplit("/", 1)[1]
            self._pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        """Drop the template."""
        if PG_URL and self.template:
            self._pg(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    """One template database per test session."""
    factory = DatabaseFactory(tmp_path_factory.mktemp("template"))
    yield factory
    factory.close()


@pytest.fixture
def db_url(database_factory: DatabaseFactory, tmp_path: Path) -> Iterator[str]:
    """URL of a fresh database at schema head."""
    url = database_factory.new(tmp_path / "home")
    yield url
    database_factory.drop(url)


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Settings pointing at the fresh database and a temporary home."""
    return Settings(
        home=tmp_path / "home",
        database_url=db_url,
        checkpoint_every=64,
        rate_limit_per_minute=100_000,
        rate_limit_burst=10_000,
        policy_reload_seconds=0,
    )


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    """The wired service container (database, policy, signer)."""
    svc = build_services(settings)
    yield svc
    svc.db.dispose()


@pytest.fixture
def db(services: Services) -> Database:
    """The test database, with audit sealing configured."""
    return services.db


@pytest.fixture
def app(services: Services):  # type: ignore[no-untyped-def]
    """The real application."""
    return create_app(services=services, seal_in_background=False)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """HTTP client on the real app."""
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def world(services: Services) -> World:
    """Projects 'alpha' and 'beta', an admin, and one principal per role in 'alpha'."""
    return build_world(services)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared real data sets; tests that need them skip when absent."""
    if not DATA.is_dir():
        pytest.skip(f"shared data sets not found at {DATA}")
    return DATA
