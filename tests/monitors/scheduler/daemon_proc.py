"""One monitoring daemon as a process, on synthetic traffic (the multi-daemon tests start 3)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from datetime import timedelta
from types import FrameType

from governance.core.db import Database
from monitors.runs.sources import (
    MemoryAlertSink,
    NoLineage,
    RunEnvironment,
    StaticReferenceLoader,
    TableWindowReader,
)
from monitors.scheduler.clock import AcceleratedClock, parse_instant
from monitors.scheduler.daemon import Daemon, DaemonOptions
from tests.monitors.runs.synthetic import reference_table, traffic


def main(argv: list[str]) -> None:
    """Run a daemon until SIGTERM."""
    p = argparse.ArgumentParser()
    for name in ("--url", "--origin", "--holder"):
        p.add_argument(name, required=True)
    for name in ("--speed", "--wall-start", "--ttl", "--renew", "--tick"):
        p.add_argument(name, type=float, required=True)
    p.add_argument("--windows", type=int, required=True)
    p.add_argument("--minutes", type=int, default=1)
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    origin = parse_instant(a.origin)
    every = timedelta(minutes=a.minutes)
    env = RunEnvironment(
        windows=TableWindowReader(
            {"scorer": traffic(origin - every, windows=a.windows + 1, every=every, rows=60)}
        ),
        references=StaticReferenceLoader({"train": reference_table(500)}, default="train"),
        alerts=MemoryAlertSink(),
        lineage=NoLineage(),
    )
    clock = AcceleratedClock(origin, speed=a.speed, wall_start=a.wall_start)
    options = DaemonOptions(
        lease_ttl=a.ttl, renew_every=a.renew, sync_every=a.renew * 4, tick=a.tick
    )
    daemon = Daemon(Database(a.url), env=env, clock=clock, options=options, holder=a.holder)

    def _term(signum: int, frame: FrameType | None) -> None:
        daemon.request_stop()

    signal.signal(signal.SIGTERM, _term)
    daemon.run_forever()
    print("stopped", a.holder, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
