"""Benchmark many monitors due at the same minute: the leader's local pool against a Dask cluster.

Each mode gets a fresh home and database and ``--monitors`` drift monitors, each over its own
endpoint with ``--rows`` rows per one-minute window, whose one window ends at the same instant.
A real daemon (lease, scheduler, dispatch slots) runs them: on its own threads (``LocalPool``),
then on a two-worker ``distributed.LocalCluster`` (processes) through the same dispatch that
``steward daemon`` builds when ``STEWARD_DASK_ADDRESS`` is set. The table shows, per mode, the
wall time from the instant the windows ended to the last run stored, the longest single run
(its read to its store), and the longest wait of a window for a slot (its start delay).

    .venv/bin/python benchmarks/many_monitors.py [--monitors 50] [--rows 5000] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from governance.access.service import bootstrap
from governance.audit.service import configure_audit
from governance.audit.signing import Signer
from governance.core.db import Database
from governance.core.principal import SYSTEM
from governance.core.settings import Settings
from monitors.runs.models import RunRow
from monitors.runs.schemas import RunReport
from monitors.runs.sources import (
    MemoryAlertSink,
    NoLineage,
    ProfileCache,
    RunEnvironment,
    StaticReferenceLoader,
    TableWindowReader,
)
from monitors.scheduler.clock import AcceleratedClock
from monitors.scheduler.daemon import Daemon, DaemonOptions
from monitors.scheduler.dispatch import WindowDispatch
from monitors.specs.schemas import Monitor, MonitorSpec, Schedule, Target
from monitors.specs.service import create_monitor
from monitors.specs.windows import Span
from steward.cli.daemon import monitor_dispatch
from steward.migrations import upgrade

ORIGIN = datetime(2026, 6, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def _rows(rows: int, seed: int, start: datetime | None = None) -> pa.Table:
    """Two numeric columns and a categorical one; timestamps spread over the minute."""
    rng = np.random.default_rng(seed)
    columns = {
        "age": rng.normal(40, 10, rows), "hours": rng.normal(40, 5, rows),
        "sex": rng.choice(["Male", "Female"], rows, p=[0.66, 0.34]),
    }  # fmt: skip
    if start is not None:
        stamps = [start + MINUTE * (i / rows) for i in range(rows)]
        columns["timestamp"] = pa.array(stamps, type=pa.timestamp("us", tz="UTC"))
    return pa.table(columns)


@dataclass
class Timed:
    """A window reader over one traffic table that notes when each endpoint's window was read."""

    tables: TableWindowReader
    started: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def read(self, *, project: str, target: Target, span: Span, labels: bool = False) -> pa.Table:
        """The window's rows; the read's wall time is the run's start."""
        with self.lock:
            self.started[target.name] = time.time()
        return self.tables.read(project=project, target=Target(name="scorer"), span=span)


@dataclass(frozen=True, kw_only=True, slots=True)
class Result:
    """One mode's numbers."""

    mode: str
    monitors: int
    concurrency: int
    wall: float
    longest: float
    max_delay: float
    once: bool


def _setup(home: Path, monitors: int) -> tuple[Settings, Database, list[Monitor]]:
    settings = Settings(home=home)
    db = Database(settings.database_url)
    upgrade(db)
    signer = Signer.load_or_create(settings.key_path, origin="bench")
    configure_audit(db, signer=signer, checkpoint_every=256)
    bootstrap(db, owner="admin", project="bench", actor=SYSTEM)
    schedule = Schedule(interval=MINUTE, start=ORIGIN, end=ORIGIN + timedelta(seconds=1))
    specs = [
        MonitorSpec(name=f"m-{i:03}", target=Target(name=f"e-{i:03}"), schedule=schedule)
        for i in range(monitors)
    ]
    made = [create_monitor(db, project="bench", spec=s, actor=SYSTEM) for s in specs]
    return settings, db, made


def run_mode(
    mode: str, dispatch: WindowDispatch, db: Database, monitors: list[Monitor], rows: int
) -> Result:
    """Run a daemon until every monitor's window is stored; time it."""
    reader = Timed(TableWindowReader({"scorer": _rows(rows, 1, ORIGIN - MINUTE)}))
    references = StaticReferenceLoader({"train": _rows(5000, 0)}, default="train")
    env = RunEnvironment(
        windows=reader, references=references, alerts=MemoryAlertSink(), lineage=NoLineage(),
        profiles=ProfileCache(),
    )  # fmt: skip
    finished: dict[str, float] = {}

    def on_run(monitor: Monitor, report: RunReport) -> None:
        finished[monitor.spec.target.name] = time.time()

    lead = timedelta(seconds=3)  # leading before the windows end
    clock = AcceleratedClock(ORIGIN - lead, speed=1.0)
    due = clock.wall_start + lead.total_seconds()
    options = DaemonOptions(lease_ttl=10, renew_every=1, tick=0.1, stop_grace=60)
    daemon = Daemon(db, env=env, clock=clock, options=options, dispatch=dispatch, on_run=on_run)
    daemon.start()
    deadline = time.time() + 600
    while len(finished) < len(monitors) and time.time() < deadline:
        time.sleep(0.05)
    daemon.stop()
    with db.read() as session:
        counts = Counter(session.scalars(select(RunRow.monitor_id)))
    return Result(
        mode=mode, monitors=len(monitors), concurrency=dispatch.concurrency,
        wall=max(finished.values()) - due,
        longest=max(finished[e] - reader.started[e] for e in finished),
        max_delay=max(reader.started.values()) - due,
        once=counts == Counter(m.id for m in monitors),
    )  # fmt: skip


def main() -> None:
    """Print one row per mode."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--monitors", type=int, default=50)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    from distributed import LocalCluster

    results = []
    with LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        for mode, address in (("local pool", None), ("dask, 2 workers", cluster.scheduler_address)):
            home = Path(tempfile.mkdtemp(prefix="steward-bench-"))
            settings, db, monitors = _setup(home, args.monitors)
            settings = settings.model_copy(
                update={"dask_address": address, "monitor_concurrency": args.concurrency}
            )
            results.append(run_mode(mode, monitor_dispatch(settings), db, monitors, args.rows))
            db.dispose()
    table = Table(title=f"{args.monitors} monitors due at once, {args.rows:,} rows per window")
    for column in ("mode", "monitors", "concurrency", "wall time s", "longest run s",
                   "max start delay s", "each once"):  # fmt: skip
        table.add_column(column, justify="left" if column == "mode" else "right")
    for r in results:
        table.add_row(
            r.mode, str(r.monitors), str(r.concurrency), f"{r.wall:.2f}", f"{r.longest:.2f}",
            f"{r.max_delay:.2f}", "yes" if r.once else "NO",
        )  # fmt: skip
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
