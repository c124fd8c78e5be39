"""Monitor backfills computed by the pipeline runner: the same runs as in the server, in chunks
of windows, each chunk a process with the step limits; a chunk that cannot run fails the backfill.
"""

from __future__ import annotations

from typing import Any

import pytest

from governance.core.db import Database
from governance.core.settings import Settings
from monitors.runs.backfills import execute_backfill, request_backfill
from monitors.runs.compute import InProcessWindows
from monitors.runs.schemas import BackfillStatus
from monitors.runs.service import list_runs
from monitors.runs.sources import RunEnvironment
from monitors.runs.transfer import outcome_json
from monitors.specs.schemas import Monitor
from monitors.specs.windows import plan_window
from retrain.backfill import RunnerWindows
from retrain.runners.local import LocalRunner
from retrain.runners.select import runner_for
from tests.builders import OPERATOR
from tests.monitors.runs.conftest import HOUR, START

pytestmark = pytest.mark.slow
# how long a signal took: what differs from one computation to the next
TIMING = {"seconds", "explain_seconds", "reference_seconds", "window_seconds"}


def without_timings(computed: Any) -> list[dict[str, Any]]:
    """A window's outcomes without their timings, numbers to 12 significant digits (sums of
    SHAP values may differ in their last bit between two processes)."""
    found = []
    for o in computed.outcomes:
        data = outcome_json(o)
        data["summary"] = {k: v for k, v in data["summary"].items() if k not in TIMING}
        data["metrics"] = [m for m in data["metrics"] if m["metric"] not in TIMING]
        found.append(_rounded(data))
    return found


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _runner(settings: Settings, chunk: int) -> RunnerWindows:
    return RunnerWindows(settings=settings, runner=lambda: runner_for(settings), chunk=chunk)


def test_windows_computed_in_runner_processes_equal_the_servers_own(
    db: Database, settings: Settings, env: RunEnvironment, monitor: Monitor
) -> None:
    plans = [plan_window(monitor.spec, START + k * HOUR) for k in range(12)]
    here = InProcessWindows().compute(monitor, plans, env, cancelled=lambda: False)
    there = _runner(settings, chunk=12).compute(monitor, plans, env, cancelled=lambda: False)
    assert [c.plan for c in there] == plans
    assert [(c.status, c.rows, c.error) for c in there] == [
        (c.status, c.rows, c.error) for c in here
    ]
    assert [without_timings(c) for c in there] == [without_timings(c) for c in here]
    assert any(o.breached for c in there for o in c.outcomes)  # the shifted windows breach
    assert not (settings.home / "backfills").exists() or not any(
        (settings.home / "backfills").iterdir()
    )


def test_a_backfill_on_the_runner_stores_every_window_once_in_chunks(
    db: Database, settings: Settings, env: RunEnvironment, monitor: Monitor
) -> None:
    env.windows_computer = _runner(settings, chunk=5)  # 12 windows: chunks of 5, 5 and 2
    job = request_backfill(
        db, project="alpha", name="drift", since=START - HOUR, until=START + 11 * HOUR,
        rerun=None, actor=OPERATOR, worker="w",
    )  # fmt: skip
    seen: list[int] = []
    ended = execute_backfill(
        db, job=job, worker="w", env=env, on_progress=lambda j: seen.append(j.windows_done)
    )
    assert ended.status is BackfillStatus.succeeded, ended.error
    assert seen == list(range(1, 13)) and ended.counts.created == 12
    runs = list_runs(db, project="alpha", name="drift", limit=100)
    assert len(runs) == 12 and sum(r.breached for r in runs) == ended.counts.breached > 0


def test_a_chunk_the_runner_cannot_finish_fails_the_backfill_and_stores_nothing(
    db: Database, settings: Settings, env: RunEnvironment, monitor: Monitor
) -> None:
    # the step's process cannot even import the statistics in a tenth of a second
    tight = settings.model_copy(update={"pipeline_step_timeout_seconds": 0.1})
    env.windows_computer = RunnerWindows(settings=tight, runner=lambda: LocalRunner(), chunk=24)
    job = request_backfill(
        db, project="alpha", name="drift", since=START, until=START + 4 * HOUR, rerun=None,
        actor=OPERATOR, worker="w",
    )  # fmt: skip
    ended = execute_backfill(db, job=job, worker="w", env=env)
    assert ended.status is BackfillStatus.failed
    assert "timed_out" in (ended.error or "") and ended.windows_done == 0
    assert list_runs(db, project="alpha", name="drift", limit=10) == []


def test_a_stopping_worker_hands_its_chunk_back_instead_of_failing_it(
    db: Database, settings: Settings, env: RunEnvironment, monitor: Monitor
) -> None:
    env.windows_computer = _runner(settings, chunk=24)
    job = request_backfill(
        db, project="alpha", name="drift", since=START, until=START + 4 * HOUR, rerun=None,
        actor=OPERATOR, worker="w",
    )  # fmt: skip
    calls = iter([False, True])  # the worker is told to stop while the chunk's process runs
    ended = execute_backfill(db, job=job, worker="w", env=env, stopping=lambda: next(calls, True))
    assert ended.status is BackfillStatus.queued and ended.windows_done == 0, ended
