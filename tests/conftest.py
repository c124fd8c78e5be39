"""Shared fixtures: a fresh database per test (SQLite, or PostgreSQL when configured)."""

from __future__ import annotations

import copy
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import threadpoolctl
from fastapi.testclient import TestClient
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text

from governance.core.db import Database, normalise_url
from governance.core.settings import Settings
from steward.api.app import build_services, create_app
from steward.api.deps import Services
from steward.migrations import upgrade
from tests.builders import World, build_world

# NannyML (the parity tests' reference) reports usage over the network unless told not to.
os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")
# One BLAS/OpenMP thread per test worker: the workers already fill the cores, and a thread pool
# per worker on a busy host made small numpy and scikit-learn calls up to 40 times slower.
threadpoolctl.threadpool_limits(limits=1)
PG_URL = os.environ.get("STEWARD_TEST_DATABASE_URL")
DATA = Path(__file__).resolve().parent / "data"

# Property tests draw the same examples on every run and every machine (a seed derived from the
# test itself), and keep no example database between runs.
hypothesis_settings.register_profile("steward", derandomize=True, database=None)
hypothesis_settings.load_profile("steward")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Start the tests marked slow first, so that the workers finish together.

    A long test left to the end of the run keeps one worker busy while the others sit idle.
    """
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def _admin_url(url: str) -> str:
    return normalise_url(url).rsplit("/", 1)[0] + "/postgres"


def make_settings(home: Path, database_url: str, **overrides: Any) -> Settings:
    """The settings test apps run with: a generous rate limit, no policy file polling."""
    values: dict[str, Any] = {
        "checkpoint_every": 64,
        "rate_limit_per_minute": 100_000,
        "rate_limit_burst": 10_000,
        "policy_reload_seconds": 0,
    }
    return Settings(home=home, database_url=database_url, **{**values, **overrides})


class DatabaseFactory:
    """Hands out fresh, migrated databases cheaply: copies of per-session templates.

    Two templates per session (per worker): an empty database at schema head, and one that also
    holds the test world (projects, principals, their tokens), built once instead of per test.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.templates: dict[bool, str] = {}  # with the world or not: a file, or a PG database
        self.world: World | None = None
        self.worlds: set[str] = set()  # the URLs handed out with the world in them

    def _template(self, world: bool) -> str:
        if world in self.templates:
            return self.templates[world]
        if world:
            url = self._create(self.root / "world", world=False)
            svc = build_services(make_settings(self.root / "world", url))
            self.world = build_world(svc)
            svc.db.dispose()
            name = url.rsplit("/", 1)[1] if PG_URL else str(self.root / "world" / "steward.db")
        elif PG_URL:
            name = f"steward_tpl_{os.getpid()}"
            self._pg(f'DROP DATABASE IF EXISTS "{name}"')
            self._pg(f'CREATE DATABASE "{name}"')
            db = Database(self._pg_url(name))
            upgrade(db)
            db.dispose()
        else:
            name = str(self.root / "template.db")
            db = Database(f"sqlite:///{name}")
            upgrade(db)
            db.dispose()
        self.templates[world] = name
        return name

    def _pg_url(self, name: str) -> str:
        assert PG_URL
        return normalise_url(PG_URL).rsplit("/", 1)[0] + f"/{name}"

    def _pg(self, sql: str) -> None:
        assert PG_URL
        engine = create_engine(_admin_url(PG_URL), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(sql))
        engine.dispose()

    def _create(self, directory: Path, *, world: bool) -> str:
        template = self._template(world)
        directory.mkdir(parents=True, exist_ok=True)
        if world:  # the world's audit key, so that everything it signed still verifies
            shutil.copytree(self.root / "world" / "keys", directory / "keys", dirs_exist_ok=True)
        if PG_URL:
            name = f"steward_t_{uuid.uuid4().hex[:12]}"
            self._pg(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            return self._pg_url(name)
        target = directory / "steward.db"
        shutil.copyfile(template, target)
        return f"sqlite:///{target}"

    def new(self, directory: Path, *, world: bool = False) -> str:
        """A URL of a new database at schema head (holding the test world if asked)."""
        url = self._create(directory, world=world)
        if world:
            self.worlds.add(url)
        return url

    def drop(self, url: str) -> None:
        """Drop a PostgreSQL test database (SQLite files go with tmp_path)."""
        self.worlds.discard(url)
        if PG_URL:
            name = url.rsplit("/", 1)[1]
            self._pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        """Drop the templates."""
        if PG_URL:
            for name in self.templates.values():
                self._pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    """The template databases of this test session."""
    factory = DatabaseFactory(tmp_path_factory.mktemp("template"))
    yield factory
    factory.close()


@pytest.fixture
def db_url(
    database_factory: DatabaseFactory, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[str]:
    """URL of a fresh database at schema head; a test that uses ``world`` finds it there."""
    url = database_factory.new(tmp_path / "home", world="world" in request.fixturenames)
    yield url
    database_factory.drop(url)


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Settings pointing at the fresh database and a temporary home."""
    return make_settings(tmp_path / "home", db_url)


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


def serve(app: Any) -> tuple[str, Any, threading.Thread]:
    """Serve ``app`` with uvicorn on a free local port in a background thread: its URL, the
    server (set ``should_exit`` to stop it) and the thread."""
    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    return f"http://127.0.0.1:{port}", srv, thread


@pytest.fixture
def server(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The real app served by uvicorn on a free local port, in a background thread."""
    url, srv, thread = serve(app)
    yield url
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def world(services: Services, db_url: str, database_factory: DatabaseFactory) -> World:
    """Projects 'alpha' and 'beta', an admin, and one principal per role in 'alpha'.

    They are already in the database: ``db_url`` copied it from the world template, and the
    services loaded its role bindings into the policy.
    """
    assert db_url in database_factory.worlds and database_factory.world is not None
    return copy.deepcopy(database_factory.world)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real data sets inside the repository (``tests/data``, see its README)."""
    assert DATA.is_dir(), f"test data missing at {DATA}"
    return DATA
