"""The leader's dispatch: bounded slots, a slow run delays no other monitor, each window runs
once (also with two leaders racing), and fifty monitors due at once on a two-worker cluster."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pyarrow as pa
from sqlalchemy import select

from governance.core.clock import ManualClock
from governance.core.db import Database
from governance.core.settings import Settings
from monitors.runs.models import RunRow
from monitors.runs.schemas import RunReport, RunStatus
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
from monitors.scheduler.dispatch import LocalPool, Slots, WindowDispatch
from monitors.specs.schemas import Monitor, MonitorSpec, Schedule, Target
from monitors.specs.service import create_monitor
from monitors.specs.windows import Span
from steward.cli.daemon import monitor_dispatch
from tests.builders import OPERATOR, World
from tests.monitors.runs.synthetic import reference_table, traffic
from tests.retrain.conftest import dask_client

__all__ = ["dask_client"]
MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)  # an end after the last window's: the schedule needs one


@dataclass
class Reader:
    """Windows of in-memory traffic; reads of target "slow" wait for ``release``.

    Records the wall time each window's read started (a run's start) and how many reads were
    in flight at most.
    """

    tables: TableWindowReader
    release: threading.Event = field(default_factory=threading.Event)
    started: dict[tuple[str, datetime], float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    now: int = 0
    most: int = 0

    def read(self, *, project: str, target: Target, span: Span, labels: bool = False) -> pa.Table:
        """The window's rows, after recording when and how many."""
        with self.lock:
            self.started[(target.name, span.end)] = time.time()
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            if target.name == "slow":
                assert self.release.wait(60), "the slow read was never released"
            return self.tables.read(project=project, target=Target(name="scorer"), span=span)
        finally:
            with self.lock:
                self.now -= 1


def _env(origin: datetime, windows: int) -> tuple[RunEnvironment, Reader]:
    data = traffic(origin - MINUTE, windows=windows + 1, every=MINUTE, rows=60)
    reader = Reader(TableWindowReader({"scorer": data}))
    env = RunEnvironment(
        windows=reader,
        references=StaticReferenceLoader({"train": reference_table(300)}, default="train"),
        alerts=MemoryAlertSink(),
        lineage=NoLineage(),
        profiles=ProfileCache(),
    )
    return env, reader


def _monitor(db: Database, name: str, target: str, start: datetime, windows: int) -> Monitor:
    schedule = Schedule(interval=MINUTE, start=start, end=start + (windows - 1) * MINUTE + SECOND)
    spec = MonitorSpec(name=name, target=Target(name=target), schedule=schedule)
    return create_monitor(db, project="alpha", spec=spec, actor=OPERATOR)


def _runs(db: Database) -> Counter[tuple[UUID, datetime]]:
    """How many runs each (monitor, window end) has."""
    with db.read() as session:
        return Counter((r.monitor_id, r.window_end) for r in session.scalars(select(RunRow)))


def _wait(done: Callable[[], bool], seconds: float) -> None:
    deadline = time.time() + seconds
    while not done() and time.time() < deadline:
        time.sleep(0.05)


@contextlib.contextmanager
def _running(daemon: Daemon, reader: Reader) -> Iterator[Daemon]:
    daemon.start()
    try:
        yield daemon
    finally:
        reader.release.set()  # also when the test failed: a held read would outlast the stop
        assert daemon.stop(), "a run was still going after the stop grace"


def _daemon(
    db: Database, env: RunEnvironment, clock: Any, dispatch: WindowDispatch, **hooks: Any
) -> Daemon:
    options = DaemonOptions(lease_ttl=5, renew_every=0.5, sync_every=2, tick=0.1, stop_grace=30)
    return Daemon(db, env=env, clock=clock, options=options, dispatch=dispatch, **hooks)


def test_a_slow_read_delays_no_other_monitor(db: Database, world: World) -> None:
    """Two slots; one monitor's read blocks for seconds; five others keep their windows' time."""
    origin = datetime(2026, 6, 1, tzinfo=UTC)
    windows, speed = 6, 60.0  # a one-minute window ends every wall second
    env, reader = _env(origin, windows)
    fast = [_monitor(db, f"fast-{i}", f"fast-{i}", origin, windows) for i in range(5)]
    slow = _monitor(db, "slow", "slow", origin, windows)
    lead = timedelta(minutes=2)  # two wall seconds to lead before the first window ends
    clock = AcceleratedClock(origin - lead, speed=speed)
    wall_start = clock.wall_start + clock.wall_seconds(lead)  # when the first window ends
    with _running(_daemon(db, env, clock, LocalPool(concurrency=2)), reader):
        every_fast_window = len(fast) * windows
        _wait(lambda: sum(_runs(db).values()) >= every_fast_window, 60)
        assert not reader.release.is_set()
        blocked = {key for key in reader.started if key[0] == "slow"}
        runs = _runs(db)
        reader.release.set()
        _wait(lambda: sum(_runs(db).values()) >= every_fast_window + windows, 60)
    ends = [origin + i * MINUTE for i in range(windows)]
    assert runs == Counter({(m.id, end): 1 for m in fast for end in ends})  # slow: none yet
    assert blocked == {("slow", origin)}  # its first read held one slot, and one only
    delays = [
        at - (wall_start + (end - origin).total_seconds() / speed)
        for (target, end), at in reader.started.items()
        if target != "slow"
    ]
    # every fast window started before the next one ended, with the slow read in the other slot
    assert len(delays) == len(fast) * windows and max(delays) < 1.0, delays
    assert reader.most == 2  # the bound: never more than two windows at once
    assert _runs(db) == Counter({(m.id, end): 1 for m in [*fast, slow] for end in ends})


def test_two_racing_leaders_store_each_window_once(db: Database, world: World) -> None:
    """A lease handover can leave two daemons dispatching the same windows: one run each."""
    origin = datetime(2026, 6, 1, tzinfo=UTC)
    env, reader = _env(origin, 4)
    reader.release.set()
    monitors = [_monitor(db, f"m-{i}", f"m-{i}", origin, 4) for i in range(8)]
    clock = ManualClock(origin + 3 * MINUTE)
    daemons = [
        Daemon(db, env=env, clock=clock, holder=h, dispatch=LocalPool(concurrency=3))
        for h in ("one", "two")
    ]
    for daemon in daemons:
        daemon.leading = True
        daemon.slots.start()
    try:
        for monitor in monitors:
            for daemon in daemons:
                daemon.slots.offer(monitor)
        _wait(lambda: all(d.slots.busy() == 0 for d in daemons), 60)
    finally:
        assert all(d.slots.stop(30) for d in daemons)
    assert _runs(db) == Counter(
        {(m.id, origin + i * MINUTE): 1 for m in monitors for i in range(4)}
    )


def test_slots_take_monitors_in_turn_and_keep_offers_made_meanwhile() -> None:
    """A backlog goes to the back after each window; an offer during a turn gets another turn."""
    spec = MonitorSpec(name="x", target=Target(name="scorer"), schedule=Schedule(interval=MINUTE))
    now = datetime(2026, 6, 1, tzinfo=UTC)
    a, b = (
        Monitor(id=uuid4(), project="alpha", revision=1, spec=spec.model_copy(update={"name": n}),
                created_at=now, updated_at=now, created_by="tester")
        for n in "ab"
    )  # fmt: skip
    left = {a.id: 3, b.id: 1}
    order: list[str] = []
    gate = threading.Event()

    def work(monitor: Monitor) -> bool:
        order.append(monitor.name)
        if len(order) == 1:
            assert gate.wait(10)
        left[monitor.id] -= 1
        return left[monitor.id] > 0

    slots = Slots(1, work)
    slots.start()
    slots.offer(a)
    _wait(lambda: order == ["a"], 10)
    slots.offer(b)
    slots.offer(a)  # while a is worked on: kept, not queued twice
    left[a.id] += 1
    gate.set()
    _wait(lambda: slots.busy() == 0, 10)
    assert slots.stop(10)
    assert order == ["a", "b", "a", "a", "a"]


def test_fifty_monitors_due_at_once_on_a_two_worker_cluster(
    db: Database, world: World, settings: Settings, dask_client: Any
) -> None:
    """``steward daemon``'s Dask dispatch: each runs once, all within a minute of the longest."""
    origin = datetime(2026, 6, 1, tzinfo=UTC)
    env, reader = _env(origin, 1)
    reader.release.set()
    monitors = [_monitor(db, f"m-{i:02}", f"m-{i:02}", origin, 1) for i in range(50)]
    config = settings.model_copy(
        update={"dask_address": dask_client.scheduler.address, "monitor_concurrency": 4}
    )
    dispatch = monitor_dispatch(config)
    assert dispatch.name == "dask" and dispatch.concurrency == 4
    finished: dict[str, float] = {}

    def on_run(monitor: Monitor, report: RunReport) -> None:
        finished[monitor.name] = time.time()

    lead = timedelta(seconds=2)  # leading before the windows end
    clock = AcceleratedClock(origin - lead, speed=1.0)
    due = clock.wall_start + lead.total_seconds()  # the wall time at which all fifty end
    with _running(_daemon(db, env, clock, dispatch, on_run=on_run), reader):
        _wait(lambda: len(finished) == len(monitors), 300)
    assert _runs(db) == Counter({(m.id, origin): 1 for m in monitors})
    with db.read() as session:
        assert set(session.scalars(select(RunRow.status))) == {RunStatus.succeeded}
    longest = max(finished[m.name] - reader.started[(m.name, origin)] for m in monitors)
    assert max(finished.values()) - due <= longest + 60
    assert reader.most <= 4
