"""A first pass through the real app: health, auth, a grant, the audit chain."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.builders import World


def test_health_needs_no_token(client: TestClient) -> None:
    r = client.get("/api/v1/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    assert r.headers["x-request-id"]


def test_me_and_grant_and_verify(client: TestClient, world: World) -> None:
    r = client.get("/api/v1/me", headers=world.headers("admin"))
    assert r.status_code == 200, r.text
    assert r.json()["roles"]["alpha"] == ["owner"]
    r = client.post(
        "/api/v1/projects/alpha/roles",
        json={"principal": "outsider", "role": "viewer"},
        headers=world.headers("admin"),
    )
    assert r.status_code == 201, r.text
    r = client.get(
        "/api/v1/projects/alpha", headers={"Authorization": f"Bearer {world.outsider_token}"}
    )
    assert r.status_code == 200
    r = client.get("/api/v1/audit/verify", headers=world.headers("admin"))
    assert r.status_code == 200 and r.json()["ok"], r.text
