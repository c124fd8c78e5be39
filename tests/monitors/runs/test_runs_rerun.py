"""Reruns supersede a window's run (kept, linked), racing reruns store one; a signal fails alone."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from threading import Barrier

import pyarrow as pa
import pytest

from governance.core.clock import ManualClock
from governance.core.db import Database
from governance.core.errors import NotFound
from monitors.runs.schemas import MonitorRun, RerunScope, RunStatus
from monitors.runs.service import backfill, get_run, list_results, list_runs, run_window
from monitors.runs.sources import RunEnvironment, TableWindowReader
from monitors.specs.schemas import Monitor, MonitorSpec, Schedule, Signal, Target
from monitors.specs.service import create_monitor, delete_monitor
from monitors.specs.windows import Span
from tests.builders import OPERATOR, World
from tests.monitors.runs.conftest import HOUR, START
from tests.monitors.runs.synthetic import traffic


class _Broken:
    """A reader that fails on some window ends, as a file that cannot be decoded would."""

    def __init__(self, inner: TableWindowReader, bad: set[datetime]) -> None:
        self.inner, self.bad = inner, bad

    def read(self, *, project: str, target: Target, span: Span, labels: bool = False) -> pa.Table:
        if span.end in self.bad:
            raise pa.ArrowInvalid("cannot decode this window")
        return self.inner.read(project=project, target=target, span=span, labels=labels)


def _chain(runs: list[MonitorRun]) -> None:
    """The runs of one window: attempts 0..n, each superseded by the next, one current."""
    by_attempt = sorted(runs, key=lambda r: r.attempt)
    assert [r.attempt for r in by_attempt] == list(range(len(runs)))
    assert [r.superseded_by for r in by_attempt[:-1]] == [r.id for r in by_attempt[1:]]
    assert by_attempt[-1].superseded_by is None


def test_rerun_supersedes_and_results_follow_the_latest_run(
    db: Database, monitor: Monitor, env: RunEnvironment
) -> None:
    end = START + 10 * HOUR
    assert isinstance(env.windows, TableWindowReader)
    inner = env.windows
    env.windows = _Broken(inner, {end})
    first = run_window(db, monitor=monitor, window_end=end, env=env)
    assert first.run.status is RunStatus.failed
    env.windows = inner
    plain = run_window(db, monitor=monitor, window_end=end, env=env)
    assert not plain.created and plain.run.id == first.run.id  # without rerun: exactly once
    again = run_window(db, monitor=monitor, window_end=end, env=env, rerun=True)
    assert again.created and again.superseded == first.run.id
    assert again.run.status is RunStatus.succeeded and again.run.breached
    assert again.run.attempt == 1 and again.alerts
    runs = list_runs(db, project="alpha", name="drift")
    assert [(r.id, r.superseded_by) for r in runs] == [
        (again.run.id, None),
        (first.run.id, again.run.id),
    ]
    assert get_run(db, project="alpha", name="drift", window_end=end).id == again.run.id
    third = run_window(db, monitor=monitor, window_end=end, env=env, rerun=True)
    points = list_results(db, project="alpha", name="drift").items
    assert points and {p.run_id for p in points} == {third.run.id}  # one run per window
    _chain(list_runs(db, project="alpha", name="drift"))
    delete_monitor(db, project="alpha", name="drift", actor=OPERATOR)  # linked runs go with it
    with pytest.raises(NotFound):
        list_runs(db, project="alpha", name="drift")


def test_concurrent_reruns_leave_one_latest_run(
    db: Database, monitor: Monitor, env: RunEnvironment
) -> None:
    end = START + 3 * HOUR
    first = run_window(db, monitor=monitor, window_end=end, env=env)
    start = Barrier(4)

    def rerun(_: int) -> bool:
        start.wait()
        return run_window(db, monitor=monitor, window_end=end, env=env, rerun=True).created

    with ThreadPoolExecutor(max_workers=4) as pool:
        created = list(pool.map(rerun, range(4)))
    runs = list_runs(db, project="alpha", name="drift")
    _chain(runs)  # never two current runs, whatever interleaving happened
    assert created.count(True) == len(runs) - 1 >= 1
    assert first.run.id in {r.id for r in runs}
    current = next(r for r in runs if r.superseded_by is None)
    points = list_results(db, project="alpha", name="drift").items
    assert {p.run_id for p in points} == {current.id}
    assert len(points) == len(list({(p.signal, p.metric, p.feature) for p in points}))


def test_backfill_reruns_only_the_scope_asked_for(
    db: Database, monitor: Monitor, env: RunEnvironment
) -> None:
    clock = ManualClock(START + 4 * HOUR)
    since = START - 2 * HOUR  # two windows before any traffic: no_data
    bad = {START + 2 * HOUR, START + 3 * HOUR}
    assert isinstance(env.windows, TableWindowReader)
    inner = env.windows
    env.windows = _Broken(inner, bad)
    first = backfill(
        db, project="alpha", name="drift", since=since, until=None, env=env, clock=clock
    )
    statuses = {r.run.window_end: r.run.status for r in first.runs}
    assert sorted(e for e, s in statuses.items() if s is RunStatus.failed) == sorted(bad)
    env.windows = inner
    plain = backfill(
        db, project="alpha", name="drift", since=since, until=None, env=env, clock=clock
    )
    assert plain.created == 0 and plain.rerun == 0
    fixed = backfill(
        db, project="alpha", name="drift", since=since, until=None, env=env, clock=clock,
        rerun=RerunScope.failed,
    )  # fmt: skip
    assert fixed.rerun == fixed.created == 2
    assert {r.run.window_end for r in fixed.runs if r.created} == bad
    assert all(r.run.status is RunStatus.succeeded for r in fixed.runs if r.created)
    untouched = {r.run.window_end: r.run.id for r in first.runs if r.run.window_end not in bad}
    assert {r.run.window_end: r.run.id for r in fixed.runs if not r.created} == untouched
    empty = backfill(
        db, project="alpha", name="drift", since=since, until=None, env=env, clock=clock,
        rerun=RerunScope.no_data,
    )  # fmt: skip
    no_data = {e for e, s in statuses.items() if s is RunStatus.no_data}
    assert no_data and {r.run.window_end for r in empty.runs if r.created} == no_data
    everything = backfill(
        db, project="alpha", name="drift", since=since, until=None, env=env, clock=clock,
        rerun=RerunScope.all,
    )  # fmt: skip
    assert everything.rerun == len(statuses)
    runs = list_runs(db, project="alpha", name="drift")
    for end in statuses:
        _chain([r for r in runs if r.window_end == end])


def _typed_monitor(db: Database, signals: list[Signal]) -> Monitor:
    spec = MonitorSpec(
        name="typed",
        target=Target(name="scorer"),
        schedule=Schedule(interval=HOUR, start=START),
        signals=signals,
    )
    return create_monitor(db, project="alpha", spec=spec, actor=OPERATOR)


def _ages_as_text(env: RunEnvironment) -> None:
    """The window's ``age`` arrives as text (an upstream type change): age drift cannot run."""
    table = traffic(START, windows=2)
    ages = pa.array([f"{a:.0f} years" for a in table.column("age").to_pylist()])
    env.windows = TableWindowReader({"scorer": table.set_column(1, "age", ages)})


@pytest.mark.parametrize("all_fail", [False, True])
def test_a_failing_signal_fails_alone(
    db: Database, env: RunEnvironment, world: World, all_fail: bool
) -> None:
    _ages_as_text(env)
    drift = Signal(kind="data_drift", name="age-drift", features=["age"])
    other = Signal(kind="data_drift", name="age-too", features=["age"]) if all_fail else None
    signals = [drift, other or Signal(kind="prediction_drift")]
    monitor = _typed_monitor(db, signals)
    report = run_window(db, monitor=monitor, window_end=START + HOUR, env=env)
    run = report.run
    assert run.summary["age-drift"]["status"] == "failed"
    assert run.summary["age-drift"]["error"] == "internal: ArrowInvalid"
    points = list_results(db, project="alpha", name="typed").items
    if all_fail:
        assert run.status is RunStatus.failed and not points
        assert run.error == "age-drift: internal: ArrowInvalid; age-too: internal: ArrowInvalid"
        return
    assert run.status is RunStatus.partial and run.error == "age-drift: internal: ArrowInvalid"
    assert run.summary["prediction_drift"]["status"] == "succeeded"
    assert {p.signal for p in points} == {"prediction_drift"}
    assert points[0].value is not None and points[0].run_id == run.id
    # a failed signal is worth a rerun: the failed scope covers partial runs
    fixed = backfill(
        db, project="alpha", name="typed", since=START, until=START + HOUR, env=env,
        rerun=RerunScope.failed, clock=ManualClock(START + 2 * HOUR),
    )  # fmt: skip
    assert fixed.rerun == 1
