"""The alert and channel routes through the real app."""

from __future__ import annotations

from fastapi.testclient import TestClient

from monitors.alerts.schemas import Breach, Severity
from monitors.alerts.service import raise_or_update_alert
from steward.api.deps import Services
from tests.builders import World
from tests.monitors.alerts.conftest import SECRET

BASE = "/api/v1/projects/alpha"


def _raise(services: Services, signal: str) -> str:
    with services.db.transaction() as session:
        outcome = raise_or_update_alert(
            session,
            project="alpha",
            breach=Breach(monitor="m", signal=signal, severity=Severity.error, value=1.0),
        )
    return str(outcome.alert.id)


def test_list_get_acknowledge_resolve(client: TestClient, services: Services, world: World) -> None:
    first, second = _raise(services, "a"), _raise(services, "b")
    reader = world.headers("viewer")
    listed = client.get(f"{BASE}/alerts", headers=reader).json()
    assert [a["id"] for a in listed] == [second, first]
    page = client.get(f"{BASE}/alerts", params={"limit": 1, "cursor": second}, headers=reader)
    assert [a["id"] for a in page.json()] == [first]
    assert client.get(f"{BASE}/alerts/{first}", headers=reader).json()["signal"] == "a"
    denied = client.post(f"{BASE}/alerts/{first}/acknowledge", json={}, headers=reader)
    assert denied.status_code == 403
    writer = world.headers("data-scientist")
    r = client.post(f"{BASE}/alerts/{first}/acknowledge", json={"note": "on it"}, headers=writer)
    assert r.status_code == 200 and r.json()["state"] == "acknowledged"
    r = client.post(f"{BASE}/alerts/{first}/resolve", headers=writer)
    assert r.json()["state"] == "resolved" and r.json()["note"] == "on it"
    r = client.post(f"{BASE}/alerts/{first}/resolve", json={}, headers=writer)
    assert r.status_code == 409
    open_only = client.get(f"{BASE}/alerts", params={"state": "open"}, headers=reader).json()
    assert [a["id"] for a in open_only] == [second]
    assert client.get(f"{BASE}/alerts/{first}/deliveries", headers=reader).json() == []
    other = world.outsider_token
    hidden = client.get(f"{BASE}/alerts/{first}", headers={"Authorization": f"Bearer {other}"})
    assert hidden.status_code == 404


def test_channels_crud(client: TestClient, world: World) -> None:
    owner = world.headers("owner")
    body = {"name": "ops", "url": "https://hooks.example.com/x", "secret": SECRET}
    r = client.post(f"{BASE}/channels", json=body, headers=owner)
    assert r.status_code == 201, r.text
    assert "secret" not in r.json()
    assert client.post(f"{BASE}/channels", json=body, headers=owner).status_code == 409
    bad = {**body, "name": "bad", "url": "http://127.0.0.1:8080/"}
    r = client.post(f"{BASE}/channels", json=bad, headers=owner)
    assert r.status_code == 422 and r.json()["code"] == "url_refused"
    r = client.post(
        f"{BASE}/channels", json={**body, "name": "f", "url": "ftp://x.example/"}, headers=owner
    )
    assert r.status_code == 422
    r = client.patch(f"{BASE}/channels/ops", json={"min_severity": "critical"}, headers=owner)
    assert r.json()["min_severity"] == "critical"
    assert client.get(f"{BASE}/channels/ops", headers=world.headers("auditor")).status_code == 200
    assert (
        client.get(f"{BASE}/channels", headers=world.headers("viewer")).json()[0]["name"] == "ops"
    )
    assert client.delete(f"{BASE}/channels/ops", headers=world.headers("viewer")).status_code == 403
    assert client.delete(f"{BASE}/channels/ops", headers=owner).status_code == 204
    assert client.get(f"{BASE}/channels/ops", headers=owner).status_code == 404
