"""The audit log through the API: filters, cursor pages, verify, export, sealing."""

from __future__ import annotations

import json
import time

from fastapi.testclient import TestClient

from governance.audit.export import verify_export
from governance.audit.sealer import Sealer
from governance.audit.service import list_checkpoints, record_audit
from steward.api.deps import Services
from tests.builders import World


def _entries(client: TestClient, headers: dict[str, str], **params: object) -> list[dict]:  # type: ignore[type-arg]
    items, cursor = [], None
    while True:
        query = {**params, "limit": 7, **({"cursor": cursor} if cursor else {})}
        r = client.get("/api/v1/audit", params=query, headers=headers)
        assert r.status_code == 200, r.text
        page = r.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def test_filters_and_cursor_pages(client: TestClient, world: World) -> None:
    admin = world.headers("admin")
    everything = _entries(client, admin)
    seqs = [e["seq"] for e in everything]
    assert seqs == list(range(1, len(seqs) + 1)), "cursor pages must be gapless and ordered"
    grants = _entries(client, admin, action="role.grant", project="alpha")
    assert grants and all(e["action"] == "role.grant" and e["project"] == "alpha" for e in grants)
    by_actor = _entries(client, admin, actor="system:cli@test")
    assert by_actor and {e["actor"] for e in by_actor} == {"system:cli@test"}
    since = everything[3]["ts"]
    recent = _entries(client, admin, since=since)
    assert recent and recent[-1]["seq"] == everything[-1]["seq"]  # the latest is in the window
    assert all(e["ts"] >= since for e in recent)
    r = client.get("/api/v1/audit", params={"limit": 501}, headers=admin)
    assert r.status_code == 422 and r.json()["code"] == "invalid_input"
    r = client.get("/api/v1/audit", params={"cursor": "%%%"}, headers=admin)
    assert r.status_code == 422


def test_auditor_reads_project_log_viewer_cannot(client: TestClient, world: World) -> None:
    r = client.get("/api/v1/projects/alpha/audit", headers=world.headers("auditor"))
    assert r.status_code == 200
    assert r.json()["items"], "the roles granted in 'alpha' are in its log"
    assert all(e["project"] == "alpha" for e in r.json()["items"])
    r = client.get("/api/v1/projects/alpha/audit", headers=world.headers("viewer"))
    assert r.status_code == 403


def test_export_verifies_offline(client: TestClient, world: World, services: Services) -> None:
    r = client.get(
        "/api/v1/audit/export", params={"format": "jsonl"}, headers=world.headers("admin")
    )
    assert r.status_code == 200
    lines = r.text.splitlines()
    assert any(json.loads(line)["kind"] == "checkpoint" for line in lines) or len(lines) < 64
    report = verify_export(
        lambda: lines, keys=services.signer.public_key, origin=services.signer.origin
    )
    assert report.ok and report.entries == sum('"kind": "entry"' in line for line in lines)
    r = client.get("/api/v1/audit/export", params={"format": "csv"}, headers=world.headers("admin"))
    assert r.text.splitlines()[0].startswith("seq,ts,actor")
    key = client.get("/api/v1/audit/public-key", headers=world.headers("admin")).text
    assert "BEGIN PUBLIC KEY" in key


def test_time_based_sealing(services: Services) -> None:
    with services.db.transaction() as session:
        record_audit(session, actor="user:a", action="test.write")
    sealer = Sealer(services.db, interval=0.05)
    sealer.start()
    try:
        deadline = time.monotonic() + 10
        while not list_checkpoints(services.db) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        sealer.stop()
    checkpoints = list_checkpoints(services.db)
    assert checkpoints and checkpoints[-1].tree_size >= 1
