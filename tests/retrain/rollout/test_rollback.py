"""Rollbacks: automatic when the candidate fails, by hand through the API and the CLI; promote."""

from __future__ import annotations

import json
from uuid import UUID

import pyarrow as pa
from fastapi.testclient import TestClient

from governance.audit.schemas import AuditFilter
from governance.audit.service import list_audit
from governance.core.settings import Settings
from retrain.rollout.routing import RolloutTraffic
from retrain.rollout.service import ROLLOUT_ACTOR, WATCH_FACTOR, record_outcomes
from steward.api.deps import Services
from tests.builders import World
from tests.cli.runner import run_steward
from tests.retrain.rollout.conftest import MIN_REQUESTS
from tests.retrain.rollout.support import (
    E,
    _pipeline,
    _publish,
    _records,
    broken,
    register,
    score_one,
    start,
)


def _actions(services: Services) -> list[tuple[str, str]]:
    flt = AuditFilter(project="alpha")
    page = list_audit(services.db, flt=flt, cursor=None, limit=500)
    return [(e.action, e.actor) for e in page.items if e.action.startswith("rollout.")]


def _deployed(client: TestClient, world: World) -> list[int]:
    r = client.get(f"{E}/deployments", headers=world.headers("viewer"))
    assert r.status_code == 200, r.text
    return [d["version"] for d in r.json()]


def test_a_failing_deploy_is_rolled_back_after_the_limit_and_the_previous_version_serves(
    client: TestClient, world: World, services: Services, adult: pa.Table
) -> None:
    good = _publish(client, world, _pipeline(adult.slice(0, 1000)))
    bad = register(client, world, broken(adult.slice(0, 1000)))
    rollout = start(client, world, bad, "immediate")
    assert (rollout["previous_version"], _deployed(client, world)) == (good, [good, bad])
    row = _records(adult.slice(2000, 1))[0]
    for _ in range(MIN_REQUESTS):  # failures are returned as they always were
        r = score_one(client, world, row)
        assert r.status_code == 422 and r.json()["code"] == "model_error", r.text
    r = score_one(client, world, row)
    assert r.status_code == 200 and r.json()["version"] == good, r.text
    assert _deployed(client, world) == [good, bad, good]
    ended = client.get(f"{E}/rollouts", headers=world.headers("viewer")).json()[0]
    assert (ended["state"], ended["errors"], ended["requests"]) == (
        "rolled_back", MIN_REQUESTS, MIN_REQUESTS,
    )  # fmt: skip
    assert ended["ended_by"] == "system:steward-rollout" and "automatic" in ended["end_reason"]
    actions = _actions(services)
    assert ("rollout.start", world.principals["ml-engineer"].ref) in actions
    assert ("rollout.rollback", "system:steward-rollout") in actions


def test_a_failing_canary_falls_back_to_the_champion_and_is_rolled_back(
    client: TestClient, world: World, services: Services, adult: pa.Table
) -> None:
    good = _publish(client, world, _pipeline(adult.slice(0, 1000)))
    bad = register(client, world, broken(adult.slice(0, 1000)))
    start(client, world, bad, "canary", percent=99)
    row = _records(adult.slice(2000, 1))[0]
    versions = {score_one(client, world, row, key=f"k{i}").json()["version"] for i in range(12)}
    assert versions == {good}  # every failure of the candidate was served by the champion
    ended = client.get(f"{E}/rollouts", headers=world.headers("viewer")).json()[0]
    assert ended["state"] == "rolled_back" and ended["errors"] >= MIN_REQUESTS
    assert _deployed(client, world) == [good]  # the champion never stopped serving


def test_rollback_by_hand_through_the_api_and_promote(
    client: TestClient, world: World, services: Services, adult: pa.Table
) -> None:
    first = _publish(client, world, _pipeline(adult.slice(0, 1000)))
    second = register(client, world, _pipeline(adult.slice(1000, 1000)))
    eng = world.headers("ml-engineer")
    start(client, world, second, "canary", percent=50)
    r = client.post(f"{E}/rollback", json={"reason": "looks wrong"}, headers=eng)
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["end_reason"]) == ("rolled_back", "looks wrong")
    row = _records(adult.slice(2000, 1))[0]
    assert all(score_one(client, world, row, key=f"k{i}").json()["version"] == first
               for i in range(10))  # fmt: skip
    again = client.post(f"{E}/rollback", json={"reason": "twice"}, headers=eng)
    assert again.status_code == 409 and again.json()["code"] == "nothing_to_roll_back"

    canary = start(client, world, second, "canary", percent=10)
    url = f"{E}/rollouts/{canary['id']}/promote"
    promoted = client.post(url, json={"reason": "good numbers"}, headers=eng)
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["state"] == "promoted"
    assert score_one(client, world, row).json()["version"] == second
    assert _deployed(client, world) == [first, second]
    assert client.post(url, headers=eng).json()["code"] == "rollout_ended"
    actions = [a for a, _ in _actions(services)]
    assert actions.count("rollout.start") == 2 and "rollout.promote" in actions


def test_rollback_through_the_cli_puts_back_the_version_before_the_last_rollout(
    client: TestClient, world: World, services: Services, settings: Settings,
    adult: pa.Table,
) -> None:  # fmt: skip
    first = _publish(client, world, _pipeline(adult.slice(0, 1000)))
    second = register(client, world, _pipeline(adult.slice(1000, 1000)))
    env = {"STEWARD_HOME": str(settings.home), "STEWARD_DATABASE_URL": settings.database_url,
           "STEWARD_URL": None}  # fmt: skip
    started = run_steward("rollout", "start", "income", "-p", "alpha", "-m", "income", "-v",
                          str(second), "-o", "json", env=env)  # fmt: skip
    assert started.returncode == 0, started.stderr + started.stdout
    rollout = json.loads(started.stdout)[0]
    assert rollout["strategy"] == "immediate" and rollout["started_by"].startswith("system:cli@")
    assert score_one(client, world, _records(adult.slice(2000, 1))[0]).json()["version"] == second
    done = run_steward("rollout", "rollback", "income", "-p", "alpha", "--reason", "by hand",
                       env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    assert "rolled_back" in done.stdout
    assert _deployed(client, world) == [first, second, first]
    listed = run_steward("rollout", "list", "income", "-p", "alpha", env=env)
    assert listed.returncode == 0 and "by hand" in listed.stdout, listed.stdout
    refused = run_steward("rollout", "start", "income", "-p", "alpha", "-m", "income", "-v",
                          str(second), "-s", "canary", env=env)  # fmt: skip
    assert refused.returncode != 0 and "percent" in refused.stderr + refused.stdout


def test_counts_from_every_server_add_up_to_the_rollback(
    client: TestClient, world: World, services: Services, adult: pa.Table
) -> None:
    good = _publish(client, world, _pipeline(adult.slice(0, 1000)))
    bad = register(client, world, broken(adult.slice(0, 1000)))
    started = start(client, world, bad, "immediate")
    servers = [
        RolloutTraffic(db=services.db, settings=services.settings, clock=services.clock, every=0)
        for _ in range(2)
    ]
    routes = [s.route("alpha", "income") for s in servers]
    assert all(r is not None and str(r.rollout.id) == started["id"] for r in routes)
    for _ in range(MIN_REQUESTS - 2):  # below the limit on its own
        servers[0].count(routes[0].rollout, failed=True)  # type: ignore[union-attr]
    assert servers[0].route("alpha", "income") is not None
    for _ in range(2):
        servers[1].count(routes[1].rollout, failed=True)  # type: ignore[union-attr]
    assert servers[1].route("alpha", "income") is None  # the second server rolled it back
    assert _deployed(client, world) == [good, bad, good]


def test_a_healthy_deploy_ends_its_watch_after_enough_requests(
    client: TestClient, world: World, services: Services, adult: pa.Table
) -> None:
    _publish(client, world, _pipeline(adult.slice(0, 1000)))
    second = register(client, world, _pipeline(adult.slice(1000, 1000)))
    started = start(client, world, second, "immediate")
    enough = WATCH_FACTOR * MIN_REQUESTS
    args = {"settings": services.settings, "rollout_id": UUID(started["id"]), "errors": 1}
    early = record_outcomes(services.db, requests=enough - 10, **args)  # type: ignore[arg-type]
    assert early is not None and early.state == "active"
    done = record_outcomes(services.db, requests=10, **args)  # type: ignore[arg-type]
    assert done is not None and (done.state, done.ended_by) == ("promoted", ROLLOUT_ACTOR.ref)
    assert (done.requests, done.errors) == (enough, 2)


def test_the_cli_works_against_a_remote_server_with_the_callers_token(
    client: TestClient, world: World, server: str, adult: pa.Table
) -> None:
    first = _publish(client, world, _pipeline(adult.slice(0, 1000)))
    second = register(client, world, _pipeline(adult.slice(1000, 1000)))
    remote = {"STEWARD_URL": server, "STEWARD_TOKEN": world.tokens["ml-engineer"]}
    started = run_steward("rollout", "start", "income", "-p", "alpha", "-m", "income", "-v",
                          str(second), "-s", "canary", "--percent", "20", "-o", "json",
                          env=remote)  # fmt: skip
    assert started.returncode == 0, started.stderr + started.stdout
    rollout = json.loads(started.stdout)[0]
    assert (rollout["percent"], rollout["previous_version"]) == (20, first)
    assert rollout["started_by"] == world.principals["ml-engineer"].ref
    # a second rollout of the endpoint supersedes the first
    shadow = run_steward("rollout", "start", "income", "-p", "alpha", "-m", "income", "-v",
                         str(second), "-s", "shadow", "-o", "json", env=remote)  # fmt: skip
    assert shadow.returncode == 0, shadow.stderr + shadow.stdout
    listed = run_steward("rollout", "list", "income", "-p", "alpha", "-o", "json", env=remote)
    states = [(r["strategy"], r["state"]) for r in json.loads(listed.stdout)]
    assert states == [("shadow", "active"), ("canary", "superseded")]
    app_dev = {**remote, "STEWARD_TOKEN": world.tokens["app-developer"]}
    denied = run_steward("rollout", "rollback", "income", "-p", "alpha", "--reason", "x",
                         env=app_dev)  # fmt: skip
    assert denied.returncode != 0 and "permission" in denied.stderr.lower(), denied.stderr
