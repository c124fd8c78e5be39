"""The monitors REST API: create, read, change, apply YAML, delete, by role."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.builders import World

BASE = "/api/v1/projects/alpha/monitors"


def test_crud_and_yaml_apply(client: TestClient, world: World) -> None:
    ds = world.headers("data-scientist")
    r = client.post(BASE, json={"name": "drift", "target": {"name": "income"}}, headers=ds)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["spec"]["schedule"]["timezone"] == "UTC" and body["revision"] == 1
    assert (
        client.post(BASE, json={"name": "drift", "target": {"name": "x"}}, headers=ds).status_code
        == 409
    )
    bad = client.post(BASE, json={"name": "Drift!", "target": {}}, headers=ds)
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_input"
    r = client.patch(f"{BASE}/drift", json={"schedule": {"interval": "PT1H"}}, headers=ds)
    assert r.status_code == 200 and r.json()["spec"]["schedule"]["interval"] == "PT1H"
    yaml = "name: weekly\ntarget: {name: income}\nschedule: {interval: P7D}\n"
    r = client.post(
        f"{BASE}/apply", content=yaml, headers=ds | {"Content-Type": "application/yaml"}
    )
    assert r.status_code == 200 and [m["spec"]["name"] for m in r.json()] == ["weekly"]
    r = client.get(BASE, headers=world.headers("viewer"))
    assert [m["spec"]["name"] for m in r.json()] == ["drift", "weekly"]
    assert client.delete(f"{BASE}/drift", headers=ds).status_code == 403  # owners delete
    assert client.delete(f"{BASE}/drift", headers=world.headers("owner")).status_code == 204
    assert client.get(f"{BASE}/drift", headers=ds).status_code == 404
