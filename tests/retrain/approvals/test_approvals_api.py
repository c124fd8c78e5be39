"""Approvals over HTTP: the deploy policy, separation of duties, one decision per approval."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from governance.audit.schemas import AuditFilter
from governance.audit.service import list_audit
from retrain.approvals.schemas import Approval
from retrain.approvals.service import request_approval
from retrain.gate.schemas import ModelRef
from retrain.loop import LOOP
from retrain.rollout.schemas import RolloutPlan, Strategy
from steward.api.deps import Services
from tests.builders import World

P = "/api/v1/projects/alpha"


def _ask(
    services: Services, world: World, *, launcher: str = "owner", owner: str | None = None
) -> Approval:
    """A pending approval of run-less challenger income v2, launched by ``launcher``'s user."""
    return request_approval(
        services.db, project="alpha", endpoint="income",
        challenger=ModelRef(model="income", version=2),
        rollout=RolloutPlan(strategy=Strategy.canary, percent=10),
        requested_by=world.principals[launcher].ref,
        trigger_owner=None if owner is None else world.principals[owner].ref, actor=LOOP,
    )  # fmt: skip


def _denials(services: Services) -> list[dict[str, Any]]:
    flt = AuditFilter(action="approval.decide", project="alpha")
    page = list_audit(services.db, flt=flt, cursor=None, limit=50)
    return [e.model_dump() for e in page.items if e.decision == "deny"]


def test_the_deploy_policy_defaults_to_approval_by_an_owner_and_owners_change_it(
    client: TestClient, world: World, services: Services
) -> None:
    url = f"{P}/deploy-policy"
    got = client.get(url, headers=world.headers("viewer"))
    assert got.status_code == 200, got.text
    assert (got.json()["mode"], got.json()["approver_role"]) == ("approval", "owner")
    assert got.json()["updated_at"] is None
    body = {"mode": "auto", "approver_role": "ml-engineer"}
    assert client.put(url, json=body, headers=world.headers("ml-engineer")).status_code == 403
    bad = client.put(
        url, json={"mode": "auto", "approver_role": "boss"}, headers=world.headers("owner")
    )
    assert bad.status_code == 422 and "boss" in bad.text
    put = client.put(url, json=body, headers=world.headers("owner"))
    assert put.status_code == 200, put.text
    again = client.get(url, headers=world.headers("viewer")).json()
    assert (again["mode"], again["approver_role"], again["updated_by"]) == (
        "auto", "ml-engineer", "user:owner-user",
    )  # fmt: skip
    flt = AuditFilter(action="deploy_policy.set", project="alpha")
    [entry] = list_audit(services.db, flt=flt, cursor=None, limit=5).items
    assert entry.details["before"] == {"mode": "approval", "approver_role": "owner"}
    assert entry.details["after"] == {"mode": "auto", "approver_role": "ml-engineer"}


def test_the_launcher_cannot_approve_and_the_denial_is_audited(
    client: TestClient, world: World, services: Services
) -> None:
    asked = _ask(services, world, launcher="owner")
    url = f"{P}/approvals/{asked.id}/approve"
    r = client.post(url, json={"note": "lgtm"}, headers=world.headers("owner"))
    assert r.status_code == 403 and r.json()["code"] == "self_approval", r.text
    [denial] = _denials(services)
    assert denial["actor"] == "user:owner-user"
    assert denial["target"] == f"approval:{asked.id}"
    assert denial["details"]["reason"] == "self_approval"
    still = client.get(f"{P}/approvals/{asked.id}", headers=world.headers("viewer")).json()
    assert still["state"] == "pending" and still["decided_by"] is None


def test_the_trigger_owner_cannot_approve_its_run(
    client: TestClient, world: World, services: Services
) -> None:
    asked = _ask(services, world, launcher="ml-engineer", owner="owner")
    r = client.post(f"{P}/approvals/{asked.id}/approve", headers=world.headers("owner"))
    assert r.status_code == 403 and r.json()["code"] == "self_approval", r.text
    assert [d["details"]["reason"] for d in _denials(services)] == ["self_approval"]


def test_roles_without_approval_decide_are_refused_by_policy(
    client: TestClient, world: World, services: Services
) -> None:
    asked = _ask(services, world)
    url = f"{P}/approvals/{asked.id}/approve"
    for role in ("app-developer", "data-scientist", "viewer"):
        r = client.post(url, headers=world.headers(role))
        assert r.status_code == 403 and r.json()["code"] == "permission_denied", (role, r.text)
    # ml-engineers may decide approvals, but the project's deploy policy names owners
    r = client.post(url, headers=world.headers("ml-engineer"))
    assert r.status_code == 403 and r.json()["code"] == "approver_role", r.text
    # app developers may not even read approvals
    assert client.get(f"{P}/approvals", headers=world.headers("app-developer")).status_code == 403
    assert client.get(f"{P}/approvals", headers=world.headers("auditor")).status_code == 200


def test_an_approver_needs_the_policy_role(
    client: TestClient, world: World, services: Services
) -> None:
    url = f"{P}/deploy-policy"
    owner = world.headers("owner")
    # a role that may never decide approvals would leave every release waiting forever
    refused = client.put(url, json={"mode": "approval", "approver_role": "auditor"}, headers=owner)
    assert refused.status_code == 422 and refused.json()["code"] == "approver_cannot_decide"
    assert "ml-engineer" in refused.json()["detail"]
    body = {"mode": "approval", "approver_role": "ml-engineer"}
    assert client.put(url, json=body, headers=owner).status_code == 200
    asked = _ask(services, world, launcher="owner")
    approve = f"{P}/approvals/{asked.id}/approve"
    r = client.post(approve, headers=world.headers("admin"))
    assert r.status_code == 403 and r.json()["code"] == "approver_role", r.text
    assert "ml-engineer" in r.json()["detail"]
    assert [d["details"]["reason"] for d in _denials(services)] == ["approver_role"]
    # an ml-engineer passes both checks (the rollout of this run-less challenger then finds no
    # endpoint: 404, and the approval is reopened; the loop tests deploy for real)
    done = client.post(approve, headers=world.headers("ml-engineer"))
    assert done.status_code == 404, done.text
    assert [d["details"]["reason"] for d in _denials(services)] == ["approver_role"]


def test_a_rejection_is_final_and_listed_by_state(
    client: TestClient, world: World, services: Services
) -> None:
    first, second = _ask(services, world), _ask(services, world)
    owner = world.headers("owner")  # the launcher may withdraw its own release
    r = client.post(f"{P}/approvals/{first.id}/reject", json={"note": "bias"}, headers=owner)
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["decided_by"], r.json()["note"]) == (
        "rejected", "user:owner-user", "bias",
    )  # fmt: skip
    again = client.post(f"{P}/approvals/{first.id}/approve", headers=world.headers("admin"))
    assert again.status_code == 409 and again.json()["code"] == "approval_decided"
    assert client.post(f"{P}/approvals/{first.id}/reject", headers=owner).status_code == 409
    viewer = world.headers("viewer")
    pending = client.get(f"{P}/approvals", params={"state": "pending"}, headers=viewer).json()
    assert [a["id"] for a in pending] == [str(second.id)]
    every = client.get(f"{P}/approvals", headers=viewer).json()
    assert [a["id"] for a in every] == [str(second.id), str(first.id)]
    assert every[0]["rollout"] == {"strategy": "canary", "percent": 10}


def test_approvals_of_another_project_are_not_found(
    client: TestClient, world: World, services: Services
) -> None:
    asked = _ask(services, world)
    outsider = {"Authorization": f"Bearer {world.outsider_token}"}
    beta = "/api/v1/projects/beta"
    assert client.get(f"{beta}/approvals/{asked.id}", headers=outsider).status_code == 404
    r = client.post(f"{beta}/approvals/{asked.id}/approve", headers=outsider)
    assert r.status_code == 404
    unknown = "00000000-0000-7000-8000-000000000000"
    assert (
        client.get(f"{P}/approvals/{unknown}", headers=world.headers("viewer")).status_code == 404
    )


def test_a_run_asks_for_approval_once(world: World, services: Services) -> None:
    from uuid import uuid4

    run = uuid4()
    asked = [
        request_approval(
            services.db,
            project="alpha",
            endpoint="income",
            challenger=ModelRef(model="income", version=3),
            rollout=RolloutPlan(),
            requested_by="user:owner-user",
            run_id=run,
            actor=LOOP,
        )
        for _ in range(2)
    ]
    assert asked[0].id == asked[1].id and asked[0].run_id == run


def test_an_approval_whose_rollout_cannot_start_is_pending_again(
    client: TestClient, world: World, services: Services
) -> None:
    asked = _ask(services, world)  # income v2 does not exist: the rollout cannot start
    r = client.post(f"{P}/approvals/{asked.id}/approve", headers=world.headers("admin"))
    assert r.status_code == 404, r.text
    again = client.get(f"{P}/approvals/{asked.id}", headers=world.headers("viewer")).json()
    assert (again["state"], again["decided_by"], again["rollout_id"]) == ("pending", None, None)
    flt = AuditFilter(project="alpha", target=f"approval:{asked.id}")
    actions = [e.action for e in list_audit(services.db, flt=flt, cursor=None, limit=10).items]
    assert actions == ["approval.request", "approval.approve", "approval.reopen"]
