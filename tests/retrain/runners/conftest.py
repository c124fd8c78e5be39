"""Runner test helpers: tasks for the test steps and the Adult example, Adult as parquet."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from retrain.runners.base import ResourceLimits, StepOutcome, StepRunner, StepTask
from retrain.runners.dask import DaskRunner
from retrain.runners.local import LocalRunner
from steward.demo.data import load_adult

REPO = Path(__file__).resolve().parents[3]
STEPS = Path(__file__).resolve().parent / "step_modules"
EXAMPLE = REPO / "examples" / "adult_pipeline"


def task(
    workdir: Path,
    function: str,
    arguments: Mapping[str, Any] | None = None,
    outputs: Mapping[str, str] | None = None,
    *,
    limits: ResourceLimits | None = None,
    allowed: tuple[str, ...] = ("runner_steps",),
    run_id: uuid.UUID | None = None,
) -> StepTask:
    """A task for a step of the test modules (or the example, with its path)."""
    return StepTask(
        run_id=run_id or uuid.uuid4(),
        step=function.rsplit(":", 1)[1],
        function=function,
        arguments=dict(arguments or {}),
        outputs=dict(outputs or {}),
        workdir=workdir,
        limits=limits or ResourceLimits(timeout_seconds=60),
        allowed_modules=allowed,
        python_path=(STEPS,),
    )


def run(
    runner: StepRunner,
    step: StepTask,
    *,
    on_log: Callable[[str], None] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> tuple[StepOutcome, list[str]]:
    """Run ``step``; its outcome and its log lines."""
    lines: list[str] = []

    def sink(line: str) -> None:
        lines.append(line)
        if on_log is not None:
            on_log(line)

    return runner.run(step, on_log=sink, cancelled=cancelled), lines


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its parent counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in {"Z", "X"}


@pytest.fixture(scope="session")
def adult_parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Adult as a parquet file outside any step's work directory."""
    path = tmp_path_factory.mktemp("adult") / "adult.parquet"
    pq.write_table(load_adult(), path)
    return path


@pytest.fixture(params=["local", "dask"])
def runner(request: pytest.FixtureRequest) -> Iterator[StepRunner]:
    """Each runner in turn."""
    made: StepRunner
    if request.param == "local":
        made = LocalRunner(limits=ResourceLimits(timeout_seconds=120))
    else:
        made = DaskRunner(client=request.getfixturevalue("dask_client"), poll_seconds=0.05)
    yield made
    made.close()


def assert_pid_dead(pid: int, *, within: float = 5.0) -> None:
    """Fail unless ``pid`` ends within ``within`` seconds."""
    import time

    deadline = time.monotonic() + within
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid), f"process {pid} outlived its step"
