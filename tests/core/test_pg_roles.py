"""Least privilege on PostgreSQL: the application role `steward db upgrade` creates and grants.

Roles belong to the whole cluster, so each test names its own (``steward_app_<random>``), works
in a database of its own, and drops both. These tests need the PostgreSQL pass of the suite
(``STEWARD_TEST_DATABASE_URL``); the SQLite pass has no roles to test.
"""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import DBAPIError

from governance.core.db import AUDIT_TABLES, Base, Database, normalise_url
from governance.core.errors import InvalidInput
from steward.api.app import build_services, create_app
from steward.migrations import import_all_models, upgrade
from steward.migrations.roles import privilege_warning
from tests.builders import build_world
from tests.cli.runner import run_steward
from tests.conftest import PG_URL, make_settings

pytestmark = pytest.mark.skipif(
    PG_URL is None, reason="PostgreSQL roles: runs in the suite's PostgreSQL pass"
)

STEWARD = Path(sys.executable).parent / "steward"
PASSWORD = "app-role-test-password"  # ignored under trust authentication, used under scram
ORDINARY = {"SELECT", "INSERT", "UPDATE", "DELETE"}
EVERY_RIGHT = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
# What an attacker holding the application role's connection tries against the audit log.
TAMPERING = [
    "DELETE FROM {t}",
    "UPDATE {t} SET {c} = {c}",
    "TRUNCATE {t}",
    "DROP TRIGGER {t}_append_only ON {t}",
    "ALTER TABLE {t} DISABLE TRIGGER ALL",
    "ALTER TABLE {t} DISABLE TRIGGER {t}_append_only",
    "DROP TABLE {t}",
]
ONCE = [
    "SET session_replication_role = replica",  # would skip every trigger of the session
    "UPDATE alembic_version SET version_num = 'x'",
    "DELETE FROM alembic_version",
]


def _admin(sql: str, url: str | None = None) -> None:
    assert PG_URL
    engine = create_engine(url or normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(sql))
    engine.dispose()


def _url(name: str, *, user: str = "postgres", password: str | None = None) -> str:
    assert PG_URL
    base = make_url(normalise_url(PG_URL)).set(database=name, username=user, password=password)
    return base.render_as_string(hide_password=False)


@dataclass(frozen=True)
class Cluster:
    """A database of the test's own and the names of the roles it may create."""

    database: str
    role: str  # the application role
    owner: str  # a migration owner without CREATEROLE, when a test needs one

    def url(self, user: str = "postgres", password: str | None = None) -> str:
        """The URL of the test's database as ``user``."""
        return _url(self.database, user=user, password=password)

    def app_url(self) -> str:
        """The URL the server uses: the application role, with its password."""
        return self.url(self.role, PASSWORD)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A fresh database; afterwards the database and both roles are dropped."""
    tag = uuid.uuid4().hex[:10]
    found = Cluster(database=f"steward_roles_{tag}", role=f"steward_app_{tag}", owner=f"own_{tag}")
    _admin(f'CREATE DATABASE "{found.database}"')
    yield found
    _admin(f'DROP DATABASE IF EXISTS "{found.database}" WITH (FORCE)')
    _admin(f'DROP ROLE IF EXISTS "{found.role}"')
    _admin(f'DROP ROLE IF EXISTS "{found.owner}"')


def _upgraded(cluster: Cluster, revision: str = "head") -> None:
    db = Database(cluster.url())
    try:
        report = upgrade(db, revision, app_role=cluster.role)
        assert report is not None and report.pending_sql == ()
    finally:
        db.dispose()
    _admin(f"ALTER ROLE \"{cluster.role}\" PASSWORD '{PASSWORD}'")


def _rights(cluster: Cluster) -> dict[str, set[str]]:
    """Table -> the rights the application role holds on it."""
    engine = create_engine(cluster.url())
    with engine.connect() as conn:
        tables = conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ).scalars()
        held = {
            table: {
                right
                for right in EVERY_RIGHT
                if conn.execute(
                    text("SELECT has_table_privilege(:r, :t, :p)"),
                    {"r": cluster.role, "t": f"public.{table}", "p": right},
                ).scalar_one()
            }
            for table in list(tables)
        }
    engine.dispose()
    return held


def _expected(tables: set[str]) -> dict[str, set[str]]:
    return {
        t: {"SELECT"} if t == "alembic_version" else
        {"SELECT", "INSERT"} if t in AUDIT_TABLES else ORDINARY
        for t in tables
    }  # fmt: skip


def test_upgrade_creates_a_powerless_login_role_and_grants_every_new_table(
    cluster: Cluster,
) -> None:
    _upgraded(cluster, "0001")
    with create_engine(cluster.url()).connect() as conn:
        attrs = conn.execute(
            text(
                "SELECT rolsuper, rolbypassrls, rolreplication, rolcreaterole, rolcreatedb,"
                " rolcanlogin FROM pg_roles WHERE rolname = :r"
            ),
            {"r": cluster.role},
        ).one()
    assert tuple(attrs) == (False, False, False, False, False, True)
    first = _rights(cluster)
    assert "lineage_nodes" not in first and first == _expected(set(first))
    assert {"audit_entries", "audit_checkpoints"} <= set(first)
    _upgraded(cluster)  # the tables of the later revisions get their rights in the same upgrade
    import_all_models()
    assert _rights(cluster) == _expected(set(Base.metadata.tables) | {"alembic_version"})


def test_every_upgrade_reapplies_exactly_the_grants(cluster: Cluster) -> None:
    _upgraded(cluster)
    # Rights taken away and rights added by hand: the next upgrade puts back exactly its own.
    _admin(f'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "{cluster.role}"', cluster.url())
    _admin(f'GRANT DELETE, TRUNCATE ON audit_entries TO "{cluster.role}"', cluster.url())
    _admin(f'GRANT UPDATE ON alembic_version TO "{cluster.role}"', cluster.url())
    _admin(f'ALTER ROLE "{cluster.role}" SUPERUSER BYPASSRLS CREATEDB')
    db = Database(cluster.url())
    try:
        report = upgrade(db, app_role=cluster.role)
        assert report is not None and report.corrected and not report.created
    finally:
        db.dispose()
    import_all_models()
    assert _rights(cluster) == _expected(set(Base.metadata.tables) | {"alembic_version"})
    for url, warned in ((cluster.url(), True), (cluster.app_url(), False)):
        db = Database(url)
        try:
            assert (privilege_warning(db) is not None) is warned
        finally:
            db.dispose()


def test_the_real_app_runs_as_the_role_and_the_role_cannot_touch_the_audit_log(
    cluster: Cluster, tmp_path: Path
) -> None:
    _upgraded(cluster)
    svc = build_services(make_settings(tmp_path / "home", cluster.app_url()))
    try:
        world = build_world(svc)  # principals, projects, bindings, tokens: all audited writes
        with TestClient(create_app(services=svc, seal_in_background=False)) as client:
            owner = world.headers("owner")
            body = {"name": "ops", "url": "https://hooks.example.com/x", "secret": "s" * 20}
            assert client.post(
                "/api/v1/projects/alpha/channels", json=body, headers=owner
            ).is_success
            r = client.patch("/api/v1/projects/alpha/channels/ops", json={"enabled": False},
                             headers=owner)  # fmt: skip
            assert r.status_code == 200, r.text
            assert client.delete("/api/v1/projects/alpha/channels/ops", headers=owner).is_success
            verified = client.get("/api/v1/audit/verify", headers=world.headers("admin"))
            assert verified.status_code == 200 and verified.json()["ok"], verified.text
            entries = verified.json()["entries"]
        refused = _tamper(svc.db)
        assert len(refused) == len(AUDIT_TABLES) * len(TAMPERING) + len(ONCE)
        assert refused == dict.fromkeys(refused, "42501"), refused  # insufficient_privilege
        with TestClient(create_app(services=svc, seal_in_background=False)) as client:
            verified = client.get("/api/v1/audit/verify", headers=world.headers("admin")).json()
        assert verified["ok"] and verified["entries"] == entries
    finally:
        svc.db.dispose()


def _tamper(db: Database) -> dict[str, str | None]:
    """Each tampering statement, run as the application role -> the SQLSTATE that refused it."""
    import_all_models()
    statements = [
        template.format(t=table, c=next(iter(Base.metadata.tables[table].columns)).name)
        for table in sorted(AUDIT_TABLES)
        for template in TAMPERING
    ]
    outcome: dict[str, str | None] = {}
    for sql in [*statements, *ONCE]:
        try:
            with db.engine.begin() as conn:
                conn.execute(text(sql))
            outcome[sql] = None  # it went through: the assertion names it
        except DBAPIError as exc:
            outcome[sql] = getattr(exc.orig, "sqlstate", None)
    return outcome


def _owned_by(cluster: Cluster, options: str) -> dict[str, str | None]:
    """Make the migration owner (``options``) own the test's database; its CLI environment."""
    _admin(f"CREATE ROLE \"{cluster.owner}\" LOGIN {options} PASSWORD '{PASSWORD}'")
    _admin(f'ALTER DATABASE "{cluster.database}" OWNER TO "{cluster.owner}"')
    _admin(f'ALTER SCHEMA public OWNER TO "{cluster.owner}"', cluster.url())
    return {
        "STEWARD_DATABASE_URL": cluster.url(cluster.owner, PASSWORD),
        "STEWARD_DB_APP_ROLE": cluster.role,
    }


def test_the_readme_way_an_owner_with_createrole_sets_up_the_application_role(
    cluster: Cluster, tmp_path: Path
) -> None:
    env = {"STEWARD_HOME": str(tmp_path / "home"), **_owned_by(cluster, "CREATEROLE")}
    done = run_steward("init", env=env)
    assert done.returncode == 0, done.stderr + done.stdout
    assert f"application role '{cluster.role}' created" in done.stdout
    _admin(f"ALTER ROLE \"{cluster.role}\" PASSWORD '{PASSWORD}'", str(env["STEWARD_DATABASE_URL"]))
    import_all_models()
    assert _rights(cluster) == _expected(set(Base.metadata.tables) | {"alembic_version"})
    app = {**env, "STEWARD_DATABASE_URL": cluster.app_url()}
    listed = run_steward("token", "list", env=app)  # a command as the server's role
    assert listed.returncode == 0, listed.stderr + listed.stdout


def test_an_owner_without_createrole_is_given_the_sql_to_run(
    cluster: Cluster, tmp_path: Path
) -> None:
    env = {"STEWARD_HOME": str(tmp_path / "home"), **_owned_by(cluster, "NOCREATEROLE")}
    first = run_steward("db", "upgrade", env=env)
    assert first.returncode == 0, first.stderr + first.stdout
    create = f'CREATE ROLE "{cluster.role}" LOGIN NOSUPERUSER NOBYPASSRLS'
    assert create in first.stdout and "steward db upgrade` again" in first.stdout
    (printed,) = [line.strip() for line in first.stdout.splitlines() if create in line]
    _admin(printed)  # what the operator runs as a role that may
    second = run_steward("db", "upgrade", env=env)
    assert second.returncode == 0, second.stderr + second.stdout
    assert "grants re-applied" in second.stdout and "CREATE ROLE" not in second.stdout
    import_all_models()
    assert _rights(cluster) == _expected(set(Base.metadata.tables) | {"alembic_version"})
    same = run_steward("db", "upgrade", env={**env, "STEWARD_DB_APP_ROLE": cluster.owner})
    assert same.returncode != 0 and "the role running the upgrade" in same.stderr
    db = Database(cluster.url(cluster.owner, PASSWORD))
    try:
        with pytest.raises(InvalidInput):
            upgrade(db, app_role=cluster.owner)
    finally:
        db.dispose()


# The warning at start


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve_output(home: Path, url: str) -> str:
    """What `steward serve` prints until the app has started (then it is stopped)."""
    env = {**os.environ, "STEWARD_HOME": str(home), "STEWARD_DATABASE_URL": url, "COLUMNS": "250"}
    proc = subprocess.Popen(
        [str(STEWARD), "serve", "--port", str(_free_port())],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    try:
        while (line := lines.get(timeout=120)) is not None:
            seen.append(line)
            if "Application startup complete" in line:
                break
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return "".join(seen)


@pytest.mark.slow
def test_serve_warns_loudly_as_a_superuser_and_not_as_the_application_role(
    cluster: Cluster, tmp_path: Path
) -> None:
    _upgraded(cluster)
    home = tmp_path / "home"
    as_postgres = _serve_output(home, cluster.url())
    assert "Application startup complete" in as_postgres, as_postgres
    warning = "connected to PostgreSQL as 'postgres', a superuser"
    assert as_postgres.count(warning) == 2, as_postgres  # the log line and the console line
    assert "WARNING" in as_postgres
    as_app = _serve_output(home, cluster.app_url())
    assert "Application startup complete" in as_app, as_app
    assert "connected to PostgreSQL as" not in as_app
