"""Fixtures of the run tests: a monitor over in-memory traffic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from governance.core.db import Database
from monitors.runs.sources import (
    MemoryAlertSink,
    NoLineage,
    ProfileCache,
    RunEnvironment,
    StaticReferenceLoader,
    TableWindowReader,
)
from monitors.specs.schemas import Monitor, MonitorSpec, Schedule, Target
from monitors.specs.service import create_monitor
from steward.api.deps import Services
from tests.builders import OPERATOR, World
from tests.monitors.runs.synthetic import reference_table, traffic

START = datetime(2026, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def env() -> RunEnvironment:
    """Twelve hourly windows of traffic, shifted from the eighth on."""
    return RunEnvironment(
        windows=TableWindowReader({"scorer": traffic(START, windows=12, shift_from=8)}),
        references=StaticReferenceLoader({"train": reference_table()}, default="train"),
        alerts=MemoryAlertSink(),
        lineage=NoLineage(),
        profiles=ProfileCache(),
    )


@pytest.fixture
def monitor(db: Database, world: World, services: Services) -> Monitor:
    """An hourly drift monitor of endpoint 'scorer' in project alpha."""
    spec = MonitorSpec(
        name="drift",
        target=Target(name="scorer"),
        schedule=Schedule(interval=HOUR, start=START),
    )
    return create_monitor(db, project="alpha", spec=spec, actor=OPERATOR)
