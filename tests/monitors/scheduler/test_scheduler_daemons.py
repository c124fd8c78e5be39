"""Three daemon processes on one database: each window runs once, a killed leader is replaced."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from governance.core.db import Database
from monitors.runs.models import RunRow
from monitors.scheduler.lease import Lease
from monitors.specs.schemas import MonitorSpec, Schedule, Target
from monitors.specs.service import create_monitor
from tests.builders import OPERATOR, World

ROOT = Path(__file__).resolve().parents[3]
WINDOWS = 200
SPEED = 1200.0  # a one-minute window every 50 ms of wall time: 200 windows in 10 s


def _spawn(url: str, holder: str, origin: datetime, wall_start: float) -> subprocess.Popen[bytes]:
    args = [
        sys.executable, "-m", "tests.monitors.scheduler.daemon_proc", "--url", url,
        "--origin", origin.isoformat(), "--holder", holder, "--speed", str(SPEED),
        "--wall-start", str(wall_start), "--ttl", "2", "--renew", "0.4", "--tick", "0.2",
        "--windows", str(WINDOWS),
    ]  # fmt: skip
    return subprocess.Popen(args, cwd=ROOT, env=os.environ | {"PYTHONPATH": str(ROOT)})


def _runs(db: Database) -> list[tuple[datetime, str]]:
    with db.read() as session:
        return [(r.window_end, r.holder) for r in session.scalars(select(RunRow))]


def _count(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(RunRow)) or 0)


def _leader(db: Database) -> str | None:
    info = Lease(db, holder="observer").current()
    return info.holder if info and info.expires_at > datetime.now(UTC) else None


def _reap(procs: dict[str, subprocess.Popen[bytes]]) -> list[str]:
    """Wait for every daemon; kill those still running after 30 s, so none outlives the test."""
    stuck = []
    for holder, proc in procs.items():
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            stuck.append(holder)
            proc.kill()
            proc.wait()
    return stuck


def test_three_daemons_run_each_window_once_and_survive_sigkill(
    db: Database, db_url: str, world: World
) -> None:
    origin = datetime(2026, 5, 1, tzinfo=UTC)
    spec = MonitorSpec(
        name="fleet",
        target=Target(name="scorer"),
        schedule=Schedule(
            interval=timedelta(minutes=1),
            start=origin,
            end=origin + (WINDOWS - 1) * timedelta(minutes=1),
        ),
    )
    create_monitor(db, project="alpha", spec=spec, actor=OPERATOR)
    wall_start = time.time() + 4  # let all three import and contend before the clock starts
    procs = {h: _spawn(db_url, h, origin, wall_start) for h in ("d1", "d2", "d3")}
    try:
        deadline = time.time() + 30
        while _count(db) < 60 and time.time() < deadline:
            time.sleep(0.2)
        leader = _leader(db)
        assert leader in procs, "no leader after 60 windows"
        killed_at = time.time()
        procs[leader].send_signal(signal.SIGKILL)
        procs[leader].wait()
        while (_leader(db) in (None, leader)) and time.time() < killed_at + 30:
            time.sleep(0.1)
        takeover = time.time() - killed_at
        assert _leader(db) not in (None, leader)
        assert takeover < 30
        deadline = time.time() + 60
        while _count(db) < WINDOWS and time.time() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)  # any straggler duplicate would land now
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        stuck = _reap(procs)
    assert not stuck, f"daemons still running 30 s after SIGTERM: {stuck}"
    runs = _runs(db)
    ends = sorted(e for e, _ in runs)
    assert len(ends) == WINDOWS  # the unique (monitor, window end) key makes them distinct
    assert ends == [origin + i * timedelta(minutes=1) for i in range(WINDOWS)]
    holders = {h for _, h in runs}
    assert leader in holders and len(holders) >= 2
