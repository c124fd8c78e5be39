"""Triggers over HTTP and from the shell: define from JSON or YAML, fire (trigger:run), read."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from governance.core.settings import Settings
from monitors.specs.schemas import Monitor
from retrain.pipelines.schemas import Pipeline
from tests.builders import World
from tests.cli.runner import CliResult, run_steward

BASE = "/api/v1/projects/alpha/triggers"
YAML = """
name: on-drift
pipeline: retrain
inputs: {epochs: 4}
on:
  kind: alert
  monitor: drift
  signal: data_drift
  breaches: 2
  windows: 3
cooldown: 6h
"""


def test_crud_fire_and_permissions(
    client: TestClient, world: World, pipeline: Pipeline, monitor: Monitor
) -> None:
    eng, ds = world.headers("ml-engineer"), world.headers("data-scientist")
    yaml_headers = {"Content-Type": "application/yaml"}
    body = {"name": "by-hand", "pipeline": "retrain", "on": {"kind": "manual"}}
    assert client.post(BASE, json=body, headers=ds).status_code == 403  # data scientists read
    made = client.post(BASE, json=body, headers=eng)
    assert made.status_code == 201, made.text
    assert made.json()["owner"] == "user:ml-engineer-user"
    assert client.post(BASE, json=body, headers=eng).status_code == 409
    applied = client.post(f"{BASE}/apply", content=YAML, headers=eng | yaml_headers)
    assert applied.status_code == 200, applied.text
    item = applied.json()[0]
    assert item["action"] == "created" and item["trigger"]["spec"]["cooldown"] == "PT6H"
    assert item["trigger"]["spec"]["on"]["breaches"] == 2
    again = client.post(f"{BASE}/apply", content=YAML, headers=eng | yaml_headers)
    assert again.json()[0]["action"] == "unchanged"
    bad = YAML.replace("monitor: drift", "monitor: nothing")
    refused = client.post(f"{BASE}/apply", content=bad, headers=eng | yaml_headers)
    assert refused.status_code == 422 and "nothing" in refused.json()["detail"]
    unknown = client.post(BASE, json=body | {"name": "x", "pipeline": "gone"}, headers=eng)
    assert unknown.status_code == 422
    listed = client.get(BASE, headers=ds)
    assert [t["spec"]["name"] for t in listed.json()] == ["by-hand", "on-drift"]
    assert client.get(f"{BASE}/nope", headers=ds).status_code == 404

    assert client.post(f"{BASE}/by-hand/fire", headers=ds).status_code == 403  # trigger:run
    fired = client.post(f"{BASE}/by-hand/fire", json={"request_id": "r-1"}, headers=eng)
    assert fired.status_code == 202, fired.text
    run = fired.json()
    assert run["pipeline"] == "retrain" and run["state"] == "queued"
    assert run["launched_by"] == "user:ml-engineer-user"
    repeat = client.post(f"{BASE}/by-hand/fire", json={"request_id": "r-1"}, headers=eng)
    assert repeat.status_code == 202 and repeat.json()["id"] == run["id"]
    by_header = client.post(f"{BASE}/by-hand/fire", headers=eng | {"X-Request-ID": "h-7"})
    assert by_header.json()["id"] != run["id"]
    launches = client.get(f"{BASE}/by-hand/launches", headers=ds).json()
    assert sorted(x["key"] for x in launches) == ["manual:h-7", "manual:r-1"]
    assert {x["run_id"] for x in launches} == {run["id"], by_header.json()["id"]}

    off = client.patch(f"{BASE}/by-hand", json={"enabled": False}, headers=eng)
    assert off.status_code == 200 and off.json()["spec"]["enabled"] is False
    assert client.post(f"{BASE}/by-hand/fire", headers=eng).status_code == 409
    cool = client.patch(f"{BASE}/on-drift", json={"cooldown": 90}, headers=eng)
    assert cool.json()["spec"]["cooldown"] == "PT1M30S"
    assert client.delete(f"{BASE}/by-hand", headers=ds).status_code == 403
    assert client.delete(f"{BASE}/by-hand", headers=eng).status_code == 403  # owners delete
    assert client.delete(f"{BASE}/by-hand", headers=world.headers("owner")).status_code == 204
    assert client.get(f"{BASE}/by-hand", headers=ds).status_code == 404


def _cli(settings: Settings, *args: str) -> CliResult:
    env = {"STEWARD_HOME": str(settings.home), "STEWARD_DATABASE_URL": settings.database_url,
           "STEWARD_PIPELINE_MODULES": '["trigger_steps"]'}  # fmt: skip
    return run_steward("trigger", *args, "-p", "alpha", env=env)


def test_cli_apply_list_show_fire_delete(
    settings: Settings, world: World, pipeline: Pipeline, monitor: Monitor, tmp_path: Path
) -> None:
    path = tmp_path / "triggers.yaml"
    path.write_text(YAML + "---\nname: by-hand\npipeline: retrain\non: {kind: manual}\n")
    done = _cli(settings, "apply", "-f", str(path))
    assert done.returncode == 0, done.stderr
    assert "created   alpha/on-drift" in done.stdout and "alpha/by-hand" in done.stdout
    listed = _cli(settings, "list")
    assert "alert drift/data_drift 2 of 3" in listed.stdout and "manual" in listed.stdout
    fired = _cli(settings, "fire", "by-hand", "--request-id", "cli-1")
    assert fired.returncode == 0 and "launched run" in fired.stdout, fired.stderr
    again = _cli(settings, "fire", "by-hand", "--request-id", "cli-1")
    assert "already launched" in again.stdout
    shown = _cli(settings, "show", "by-hand")
    assert "manual:cli-1" in shown.stdout
    missing = _cli(settings, "show", "nope")
    assert missing.returncode == 3 and "not_found" in missing.stderr
    assert _cli(settings, "delete", "by-hand").returncode == 0
    assert "by-hand" not in _cli(settings, "list").stdout
