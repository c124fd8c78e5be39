"""Dry runs through the app and the CLI: a spec computed on one window, nothing stored.

The staging goes through the real app and the real environment: an endpoint deployed with a
registered reference dataset, then a normal first day and a shifted third day of inferences.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from governance.core.settings import Settings
from steward.api.deps import Services
from tests.builders import World
from tests.cli.runner import CliResult, run_steward
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
ROWS = 400
PROJECT = "/api/v1/projects/alpha"
VALIDATE = f"{PROJECT}/monitors/validate"
YAML = {"Content-Type": "application/yaml"}
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
# The endpoint logs no probabilities: the ROC AUC signal fails, the drift signal still computes.
ONE_FAILS = """
name: half
target: {name: scorer}
reference: {dataset: ref}
schedule: {interval: P1D, start: "2026-03-01T00:00:00Z"}
signals:
  - {kind: data_drift, name: age-drift, features: [age]}
  - {kind: performance, name: auc, threshold: 0.5, options: {metric: roc_auc, pos_label: ">50K"}}
"""
INVALID = """
name: bad
target: {name: scorer}
schedule: {interval: P1D, start: "2026-03-01T00:00:00Z"}
surprise: 1
signals:
  - {kind: data_drift, options: {correction: nonsense}}
"""
TABLES = (
    "monitor_specs",
    "monitor_runs",
    "monitor_results",
    "monitor_alerts",
    "audit_entries",
    "lineage_nodes",
    "lineage_edges",
)


def _send_day(client: TestClient, world: World, day: int, *, shift: float) -> None:
    send(client, world, age_sex_day(day, ROWS, shift=shift, minutes=3))


@pytest.fixture
def staged(client: TestClient, world: World, services: Services, settings: Settings) -> None:
    """Endpoint 'scorer' deployed with reference 'ref'; normal day 0, shifted day 2."""
    deploy(services, SIGNATURE)
    register_reference(client, world, settings, age_sex_reference(2 * ROWS))
    _send_day(client, world, 0, shift=0.0)
    _send_day(client, world, 2, shift=40.0)


def _counts(services: Services) -> dict[str, int]:
    with services.db.read() as session:
        return {t: session.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in TABLES}


def _validate(client: TestClient, world: World, body: str, day: int, role: str) -> Any:
    params = {"window_end": (T0 + day * DAY).isoformat()}
    headers = world.headers(role) | YAML
    return client.post(VALIDATE, content=body, params=params, headers=headers)


def _signals(check: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["key"]: s for s in check["signals"]}


def test_validate_computes_every_signal_and_stores_nothing(
    client: TestClient, world: World, services: Services, staged: None
) -> None:
    before = _counts(services)
    r = _validate(client, world, MONITOR, 3, "data-scientist")
    assert r.status_code == 200, r.text
    (check,) = r.json()
    assert check["monitor"] == "drift" and check["status"] == "succeeded"
    assert (check["rows"], check["reference_rows"]) == (ROWS, 2 * ROWS)
    assert check["reference"].startswith("dataset:alpha/") and check["breached"]
    signals = _signals(check)
    age = signals["age-drift"]
    assert age["status"] == "succeeded" and age["columns"] == ["age"] and age["breached"]
    per_feature = [v for v in age["values"] if v["feature"] == "age"]
    assert per_feature and all(v["value"] is not None for v in per_feature)
    assert signals["prediction_drift"]["status"] == "succeeded"
    assert _counts(services) == before

    calm = _validate(client, world, MONITOR, 1, "data-scientist").json()[0]
    assert calm["status"] == "succeeded" and not _signals(calm)["age-drift"]["breached"]
    # Without a window: the newest ended one, here long after the traffic: no data.
    r = client.post(VALIDATE, content=MONITOR, headers=world.headers("data-scientist") | YAML)
    assert r.status_code == 200 and r.json()[0]["status"] == "no_data", r.text
    assert _counts(services) == before
    assert (
        client.get(f"{PROJECT}/monitors/drift", headers=world.headers("viewer")).status_code == 404
    )


def test_a_failing_signal_fails_alone(client: TestClient, world: World, staged: None) -> None:
    r = _validate(client, world, ONE_FAILS, 3, "data-scientist")
    assert r.status_code == 200, r.text
    (check,) = r.json()
    assert check["status"] == "partial"
    signals = _signals(check)
    auc, age = signals["auc"], signals["age-drift"]
    assert auc["status"] == "failed" and auc["values"] == [] and not auc["breached"]
    assert auc["error"].startswith("invalid_input:"), auc
    assert age["status"] == "succeeded" and age["breached"] and age["values"]


def test_invalid_spec_is_422_with_every_reason(client: TestClient, world: World) -> None:
    r = _validate(client, world, INVALID, 1, "data-scientist")
    assert r.status_code == 422, r.text
    body = json.dumps(r.json())
    assert "surprise" in body and "correction" in body
    applied = client.post(
        f"{PROJECT}/monitors/apply", content=INVALID, headers=world.headers("data-scientist") | YAML
    )
    assert applied.status_code == 422
    assert applied.json()["errors"] == r.json()["errors"] and len(r.json()["errors"]) == 2
    unknown_channel = MONITOR + "channels: [pager]\n"
    r = _validate(client, world, unknown_channel, 1, "data-scientist")
    assert r.status_code == 422 and "pager" in r.text


def test_other_project_is_404_and_viewer_is_403(client: TestClient, world: World) -> None:
    beta = VALIDATE.replace("/alpha/", "/beta/")
    r = client.post(beta, content=MONITOR, headers=world.headers("data-scientist") | YAML)
    assert r.status_code == 404, r.text
    r = client.post(VALIDATE, content=MONITOR, headers=world.headers("viewer") | YAML)
    assert r.status_code == 403, r.text
    future = {"window_end": (datetime.now(UTC) + 3 * DAY).isoformat()}
    r = client.post(
        VALIDATE, content=MONITOR, params=future, headers=world.headers("data-scientist") | YAML
    )
    assert r.status_code == 422 and "window_end" in r.text


def _cli(settings: Settings, *args: str) -> CliResult:
    env = {"STEWARD_HOME": str(settings.home), "STEWARD_DATABASE_URL": settings.database_url}
    return run_steward("monitor", *args, "-p", "alpha", env=env)


def test_dry_run_from_the_cli(
    settings: Settings, services: Services, staged: None, tmp_path: Path
) -> None:
    path = tmp_path / "monitor.yaml"
    path.write_text(ONE_FAILS)
    before = _counts(services)
    done = _cli(settings, "apply", "-f", str(path), "--dry-run", "--window-end", "2026-03-04")
    assert done.returncode == 0, done.stderr
    out = " ".join(done.stdout.split())
    assert "dry run alpha/half" in out and "partial" in out and f"{ROWS} rows" in out
    rows = {line.split("│")[1].strip() for line in done.stdout.splitlines() if "│" in line}
    assert {"age-drift", "auc"} <= rows
    assert "error:" in done.stdout and "failed" in done.stdout
    assert _counts(services) == before
    bad = tmp_path / "bad.yaml"
    bad.write_text(INVALID)
    refused = _cli(settings, "apply", "-f", str(bad), "--dry-run")
    assert refused.returncode != 0 and "surprise" in refused.stderr + refused.stdout
