"""Steps on a Dask distributed cluster, each still in its own child process on the worker.

The worker runs the step exactly as ``LocalRunner`` does (``retrain.runners.local.execute``: a
child process group, its limits, its timeout), so a runaway step is killed there and the
worker survives. The step's output lines go to ``LOG_FILE`` in its work directory, which this
side tails and streams to ``on_log``; a cancellation is a ``CANCEL_FILE`` the worker polls (and
``Future.cancel`` when the worker does not answer). Both need the work directory on a file
system the workers and Steward share: a ``LocalCluster``, or workers mounting Steward's home at
the same path. Work directories on separate disks are not supported.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from uuid import uuid4

from retrain.runners.base import LogSink, ResourceLimits, StepOutcome, StepStatus, StepTask
from retrain.runners.child import (
    one_line,
    outcome_from_json,
    outcome_to_json,
    task_from_json,
    task_to_json,
)
from retrain.runners.local import effective_limits

LOG_FILE = ".step.log"
CANCEL_FILE = ".step-cancel"
GRACE_SECONDS = 30.0


def run_on_worker(task_json: dict[str, Any], cap_json: dict[str, Any]) -> dict[str, Any]:
    """What a Dask worker executes: the step in a child process, logging to the shared file."""
    from retrain.runners.local import execute

    task = task_from_json(task_json)
    cancel = task.workdir / CANCEL_FILE
    with (task.workdir / LOG_FILE).open("a", encoding="utf-8") as log:

        def on_log(line: str) -> None:
            log.write(line + "\n")
            log.flush()

        outcome = execute(
            task, on_log=on_log, cancelled=cancel.exists, cap=ResourceLimits(**cap_json)
        )
    return outcome_to_json(outcome)


class _Tail:
    """Complete lines appended to a file since the last read."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset, self.partial = path, 0, b""

    def pump(self, on_log: LogSink, *, final: bool = False) -> None:
        try:
            with self.path.open("rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
        except FileNotFoundError:
            data = b""
        self.offset += len(data)
        *lines, self.partial = (self.partial + data).split(b"\n")
        if final and self.partial:
            lines, self.partial = [*lines, self.partial], b""
        for line in lines:
            on_log(line.decode("utf-8", "replace"))


class DaskRunner:
    """Runs each step on a Dask cluster (``address``, or a ``distributed.Client`` to share)."""

    name = "dask"

    def __init__(
        self,
        address: str | None = None,
        *,
        client: Any = None,
        limits: ResourceLimits | None = None,
        poll_seconds: float = 0.1,
        grace_seconds: float = GRACE_SECONDS,
    ) -> None:
        if (address is None) == (client is None):
            raise ValueError("give a scheduler address or a distributed.Client, not both")
        if client is None:
            from distributed import Client

            client = Client(address, set_as_default=False)  # type: ignore[no-untyped-call]
            self._owned = True
        else:
            self._owned = False
        self.client = client
        self.limits = limits or ResourceLimits()
        self.poll_seconds, self.grace_seconds = poll_seconds, grace_seconds

    def run(self, task: StepTask, *, on_log: LogSink, cancelled: Callable[[], bool]) -> StepOutcome:
        """Submit ``task``; stream its log, pass on a cancellation, wait for its outcome."""
        limits = effective_limits(task.limits, self.limits)
        task.workdir.mkdir(parents=True, exist_ok=True)
        for stale in (LOG_FILE, CANCEL_FILE):
            (task.workdir / stale).unlink(missing_ok=True)
        started = time.monotonic()
        future = self.client.submit(
            run_on_worker,
            task_to_json(task),
            _limits_json(limits),
            key=f"step-{task.step}-{uuid4().hex}",
            pure=False,
        )
        tail = _Tail(task.workdir / LOG_FILE)
        try:
            outcome = self._wait(future, task, limits, tail, on_log, cancelled)
        finally:
            tail.pump(on_log, final=True)
        return _timed(outcome, time.monotonic() - started)

    def _wait(
        self,
        future: Any,
        task: StepTask,
        limits: ResourceLimits,
        tail: _Tail,
        on_log: LogSink,
        cancelled: Callable[[], bool],
    ) -> StepOutcome:
        # the worker enforces the timeout; this deadline only covers a worker that never answers
        budget = None if limits.timeout_seconds is None else limits.timeout_seconds
        deadline = None if budget is None else time.monotonic() + budget + self.grace_seconds
        asked: float | None = None
        while not future.done():
            tail.pump(on_log)
            now = time.monotonic()
            if asked is None and cancelled():
                (task.workdir / CANCEL_FILE).touch()
                asked = now
            if asked is not None and now - asked > self.grace_seconds:
                future.cancel()
                return StepOutcome(status=StepStatus.cancelled, error="the step was cancelled")
            if deadline is not None and now > deadline:
                (task.workdir / CANCEL_FILE).touch()
                future.cancel()
                return StepOutcome(
                    status=StepStatus.timed_out, error="the Dask worker did not answer in time"
                )
            time.sleep(self.poll_seconds)
        try:
            return outcome_from_json(future.result())
        except Exception as exc:  # the worker died (KilledWorker), or the task was cancelled
            return StepOutcome(status=StepStatus.failed, error=f"Dask: {one_line(exc)}")

    def close(self) -> None:
        """Close the client when this runner made it."""
        if self._owned:
            self.client.close()


def _limits_json(limits: ResourceLimits) -> dict[str, Any]:
    return {
        "timeout_seconds": limits.timeout_seconds,
        "memory_bytes": limits.memory_bytes,
        "cpu_seconds": limits.cpu_seconds,
    }


def _timed(outcome: StepOutcome, duration: float) -> StepOutcome:
    return replace(outcome, duration_seconds=duration)
