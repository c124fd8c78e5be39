"""Runs over HTTP: the results time series, run and backfill, and ``/metrics``."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from governance.core.db import Database
from monitors.alerts.schemas import Breach, Severity
from monitors.alerts.service import raise_or_update_alert
from monitors.runs.service import backfill
from monitors.runs.sources import RunEnvironment
from monitors.specs.schemas import Monitor
from monitors.specs.service import create_monitor
from tests.builders import OPERATOR, World
from tests.monitors.runs.conftest import HOUR, START
from tests.monitors.runs.jobs import backfill as backfill_job

BASE = "/api/v1/projects/alpha/monitors"


def _seed(db: Database, env: RunEnvironment, project: str = "alpha") -> None:
    from governance.core.clock import ManualClock

    backfill(
        db,
        project=project,
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
    job = backfill_job(client, f"{BASE}/drift/backfill", {"since": since, "until": until}, eng)
    assert job["status"] == "succeeded" and job["windows_done"] == job["windows_total"] == 4
    assert job["counts"] == {"created": 3, "existing": 1, "rerun": 0, "breached": 0, "failed": 4}
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
    assert "# TYPE steward_signal_share_of_drifted_columns gauge" in text
    assert (
        'steward_signal_share_of_drifted_columns{feature="",monitor="drift",project="alpha",'
        'signal="data_drift"} 1.0' in text
    )
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


FAMILIES = {
    "steward_monitor_breached": "gauge",
    "steward_monitor_runs": "counter",
    "steward_monitor_run_seconds": "counter",
    "steward_monitor_run_seconds_max": "gauge",
    "steward_monitor_last_success_timestamp_seconds": "gauge",
    "steward_monitor_run_duration_seconds": "histogram",
    "steward_alerts_open": "gauge",
    "steward_ingest_rows": "counter",
    "steward_ingest_batches": "counter",
    "steward_ingest_refused": "counter",
    "steward_ingest_duplicates": "counter",
}

PROCESS = {
    "steward_build_info",
    "steward_daemon_leader",
    "steward_http_requests",
    "steward_http_request_duration_seconds",
}


def _scrape(
    client: TestClient, token: str
) -> dict[str, dict[str, list[tuple[dict[str, str], float]]]]:
    """Per family, per project: the (labels, value) samples of one scrape."""
    r = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    # Process series (HTTP, build, leader: tests/api/test_metrics.py) carry no project.
    families = [f for f in text_string_to_metric_families(r.text) if f.name not in PROCESS]
    # every fixed family, even when empty; one gauge per signal metric that has a value
    fixed = {f.name: f.type for f in families if not f.name.startswith("steward_signal_")}
    assert fixed == FAMILIES
    assert {f.type for f in families if f.name.startswith("steward_signal_")} <= {"gauge"}
    found: dict[str, dict[str, list[tuple[dict[str, str], float]]]] = {}
    for family in families:
        for sample in family.samples:
            per_project = found.setdefault(family.name, {})
            per_project.setdefault(sample.labels["project"], []).append(
                (sample.labels, sample.value)
            )
    return found


def test_metrics_parse_as_prometheus_with_series_per_readable_project(
    client: TestClient, world: World, db: Database, monitor: Monitor, env: RunEnvironment
) -> None:
    _seed(db, env)
    create_monitor(db, project="beta", spec=monitor.spec, actor=OPERATOR)
    _seed(db, env, project="beta")
    with db.transaction() as session:
        for project in ("alpha", "beta"):
            breach = Breach(monitor="drift", signal="data_drift", severity=Severity.critical)
            raise_or_update_alert(session, project=project, breach=breach)
    both = _scrape(client, world.admin_token)  # owner of alpha and beta
    assert {name: set(series) for name, series in both.items()} == {
        name: {"alpha", "beta"}
        for name in (*FAMILIES, *both)
        if name.startswith(("steward_monitor", "steward_alerts", "steward_signal_"))
    }
    for project in ("alpha", "beta"):
        runs = {(s["monitor"], s["status"]): n for s, n in both["steward_monitor_runs"][project]}
        assert runs == {("drift", "succeeded"): 11.0, ("drift", "no_data"): 1.0}
        [(labels, alerts)] = both["steward_alerts_open"][project]
        assert (labels["severity"], alerts) == ("critical", 1.0)
        values = [s for name, series in both.items() if name.startswith("steward_signal_")
                  for s in series.get(project, [])]  # fmt: skip
        assert len(values) == 5  # the seeded monitor's latest values (as before the split)
        assert {s["signal"] for s, _ in values} == {"data_drift", "prediction_drift"}
        assert both["steward_monitor_run_seconds"][project][0][1] > 0
    alpha_only = _scrape(client, world.tokens["viewer"])
    assert {p for series in alpha_only.values() for p in series} == {"alpha"}
    signals = [name for name in both if name.startswith("steward_signal_")]
    assert all(alpha_only[name]["alpha"] == both[name]["alpha"] for name in signals)
    beta_only = _scrape(client, world.outsider_token)
    assert {p for series in beta_only.values() for p in series} == {"beta"}
    assert _scrape(client, world.tokens["app-developer"]) == {}  # no metrics:read anywhere
