"""The settings choose the runner and cap its steps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from governance.core.settings import Settings
from retrain.runners.base import ResourceLimits
from retrain.runners.dask import DaskRunner
from retrain.runners.local import LocalRunner, effective_limits
from retrain.runners.select import runner_for


def test_local_by_default_with_the_settings_limits(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path, pipeline_step_timeout_seconds=90, pipeline_memory_bytes=256 * 1024**2
    )
    runner = runner_for(settings)
    assert isinstance(runner, LocalRunner)
    assert runner.name == "local"
    assert runner.limits == ResourceLimits(timeout_seconds=90, memory_bytes=256 * 1024**2)


def test_dask_when_an_address_is_set(tmp_path: Path, dask_client: Any) -> None:
    address = dask_client.scheduler.address
    runner = runner_for(Settings(home=tmp_path, dask_address=address))
    try:
        assert isinstance(runner, DaskRunner)
        assert runner.name == "dask"
        assert runner.client.scheduler.address == address
        assert (
            runner.limits.timeout_seconds == Settings(home=tmp_path).pipeline_step_timeout_seconds
        )
    finally:
        runner.close()
    assert runner.client.status == "closed"
    assert dask_client.status == "running"  # the shared client is not the runner's to close


def test_a_task_asks_for_less_never_for_more() -> None:
    cap = ResourceLimits(timeout_seconds=60, memory_bytes=1000)
    asked = ResourceLimits(timeout_seconds=10, memory_bytes=5000, cpu_seconds=3)
    assert effective_limits(asked, cap) == ResourceLimits(
        timeout_seconds=10, memory_bytes=1000, cpu_seconds=3
    )
    assert effective_limits(ResourceLimits(), cap) == cap
