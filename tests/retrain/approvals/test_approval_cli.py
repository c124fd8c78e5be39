"""``steward approval`` on the local database and against a running server."""

from __future__ import annotations

import json

from governance.core.settings import Settings
from retrain.approvals.schemas import Approval, ApprovalState
from retrain.approvals.service import get_approval, get_deploy_policy, request_approval
from retrain.gate.schemas import ModelRef
from retrain.loop import LOOP
from retrain.rollout.schemas import RolloutPlan
from steward.api.deps import Services
from steward.cli.context import operator
from tests.builders import World
from tests.cli.runner import CliResult, run_steward


def _steward(settings: Settings, *args: str, **env: str) -> CliResult:
    base = {"STEWARD_HOME": str(settings.home), "STEWARD_DATABASE_URL": settings.database_url}
    return run_steward(*args, env={"STEWARD_URL": None, "STEWARD_TOKEN": None, **base, **env})


def _ask(services: Services, requested_by: str) -> Approval:
    return request_approval(
        services.db, project="alpha", endpoint="income",
        challenger=ModelRef(model="income", version=4), rollout=RolloutPlan(),
        requested_by=requested_by, actor=LOOP,
    )  # fmt: skip


def test_the_local_cli_lists_rejects_and_sets_the_policy(
    world: World, services: Services, settings: Settings
) -> None:
    mine = _ask(services, operator().ref)
    other = _ask(services, "user:owner-user")
    shown = _steward(settings, "approval", "policy", "-p", "alpha")
    assert shown.returncode == 0 and "mode approval, approver role owner" in shown.stdout
    done = _steward(settings, "approval", "policy", "-p", "alpha", "--mode", "auto")
    assert done.returncode == 0, done.stderr + done.stdout
    bad = _steward(settings, "approval", "policy", "-p", "alpha", "--role", "boss")
    assert bad.returncode == 2 and "unknown role 'boss'" in bad.stderr, bad.stderr
    policy = get_deploy_policy(services.db, project="alpha")
    assert (policy.mode, policy.approver_role) == ("auto", "owner")
    listed = _steward(settings, "approval", "list", "-p", "alpha", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    assert [a["id"] for a in json.loads(listed.stdout)] == [str(other.id), str(mine.id)]
    # the operator launched ``mine``: it may not approve it
    refused = _steward(settings, "approval", "approve", str(mine.id), "-p", "alpha")
    assert refused.returncode == 4 and "self_approval" in refused.stderr, refused.stderr
    rejected = _steward(
        settings, "approval", "reject", str(other.id), "-p", "alpha", "--note", "no"
    )
    assert rejected.returncode == 0, rejected.stderr + rejected.stdout
    stored = get_approval(services.db, project="alpha", approval_id=other.id)
    assert (stored.state, stored.decided_by, stored.note) == (
        ApprovalState.rejected, operator().ref, "no",
    )  # fmt: skip


def test_the_cli_decides_as_the_token_holder_on_a_server(
    world: World, services: Services, settings: Settings, server: str
) -> None:
    asked = _ask(services, "user:owner-user")
    owner = {"STEWARD_URL": server, "STEWARD_TOKEN": world.tokens["owner"]}
    refused = _steward(settings, "approval", "approve", str(asked.id), "-p", "alpha", **owner)
    assert refused.returncode == 4 and "self_approval" in refused.stderr, refused.stderr
    viewer = {"STEWARD_URL": server, "STEWARD_TOKEN": world.tokens["viewer"]}
    listed = _steward(
        settings, "approval", "list", "-p", "alpha", "--state", "pending", "-o", "json", **viewer
    )
    assert listed.returncode == 0, listed.stderr
    assert [a["id"] for a in json.loads(listed.stdout)] == [str(asked.id)]
    denied = _steward(settings, "approval", "reject", str(asked.id), "-p", "alpha", **viewer)
    assert denied.returncode == 4 and "permission_denied" in denied.stderr
    admin = {"STEWARD_URL": server, "STEWARD_TOKEN": world.admin_token}
    done = _steward(settings, "approval", "reject", str(asked.id), "-p", "alpha", **admin)
    assert done.returncode == 0, done.stderr + done.stdout
    shown = _steward(settings, "approval", "show", str(asked.id), "-p", "alpha", **viewer)
    assert json.loads(shown.stdout)["state"] == "rejected"
    assert json.loads(shown.stdout)["decided_by"] == "user:admin"
    policy = _steward(
        settings, "approval", "policy", "-p", "alpha", "--role", "ml-engineer", **admin
    )
    assert policy.returncode == 0 and "approver role ml-engineer" in policy.stdout, policy.stdout
