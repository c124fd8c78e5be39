"""The loop's last turn: a finished run is gated, then deployed or sent for approval."""

from __future__ import annotations

import uuid
from typing import Any

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from governance.audit.schemas import AuditFilter
from governance.audit.service import list_audit
from lineage.service import get_endpoint
from retrain.approvals.schemas import ApprovalState
from retrain.approvals.service import list_approvals
from retrain.gate.schemas import GateSpec, MetricThreshold
from retrain.gate.service import list_decisions
from retrain.loop import after_run, challenger_of
from retrain.pipelines.schemas import PipelineRun, RunState
from retrain.plan import ReleasePlan
from retrain.rollout.schemas import RolloutPlan
from retrain.rollout.service import list_rollouts
from steward.api.deps import Services
from steward.demo.data import load_adult
from tests.builders import World
from tests.retrain.test_artifacts_api import _pipeline
from tests.retrain.test_scoring_api import SCORE, _publish, _records, register_version

P = "/api/v1/projects/alpha"
LAUNCHER = "user:owner-user"


def _register(client: TestClient, world: World, model: Any) -> int:
    """Register and upload ``model`` as a new version of 'income' (not deployed)."""
    return register_version(client, world, model)


def _labelled_traffic(client: TestClient, world: World, services: Services, rows: pa.Table) -> None:
    """Score ``rows`` through the endpoint and send their true labels."""
    app = world.headers("app-developer")
    r = client.post(SCORE, json={"records": _records(rows)}, headers=app)
    assert r.status_code == 200, r.text
    assert services.scorer is not None
    services.scorer.capture.flush()
    truth = rows.column("income").to_pylist()
    labels = [
        {"correlation_id": i, "label": y}
        for i, y in zip(r.json()["correlation_ids"], truth, strict=True)
    ]
    assert (
        client.post(
            f"{P}/endpoints/income/labels", json={"labels": labels}, headers=app
        ).status_code
        == 201
    )


@pytest.fixture
def challenger(client: TestClient, world: World, services: Services) -> int:
    """Endpoint 'income' serves v1 (trained on 300 rows) with 300 labelled rows of traffic;
    v2, trained on 2000 rows, is registered: the challenger's version."""
    adult = load_adult().slice(0, 3000)
    _publish(client, world, _pipeline(adult.slice(0, 300)))
    _labelled_traffic(client, world, services, adult.slice(2500, 300))
    return _register(client, world, _pipeline(adult.slice(300, 2000)))


def _run(version: int, spec: GateSpec, rollout: RolloutPlan | None = None) -> PipelineRun:
    plan = ReleasePlan(endpoint="income", gate=spec, rollout=rollout or RolloutPlan())
    outputs = {
        "evaluate.metrics": {"kind": "metrics", "values": {"accuracy": 0.8}},
        "train.model": {"kind": "model", "model": "income", "version": version},
    }
    return PipelineRun(
        id=uuid.uuid4(), project="alpha", pipeline="adult", pipeline_version=1,
        state=RunState.succeeded, inputs={}, outputs=outputs, steps=[], launched_by=LAUNCHER,
        trigger_owner="user:ml-engineer-user", plan=plan, created_at="2026-01-01T00:00:00Z",
    )  # fmt: skip


PASSES = GateSpec(min_rows=100, reference_fraction=0, bootstrap=50,
                  metrics=[MetricThreshold(metric="accuracy", threshold=0.5)])  # fmt: skip


def _served(services: Services) -> int | None:
    mv = get_endpoint(services.db, project="alpha", name="income").model_version
    return None if mv is None else mv.version


def test_a_passing_run_waits_for_a_second_owner_who_rolls_it_out(
    client: TestClient, world: World, services: Services, challenger: int
) -> None:
    run = _run(challenger, PASSES)
    after_run(services.db, run, settings=services.settings, clock=services.clock)
    [asked] = list_approvals(services.db, project="alpha")
    assert (asked.state, asked.run_id, asked.challenger.version) == (
        ApprovalState.pending,
        run.id,
        challenger,
    )
    assert (asked.requested_by, asked.trigger_owner) == (LAUNCHER, "user:ml-engineer-user")
    [decision] = list_decisions(services.db, project="alpha")
    assert decision.passed and asked.gate_decision_id == decision.id
    assert _served(services) == 1  # nothing deployed before the approval

    url = f"{P}/approvals/{asked.id}/approve"
    mine = client.post(url, headers=world.headers("owner"))
    assert mine.status_code == 403 and mine.json()["code"] == "self_approval"
    done = client.post(url, json={"note": "checked the gate"}, headers=world.headers("admin"))
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["state"], body["decided_by"], body["note"]) == (
        "approved",
        "user:admin",
        "checked the gate",
    )
    [rollout] = list_rollouts(services.db, project="alpha", endpoint="income")
    assert str(rollout.id) == body["rollout_id"] and rollout.approval_id == asked.id
    assert rollout.gate_decision_id == decision.id and rollout.started_by == "user:admin"
    assert _served(services) == challenger
    scored = client.post(SCORE, json={"records": _records(load_adult().slice(10, 3))},
                         headers=world.headers("app-developer"))  # fmt: skip
    assert scored.json()["version"] == challenger
    twice = client.post(url, headers=world.headers("admin"))
    assert twice.status_code == 409 and twice.json()["code"] == "approval_decided"
    # the callback may run again (a retried worker): the run still has one approval
    after_run(services.db, run, settings=services.settings, clock=services.clock)
    assert [a.id for a in list_approvals(services.db, project="alpha")] == [asked.id]


def test_the_auto_policy_rolls_a_passing_run_out_without_approval(
    client: TestClient, world: World, services: Services, challenger: int
) -> None:
    policy = {"mode": "auto", "approver_role": "owner"}
    assert (
        client.put(f"{P}/deploy-policy", json=policy, headers=world.headers("owner")).status_code
        == 200
    )
    after_run(
        services.db, _run(challenger, PASSES), settings=services.settings, clock=services.clock
    )
    assert list_approvals(services.db, project="alpha") == []
    assert _served(services) == challenger
    [rollout] = list_rollouts(services.db, project="alpha", endpoint="income")
    assert rollout.approval_id is None and rollout.started_by == "system:steward-loop"


def test_a_failed_gate_deploys_nothing_and_asks_nobody(
    client: TestClient, world: World, services: Services, challenger: int
) -> None:
    for mode in ("approval", "auto"):
        policy = {"mode": mode, "approver_role": "owner"}
        client.put(f"{P}/deploy-policy", json=policy, headers=world.headers("owner"))
        spec = GateSpec(min_rows=100, reference_fraction=0, bootstrap=50,
                        metrics=[MetricThreshold(metric="accuracy", threshold=0.999)])  # fmt: skip
        after_run(
            services.db, _run(challenger, spec), settings=services.settings, clock=services.clock
        )
    assert list_approvals(services.db, project="alpha") == []
    assert list_rollouts(services.db, project="alpha", endpoint="income") == []
    assert _served(services) == 1
    decisions = list_decisions(services.db, project="alpha")
    assert len(decisions) == 2 and not any(d.passed for d in decisions)
    assert all("accuracy" in " ".join(d.reasons) for d in decisions)


def test_runs_without_a_plan_or_that_failed_are_left_alone(
    world: World, services: Services, challenger: int
) -> None:
    ran = _run(challenger, PASSES)
    for run in (
        ran.model_copy(update={"plan": None}),
        ran.model_copy(update={"state": RunState.failed}),
    ):
        after_run(services.db, run, settings=services.settings, clock=services.clock)
    assert list_decisions(services.db, project="alpha") == []
    flt = AuditFilter(action="gate.decide", project="alpha")
    assert list_audit(services.db, flt=flt, cursor=None, limit=5).items == []


def test_the_challenger_is_the_named_or_the_only_model_output() -> None:
    run = _run(7, PASSES)
    plan = run.plan
    assert plan is not None
    assert challenger_of(run, plan).version == 7
    named = plan.model_copy(update={"model_output": "model"})
    assert challenger_of(run, named).model == "income"
    two = run.model_copy(
        update={
            "outputs": {**run.outputs, "tune.model": {"kind": "model", "model": "x", "version": 1}}
        }
    )
    with pytest.raises(Exception, match="2 matching model outputs"):
        challenger_of(two, plan)
    assert challenger_of(two, plan.model_copy(update={"model_output": "tune.model"})).model == "x"


def test_an_approval_judged_against_a_champion_no_longer_served_is_refused(
    client: TestClient, world: World, services: Services, challenger: int
) -> None:
    after_run(
        services.db, _run(challenger, PASSES), settings=services.settings, clock=services.clock
    )
    [asked] = list_approvals(services.db, project="alpha")
    newer = _publish(client, world, _pipeline(load_adult().slice(0, 600)))  # deployed by hand
    r = client.post(f"{P}/approvals/{asked.id}/approve", headers=world.headers("admin"))
    assert r.status_code == 409 and r.json()["code"] == "champion_changed", r.text
    assert f"income v{newer}" in r.json()["detail"]
    [still] = list_approvals(services.db, project="alpha")
    assert still.state is ApprovalState.pending and _served(services) == newer
    assert list_rollouts(services.db, project="alpha", endpoint="income") == []
