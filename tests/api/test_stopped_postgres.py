"""A PostgreSQL server that stops under a running app: 503 with Retry-After, then recovery.

The server is a private cluster made for the test (initdb into a temporary folder, a free port),
never the shared one on 5432: it is stopped the hard way (``pg_ctl stop -m immediate``, as a
crash or a power cut would) and started again under the same app, which must not need a restart.
It runs in the suite's PostgreSQL pass (``STEWARD_TEST_DATABASE_URL``), where the server binaries
are installed.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from governance.core.db import Database
from steward.api.app import build_services, create_app
from steward.migrations import upgrade
from tests.builders import build_world
from tests.conftest import PG_URL, make_settings

pytestmark = [
    pytest.mark.skipif(PG_URL is None, reason="PostgreSQL outage: runs in the PostgreSQL pass"),
    pytest.mark.slow,
]

CHANNEL = {"name": "ops", "url": "https://hooks.example.com/x", "secret": "s" * 20}
CHANNELS = "/api/v1/projects/alpha/channels"


def _bin_dir() -> Path:
    """The newest installed server's binaries (Debian keeps them off the PATH)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4])
    )
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    assert pg_ctl, "the PostgreSQL server binaries (initdb, pg_ctl) are not installed"
    return Path(pg_ctl).parent


@dataclass
class PrivateCluster:
    """A throwaway PostgreSQL cluster of this test, listening on 127.0.0.1:<port>."""

    data: Path
    port: int
    bin: Path

    def run(self, tool: str, *args: str) -> None:
        """Run a server tool; as root, as the ``postgres`` user (initdb refuses root)."""
        command = [str(self.bin / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, f"{tool}: {done.stdout}{done.stderr}"

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.run("pg_ctl", "-D", str(self.data / "db"), "-l", str(self.data / "log"), "-w",
                 "-t", "120", "-o", options, "start")  # fmt: skip

    def stop(self) -> None:
        """Stop the server at once, as a crash would (no checkpoint, clients cut off)."""
        self.run("pg_ctl", "-D", str(self.data / "db"), "-m", "immediate", "-w", "stop")

    def running(self) -> bool:
        """Whether the server's pid file says it runs."""
        return (self.data / "db" / "postmaster.pid").exists()

    def url(self, database: str) -> str:
        """The URL of ``database`` on this cluster."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    """A new cluster, started; stopped and deleted afterwards whatever happened."""
    # Not under pytest's tmp_path: its folders are private to root, and the server runs as
    # postgres when the tests run as root.
    data = Path(tempfile.mkdtemp(prefix="steward-pg-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(data, user.pw_uid, user.pw_gid)
    found = PrivateCluster(data=data, port=_free_port(), bin=_bin_dir())
    try:
        found.run("initdb", "-D", str(data / "db"), "-U", "postgres", "--auth=trust",
                  "--encoding=UTF8", "--locale=C", "--no-sync")  # fmt: skip
        found.start()
        yield found
    finally:
        if found.running():
            found.stop()
        shutil.rmtree(data, ignore_errors=True)


def _assert_unavailable(r: Any) -> None:
    assert r.status_code == 503, r.text
    body = r.json()
    assert body["code"] == "unavailable"
    assert body["request_id"] and body["request_id"] == r.headers["x-request-id"]
    assert int(r.headers["retry-after"]) >= 1
    assert "127.0.0.1" not in r.text and "SELECT" not in r.text


def test_a_stopped_server_is_503_and_the_app_recovers_when_it_is_back(
    cluster: PrivateCluster, tmp_path: Path
) -> None:
    admin = create_engine(cluster.url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE steward"))
    admin.dispose()
    db = Database(cluster.url("steward"))
    upgrade(db)
    db.dispose()
    svc = build_services(make_settings(tmp_path / "home", cluster.url("steward")))
    try:
        world = build_world(svc)
        owner = world.headers("owner")
        with TestClient(create_app(services=svc, seal_in_background=False)) as client:
            assert client.get(CHANNELS, headers=owner).json() == []  # pooled connections exist
            try:
                cluster.stop()
                _assert_unavailable(client.get(CHANNELS, headers=owner))
                _assert_unavailable(client.post(CHANNELS, json=CHANNEL, headers=owner))
                _assert_unavailable(client.get("/api/v1/me", headers=owner))
                health = client.get("/api/v1/health")
                assert health.status_code == 503 and health.json()["database"] == "down"
                assert int(health.headers["retry-after"]) >= 1
            finally:
                cluster.start()
            # The same app, the same pool: nothing restarted but the database.
            health = client.get("/api/v1/health")
            assert health.status_code == 200 and health.json()["database"] == "up"
            r = client.post(CHANNELS, json=CHANNEL, headers=owner)
            assert r.status_code == 201, r.text  # the refused attempt wrote nothing
            assert [c["name"] for c in client.get(CHANNELS, headers=owner).json()] == ["ops"]
            verified = client.get("/api/v1/audit/verify", headers=world.headers("admin"))
            assert verified.status_code == 200 and verified.json()["ok"], verified.text
    finally:
        svc.db.dispose()
