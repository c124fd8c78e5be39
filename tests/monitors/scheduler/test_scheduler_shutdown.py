"""The daemon stops on SIGTERM even while a monitor run hangs, with the audit log sealed.

The process runs ``steward daemon``'s entry point (``monitors.scheduler.main.main``) with a
window reader that blocks on a pipe (see ``stuck_daemon_proc``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from governance.audit.keys import key_ring
from governance.audit.service import verify_audit
from governance.core.db import Database
from governance.core.settings import Settings
from monitors.scheduler.lease import Lease
from monitors.specs.schemas import MonitorSpec, Schedule, Target
from monitors.specs.service import create_monitor
from tests.builders import OPERATOR, World

ROOT = Path(__file__).resolve().parents[3]


@contextlib.contextmanager
def _writer_once_read(fifo: Path, proc: subprocess.Popen[bytes]) -> Iterator[None]:
    """Wait until the daemon opened the FIFO, then hold its write end open, sending nothing."""
    deadline = time.time() + 60
    fd = -1
    while fd < 0:
        assert proc.poll() is None, proc.communicate()[1].decode()
        if time.time() > deadline:
            proc.kill()
            raise AssertionError(proc.communicate()[1].decode()[-3000:])
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:  # ENXIO: no reader yet
            assert exc.errno == errno.ENXIO, exc
            time.sleep(0.2)
    try:
        yield  # the run now waits in read() for bytes that never come
    finally:
        os.close(fd)


def test_sigterm_stops_the_daemon_while_a_run_hangs(
    db: Database, settings: Settings, world: World, tmp_path: Path
) -> None:
    origin = datetime(2026, 4, 1, tzinfo=UTC)
    spec = MonitorSpec(
        name="stuck",
        target=Target(name="scorer"),
        schedule=Schedule(interval=timedelta(minutes=1), start=origin),
    )
    create_monitor(db, project="alpha", spec=spec, actor=OPERATOR)
    fifo = tmp_path / "window.pipe"
    os.mkfifo(fifo)
    env = os.environ | {
        "STEWARD_HOME": str(settings.home),
        "STEWARD_DATABASE_URL": settings.database_url,
        "PYTHONPATH": str(ROOT),
    }
    args = [
        sys.executable, "-m", "tests.monitors.scheduler.stuck_daemon_proc", "--fifo", str(fifo),
        "--origin", (origin + timedelta(minutes=2)).isoformat(), "--stop-grace", "1",
    ]  # fmt: skip
    proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with _writer_once_read(fifo, proc):
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=60)  # before: never (shutdown(wait=True))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = err.decode()
    assert proc.returncode == 0, log
    assert b"daemon stopped" not in out  # ended by os._exit once sealed, not by returning
    assert "is the leader (lease monitor-daemon, epoch 1)" in log
    assert "SIGTERM received, stopping" in log
    assert "jobs still running 1 s after stop; abandoning them" in log
    lease = Lease(db, holder="observer").current()
    assert lease is not None and lease.expires_at < datetime.now(UTC)  # handed on at exit
    ring = key_ring(settings.key_path, origin=settings.audit_origin)
    audit = verify_audit(db, keys=ring, origin=settings.audit_origin)
    assert audit.ok, audit.findings
    # Everything, the daemon's own "daemon.lead" entry included, is under a checkpoint.
    assert audit.entries > 0 and audit.sealed_through == audit.entries
