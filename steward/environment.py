"""The monitors' run environment as the application builds it: with the closed loop's models.

Monitors cannot import ``retrain`` (it sits above them), so the pieces that explain a deployed
model from its stored artifact, and the runner backfills compute in, are handed in here, once,
for the app, the CLI and the daemon.
"""

from __future__ import annotations

import dataclasses

from governance.core.clock import Clock
from governance.core.db import Database
from governance.core.settings import Settings
from monitors.runs.adapters import default_environment
from monitors.runs.sources import RunEnvironment
from retrain.backfill import RunnerWindows
from retrain.explain import model_source
from retrain.runners.select import runner_for


def run_environment(
    db: Database, settings: Settings, *, clock: Clock | None = None
) -> RunEnvironment:
    """The configured stores, lineage, alerts, the stored models' explainers, and the runner
    that computes backfills (``settings.backfill_runner``)."""
    explainers = model_source(db, settings)
    env = default_environment(db, settings, clock=clock, explainers=explainers)
    if settings.backfill_runner == "server":
        return env
    computer = RunnerWindows(
        settings=settings, runner=lambda: runner_for(settings), explainers=explainers,
        chunk=settings.backfill_chunk_windows,
    )  # fmt: skip
    return dataclasses.replace(env, windows_computer=computer)
