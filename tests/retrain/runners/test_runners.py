"""Both runners, on the same steps: local child processes and a real Dask LocalCluster."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from retrain.runners.base import ResourceLimits, StepRunner, StepStatus
from tests.retrain.runners.conftest import alive, assert_pid_dead, run, task


def test_a_step_that_sleeps_past_its_timeout_is_killed_with_its_children(
    runner: StepRunner, tmp_path: Path
) -> None:
    step = task(tmp_path, "runner_steps:sleeper", limits=ResourceLimits(timeout_seconds=3))
    outcome, lines = run(runner, step)
    assert outcome.status is StepStatus.timed_out
    assert "timeout" in (outcome.error or "")
    assert outcome.duration_seconds < 20
    assert "ready" in lines
    grandchild = int((tmp_path / "child.pid").read_text())
    assert_pid_dead(grandchild)


def test_a_cancelled_step_stops(runner: StepRunner, tmp_path: Path) -> None:
    ready = threading.Event()
    outcome, _ = run(
        runner,
        task(tmp_path, "runner_steps:sleeper"),
        on_log=lambda line: ready.set() if line == "ready" else None,
        cancelled=ready.is_set,
    )
    assert outcome.status is StepStatus.cancelled
    assert outcome.duration_seconds < 20
    assert_pid_dead(int((tmp_path / "child.pid").read_text()))


def test_log_lines_stream_in_order_while_the_step_runs(runner: StepRunner, tmp_path: Path) -> None:
    # the step waits for "go", written when its first line arrives: no streaming, no finish
    def on_log(line: str) -> None:
        if line == "first":
            (tmp_path / "go").touch()

    outcome, lines = run(runner, task(tmp_path, "runner_steps:chatter"), on_log=on_log)
    assert outcome.status is StepStatus.succeeded, outcome.error
    numbered = [line for line in lines if line.startswith("line ")]
    assert numbered == [f"line {i}" for i in range(100)]
    assert lines[0] == "first"
    assert lines[-1] == "INFO chatter: logged"


def test_a_function_outside_the_allowed_modules_is_refused_before_import(
    runner: StepRunner, tmp_path: Path
) -> None:
    refused, _ = run(runner, task(tmp_path / "refused", "forbidden_steps:step"))
    assert refused.status is StepStatus.failed
    assert "not among the allowed pipeline modules" in (refused.error or "")
    assert not (tmp_path / "refused" / "imported.flag").exists()
    # the same module, allowed, is imported (and leaves its mark): the check above is real
    allowed = task(tmp_path / "allowed", "forbidden_steps:step", allowed=("forbidden_steps",))
    outcome, _ = run(runner, allowed)
    assert outcome.status is StepStatus.succeeded, outcome.error
    assert (tmp_path / "allowed" / "imported.flag").exists()


def test_a_prefix_must_match_whole_module_names(runner: StepRunner, tmp_path: Path) -> None:
    outcome, _ = run(runner, task(tmp_path, "forbidden_steps:step", allowed=("forbidden",)))
    assert outcome.status is StepStatus.failed
    assert not (tmp_path / "imported.flag").exists()


def test_the_memory_limit_fails_a_step_that_allocates_too_much(
    runner: StepRunner, tmp_path: Path
) -> None:
    limits = ResourceLimits(timeout_seconds=60, memory_bytes=512 * 1024**2)
    small = task(tmp_path / "small", "runner_steps:hog", {"megabytes": 64}, {"size": "parameter"})
    outcome, _ = run(runner, _with(small, limits))
    assert outcome.status is StepStatus.succeeded, outcome.error
    assert outcome.outputs["size"] == {"kind": "parameter", "value": 64 * 1024**2}
    big = task(tmp_path / "big", "runner_steps:hog", {"megabytes": 1024}, {"size": "parameter"})
    outcome, _ = run(runner, _with(big, limits))
    assert outcome.status is StepStatus.failed
    assert "MemoryError" in (outcome.error or "")


def test_the_cpu_limit_stops_a_spinning_step(runner: StepRunner, tmp_path: Path) -> None:
    limits = ResourceLimits(timeout_seconds=30, cpu_seconds=1)
    outcome, _ = run(runner, task(tmp_path, "runner_steps:spin", limits=limits))
    assert outcome.status is StepStatus.failed
    assert outcome.error == "the step used up its CPU time limit"


@pytest.mark.parametrize("link", [False, True])
def test_a_path_outside_the_workdir_fails_the_step(
    runner: StepRunner, tmp_path: Path, link: bool
) -> None:
    outside = tmp_path / "elsewhere.parquet"
    step = task(
        tmp_path / "work", "runner_steps:escape", {"target": str(outside), "link": link},
        {"data": "dataset"},
    )  # fmt: skip
    outcome, _ = run(runner, step)
    assert outcome.status is StepStatus.failed
    assert outcome.error == "StepError: output 'data' is outside the step's work directory"
    assert str(tmp_path) not in (outcome.error or "")  # no server path in the error


def test_the_step_sees_no_steward_settings(
    runner: StepRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STEWARD_DATABASE_URL", "postgresql://admin:secret@db/steward")
    monkeypatch.setenv("STEWARD_SECRET_KEY", "not-for-steps")
    outcome, _ = run(runner, task(tmp_path, "runner_steps:environment", {}, {"names": "parameter"}))
    assert outcome.status is StepStatus.succeeded, outcome.error
    names = outcome.outputs["names"]["value"]
    assert "PATH" in names and "PYTHONPATH" in names
    assert not [n for n in names if n.startswith("STEWARD_")]


def test_a_failing_step_reports_one_line_and_logs_its_traceback(
    runner: StepRunner, tmp_path: Path
) -> None:
    step = task(tmp_path, "runner_steps:fail", {"message": "bad\ninput"})
    outcome, lines = run(runner, step)
    assert outcome.status is StepStatus.failed
    assert outcome.error == "ValueError: bad input"
    assert "Traceback (most recent call last):" in lines


def test_a_missing_output_fails_the_step(runner: StepRunner, tmp_path: Path) -> None:
    outcome, _ = run(runner, task(tmp_path, "runner_steps:nothing", {}, {"scores": "metrics"}))
    assert outcome.status is StepStatus.failed
    assert "missing ['scores']" in (outcome.error or "")


def _with(step: Any, limits: ResourceLimits) -> Any:
    from dataclasses import replace

    return replace(step, limits=limits)


def test_alive_sees_a_running_process() -> None:
    import os

    assert alive(os.getpid())
