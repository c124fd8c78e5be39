"""Steps as local processes: one ``retrain.runners.child`` process (group) per step.

The child runs in its own session, so a timeout or a cancellation kills the step and every
process it started (a process that starts its own session escapes; steps are trusted code from
the allowed modules, the limits guard against mistakes, not against hostile code). The child
gets a minimal environment: no ``STEWARD_*`` variable (database URL, keys) reaches a step.
Memory and CPU limits are set by the child itself (``RLIMIT_AS``, ``RLIMIT_CPU``) before the
step's module is imported, so they hold wherever the child runs; the timeout is kept here.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

import retrain
from retrain.runners.base import LogSink, ResourceLimits, StepOutcome, StepStatus, StepTask
from retrain.runners.child import OUTPUTS_FILE, TASK_FILE, task_to_json

logger = logging.getLogger(__name__)

# what a step's process inherits from ours; everything else (STEWARD_* above all) stays out
INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "VIRTUAL_ENV")
MAX_LINE = 64 * 1024
READER_JOIN_SECONDS = 5.0


def _lower(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def effective_limits(asked: ResourceLimits, cap: ResourceLimits) -> ResourceLimits:
    """The task's limits, never above the runner's."""
    memory = _lower(asked.memory_bytes, cap.memory_bytes)
    cpu = _lower(asked.cpu_seconds, cap.cpu_seconds)
    return ResourceLimits(
        timeout_seconds=_lower(asked.timeout_seconds, cap.timeout_seconds),
        memory_bytes=None if memory is None else int(memory),
        cpu_seconds=None if cpu is None else int(cpu),
    )


def step_env(task: StepTask) -> dict[str, str]:
    """The child's environment: a few neutral variables and the step's import path."""
    env = {k: os.environ[k] for k in INHERITED_ENV if k in os.environ}
    # the directory holding our own packages, so the child finds retrain wherever it is
    ours = str(Path(next(iter(retrain.__path__))).resolve().parent)
    paths = [str(p.resolve()) for p in task.python_path]
    paths += [ours, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _pump(stream: IO[bytes], on_log: LogSink) -> None:
    """Hand every line of ``stream`` to ``on_log`` until it closes."""
    failed = False
    for raw in iter(lambda: stream.readline(MAX_LINE), b""):
        try:
            on_log(raw.decode("utf-8", "replace").rstrip("\r\n"))
        except Exception:  # a broken sink must not block the pipe (the step would hang)
            if not failed:
                logger.exception("a step's log sink failed; its later lines are dropped")
            failed = True
    stream.close()


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _exited(pid: int) -> bool:
    """True once ``pid`` has exited; it stays unreaped so its group id cannot be reused."""
    found = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    return found is not None and found.si_pid == pid


def _watch(
    pid: int, timeout: float | None, cancelled: Callable[[], bool], poll: float
) -> StepStatus | None:
    """Wait for the child; the reason it must be stopped, or None once it has exited."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while not _exited(pid):
        if cancelled():
            return StepStatus.cancelled
        if deadline is not None and time.monotonic() >= deadline:
            return StepStatus.timed_out
        time.sleep(poll)
    return None


def _exit_reason(returncode: int) -> str:
    if returncode >= 0:
        return f"the step exited with code {returncode} without reporting outputs"
    number = -returncode
    if number == signal.SIGXCPU:
        return "the step used up its CPU time limit"
    name = signal.Signals(number).name if number in signal.valid_signals() else str(number)
    return f"the step was killed by {name} (out of memory, or killed from outside)"


def read_outcome(workdir: Path, returncode: int, duration: float) -> StepOutcome:
    """The outcome the child reported in ``workdir`` (or why it reported none)."""
    try:
        data: dict[str, Any] = json.loads((workdir / OUTPUTS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    if returncode == 0 and isinstance(data.get("outputs"), dict):
        return StepOutcome(
            status=StepStatus.succeeded, outputs=data["outputs"], duration_seconds=duration
        )
    error = data.get("error") or _exit_reason(returncode)
    return StepOutcome(status=StepStatus.failed, error=str(error), duration_seconds=duration)


def _stopped(status: StepStatus, limits: ResourceLimits, duration: float) -> StepOutcome:
    error = (
        f"the step ran longer than its {limits.timeout_seconds:g} s timeout"
        if status is StepStatus.timed_out
        else "the step was cancelled"
    )
    return StepOutcome(status=status, error=error, duration_seconds=duration)


def execute(
    task: StepTask,
    *,
    on_log: LogSink,
    cancelled: Callable[[], bool],
    cap: ResourceLimits = ResourceLimits(),
    python: str = sys.executable,
    poll_seconds: float = 0.05,
) -> StepOutcome:
    """Run ``task`` in a child process and wait for it (what both runners do on their host)."""
    limits = effective_limits(task.limits, cap)
    task.workdir.mkdir(parents=True, exist_ok=True)
    (task.workdir / OUTPUTS_FILE).unlink(missing_ok=True)  # a previous attempt's
    task_file = task.workdir / TASK_FILE
    task_file.write_text(json.dumps(task_to_json(replace(task, limits=limits))), encoding="utf-8")
    started = time.monotonic()
    process = subprocess.Popen(
        [python, "-P", "-m", "retrain.runners.child", str(task_file)],
        cwd=task.workdir,
        env=step_env(task),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert process.stdout is not None
    reader = threading.Thread(target=_pump, args=(process.stdout, on_log), daemon=True)
    reader.start()
    try:
        stopped = _watch(process.pid, limits.timeout_seconds, cancelled, poll_seconds)
    finally:
        _kill_group(process.pid)  # also what a finished step left running
        process.wait()
        reader.join(READER_JOIN_SECONDS)
    duration = time.monotonic() - started
    if stopped is not None:
        return _stopped(stopped, limits, duration)
    return read_outcome(task.workdir, process.returncode, duration)


@dataclass(kw_only=True)
class LocalRunner:
    """Runs each step as a local child process, within ``limits`` (caps on every task's own)."""

    limits: ResourceLimits = field(default_factory=ResourceLimits)
    python: str = sys.executable
    poll_seconds: float = 0.05
    name: str = field(default="local", init=False)

    def run(self, task: StepTask, *, on_log: LogSink, cancelled: Callable[[], bool]) -> StepOutcome:
        """Run ``task`` to its end, its timeout, or its cancellation."""
        return execute(
            task,
            on_log=on_log,
            cancelled=cancelled,
            cap=self.limits,
            python=self.python,
            poll_seconds=self.poll_seconds,
        )

    def close(self) -> None:
        """Nothing to release: every step's process ends with its ``run``."""
