"""The closed loop end to end through the HTTP API, on the local runner (a process per step).

Drift in scored traffic -> the monitor breaches -> the trigger launches the pipeline -> the step
trains a challenger in its own process -> the gate passes it against the champion -> a second
owner approves (the trigger's owner may not) -> canary -> promotion -> scoring serves the new
version. The lineage graph and the audit trail hold every step.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from governance.core.clock import ManualClock
from governance.core.settings import Settings
from retrain.runners.local import LocalRunner
from retrain.triggers.service import trigger_leader_job
from steward.api.app import build_services, create_app
from steward.api.deps import Services
from tests.builders import World
from tests.conftest import make_settings
from tests.retrain.approvals.test_closed_loop import _until
from tests.retrain.pipelines.conftest import register_dataset

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
P = "/api/v1/projects/alpha"
SCORE = f"{P}/endpoints/scorer/score"
T0 = datetime(2026, 6, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
# steps start a process each (imports included): generous on a loaded machine
STEPS_TIMEOUT = 120.0
PIPELINE = {
    "name": "retrain",
    "inputs": {"training": {"kind": "dataset", "default": "train-data"},
               "rows": {"kind": "parameter", "default": 40}},
    "steps": [{"name": "train", "function": "tests.retrain.approvals.steps:train",
               "inputs": {"data": "inputs.training", "rows": "inputs.rows"},
               "outputs": {"model": {"kind": "model", "name": "scorer"}}}],
}  # fmt: skip
MONITOR = """
name: drift
target: {name: scorer}
reference: {dataset: train-data}
schedule: {interval: PT1H, start: "2026-06-01T00:00:00Z"}
signals:
  - {kind: data_drift}
"""
GATE = {"min_rows": 100, "reference_fraction": 0, "bootstrap": 50,
        "metrics": [{"metric": "accuracy", "threshold": 0.7}]}  # fmt: skip
TRIGGER = {
    "name": "on-drift", "pipeline": "retrain", "inputs": {"rows": 2000},
    "on": {"kind": "alert", "monitor": "drift", "signal": "data_drift"},
    "plan": {"endpoint": "scorer", "gate": GATE,
             "rollout": {"strategy": "canary", "percent": 50}},
}  # fmt: skip


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Pipelines may run this repository's test steps, imported from its root."""
    return make_settings(
        tmp_path / "home", db_url, pipeline_modules=["tests.retrain.approvals"],
        pipeline_path=[ROOT],
    )  # fmt: skip


@pytest.fixture
def clock() -> ManualClock:
    """The services' clock: scoring, monitors and triggers all read it."""
    return ManualClock(T0)


@pytest.fixture
def services(settings: Settings, clock: ManualClock) -> Iterator[Services]:
    """The service container on the manual clock."""
    svc = build_services(settings, clock=clock)
    yield svc
    svc.db.dispose()


@pytest.fixture
def app(services: Services) -> FastAPI:
    """The real app with its default release loop; steps run as local processes."""
    return create_app(services=services, seal_in_background=False, pipeline_runner=LocalRunner())


def _rows(n: int, seed: int, shift: float = 0.0) -> pa.Table:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n) + shift, rng.normal(size=n)
    label = np.where(x1 - x2 + rng.normal(scale=0.5, size=n) > 0, "yes", "no")
    return pa.table({"x1": x1, "x2": x2, "label": label})


def _ended(client: TestClient, world: World, run_id: str) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        got = client.get(f"{P}/pipeline-runs/{run_id}", headers=world.headers("viewer")).json()
        return None if got["state"] in ("queued", "running") else got

    run: dict[str, Any] = _until(ended, f"pipeline run {run_id} to end", STEPS_TIMEOUT)
    assert run["state"] == "succeeded", run
    return run


def _champion(client: TestClient, world: World) -> None:
    """Version 1, trained on 40 rows by a run launched by hand, deployed by hand."""
    eng = world.headers("ml-engineer")
    assert client.post(f"{P}/pipelines", json=PIPELINE, headers=eng).status_code == 201
    r = client.post(f"{P}/pipelines/retrain/runs", json={}, headers=eng)
    assert r.status_code == 202, r.text
    assert _ended(client, world, r.json()["id"])["outputs"]["train.model"]["version"] == 1
    assert client.post(f"{P}/endpoints", json={"name": "scorer"}, headers=eng).status_code == 201
    deploy = {"model": "scorer", "version": 1}
    assert client.post(f"{P}/endpoints/scorer/deployments", json=deploy, headers=eng).is_success


def _drifted_traffic(client: TestClient, world: World, services: Services) -> list[Any]:
    """300 scored rows whose x1 moved by 1.5 sd (covariate shift), labelled; the records."""
    app = world.headers("app-developer")
    traffic = _rows(300, seed=1, shift=1.5)
    records = [{"features": r} for r in traffic.select(["x1", "x2"]).to_pylist()]
    scored = client.post(SCORE, json={"records": records}, headers=app)
    assert scored.status_code == 200 and scored.json()["version"] == 1, scored.text
    assert services.scorer is not None
    services.scorer.capture.flush()
    labels = [
        {"correlation_id": i, "label": y}
        for i, y in zip(scored.json()["correlation_ids"], traffic.column("label").to_pylist(),
                        strict=True)
    ]  # fmt: skip
    assert client.post(f"{P}/endpoints/scorer/labels", json={"labels": labels}, headers=app)
    return records


def _approve(client: TestClient, world: World, services: Services) -> dict[str, Any]:
    """The trigger's owner is refused (403, audited); a second owner approves."""

    def pending() -> list[Any]:
        r = client.get(f"{P}/approvals?state=pending", headers=world.headers("viewer"))
        return list(r.json())

    [asked] = _until(pending, "the approval request", STEPS_TIMEOUT)
    url = f"{P}/approvals/{asked['id']}/approve"
    refused = client.post(url, headers=world.headers("owner"))  # owns the trigger
    assert refused.status_code == 403 and refused.json()["code"] == "self_approval"
    assert client.post(url, headers=world.headers("app-developer")).status_code == 403
    done = client.post(url, headers=world.headers("admin"))
    assert done.status_code == 200, done.text
    return dict(done.json())


def _served_by(client: TestClient, world: World, records: list[Any], key: str) -> int:
    headers = world.headers("app-developer") | {"X-Steward-Request-Key": key}
    r = client.post(SCORE, json={"records": records[:3]}, headers=headers)
    assert r.status_code == 200, r.text
    return int(r.json()["version"])


def test_drift_retrains_gates_approves_canaries_and_serves_the_new_version(
    client: TestClient, world: World, services: Services, clock: ManualClock
) -> None:
    register_dataset(services, "alpha", "train-data", _rows(2000, seed=0))
    _champion(client, world)
    owner = world.headers("owner")
    yaml = {"Content-Type": "application/yaml"}
    applied = client.post(f"{P}/monitors/apply", content=MONITOR, headers=owner | yaml)
    assert applied.status_code == 200, applied.text
    assert client.post(f"{P}/triggers", json=TRIGGER, headers=owner).status_code == 201

    clock.set(T0 + 10 * 60 * timedelta(seconds=1))
    records = _drifted_traffic(client, world, services)
    clock.set(T0 + HOUR)
    run = client.post(f"{P}/monitors/drift/run", json={"window_end": clock.now().isoformat()},
                      headers=owner)  # fmt: skip
    assert run.status_code == 200 and run.json()["run"]["breached"], run.text

    # The daemon leader's job: one launch, and no second one however often it runs.
    job = trigger_leader_job(services.db, services.settings, clock)
    assert job.run() == 1 and job.run() == 0
    [launch] = client.get(f"{P}/triggers/on-drift/launches", headers=owner).json()
    retrain = _ended(client, world, launch["run_id"])
    assert retrain["outputs"]["train.model"]["version"] == 2
    assert retrain["trigger_owner"] == "user:owner-user"

    def decided() -> list[Any]:
        return list(client.get(f"{P}/gates?run={retrain['id']}", headers=owner).json())

    [gate] = _until(decided, "the gate decision", STEPS_TIMEOUT)
    assert gate["passed"], gate["reasons"]
    assert gate["challenger"] == {"model": "scorer", "version": 2}
    assert gate["champion"] == {"model": "scorer", "version": 1}
    approved = _approve(client, world, services)
    assert approved["gate_decision_id"] == gate["id"]

    # Canary at 50%: each key sticks to one version, and both versions serve.
    by_key = {k: _served_by(client, world, records, f"user-{k}") for k in range(40)}
    assert set(by_key.values()) == {1, 2}
    assert all(_served_by(client, world, records, f"user-{k}") == v for k, v in by_key.items())
    [rollout] = client.get(f"{P}/endpoints/scorer/rollouts", headers=owner).json()
    assert rollout["strategy"] == "canary" and rollout["state"] == "active"
    promote = client.post(f"{P}/endpoints/scorer/rollouts/{rollout['id']}/promote", headers=owner)
    assert promote.status_code == 200, promote.text
    assert {_served_by(client, world, records, f"user-{k}") for k in range(10)} == {2}
    deployed = client.get(f"{P}/endpoints/scorer/deployments", headers=owner).json()
    assert [d["version"] for d in deployed] == [1, 2]

    _lineage_and_audit(client, world, retrain)


def _lineage_and_audit(client: TestClient, world: World, retrain: dict[str, Any]) -> None:
    """The new version's lineage reaches its training data; each step of the loop is audited."""
    auditor = world.headers("auditor")
    query = "kind=model_version&name=scorer&version=2"
    [v2] = client.get(f"{P}/lineage/nodes?{query}", headers=auditor).json()
    upstream = client.get(f"{P}/lineage/nodes/{v2['id']}/upstream", headers=auditor).json()
    names = {n["name"] for n in upstream["nodes"]}
    assert "train-data" in names, names
    entries = client.get(f"{P}/audit?limit=500", headers=auditor).json()
    actions = [e["action"] for e in entries["items"]]
    for expected in ("trigger.launch", "pipeline.run.launch", "pipeline.run.finish",
                     "gate.decide", "approval.request", "approval.decide", "approval.approve",
                     "rollout.start", "rollout.promote"):  # fmt: skip
        assert expected in actions, (expected, sorted(set(actions)))
    denied = [e for e in entries["items"] if e["action"] == "approval.decide"]
    assert denied and all(e["decision"] == "deny" for e in denied)
    launched = [e for e in entries["items"] if e["action"] == "pipeline.run.launch"]
    assert any(retrain["id"] in str(e["details"]) for e in launched), launched
