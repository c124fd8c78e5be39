"""A PATCH's null resets a field whose default is null, and is refused for any other field."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.builders import World

BASE = "/api/v1/projects/alpha/monitors"


def test_null_resets_what_defaults_to_null_and_is_refused_elsewhere(
    client: TestClient, world: World
) -> None:
    ds = world.headers("data-scientist")
    spec = {"name": "drift", "target": {"name": "income"}, "retention": "P30D"}
    assert client.post(BASE, json=spec, headers=ds).status_code == 201
    r = client.patch(f"{BASE}/drift", json={"retention": None}, headers=ds)
    assert r.status_code == 200, r.text
    assert r.json()["spec"]["retention"] is None  # reset, not silently kept
    r = client.patch(f"{BASE}/drift", json={"schedule": None, "enabled": None}, headers=ds)
    assert r.status_code == 422 and r.json()["code"] == "invalid_input"
    assert {tuple(e["loc"]) for e in r.json()["errors"]} == {
        ("body", "enabled"),
        ("body", "schedule"),
    }
    assert client.get(f"{BASE}/drift", headers=ds).json()["revision"] == 2  # nothing else changed
