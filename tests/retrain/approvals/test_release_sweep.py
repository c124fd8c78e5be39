"""A run that ended without its release (its worker died first) is released by the leader."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from governance.core.clock import ManualClock
from governance.core.settings import Settings
from retrain.approvals.service import list_approvals
from retrain.loop import release_leader_job, release_missed
from steward.api.app import create_app
from steward.api.deps import Services
from tests.builders import World
from tests.conftest import make_settings
from tests.retrain.approvals.test_closed_loop import SPEC, P, _labelled_traffic, _launch, _rows
from tests.retrain.pipelines.conftest import register_dataset
from tests.retrain.pipelines.inline import InlineRunner


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Settings whose pipelines may run this folder's step."""
    return make_settings(tmp_path / "home", db_url, pipeline_modules=["tests.retrain.approvals"])


@pytest.fixture
def app(services: Services) -> FastAPI:
    """The real app whose worker hands ended runs to nobody, as if it died before the release."""
    return create_app(
        services=services, seal_in_background=False, pipeline_runner=InlineRunner(),
        pipeline_callbacks=[],
    )  # fmt: skip


def test_the_sweep_releases_a_run_once_it_settled_and_only_once(
    client: TestClient, world: World, services: Services
) -> None:
    register_dataset(services, "alpha", "train-data", _rows(2000, seed=0))
    eng = world.headers("ml-engineer")
    assert client.post(f"{P}/pipelines", json=SPEC, headers=eng).status_code == 201
    _launch(client, world, "ml-engineer")
    assert client.post(f"{P}/endpoints", json={"name": "scorer"}, headers=eng).status_code == 201
    deploy = {"model": "scorer", "version": 1}
    assert client.post(f"{P}/endpoints/scorer/deployments", json=deploy, headers=eng).is_success
    _labelled_traffic(client, world, services)
    gate = {"min_rows": 100, "reference_fraction": 0, "bootstrap": 50,
            "metrics": [{"metric": "accuracy", "threshold": 0.7}]}  # fmt: skip
    run = _launch(client, world, "owner", inputs={"rows": 2000},
                  plan={"endpoint": "scorer", "gate": gate})  # fmt: skip
    db, config = services.db, services.settings
    assert list_approvals(db, project="alpha") == []  # nobody released it
    ended = services.clock.now()
    # the worker's own callback may still be coming: a run that just ended is left alone
    assert release_missed(db, settings=config, clock=ManualClock(ended)) == 0
    later = ManualClock(ended + timedelta(minutes=10))
    job = release_leader_job(db, config, later)
    assert job.run() == 1
    [asked] = list_approvals(db, project="alpha")
    assert str(asked.run_id) == run["id"] and asked.challenger.version == 2
    assert job.run() == 0  # the gate decided on it: released
    too_late = ManualClock(ended + timedelta(days=2))
    assert release_missed(db, settings=config, clock=too_late) == 0
