"""A model taken once through the closed loop, for the report tests (A, B, C and D import it).

The flow of ``tests/retrain/test_closed_loop_e2e.py``, through the HTTP API of the real app,
with steps run inline (a real StepRunner, no subprocess) so that it is quick enough to share:
version 1 trained and deployed by hand, a model card written, a monitor with drift,
performance, fairness and attribution signals, clean traffic then drifted traffic, the alert,
the trigger's retrain (version 2), its gate (with a fairness limit), a second owner's
approval, a canary, its promotion, the alert acknowledged and resolved, traffic served by
version 2 and its monitor run.

Use the ``closed_loop`` fixture (module scope: one loop per test module)::

    from tests.reports import loop

    closed_loop = loop.closed_loop
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from governance.audit.service import seal
from governance.core.clock import ManualClock
from governance.core.settings import Settings
from lineage.schemas import ColumnSpec, ColumnType, Signature, TaskType
from retrain.step import DatasetInput, ModelOutput, StepContext
from retrain.triggers.service import trigger_leader_job
from steward.api.app import build_services, create_app
from steward.api.deps import Services
from steward.reports.document import ReportContext
from tests.builders import World
from tests.conftest import DatabaseFactory, make_settings
from tests.retrain.approvals.test_closed_loop import _until
from tests.retrain.pipelines.conftest import register_dataset
from tests.retrain.pipelines.inline import InlineRunner

PROJECT = "alpha"
P = f"/api/v1/projects/{PROJECT}"
SCORE = f"{P}/endpoints/scorer/score"
T0 = datetime(2026, 6, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
FEATURES = ("x1", "x2", "group")
CLASSES = ["no", "yes"]
PIPELINE = {
    "name": "retrain",
    "inputs": {"training": {"kind": "dataset", "default": "train-data"},
               "rows": {"kind": "parameter", "default": 400}},
    "steps": [{"name": "train", "function": "tests.reports.loop:train",
               "inputs": {"data": "inputs.training", "rows": "inputs.rows"},
               "outputs": {"model": {"kind": "model", "name": "scorer"},
                           "scores": {"kind": "metrics"}}}],
}  # fmt: skip
MONITOR = """
name: watch
target: {name: scorer}
reference: {dataset: train-data}
schedule: {interval: PT1H, start: "2026-06-01T00:00:00Z"}
signals:
  - {kind: data_drift, features: [x1, x2]}
  - {kind: performance, options: {pos_label: "yes"}}
  - kind: fairness
    options: {sensitive_features: [group], pos_label: "yes", demographic_parity_ratio: null,
              demographic_parity_difference: 0.9}
  - {kind: attribution_drift, threshold: 0.01}
"""
GATE = {"min_rows": 100, "reference_fraction": 0, "bootstrap": 50,
        "metrics": [{"metric": "accuracy", "threshold": 0.6}],
        "fairness": [{"metric": "demographic_parity_difference", "sensitive_feature": "group",
                      "max_difference": 1.0, "min_group_size": 20}]}  # fmt: skip
TRIGGER = {
    "name": "on-drift", "pipeline": "retrain", "inputs": {"rows": 2000},
    "on": {"kind": "alert", "monitor": "watch", "signal": "data_drift"},
    "plan": {"endpoint": "scorer", "gate": GATE,
             "rollout": {"strategy": "canary", "percent": 50}},
}  # fmt: skip
CARD = {
    "owners": ["owner-user", "ml-engineer-user"],
    "intended_use": "Rank applications for manual review.",
    "limitations": "Trained on synthetic data; two numeric features only.",
    "out_of_scope_uses": "Automated decisions without a human in the loop.",
}


def signature() -> Signature:
    """Three float inputs (the group a sensitive one), 'no' or 'yes' out, with probabilities."""
    return Signature(
        inputs=[ColumnSpec(name=f, type=ColumnType.float) for f in FEATURES],
        outputs=[ColumnSpec(name="prediction", type=ColumnType.str)],
        task=TaskType.binary, probabilities=True, classes=CLASSES,
    )  # fmt: skip


def train(ctx: StepContext, data: DatasetInput, rows: int) -> dict[str, Any]:
    """Fit a logistic regression on the first ``rows`` rows; its training accuracy as metrics."""
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    table = data.read().slice(0, rows)
    x = table.select(list(FEATURES)).to_pandas()
    y = table.column("label").to_pylist()
    model = LogisticRegression().fit(x, y)
    path = ctx.workdir / "model.skops"
    sio.dump(model, path)
    scores = {"train_accuracy": float(model.score(x, y)), "train_rows": float(len(y))}
    return {"model": ModelOutput(path=path, flavor="sklearn", signature=signature()),
            "scores": scores}  # fmt: skip


def rows(n: int, seed: int, shift: float = 0.0) -> pa.Table:
    """Seeded rows: two features, a group, and a label they predict."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n) + shift, rng.normal(size=n)
    group = rng.integers(0, 2, size=n).astype(np.float64)
    label = np.where(x1 - x2 + 0.3 * group + rng.normal(scale=0.5, size=n) > 0, "yes", "no")
    return pa.table({"x1": x1, "x2": x2, "group": group, "label": label})


@dataclass(kw_only=True)
class Loop:
    """What the loop left behind: its services and clock, who is who, the ids it created."""

    services: Services
    client: TestClient
    world: World
    clock: ManualClock
    retrain_run: str
    champion_run: str
    gate: str
    approval: str
    rollout: str
    alert: str
    # Audit entries and checkpoints take the wall clock's time (the services' clock is manual):
    # the period ends a day after the loop ran, whatever today is.
    until: datetime

    def context(
        self,
        generated_at: datetime | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> ReportContext:
        """A report context over the loop (its manual times and the wall-clock audit times)."""
        return ReportContext(
            db=self.services.db, settings=self.services.settings, clock=self.clock,
            project=PROJECT, period_start=since or T0 - timedelta(days=1),
            period_end=until or self.until, generated_at=generated_at or self.until,
        )  # fmt: skip


def _ended(client: TestClient, world: World, run_id: str) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        got = client.get(f"{P}/pipeline-runs/{run_id}", headers=world.headers("viewer")).json()
        return None if got["state"] in ("queued", "running") else got

    run: dict[str, Any] = _until(ended, f"pipeline run {run_id} to end", 120)
    assert run["state"] == "succeeded", run
    return run


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _champion(client: TestClient, world: World) -> str:
    """Version 1, trained by a run launched by hand, deployed by hand; the run's id."""
    eng = world.headers("ml-engineer")
    _ok(client.post(f"{P}/pipelines", json=PIPELINE, headers=eng), 201)
    run = _ok(client.post(f"{P}/pipelines/retrain/runs", json={}, headers=eng), 202)
    assert _ended(client, world, run["id"])["outputs"]["train.model"]["version"] == 1
    _ok(client.post(f"{P}/endpoints", json={"name": "scorer"}, headers=eng), 201)
    deploy = {"model": "scorer", "version": 1, "note": "first release"}
    _ok(client.post(f"{P}/endpoints/scorer/deployments", json=deploy, headers=eng), 201)
    return str(run["id"])


def _traffic(loop_parts: tuple[TestClient, World, Services], data: pa.Table) -> list[Any]:
    """Score ``data``'s features and send its labels; the records sent."""
    client, world, services = loop_parts
    app = world.headers("app-developer")
    records = [{"features": r} for r in data.select(list(FEATURES)).to_pylist()]
    scored = _ok(client.post(SCORE, json={"records": records}, headers=app))
    assert services.scorer is not None
    services.scorer.capture.flush()
    labels = [{"correlation_id": i, "label": y}
              for i, y in zip(scored["correlation_ids"], data.column("label").to_pylist(),
                              strict=True)]  # fmt: skip
    _ok(client.post(f"{P}/endpoints/scorer/labels", json={"labels": labels}, headers=app), 201)
    return records


def _monitor_run(client: TestClient, world: World, end: datetime) -> dict[str, Any]:
    body = {"window_end": end.isoformat()}
    got = _ok(client.post(f"{P}/monitors/watch/run", json=body, headers=world.headers("owner")))
    return dict(got["run"])


def _approve(client: TestClient, world: World) -> dict[str, Any]:
    def pending() -> list[Any]:
        r = client.get(f"{P}/approvals?state=pending", headers=world.headers("viewer"))
        return list(r.json())

    [asked] = _until(pending, "the approval request", 120)
    url = f"{P}/approvals/{asked['id']}/approve"
    assert client.post(url, headers=world.headers("owner")).status_code == 403  # self-approval
    return dict(_ok(client.post(url, json={"note": "gate passed"}, headers=world.headers("admin"))))


def run_loop(services: Services, client: TestClient, world: World, clock: ManualClock) -> Loop:
    """Drive the whole loop through the API; what it created."""
    parts = (client, world, services)
    owner = world.headers("owner")
    register_dataset(services, PROJECT, "train-data", rows(2000, seed=0))
    champion_run = _champion(client, world)
    _ok(client.patch(f"{P}/models/scorer/card", json=CARD, headers=owner))
    yaml = {"Content-Type": "application/yaml"}
    _ok(client.post(f"{P}/monitors/apply", content=MONITOR, headers=owner | yaml))
    _ok(client.post(f"{P}/triggers", json=TRIGGER, headers=owner), 201)

    clock.set(T0 + 10 * MINUTE)
    _traffic(parts, rows(300, seed=8))
    clock.set(T0 + HOUR)
    assert not _monitor_run(client, world, T0 + HOUR)["breached"]
    clock.set(T0 + HOUR + 10 * MINUTE)
    _traffic(parts, rows(300, seed=2, shift=1.5))
    clock.set(T0 + 2 * HOUR)
    assert _monitor_run(client, world, T0 + 2 * HOUR)["breached"]
    [alert] = [a for a in _ok(client.get(f"{P}/alerts", headers=owner))
               if a["signal"] == "data_drift"]  # fmt: skip

    job = trigger_leader_job(services.db, services.settings, clock)
    assert job.run() == 1
    [launch] = _ok(client.get(f"{P}/triggers/on-drift/launches", headers=owner))
    retrain = _ended(client, world, launch["run_id"])
    [gate] = _until(lambda: _ok(client.get(f"{P}/gates?run={retrain['id']}", headers=owner)),
                    "the gate decision", 120)  # fmt: skip
    assert gate["passed"], gate["reasons"]
    clock.set(T0 + 2 * HOUR + 5 * MINUTE)
    approval = _approve(client, world)
    [rollout] = _ok(client.get(f"{P}/endpoints/scorer/rollouts", headers=owner))
    assert rollout["state"] == "active"
    clock.set(T0 + 2 * HOUR + 20 * MINUTE)
    _ok(client.post(f"{P}/endpoints/scorer/rollouts/{rollout['id']}/promote", headers=owner))
    _close_alert(client, world, clock, alert["id"])

    clock.set(T0 + 2 * HOUR + 30 * MINUTE)
    _traffic(parts, rows(300, seed=3, shift=1.5))
    clock.set(T0 + 3 * HOUR)
    _monitor_run(client, world, T0 + 3 * HOUR)
    seal(services.db)  # a checkpoint over the whole loop, witnessed: the chain verifies
    return Loop(
        services=services, client=client, world=world, clock=clock,
        retrain_run=str(retrain["id"]), champion_run=champion_run, gate=str(gate["id"]),
        approval=str(approval["id"]), rollout=str(rollout["id"]), alert=str(alert["id"]),
        until=max(T0, datetime.now(UTC)) + timedelta(days=1),
    )  # fmt: skip


def _close_alert(client: TestClient, world: World, clock: ManualClock, alert: str) -> None:
    clock.set(T0 + 2 * HOUR + 22 * MINUTE)
    ack = {"note": "retrain under way"}
    _ok(client.post(f"{P}/alerts/{alert}/acknowledge", json=ack, headers=world.headers("owner")))
    clock.set(T0 + 2 * HOUR + 25 * MINUTE)
    done = {"note": "version 2 promoted"}
    eng = world.headers("ml-engineer")
    _ok(client.post(f"{P}/alerts/{alert}/resolve", json=done, headers=eng))


def loop_settings(home: Path, url: str) -> Settings:
    """Settings whose pipelines may run this module's step."""
    return make_settings(home, url, pipeline_modules=["tests.reports"])


@pytest.fixture(scope="module")
def closed_loop(
    database_factory: DatabaseFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Loop]:
    """One model through the whole loop, shared by the tests of a module (read it only)."""
    home = tmp_path_factory.mktemp("loop") / "home"
    url = database_factory.new(home, world=True)
    assert database_factory.world is not None
    world = copy.deepcopy(database_factory.world)
    clock = ManualClock(T0)
    services = build_services(loop_settings(home, url), clock=clock)
    app = create_app(services=services, seal_in_background=False, pipeline_runner=InlineRunner())
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield run_loop(services, client, world, clock)
    finally:
        services.db.dispose()
        database_factory.drop(url)
