"""The monitors' run environment as the application builds it: with the closed loop's models.

Monitors cannot import ``retrain`` (it sits above them), so the pieces that explain a deployed
model from its stored artifact are handed in here, once, for the app, the CLI and the daemon.
"""

from __future__ import annotations

from governance.core.clock import Clock
from governance.core.db import Database
from governance.core.settings import Settings
from monitors.runs.adapters import default_environment
from monitors.runs.sources import RunEnvironment
from retrain.explain import model_source


def run_environment(
    db: Database, settings: Settings, *, clock: Clock | None = None
) -> RunEnvironment:
    """The configured stores, lineage, alerts, and the stored models' explainers."""
    return default_environment(db, settings, clock=clock, explainers=model_source(db, settings))
