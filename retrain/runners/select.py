"""The runner the settings ask for: a Dask cluster when an address is set, else local processes."""

from __future__ import annotations

from governance.core.settings import Settings
from retrain.runners.base import ResourceLimits, StepRunner
from retrain.runners.local import LocalRunner


def runner_for(settings: Settings) -> StepRunner:
    """``DaskRunner(settings.dask_address)`` or a ``LocalRunner``, capped by the step limits."""
    limits = ResourceLimits(
        timeout_seconds=settings.pipeline_step_timeout_seconds,
        memory_bytes=settings.pipeline_memory_bytes,
    )
    if settings.dask_address:
        from retrain.runners.dask import DaskRunner

        return DaskRunner(settings.dask_address, limits=limits)
    return LocalRunner(limits=limits)
