"""Reruns through the app and the CLI: windows that ran too early or failed run again, with history.

The staging goes through the real app: a monitor applied before its endpoint exists (its first
two daily windows fail), the endpoint deployed with its reference, the third window run before
any traffic (no data), then a normal first day and a shifted third day sent as inferences.
"""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise
from typing import Any

import pytest
from fastapi.testclient import TestClient

from governance.core.settings import Settings
from steward.api.deps import Services
from tests.builders import World
from tests.cli.runner import CliResult, run_steward
from tests.monitors.runs.jobs import backfill
from tests.monitors.runs.traffic import (
    AGE_SEX,
    T0,
    age_sex_day,
    age_sex_reference,
    deploy,
    register_reference,
    send,
)

DAY = timedelta(days=1)
ROWS = 500
PROJECT = "/api/v1/projects/alpha"
MONITORS = f"{PROJECT}/monitors"
ENDPOINT = f"{PROJECT}/endpoints/scorer"
SIGNATURE = AGE_SEX
MONITOR = """
name: drift
target: {name: scorer}
reference: {dataset: ref}
schedule: {interval: P1D, start: "2026-03-01T00:00:00Z"}
signals:
  - {kind: data_drift, name: age-drift, features: [age]}
  - {kind: prediction_drift}
"""


def _iso(day: int) -> str:
    return (T0 + day * DAY).isoformat()


def _z(day: int) -> str:
    """A window end as the API writes it."""
    return _iso(day).replace("+00:00", "Z")


def _send_day(client: TestClient, world: World, day: int, *, shift: float) -> None:
    send(client, world, age_sex_day(day, ROWS, shift=shift, minutes=2))


@pytest.fixture
def staged(
    client: TestClient, world: World, services: Services, settings: Settings
) -> dict[str, Any]:
    """Windows 1-2 failed (no endpoint), window 3 no_data; then traffic for days 0 and 2."""
    yaml = {"Content-Type": "application/yaml"}
    headers = world.headers("data-scientist") | yaml
    r = client.post(f"{MONITORS}/apply", content=MONITOR, headers=headers)
    assert r.status_code == 200, r.text
    eng = world.headers("ml-engineer")
    body = {"since": _iso(0), "until": _iso(2)}
    job = backfill(client, f"{MONITORS}/drift/backfill", body, eng)
    assert (job["counts"]["created"], job["counts"]["failed"]) == (2, 2)
    deploy(services, SIGNATURE)
    register_reference(client, world, settings, age_sex_reference(2 * ROWS))
    r = client.post(f"{MONITORS}/drift/run", json={"window_end": _iso(3)}, headers=eng)
    early = r.json()["run"]
    assert r.status_code == 200 and early["status"] == "no_data", r.text
    _send_day(client, world, 0, shift=0.0)
    _send_day(client, world, 2, shift=40.0)
    return {"early": early}


def _runs(client: TestClient, world: World) -> list[dict[str, Any]]:
    r = client.get(f"{MONITORS}/drift/runs", headers=world.headers("viewer"))
    assert r.status_code == 200, r.text
    return list(r.json())


def test_rerun_over_http_gives_results_and_alerts_from_the_latest_run(
    client: TestClient, world: World, staged: dict[str, Any]
) -> None:
    eng, early = world.headers("ml-engineer"), staged["early"]
    same = client.post(f"{MONITORS}/drift/run", json={"window_end": _iso(3)}, headers=eng)
    assert not same.json()["created"] and same.json()["run"]["id"] == early["id"]
    body = {"window_end": _iso(3), "rerun": True}
    r = client.post(f"{MONITORS}/drift/run", json=body, headers=eng)
    assert r.status_code == 200, r.text
    rerun = r.json()
    assert rerun["created"] and rerun["superseded"] == early["id"]
    assert rerun["run"]["status"] == "succeeded" and rerun["run"]["breached"]
    assert rerun["run"]["attempt"] == 1 and len(rerun["alerts"]) == 1

    body = {"since": _iso(0), "until": _iso(3), "rerun": "failed"}
    job = backfill(client, f"{MONITORS}/drift/backfill", body, eng)
    assert job["counts"] == {"created": 2, "existing": 1, "rerun": 2, "breached": 1, "failed": 0}

    runs = _runs(client, world)
    assert [r["status"] for r in runs[::2]] == ["succeeded", "no_data", "succeeded"]
    assert runs[0]["id"] == rerun["run"]["id"]  # not failed: left alone
    assert len(runs) == 6 and [r["window_end"] for r in runs[::2]] == [_z(3), _z(2), _z(1)]
    current = {r["id"] for r in runs if r["superseded_by"] is None}
    for newer, older in zip(runs[::2], runs[1::2], strict=True):
        assert older["superseded_by"] == newer["id"] and newer["id"] in current
    assert early["id"] in {r["id"] for r in runs}  # the no-data run is kept

    r = client.get(f"{MONITORS}/drift/results", headers=world.headers("viewer"))
    points = r.json()["items"]
    assert {p["run_id"] for p in points} <= current
    assert {p["window_end"] for p in points} == {_z(1), _z(3)}
    headline = {p["window_end"]: p["breached"] for p in points if p["signal"] == "age-drift"}
    assert headline == {_z(1): False, _z(3): True}

    alerts = client.get(f"{PROJECT}/alerts", headers=world.headers("viewer")).json()
    (alert,) = [a for a in alerts if a["signal"] == "age-drift"]
    assert alert["details"]["run_id"] == rerun["run"]["id"]

    r = client.get(
        "/api/v1/audit", params={"action": "monitor.rerun"}, headers=world.headers("admin")
    )
    entries = r.json()["items"]
    assert sorted(e["details"]["superseded_status"] for e in entries) == [
        "failed",
        "failed",
        "no_data",
    ]
    assert {e["details"]["supersedes"] for e in entries} == {r["id"] for r in runs} - current

    bad = client.post(f"{MONITORS}/drift/backfill", json=body | {"rerun": "some"}, headers=eng)
    assert bad.status_code == 422


def _cli(settings: Settings, *args: str) -> CliResult:
    env = {"STEWARD_HOME": str(settings.home), "STEWARD_DATABASE_URL": settings.database_url}
    return run_steward("monitor", *args, "-p", "alpha", env=env)


def test_rerun_from_the_cli(settings: Settings, client: TestClient, staged: dict[str, Any]) -> None:
    window = ("--since", _iso(0), "--until", _iso(3))
    empty = _cli(settings, "backfill", "drift", *window, "--rerun", "no-data")
    assert empty.returncode == 0, empty.stderr
    assert "1 windows run (1 rerun), 2 already done, 1 breached" in " ".join(empty.stdout.split())
    failed = _cli(settings, "backfill", "drift", *window, "--rerun", "failed")
    assert "2 windows run (2 rerun), 1 already done" in " ".join(failed.stdout.split())
    again = _cli(settings, "backfill", "drift", *window, "--rerun", "failed")
    assert "0 windows run (0 rerun), 3 already done" in " ".join(again.stdout.split())
    plain = _cli(settings, "run", "drift", "--window-end", _iso(1))
    assert plain.returncode == 0 and "already ran drift" in plain.stdout
    rerun = _cli(settings, "run", "drift", "--window-end", _iso(1), "--rerun")
    assert rerun.returncode == 0, rerun.stderr
    assert "reran drift" in rerun.stdout and "succeeded" in rerun.stdout
    assert "supersedes run" in rerun.stdout
    listed = _cli(settings, "runs", "drift")
    assert listed.returncode == 0, listed.stderr
    lines = [line for line in listed.stdout.splitlines() if "2026-03-0" in line]
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines]
    assert [(r[0][:10], r[1], r[2]) for r in rows] == [
        ("2026-03-04", "1", "succeeded"),
        ("2026-03-04", "0", "no_data"),
        ("2026-03-03", "1", "no_data"),
        ("2026-03-03", "0", "failed"),
        ("2026-03-02", "2", "succeeded"),
        ("2026-03-02", "1", "succeeded"),
        ("2026-03-02", "0", "failed"),
    ]
    for newer, older in pairwise(rows):
        if newer[0] == older[0]:
            assert older[7] == newer[6]  # each earlier run names the run that replaced it
    assert [rows[i][7] for i in (0, 2, 4)] == ["", "", ""]  # the latest run of each window
    assert staged["early"]["id"] in listed.stdout
    bad = _cli(settings, "backfill", "drift", *window, "--rerun", "some")
    assert bad.returncode == 2
