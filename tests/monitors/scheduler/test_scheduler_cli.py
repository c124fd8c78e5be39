"""``steward daemon`` on an accelerated clock: runs each window once, stops on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from governance.core.db import Database
from governance.core.settings import Settings
from monitors.runs.service import list_runs
from monitors.scheduler.lease import Lease
from monitors.specs.schemas import MonitorSpec, Schedule, Target
from monitors.specs.service import create_monitor
from tests.builders import OPERATOR, World

ROOT = Path(__file__).resolve().parents[3]
WINDOWS = 30


def test_daemon_command_runs_windows_and_hands_the_lease_back(
    db: Database, settings: Settings, world: World
) -> None:
    origin = datetime(2026, 4, 1, tzinfo=UTC)
    minute = timedelta(minutes=1)
    schedule = Schedule(interval=minute, start=origin, end=origin + (WINDOWS - 1) * minute)
    spec = MonitorSpec(name="cli", target=Target(name="nowhere"), schedule=schedule)
    create_monitor(db, project="alpha", spec=spec, actor=OPERATOR)
    env = os.environ | {
        "STEWARD_HOME": str(settings.home),
        "STEWARD_DATABASE_URL": settings.database_url,
        "PYTHONPATH": str(ROOT),
    }
    args = [
        sys.executable,
        "-c",
        "from steward.cli import main; main()",
        "daemon",
        "--speed",
        "600",
        "--clock-start",
        origin.isoformat(),
        "--wall-start",
        str(time.time() + 2),
        "--lease-ttl",
        "2",
        "--renew-every",
        "0.5",
    ]
    proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            if len(list_runs(db, project="alpha", name="cli", limit=100)) >= WINDOWS:
                break
            time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert b"daemon stopped" in out
    log = err.decode()
    assert log.count("is the leader (lease monitor-daemon, epoch 1)") == 1
    # One INFO line per run: monitor, window, status and duration.
    line = r"INFO monitors\.scheduler\.daemon: monitor alpha/cli window (\S+)\.\.(\S+): "
    run_lines = re.findall(line + r"failed in [0-9.]+ s", log)
    assert len(run_lines) == WINDOWS
    assert run_lines[0] == ((origin - minute).isoformat(), origin.isoformat())
    assert " INFO apscheduler" not in log  # APScheduler logs WARNING and up only
    assert "released the lease" in log
    runs = list_runs(db, project="alpha", name="cli", limit=100)
    assert sorted(r.window_end for r in runs) == [origin + i * minute for i in range(WINDOWS)]
    assert {r.status for r in runs} == {"failed"}  # the endpoint does not exist: kept as failures
    lease = Lease(db, holder="observer").current()
    assert lease is not None and lease.expires_at < datetime.now(UTC)  # released on SIGTERM
