"""Runs over HTTP: the results time series, run and backfill, and ``/metrics``."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from governance.core.db import Database
from monitors.runs.service import backfill
from monitors.runs.sources import RunEnvironment
from monitors.specs.schemas import Monitor
from tests.builders import World
from tests.monitors.runs.conftest import HOUR, START

BASE = "/api/v1/projects/alpha/monitors"


def _seed(db: Database, env: RunEnvironment) -> None:
    from governance.core.clock import ManualClock

    backfill(
        db,
        project="alpha",
        name="drift",
        since=START - HOUR,
        until=None,
        env=env,
        clock=ManualClock(START + 11 * HOUR),
    )


def test_results_since_and_paging(
    client: TestClient, world: World, db: Database, monitor: Monitor, env: RunEnvironment
) -> None:
    _seed(db, env)
    since = (START + 9 * HOUR).isoformat()
    r = client.get(
        f"{BASE}/drift/results",
        params={"since": since, "signal": "data_drift"},
        headers=world.headers("auditor"),
    )
    assert r.status_code == 200, r.text
    points = r.json()["items"]
    headline = [p for p in points if p["metric"] == "share_of_drifted_columns"]
    assert [p["breached"] for p in headline] == [True, True, True]
    seen, cursor = [], None
    while True:
        params = {"limit": 7} | ({"cursor": cursor} if cursor else {})
        page = client.get(
            f"{BASE}/drift/results", params=params, headers=world.headers("viewer")
        ).json()
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    # the window ending at START has no traffic: a run (no_data) without values
    assert len({p["window_end"] for p in seen}) == 11 and len(seen) == 11 * 5
    runs = client.get(f"{BASE}/drift/runs", headers=world.headers("viewer")).json()
    assert len(runs) == 12 and runs[0]["window_end"] > runs[-1]["window_end"]


def test_run_and_backfill_over_http_record_failures_once(
    client: TestClient, world: World, monitor: Monitor
) -> None:
    eng = world.headers("ml-engineer")
    end = (START + 2 * HOUR).isoformat()
    r = client.post(f"{BASE}/drift/run", json={"window_end": end}, headers=eng)
    assert r.status_code == 200, r.text
    assert r.json()["created"] and r.json()["run"]["status"] == "failed"  # no such endpoint yet
    again = client.post(f"{BASE}/drift/run", json={"window_end": end}, headers=eng).json()
    assert not again["created"] and again["run"]["id"] == r.json()["run"]["id"]
    since = (START - timedelta(minutes=1)).isoformat()
    until = (START + 3 * HOUR).isoformat()
    r = client.post(f"{BASE}/drift/backfill", json={"since": since, "until": until}, headers=eng)
    assert r.status_code == 200 and (r.json()["created"], r.json()["existing"]) == (3, 1)
    viewer = client.post(
        f"{BASE}/drift/backfill", json={"since": since}, headers=world.headers("viewer")
    )
    assert viewer.status_code == 403


def test_metrics_show_only_readable_projects(
    client: TestClient, world: World, db: Database, monitor: Monitor, env: RunEnvironment
) -> None:
    _seed(db, env)
    r = client.get("/metrics", headers=world.headers("viewer"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert "# TYPE steward_monitor_value gauge" in text
    assert (
        'steward_monitor_breached{feature="",metric="share_of_drifted_columns",'
        'monitor="drift",project="alpha",signal="data_drift"} 1' in text
    )
    assert (
        'steward_monitor_runs_total{monitor="drift",project="alpha",status="succeeded"} 11' in text
    )
    for token in (world.tokens["app-developer"], world.outsider_token):
        other = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert other.status_code == 200 and 'project="alpha"' not in other.text
    assert client.get("/metrics").status_code == 401
