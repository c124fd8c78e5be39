"""OpenLineage dedupe is per project: one event sent to two projects lands in both."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from governance.core.db import Database
from lineage.models import EventRow
from lineage.openlineage import apply_events
from tests.builders import World
from tests.lineage.conftest import ACTOR
from tests.lineage.test_openlineage import run_event


def _kept(db: Database) -> list[str]:
    with db.read() as session:
        return sorted(session.scalars(select(EventRow.project)))


def _runs(client: TestClient, headers: dict[str, str], project: str) -> int:
    r = client.get(
        f"/api/v1/projects/{project}/lineage/nodes", params={"kind": "run"}, headers=headers
    )
    assert r.status_code == 200, r.text
    return len(r.json())


def test_same_event_to_two_projects_lands_in_both(
    client: TestClient, world: World, db: Database
) -> None:
    admin = world.headers("admin")  # owner of alpha and beta
    event = run_event()
    first = client.post("/api/v1/lineage", json=event, headers=admin)
    assert first.status_code == 201 and first.json()["project"] == "alpha", first.text
    assert not first.json()["duplicate"]
    other = client.post("/api/v1/lineage", params={"project": "beta"}, json=event, headers=admin)
    assert other.status_code == 201 and other.json()["project"] == "beta", other.text
    assert not other.json()["duplicate"]
    assert _kept(db) == ["alpha", "beta"]
    assert _runs(client, admin, "alpha") == _runs(client, admin, "beta") == 1


def test_same_event_twice_to_one_project_is_a_no_op(
    client: TestClient, world: World, db: Database
) -> None:
    admin = world.headers("admin")
    event = run_event()
    for _ in range(2):
        r = client.post("/api/v1/lineage", params={"project": "beta"}, json=event, headers=admin)
        assert r.status_code == 201, r.text
    assert r.json()["duplicate"]
    assert _kept(db) == ["beta"]


def test_one_batch_dedupes_per_project(db: Database, world: World) -> None:
    event = run_event()
    events = [(event, "RunEvent", project) for project in ("alpha", "beta", "alpha")]
    results = apply_events(db, events=events, actor=ACTOR)
    assert [(r.project, r.duplicate) for r in results] == [
        ("alpha", False),
        ("beta", False),
        ("alpha", True),
    ]
    assert _kept(db) == ["alpha", "beta"]
