"""A run per (monitor, window end): results stored, alerts raised, duplicates do nothing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pyarrow as pa

from governance.audit.service import verify_audit
from governance.core.clock import ManualClock
from governance.core.db import Database
from monitors.runs.schemas import RunStatus
from monitors.runs.service import backfill, list_results, list_runs, run_window
from monitors.runs.sources import MemoryAlertSink, RunEnvironment, TableWindowReader
from monitors.specs.schemas import Monitor, Target
from monitors.specs.windows import Span
from tests.monitors.runs.conftest import HOUR, START


def test_window_runs_once_and_stores_series(
    db: Database, monitor: Monitor, env: RunEnvironment
) -> None:
    first = run_window(db, monitor=monitor, window_end=START + 2 * HOUR, env=env)
    again = run_window(db, monitor=monitor, window_end=START + 2 * HOUR, env=env)
    assert first.created and not again.created
    assert again.run.id == first.run.id
    assert first.run.status is RunStatus.succeeded and first.run.row_count == 1000
    page = list_results(db, project="alpha", name="drift")
    signals = {p.signal for p in page.items}
    assert signals == {"data_drift", "prediction_drift"}
    share = [p for p in page.items if p.metric == "share_of_drifted_columns"]
    assert len(share) == 1 and not share[0].breached
    assert verify_audit(db).ok


def test_backfill_raises_alert_only_after_shift(
    db: Database, monitor: Monitor, env: RunEnvironment
) -> None:
    clock = ManualClock(START + 12 * HOUR)
    report = backfill(
        db, project="alpha", name="drift", since=START, until=None, env=env, clock=clock
    )
    assert report.created == 12 and report.existing == 0
    breached = [r.run.window_end for r in report.runs if r.run.breached]
    assert breached == [START + h * HOUR for h in range(9, 13)]
    assert isinstance(env.alerts, MemoryAlertSink)
    assert [w for _, s, w in env.alerts.raised if s == "data_drift"] == breached
    again = backfill(
        db, project="alpha", name="drift", since=START, until=None, env=env, clock=clock
    )
    assert again.created == 0 and again.existing == 12
    assert env.profiles.builds == 1  # the reference profile is computed once


def test_concurrent_runs_of_one_window_store_one(
    db: Database, monitor: Monitor, env: RunEnvironment
) -> None:
    def attempt(_: int) -> bool:
        return run_window(db, monitor=monitor, window_end=START + 3 * HOUR, env=env).created

    with ThreadPoolExecutor(max_workers=4) as pool:
        created = list(pool.map(attempt, range(8)))
    assert created.count(True) == 1
    assert len(list_runs(db, project="alpha", name="drift")) == 1


def test_empty_window_is_no_data(db: Database, monitor: Monitor, env: RunEnvironment) -> None:
    report = run_window(db, monitor=monitor, window_end=START - 5 * HOUR, env=env)
    assert report.run.status is RunStatus.no_data and not report.run.breached


class _Corrupt:
    """A reader whose window files cannot be decoded for one window end."""

    def __init__(self, inner: TableWindowReader, bad_end: datetime) -> None:
        self.inner, self.bad_end = inner, bad_end

    def read(self, *, project: str, target: Target, span: Span, labels: bool = False) -> pa.Table:
        if span.end == self.bad_end:
            raise pa.ArrowInvalid("Parquet magic bytes not found in /srv/data/secret.parquet")
        return self.inner.read(project=project, target=target, span=span, labels=labels)


def test_undecodable_window_fails_alone(
    db: Database, monitor: Monitor, env: RunEnvironment
) -> None:
    assert isinstance(env.windows, TableWindowReader)
    env.windows = _Corrupt(env.windows, START + 2 * HOUR)
    bad = run_window(db, monitor=monitor, window_end=START + 2 * HOUR, env=env)
    assert bad.run.status is RunStatus.failed and bad.run.error == "internal: ArrowInvalid"
    good = run_window(db, monitor=monitor, window_end=START + 3 * HOUR, env=env)
    assert good.run.status is RunStatus.succeeded
