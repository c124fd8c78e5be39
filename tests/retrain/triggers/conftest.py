"""Fixtures of the trigger tests: a pipeline to launch, a monitor whose runs breach or not."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from governance.audit.service import record_audit
from governance.core.clock import ManualClock
from governance.core.db import Database
from governance.core.settings import Settings
from monitors.runs.schemas import RunCreate, RunStatus, RunTrigger
from monitors.runs.store import SqlRunStore
from monitors.specs.schemas import Monitor, MonitorSpec, Schedule, Target
from monitors.specs.service import create_monitor
from retrain.pipelines.schemas import Pipeline
from retrain.pipelines.service import apply_pipeline
from retrain.pipelines.spec import PipelineSpec
from steward.api.deps import Services
from tests.builders import OPERATOR, World
from tests.conftest import make_settings

START = datetime(2026, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
PIPELINE = PipelineSpec.model_validate(
    {
        "name": "retrain",
        "inputs": {"epochs": {"kind": "parameter", "default": 3}},
        "steps": [
            {
                "name": "train",
                "function": "trigger_steps.steps:train",
                "inputs": {"epochs": "inputs.epochs"},
                "outputs": {"metrics": "metrics"},
            }
        ],
    }
)


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Settings allowing the test pipeline's module; no worker runs the launched runs."""
    return make_settings(
        tmp_path / "home", db_url, pipeline_modules=["trigger_steps"], pipeline_worker=False
    )


@pytest.fixture
def clock() -> ManualClock:
    """Time standing at the start of the monitor's first window."""
    return ManualClock(START)


@pytest.fixture
def pipeline(services: Services, world: World) -> Pipeline:
    """Pipeline 'retrain' of project alpha: one step, one parameter input."""
    applied = apply_pipeline(
        services.db, settings=services.settings, project="alpha", spec=PIPELINE, actor=OPERATOR
    )
    return applied.pipeline


@pytest.fixture
def monitor(services: Services, world: World) -> Monitor:
    """An hourly drift monitor of endpoint 'scorer' in project alpha."""
    spec = MonitorSpec(
        name="drift", target=Target(name="scorer"), schedule=Schedule(interval=HOUR, start=START)
    )
    return create_monitor(services.db, project="alpha", spec=spec, actor=OPERATOR)


def store_runs(db: Database, monitor: Monitor, windows: Iterable[tuple[int, bool]]) -> None:
    """Store runs of ``monitor`` for (hour after START, data_drift breached) pairs, as the
    monitors' run service stores them (a summary per signal), in one audited transaction."""
    with db.transaction() as session:
        store = SqlRunStore(session)
        for hour, hit in windows:
            end = START + hour * HOUR
            summary = {
                "data_drift": {"breached": hit, "status": "succeeded"},
                "prediction_drift": {"breached": False, "status": "succeeded"},
            }
            store.add_run(
                RunCreate(
                    monitor_id=monitor.id, monitor=monitor.name, project=monitor.project,
                    window_start=end - HOUR, window_end=end, status=RunStatus.succeeded,
                    trigger=RunTrigger.schedule, row_count=100, reference_rows=100, breached=hit,
                    started_at=end, finished_at=end, duration_seconds=0.01, reference="train",
                    error=None, summary=summary,
                )
            )  # fmt: skip
        record_audit(
            session, actor=OPERATOR, action="monitor.run", project=monitor.project,
            target=f"monitor:{monitor.name}",
        )  # fmt: skip
