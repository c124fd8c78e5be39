"""The signed deploy webhook, and the leader's watch rolling back on a monitor's breach."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow as pa
from fastapi.testclient import TestClient

from governance.core.clock import SystemClock
from governance.core.principal import SYSTEM
from monitors.alerts import service as alerts
from monitors.alerts.schemas import Breach
from monitors.alerts.webhook import (
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify,
)
from monitors.specs.schemas import MonitorSpec
from monitors.specs.service import create_monitor
from retrain.rollout.store import SqlRolloutStore
from retrain.rollout.watch import check_rollouts, rollout_leader_job
from steward.api.deps import Services
from tests.builders import World
from tests.retrain.rollout.support import E, P, _pipeline, _publish, receiver, register, start

SECRET = "a-deploy-secret-of-some-length"


def _headers(raw: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in raw.items()}


def test_deploy_and_rollback_are_posted_signed_to_the_project_webhook(
    client: TestClient, world: World, services: Services, adult: pa.Table
) -> None:
    first = _publish(client, world, _pipeline(adult.slice(0, 1000)))
    second = register(client, world, _pipeline(adult.slice(1000, 1000)))
    owner = world.headers("owner")
    refused = {"url": "http://10.1.2.3/hook", "secret": SECRET}
    r = client.put(f"{P}/deploy-webhook", json=refused, headers=owner)
    assert r.status_code == 422 and r.json()["code"] == "url_refused", r.text
    with receiver() as (url, got):
        r = client.put(f"{P}/deploy-webhook", json={"url": url, "secret": SECRET}, headers=owner)
        assert r.status_code == 200 and "secret" not in r.json(), r.text
        rollout = start(client, world, second, "immediate")
        eng = world.headers("ml-engineer")
        back = client.post(f"{E}/rollback", json={"reason": "manual"}, headers=eng)
        assert back.status_code == 200, back.text
    assert len(got.items) == 2
    now = datetime.now(UTC)
    events = []
    for raw, body in got.items:
        headers = _headers(raw)
        stamp, mac = headers[TIMESTAMP_HEADER.lower()], headers[SIGNATURE_HEADER.lower()]
        assert verify(SECRET, body, timestamp=stamp, signature=mac, now=now)
        assert not verify("another-secret-entirely", body, timestamp=stamp, signature=mac, now=now)
        doc = json.loads(body)
        events.append((headers[EVENT_HEADER.lower()], doc["event"], doc["serving"]["version"]))
        assert doc["rollout"]["id"] == rollout["id"]
    assert events == [("rollout.deploy", "deploy", second), ("rollout.rollback", "rollback", first)]
    with services.db.read() as session:
        stored = SqlRolloutStore(session).webhook("alpha")
    assert stored is not None and stored.sealed_secret.startswith("v1:")
    assert SECRET not in stored.sealed_secret


def test_the_leader_rolls_back_when_a_monitor_of_the_endpoint_breaches_after_the_start(
    client: TestClient, world: World, services: Services, adult: pa.Table
) -> None:
    first = _publish(client, world, _pipeline(adult.slice(0, 1000)))
    second = register(client, world, _pipeline(adult.slice(1000, 1000)))
    spec = MonitorSpec.model_validate({"name": "income-drift", "target": {"name": "income"}})
    create_monitor(services.db, project="alpha", spec=spec, actor=SYSTEM)

    def breached(signal: str) -> None:
        breach = Breach(monitor="income-drift", signal=signal, value=0.4, threshold=0.1)
        with services.db.transaction() as session:
            alerts.raise_or_update_alert(session, project="alpha", breach=breach)

    breached("data_drift")  # before the rollout: not the candidate's doing
    start(client, world, second, "immediate")
    clock = SystemClock()
    assert check_rollouts(services.db, settings=services.settings, clock=clock) == []
    # the same signal breaching on is the standing condition (the inputs still drift): no rollback
    breached("data_drift")
    assert check_rollouts(services.db, settings=services.settings, clock=clock) == []
    breached("performance")  # a signal breaching anew after the start is the candidate's
    job = rollout_leader_job(services.db, services.settings, clock)
    ended = job.run()
    assert isinstance(ended, list) and len(ended) == 1
    assert ended[0].state == "rolled_back" and "income-drift" in ended[0].end_reason
    r = client.get(f"{E}/deployments", headers=world.headers("viewer"))
    assert [d["version"] for d in r.json()] == [first, second, first]
