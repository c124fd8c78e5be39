"""A small real world for the console, made through the HTTP API of a running server.

Dataset ``train-data``; pipeline ``retrain`` whose first run trains ``scorer`` v1 (deployed to
endpoint ``scorer`` by the ml-engineer); drifted, labelled traffic; monitor ``drift`` run on two
windows (the second breaches: an open alert); a deploy policy naming ml-engineers as approvers;
a second run launched by the owner with a release plan, whose model v2 is gated and waits for
an ml-engineer's approval.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pyarrow as pa

from governance.core.clock import ManualClock
from steward.api.deps import Services
from tests.builders import World
from tests.retrain.approvals.test_closed_loop import SPEC, _until
from tests.retrain.pipelines.conftest import register_dataset
from tests.retrain.test_closed_loop_e2e import GATE, MONITOR

P = "/api/v1/projects/alpha"
T0 = datetime(2026, 6, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


@dataclass(frozen=True, kw_only=True)
class Seeded:
    """What the seed made that the tests look for."""

    approval_id: str
    alert_id: str


def rows(n: int, seed: int, shift: float = 0.0) -> pa.Table:
    """Two features and a label that depends on them; ``shift`` moves x1."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n) + shift, rng.normal(size=n)
    label = np.where(x1 - x2 + rng.normal(scale=0.5, size=n) > 0, "yes", "no")
    return pa.table({"x1": x1, "x2": x2, "label": label})


def _ok(response: httpx.Response) -> Any:
    assert response.is_success, response.text
    return response.json()


def _launch(http: httpx.Client, world: World, role: str, **body: Any) -> dict[str, Any]:
    run = _ok(http.post(f"{P}/pipelines/retrain/runs", json=body, headers=world.headers(role)))

    def ended() -> dict[str, Any] | None:
        got = _ok(http.get(f"{P}/pipeline-runs/{run['id']}", headers=world.headers("viewer")))
        return None if got["state"] in ("queued", "running") else got

    done: dict[str, Any] = _until(ended, "the pipeline run to end")
    assert done["state"] == "succeeded", done
    return done


def _traffic(http: httpx.Client, world: World, services: Services, shift: float, seed: int) -> None:
    app = world.headers("app-developer")
    table = rows(200, seed=seed, shift=shift)
    records = [{"features": r} for r in table.select(["x1", "x2"]).to_pylist()]
    scored = _ok(http.post(f"{P}/endpoints/scorer/score", json={"records": records}, headers=app))
    assert services.scorer is not None
    services.scorer.capture.flush()
    truth = table.column("label").to_pylist()
    labels = [
        {"correlation_id": i, "label": y}
        for i, y in zip(scored["correlation_ids"], truth, strict=True)
    ]
    _ok(http.post(f"{P}/endpoints/scorer/labels", json={"labels": labels}, headers=app))


def _monitor(http: httpx.Client, world: World, services: Services, clock: ManualClock) -> str:
    """Two hourly windows: calm, then drifted (breached, one alert); the alert's id."""
    owner = world.headers("owner")
    yaml = {"Content-Type": "application/yaml"}
    _ok(http.post(f"{P}/monitors/apply", content=MONITOR, headers=owner | yaml))
    for hour, shift in ((0, 0.0), (1, 1.5)):
        clock.set(T0 + hour * HOUR + timedelta(minutes=10))
        _traffic(http, world, services, shift=shift, seed=hour + 1)
        clock.set(T0 + (hour + 1) * HOUR)
        body = {"window_end": clock.now().isoformat()}
        _ok(http.post(f"{P}/monitors/drift/run", json=body, headers=owner))
    [alert] = _ok(http.get(f"{P}/alerts", headers=owner))
    return str(alert["id"])


def seed(http: httpx.Client, world: World, services: Services, clock: ManualClock) -> Seeded:
    """Make the world described in the module's docstring."""
    register_dataset(services, "alpha", "train-data", rows(2000, seed=0))
    eng = world.headers("ml-engineer")
    _ok(http.post(f"{P}/pipelines", json=SPEC, headers=eng))
    _launch(http, world, "ml-engineer")
    _ok(http.post(f"{P}/endpoints", json={"name": "scorer"}, headers=eng))
    deploy = {"model": "scorer", "version": 1}
    _ok(http.post(f"{P}/endpoints/scorer/deployments", json=deploy, headers=eng))
    alert_id = _monitor(http, world, services, clock)
    # ml-engineers approve here; the owner launches the challenger (a launcher never approves)
    policy = {"mode": "approval", "approver_role": "ml-engineer"}
    _ok(http.put(f"{P}/deploy-policy", json=policy, headers=world.headers("owner")))
    plan = {"endpoint": "scorer", "gate": GATE}
    _launch(http, world, "owner", inputs={"rows": 2000}, plan=plan)

    def pending() -> list[Any]:
        return list(_ok(http.get(f"{P}/approvals?state=pending", headers=eng)))

    [asked] = _until(pending, "the approval request")
    return Seeded(approval_id=str(asked["id"]), alert_id=alert_id)
