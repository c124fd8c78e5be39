"""A real StepRunner that calls the step in this process's thread (fast tests, no subprocess).

It converts arguments and outputs exactly as the child process does (``retrain.runners.child``),
refuses a function outside the allowed modules before importing it, and captures what the step
prints line by line.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import time
from collections.abc import Callable
from typing import Any

from retrain.runners.base import LogSink, StepOutcome, StepStatus, StepTask
from retrain.runners.child import (
    function_allowed,
    one_line,
    split_function,
    to_argument,
    to_outputs,
)
from retrain.step import StepContext


class _Lines(io.TextIOBase):
    def __init__(self, sink: LogSink) -> None:
        self.sink = sink
        self.buffer = ""

    def write(self, text: str) -> int:
        self.buffer += text
        while "\n" in self.buffer:
            line, self.buffer = self.buffer.split("\n", 1)
            self.sink(line)
        return len(text)


class InlineRunner:
    """Runs steps in the calling thread."""

    name = "inline"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def run(self, task: StepTask, *, on_log: LogSink, cancelled: Callable[[], bool]) -> StepOutcome:
        """Import and call the step; its outputs as tagged JSON."""
        started = time.monotonic()
        if not function_allowed(task.function, task.allowed_modules):
            return StepOutcome(status=StepStatus.failed, error="function not allowed")
        self.calls.append(task.function)
        module, name = split_function(task.function)
        try:
            fn = getattr(importlib.import_module(module), name)
            ctx = StepContext(
                workdir=task.workdir, run_id=task.run_id, step=task.step,
                log=logging.getLogger(f"step.{task.step}"),
            )  # fmt: skip
            arguments: dict[str, Any] = {
                k: to_argument(v, task.workdir) for k, v in task.arguments.items()
            }
            with contextlib.redirect_stdout(_Lines(on_log)):
                returned = fn(ctx, **arguments)
            outputs = to_outputs(returned, task.outputs, task.workdir)
        except Exception as exc:
            return StepOutcome(status=StepStatus.failed, error=one_line(exc),
                               duration_seconds=time.monotonic() - started)  # fmt: skip
        return StepOutcome(status=StepStatus.succeeded, outputs=outputs,
                           duration_seconds=time.monotonic() - started)  # fmt: skip

    def close(self) -> None:
        """Nothing to release."""
