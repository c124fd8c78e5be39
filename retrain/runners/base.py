"""The runner contract: one pipeline step in, its outcome out, wherever it executes.

The pipeline service resolves a step's arguments to JSON values (parameters as themselves,
dataset and model inputs as files it has placed in the step's work directory) and hands the
step to a runner. The runner imports ``function`` (only from the allowed module prefixes),
calls it with a ``retrain.step.StepContext`` and the arguments, and returns what the function
returned as JSON (paths it wrote stay inside ``workdir``). Runners never touch the database:
the service records states, logs and outputs, so a run on a Dask worker on another machine is
recorded exactly like a local one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID


class StepStatus(StrEnum):
    """How a step's execution ended."""

    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"
    timed_out = "timed_out"


@dataclass(frozen=True, kw_only=True, slots=True)
class ResourceLimits:
    """What one step's process may use (None: no limit of that kind)."""

    timeout_seconds: float | None = None
    memory_bytes: int | None = None
    cpu_seconds: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class StepTask:
    """One step to execute."""

    run_id: UUID
    step: str
    function: str  # "package.module:function"
    arguments: Mapping[str, Any]  # JSON values (see the module docstring)
    outputs: Mapping[str, str]  # output name -> kind (dataset, model, metrics, parameter)
    workdir: Path
    limits: ResourceLimits = field(default_factory=ResourceLimits)
    allowed_modules: tuple[str, ...] = ()
    python_path: tuple[Path, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class StepOutcome:
    """What a step's execution produced."""

    status: StepStatus
    outputs: Mapping[str, Any] = field(default_factory=dict)  # JSON, by output name
    error: str | None = None  # one line: the exception type and message, or why it was stopped
    duration_seconds: float = 0.0


LogSink = Callable[[str], None]
"""Receives the step's output (stdout and stderr) line by line as it is produced."""


class StepRunner(Protocol):
    """Executes steps: ``LocalRunner`` (a process per step) or ``DaskRunner`` (a cluster)."""

    name: str

    def run(self, task: StepTask, *, on_log: LogSink, cancelled: Callable[[], bool]) -> StepOutcome:
        """Execute ``task``; poll ``cancelled`` and stop the step when it turns true."""
        ...

    def close(self) -> None:
        """Release what the runner holds (processes, a cluster client)."""
        ...
