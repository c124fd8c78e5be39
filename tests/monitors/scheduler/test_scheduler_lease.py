"""The lease: one holder at a time, renewal, expiry and takeover, release; coalesced catch-up."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from governance.core.clock import ManualClock
from governance.core.db import Database
from monitors.runs.service import list_runs
from monitors.runs.sources import RunEnvironment
from monitors.scheduler.daemon import Daemon, DaemonOptions
from monitors.scheduler.lease import Lease
from monitors.specs.schemas import Monitor
from tests.monitors.scheduler.conftest import HOUR, START


def test_one_holder_until_expiry_then_takeover(db: Database) -> None:
    wall = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    a = Lease(db, holder="a", ttl=10, wall=wall)
    b = Lease(db, holder="b", ttl=10, wall=wall)
    assert a.acquire() and not b.acquire()
    wall.advance(timedelta(seconds=8))
    assert a.acquire() and not b.acquire()  # renewed: still a's
    first = a.current()
    assert first is not None and first.holder == "a" and first.epoch == 1
    wall.advance(timedelta(seconds=11))
    assert b.acquire() and not a.acquire()
    taken = b.current()
    assert taken is not None and taken.holder == "b" and taken.epoch == 2
    b.release()
    assert a.acquire()


def test_paused_daemon_catches_up_every_missed_window_once(
    db: Database, monitor: Monitor, env: RunEnvironment
) -> None:
    clock = ManualClock(START + 2 * HOUR)
    daemon = Daemon(db, env=env, clock=clock, options=DaemonOptions(tick=60))
    daemon.leading = True
    assert daemon.run_due(monitor) == 3  # windows ending at START, +1h, +2h
    clock.advance(9 * HOUR)  # nine fire times missed: one tick runs them all
    assert daemon.run_due(monitor) == 9
    assert daemon.run_due(monitor) == 0
    ends = [r.window_end for r in list_runs(db, project="alpha", name="drift", limit=100)]
    assert sorted(ends) == [START + h * HOUR for h in range(12)]


def test_retention_runs_on_the_leader_only(db: Database, env: RunEnvironment) -> None:
    calls: list[str] = []
    daemon = Daemon(
        db,
        env=env,
        clock=ManualClock(START),
        options=DaemonOptions(tick=60, retention_every=0.05),
        retention=lambda: calls.append("swept"),
    )
    daemon.apply_retention()
    assert calls == [], "a standby must not delete anything"
    daemon.leading = True
    daemon.apply_retention()
    assert calls == ["swept"]


def test_daemons_log_leading_standby_and_a_lost_lease_once_each(
    db: Database, env: RunEnvironment, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="monitors.scheduler.daemon")
    one = Daemon(db, env=env, options=DaemonOptions(tick=60), holder="one")
    two = Daemon(db, env=env, options=DaemonOptions(tick=60), holder="two")
    for _ in range(3):  # renewals and repeated refusals add no lines
        one.heartbeat()
        two.heartbeat()
    one.lease.release()  # as if one had stalled past its lease
    two.heartbeat()
    one.heartbeat()
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert lines == [
        ("INFO", "one is the leader (lease monitor-daemon, epoch 1)"),
        ("INFO", "two on standby (leader one, epoch 1)"),
        ("INFO", "two is the leader (lease monitor-daemon, epoch 2)"),
        ("WARNING", "one lost the lease monitor-daemon; on standby"),
    ]
