"""``steward daemon``'s own entry point (signals, sealer, bounded stop) with a run that hangs.

The window reader opens a FIFO and reads it: the test holds the write end open and sends
nothing, so the run's worker thread blocks in ``read()`` as on a hung network mount.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pyarrow as pa

from governance.audit.runtime import open_audit
from governance.core.db import Database
from governance.core.settings import Settings
from monitors.runs.sources import MemoryAlertSink, NoLineage, RunEnvironment, StaticReferenceLoader
from monitors.scheduler.clock import AcceleratedClock, parse_instant
from monitors.scheduler.daemon import Daemon, DaemonOptions
from monitors.scheduler.main import configure_logging, main
from monitors.specs.schemas import Target
from monitors.specs.windows import Span
from tests.monitors.runs.synthetic import reference_table


class PipeWindowReader:
    """Windows read from a named pipe: blocks until a writer sends data and closes."""

    def __init__(self, fifo: Path) -> None:
        self.fifo = fifo

    def read(self, *, project: str, target: Target, span: Span, labels: bool = False) -> pa.Table:
        """Block on the pipe, then read an Arrow stream from it."""
        fd = os.open(self.fifo, os.O_RDONLY)
        with os.fdopen(fd, "rb") as pipe:
            return pa.ipc.open_stream(pipe.read()).read_all()


def run(argv: list[str]) -> None:
    """Run the daemon until SIGTERM."""
    p = argparse.ArgumentParser()
    p.add_argument("--fifo", required=True)
    p.add_argument("--origin", required=True)
    p.add_argument("--stop-grace", type=float, required=True)
    a = p.parse_args(argv)
    configure_logging()
    settings = Settings()
    db = Database(settings.database_url)
    open_audit(db, settings)
    env = RunEnvironment(
        windows=PipeWindowReader(Path(a.fifo)),
        references=StaticReferenceLoader({"train": reference_table(200)}, default="train"),
        alerts=MemoryAlertSink(),
        lineage=NoLineage(),
    )
    options = DaemonOptions(lease_ttl=2, renew_every=0.5, tick=0.5, stop_grace=a.stop_grace)
    clock = AcceleratedClock(parse_instant(a.origin), speed=60)
    main(db, settings, Daemon(db, env=env, clock=clock, options=options))
    print("daemon stopped", flush=True)


if __name__ == "__main__":
    run(sys.argv[1:])
