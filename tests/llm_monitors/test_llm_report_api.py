"""The LLM endpoint report route: who may read it, and what it refuses."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.builders import World

BASE = "/api/v1/projects/alpha"


def test_report_route_guards_and_refusals(client: TestClient, world: World) -> None:
    owner = world.headers("owner")
    for name, kind in (("chat", "llm"), ("scorer", "model")):
        r = client.post(f"{BASE}/endpoints", json={"name": name, "kind": kind}, headers=owner)
        assert r.status_code == 201, r.text
    url = f"{BASE}/endpoints/chat/report"
    empty = client.get(url, params={"format": "json"}, headers=world.headers("viewer"))
    assert empty.status_code == 200 and empty.json()["windows"] == []
    assert empty.json()["prompt_changes"] == [] and empty.json()["monitors"] == []
    page = client.get(url, headers=world.headers("auditor"))
    assert page.status_code == 200 and "No judge scores in this period." in page.text
    assert client.get(url, headers=world.headers("app-developer")).status_code == 403
    assert client.get(url).status_code == 401
    other = {"Authorization": f"Bearer {world.outsider_token}"}
    assert client.get(url, headers=other).status_code in (403, 404)
    viewer = world.headers("viewer")
    missing = client.get(f"{BASE}/endpoints/nope/report", headers=viewer)
    assert missing.status_code == 404
    model = client.get(f"{BASE}/endpoints/scorer/report", headers=viewer)
    assert model.status_code == 422 and model.json()["code"] == "model_endpoint"
    pdf = client.get(url, params={"format": "pdf"}, headers=viewer)
    assert pdf.status_code == 422
    backwards = client.get(
        url, headers=viewer,
        params={"period_start": "2026-03-02T00:00:00Z", "period_end": "2026-03-01T00:00:00Z"},
    )  # fmt: skip
    assert backwards.status_code == 422
