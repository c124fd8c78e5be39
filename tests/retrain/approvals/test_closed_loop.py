"""The whole loop: a pipeline run ends, the worker hands it to ``after_run``, a second owner
approves, and the endpoint serves the retrained model."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from governance.core.settings import Settings
from retrain.approvals.service import list_approvals
from retrain.loop import release_callback
from steward.api.app import create_app
from steward.api.deps import Services
from tests.builders import World
from tests.conftest import make_settings
from tests.retrain.pipelines.conftest import register_dataset
from tests.retrain.pipelines.inline import InlineRunner

P = "/api/v1/projects/alpha"
SCORE = f"{P}/endpoints/scorer/score"
SPEC = {
    "name": "retrain",
    "inputs": {"training": {"kind": "dataset", "default": "train-data"},
               "rows": {"kind": "parameter", "default": 40}},
    "steps": [{"name": "train", "function": "tests.retrain.approvals.steps:train",
               "inputs": {"data": "inputs.training", "rows": "inputs.rows"},
               "outputs": {"model": {"kind": "model", "name": "scorer"}}}],
}  # fmt: skip


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Settings whose pipelines may run this folder's step."""
    return make_settings(tmp_path / "home", db_url, pipeline_modules=["tests.retrain.approvals"])


@pytest.fixture
def app(services: Services) -> FastAPI:
    """The real app; its pipeline worker runs steps inline and hands ended runs to the loop."""

    loop = release_callback(services.db, settings=services.settings, clock=services.clock)
    return create_app(
        services=services, seal_in_background=False, pipeline_runner=InlineRunner(),
        pipeline_callbacks=[loop],
    )  # fmt: skip


def _rows(n: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    label = np.where(x1 - x2 + rng.normal(scale=0.5, size=n) > 0, "yes", "no")
    return pa.table({"x1": x1, "x2": x2, "label": label})


def _until(check: Any, what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _launch(client: TestClient, world: World, role: str, **body: Any) -> dict[str, Any]:
    r = client.post(f"{P}/pipelines/retrain/runs", json=body, headers=world.headers(role))
    assert r.status_code == 202, r.text
    url = f"{P}/pipeline-runs/{r.json()['id']}"

    def ended() -> dict[str, Any] | None:
        run = client.get(url, headers=world.headers("viewer")).json()
        return None if run["state"] in ("queued", "running") else run

    run: dict[str, Any] = _until(ended, "the run to end")
    assert run["state"] == "succeeded", run
    return run


def _labelled_traffic(client: TestClient, world: World, services: Services) -> list[Any]:
    """Score 300 rows at endpoint 'scorer' and send their labels; the records scored."""
    app = world.headers("app-developer")
    traffic = _rows(300, seed=1)
    records = [{"features": r} for r in traffic.select(["x1", "x2"]).to_pylist()]
    scored = client.post(SCORE, json={"records": records}, headers=app).json()
    assert services.scorer is not None
    services.scorer.capture.flush()
    truth = traffic.column("label").to_pylist()
    labels = [
        {"correlation_id": i, "label": y}
        for i, y in zip(scored["correlation_ids"], truth, strict=True)
    ]
    url = f"{P}/endpoints/scorer/labels"
    assert client.post(url, json={"labels": labels}, headers=app).status_code == 201
    return records


def test_a_retrained_model_reaches_the_endpoint_after_a_second_owner_approves(
    client: TestClient, world: World, services: Services
) -> None:
    register_dataset(services, "alpha", "train-data", _rows(2000, seed=0))
    eng = world.headers("ml-engineer")
    assert client.post(f"{P}/pipelines", json=SPEC, headers=eng).status_code == 201
    # The champion: trained on 40 rows by a run without a release plan, deployed by hand.
    first = _launch(client, world, "ml-engineer")
    assert first["outputs"]["train.model"]["version"] == 1
    assert client.post(f"{P}/endpoints", json={"name": "scorer"}, headers=eng).status_code == 201
    deploy = {"model": "scorer", "version": 1}
    r = client.post(f"{P}/endpoints/scorer/deployments", json=deploy, headers=eng)
    assert r.status_code == 201, r.text
    records = _labelled_traffic(client, world, services)
    # The retrain, launched by one owner with a release plan: gated, then waits for approval.
    gate = {"min_rows": 100, "reference_fraction": 0, "bootstrap": 50,
            "metrics": [{"metric": "accuracy", "threshold": 0.7}]}  # fmt: skip
    plan = {"endpoint": "scorer", "gate": gate}
    second = _launch(client, world, "owner", inputs={"rows": 2000}, plan=plan)
    [asked] = _until(lambda: list_approvals(services.db, project="alpha"), "the approval")
    assert str(asked.run_id) == second["id"] and asked.gate_decision_id is not None
    assert asked.requested_by == "user:owner-user" and asked.challenger.version == 2
    url = f"{P}/approvals/{asked.id}/approve"
    assert client.post(url, headers=world.headers("owner")).json()["code"] == "self_approval"
    done = client.post(url, headers=world.headers("admin"))
    assert done.status_code == 200 and done.json()["rollout_id"], done.text
    app = world.headers("app-developer")
    answer = client.post(SCORE, json={"records": records[:5]}, headers=app).json()
    assert (answer["model"], answer["version"]) == ("scorer", 2)
