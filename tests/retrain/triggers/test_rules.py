"""N breached of the last M windows, and the cooldown: pure rules over stored facts."""

from __future__ import annotations

import uuid
from datetime import timedelta

from monitors.runs.schemas import MonitorRun, RunStatus, RunTrigger
from retrain.triggers.rules import breach_ends, due_launches
from tests.retrain.triggers.conftest import HOUR, START


def _run(hour: int, *, drift: bool, other: bool = False, superseded: bool = False) -> MonitorRun:
    end = START + hour * HOUR
    return MonitorRun(
        id=uuid.uuid4(), monitor="drift", project="alpha", window_start=end - HOUR,
        window_end=end, status=RunStatus.succeeded, trigger=RunTrigger.schedule, row_count=1,
        reference_rows=1, breached=drift or other, started_at=end, finished_at=end,
        duration_seconds=0.0, reference="r", lineage_ref=None, error=None,
        summary={"data_drift": {"breached": drift}, "prediction_drift": {"breached": other}},
        superseded_by=uuid.uuid4() if superseded else None,
    )  # fmt: skip


def _hours(ends: list) -> list[int]:  # type: ignore[type-arg]
    return [int((e - START) / HOUR) for e in ends]


def test_one_of_one_launches_every_breached_window() -> None:
    runs = [_run(h, drift=h in (2, 3, 6)) for h in range(1, 8)]
    ends = breach_ends(runs, signal=None, breaches=1, windows=1, after=START)
    assert _hours(ends) == [2, 3, 6]


def test_n_of_m_needs_enough_breaches_among_the_latest_windows() -> None:
    pattern = {1: True, 2: False, 3: True, 4: False, 5: False, 6: True, 7: True}
    runs = [_run(h, drift=hit) for h, hit in pattern.items()]
    ends = breach_ends(runs, signal=None, breaches=2, windows=3, after=START)
    # 3: windows 1-3 hold two breaches; 6: only one in 4-6; 7: two in 5-7.
    assert _hours(ends) == [3, 7]


def test_signal_counts_only_its_own_breaches_and_superseded_runs_do_not_count() -> None:
    runs = [
        _run(1, drift=False, other=True),
        _run(2, drift=True, superseded=True),
        _run(2, drift=False),
        _run(3, drift=True),
    ]
    assert _hours(breach_ends(runs, signal="data_drift", breaches=1, windows=1, after=START)) == [3]
    assert _hours(breach_ends(runs, signal=None, breaches=1, windows=1, after=START)) == [1, 3]
    # windows before ``after`` still count towards N of M, but never launch themselves
    late = breach_ends(runs, signal=None, breaches=2, windows=3, after=START + 2 * HOUR)
    assert _hours(late) == [3]


def test_cooldown_skips_windows_close_to_the_launch_before_them() -> None:
    candidates = [START + h * HOUR for h in (1, 2, 3, 4, 7)]
    due = due_launches(candidates, launched=[], cooldown=timedelta(hours=3))
    assert _hours(due) == [1, 4, 7]
    # already launched ones are not launched again and still hold the cooldown
    again = due_launches(candidates, launched=[START + HOUR], cooldown=timedelta(hours=3))
    assert _hours(again) == [4, 7]
    assert due_launches(candidates, launched=candidates, cooldown=timedelta(0)) == []
    assert len(due_launches(candidates, launched=[], cooldown=timedelta(0))) == 5
