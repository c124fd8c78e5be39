"""OpenLineage round trip: default project, parent-run edges, and export -> ingest -> same graph."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from governance.core.db import Database
from lineage.models import EdgeRow, NodeRow
from lineage.olschema import validate_event
from lineage.openlineage import PARENT_EDGE
from steward.api.app import build_services, create_app
from tests.builders import World
from tests.conftest import DatabaseFactory, make_settings
from tests.lineage.test_openlineage import PRODUCER, run_event

SHA = "ab" * 32
SIG = {"inputs": [{"name": "age", "type": "float"}]}


def _parent(job: str, run_id: uuid.UUID) -> dict[str, Any]:
    return {
        "_producer": PRODUCER,
        "_schemaURL": PRODUCER + "#/parent",
        "run": {"runId": str(run_id)},
        "job": {"namespace": "alpha", "name": job},
    }


def _post(client: TestClient, h: dict[str, str], url: str, body: Any) -> Any:
    r = client.post(url, json=body, headers=h)
    assert r.status_code == 201, r.text
    return r.json()


def _build(client: TestClient, h: dict[str, str]) -> None:
    """Datasets with versions and facets, runs with parents and parameters, models, an endpoint."""
    p = "/api/v1/projects/alpha"
    ds = _post(client, h, f"{p}/datasets", {"name": "adult", "sha256": SHA, "facets": {"k": 1}})
    parent, child = uuid.UUID(int=10), uuid.UUID(int=11)
    # The child arrives before its parent: the parent node is made, then filled in.
    child_event = run_event(
        eventType="COMPLETE",
        run={"runId": str(child), "facets": {"parent": _parent("pipeline", parent)}},
        job={"namespace": "alpha", "name": "train"},
        inputs=[{"namespace": "s3", "name": "raw", "inputFacets": {"dq": _facet(rows=5)}}],
        outputs=[{"namespace": "s3", "name": "clean", "outputFacets": {"st": _facet(rows=4)}}],
    )
    _post(client, h, "/api/v1/lineage", child_event)
    _post(
        client,
        h,
        "/api/v1/lineage",
        run_event(run={"runId": str(parent)}, job={"namespace": "alpha", "name": "pipeline"}),
    )
    run = _post(
        client,
        h,
        f"{p}/runs",
        {"job": "fit", "inputs": [ds["id"]], "parameters": {"lr": 0.1}, "code_version": "abc"},
    )
    body = {"sha256": SHA, "signature": SIG, "run_id": run["run_id"], "training_data": [ds["id"]]}
    _post(client, h, f"{p}/models/churn/versions", body)
    _post(
        client,
        h,
        f"{p}/models/churn/versions",
        {"sha256": "cd" * 32, "signature": SIG, "derived_from": 1},
    )
    _post(client, h, f"{p}/models/lonely/versions", {"sha256": "ef" * 32, "signature": SIG})
    _post(client, h, f"{p}/endpoints", {"name": "score"})
    for version in (1, 2):
        _post(client, h, f"{p}/endpoints/score/deployments", {"model": "churn", "version": version})


def _facet(**values: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": PRODUCER + "#/f", **values}


def _graph(db: Database, project: str) -> tuple[dict[Any, Any], set[Any]]:
    """Nodes by natural key (with attributes and creation time) and edges between natural keys."""
    with db.read() as session:
        rows = list(session.scalars(select(NodeRow).where(NodeRow.project == project)))
        key = {r.id: (r.kind, r.namespace, r.name, r.version) for r in rows}
        nodes = {
            key[r.id]: (r.attrs, r.created_at, None if r.parent_id is None else key[r.parent_id])
            for r in rows
        }
        edges = {
            (key[e.src_id], key[e.dst_id], e.kind, e.valid_from, e.valid_to)
            for e in session.scalars(select(EdgeRow).where(EdgeRow.project == project))
        }
    return nodes, edges


def _export(client: TestClient, h: dict[str, str]) -> list[dict[str, Any]]:
    r = client.get("/api/v1/projects/alpha/lineage/export", headers=h)
    assert r.status_code == 200, r.text
    return [json.loads(line) for line in r.text.splitlines()]


@pytest.fixture
def fresh(
    tmp_path: Path, database_factory: DatabaseFactory
) -> Iterator[tuple[TestClient, Database]]:
    """A second, empty Steward (the same world of users, no lineage) to ingest an export into."""
    url = database_factory.new(tmp_path / "fresh", world=True)
    svc = build_services(make_settings(tmp_path / "fresh", url))
    with TestClient(create_app(services=svc, seal_in_background=False)) as c:
        yield c, svc.db
    svc.db.dispose()
    database_factory.drop(url)


def test_export_ingested_into_an_empty_steward_yields_the_same_graph(
    client: TestClient, world: World, db: Database, fresh: tuple[TestClient, Database]
) -> None:
    h = world.headers("owner")
    _build(client, h)
    events = _export(client, h)
    for event in events:
        validate_event(json.loads(json.dumps(event)))
    other, other_db = fresh
    r = other.post("/api/v1/lineage/batch", params={"project": "alpha"}, json=events, headers=h)
    assert r.status_code == 201, r.text
    before, after = _graph(db, "alpha"), _graph(other_db, "alpha")
    assert set(after[0]) == set(before[0])
    for key, value in before[0].items():
        assert after[0][key] == value, key
    assert after[1] == before[1]
    kinds = {e[2] for e in before[1]}
    assert {"consumed", "produced", "deployed", "derived_from", str(PARENT_EDGE)} <= kinds

    # The same events again, but for when each asset was last touched (that is ingest time).
    def timeless(evs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in e.items() if k != "eventTime" or "run" in e} for e in evs]

    assert timeless(_export(other, h)) == timeless(events)


def test_parent_edge_links_runs_and_jobs(client: TestClient, world: World, db: Database) -> None:
    h = world.headers("data-scientist")
    parent = uuid.UUID(int=7)
    child = run_event(
        run={"runId": str(uuid.UUID(int=8)), "facets": {"parent": _parent("dag", parent)}}
    )
    _post(client, h, "/api/v1/lineage", child)
    nodes, edges = _graph(db, "alpha")
    parent_key = ("run", "alpha", "dag", str(parent))
    child_key = ("run", "alpha", "etl", str(uuid.UUID(int=8)))
    assert (parent_key, child_key, str(PARENT_EDGE)) in {e[:3] for e in edges}
    assert (("job", "alpha", "dag", ""), ("job", "alpha", "etl", ""), str(PARENT_EDGE)) in {
        e[:3] for e in edges
    }
    # The parent's own event, arriving later, fills in the same node.
    _post(
        client,
        h,
        "/api/v1/lineage",
        run_event(run={"runId": str(parent)}, job={"namespace": "alpha", "name": "dag"}),
    )
    nodes, _ = _graph(db, "alpha")
    assert nodes[parent_key][0]["state"] == "START"
    assert sum(1 for k in nodes if k[0] == "run") == 2


def test_parent_in_another_project_never_links_across(
    client: TestClient, world: World, db: Database
) -> None:
    admin = world.headers("admin")
    foreign = uuid.UUID(int=20)
    beta = run_event(run={"runId": str(foreign)}, job={"namespace": "beta", "name": "secret"})
    _post(client, admin, "/api/v1/lineage", beta)
    child = run_event(
        run={
            "runId": str(uuid.UUID(int=21)),
            "facets": {
                "parent": {
                    **_parent("secret", foreign),
                    "job": {"namespace": "beta", "name": "secret"},
                }
            },
        }
    )
    _post(client, world.headers("data-scientist"), "/api/v1/lineage", child)
    with db.read() as session:
        project = {r.id: r.project for r in session.scalars(select(NodeRow))}
        crossing = [
            e
            for e in session.scalars(select(EdgeRow))
            if project[e.src_id] != project[e.dst_id] or project[e.src_id] != e.project
        ]
    assert crossing == []
    assert _graph(db, "beta")[1] == _graph(db, "beta")[1] and not [
        e for e in _graph(db, "beta")[1] if e[2] == str(PARENT_EDGE)
    ]


@pytest.mark.parametrize(
    ("facet", "field"),
    [
        (
            {"run": {"runId": "nope"}, "job": {"namespace": "a", "name": "b"}},
            "run.facets.parent.run.runId",
        ),
        (
            {"run": {"runId": str(uuid.UUID(int=1))}, "job": {"namespace": "", "name": "b"}},
            "run.facets.parent.job.namespace",
        ),
    ],
)
def test_malformed_parent_facet_is_422(
    client: TestClient, world: World, facet: dict[str, Any], field: str
) -> None:
    event = run_event(
        run={"runId": str(uuid.UUID(int=2)), "facets": {"parent": {**_facet(), **facet}}}
    )
    r = client.post("/api/v1/lineage", json=event, headers=world.headers("data-scientist"))
    assert r.status_code == 422 and r.json()["detail"].startswith(f"{field}:"), r.text


def test_restoring_models_needs_model_rights(client: TestClient, world: World) -> None:
    owner = world.headers("owner")
    _post(
        client, owner, "/api/v1/projects/alpha/models/m/versions", {"sha256": SHA, "signature": SIG}
    )
    events = [e for e in _export(client, owner) if "dataset" in e]
    r = client.post(
        "/api/v1/lineage",
        params={"project": "beta"},
        json=events[-1],
        headers={"Authorization": f"Bearer {world.outsider_token}"},
    )
    assert r.status_code == 201, r.text  # the outsider owns beta
    r = client.post("/api/v1/lineage", json=events[-1], headers=world.headers("viewer"))
    assert r.status_code == 403


def test_unmapped_namespace_gets_a_404_saying_how_to_map_it(
    client: TestClient, world: World
) -> None:
    event = run_event(job={"namespace": "airflow-prod", "name": "x"})
    r = client.post("/api/v1/lineage", json=event, headers=world.headers("owner"))
    assert r.status_code == 404, r.text
    detail = r.json()["detail"]
    assert 'STEWARD_LINEAGE_NAMESPACE_MAP=\'{"airflow-prod": "<project>"}\'' in detail
    assert "STEWARD_LINEAGE_DEFAULT_PROJECT" in detail


def test_unmapped_namespace_lands_in_the_default_project(
    tmp_path: Path, database_factory: DatabaseFactory, world: World
) -> None:
    url = database_factory.new(tmp_path / "d", world=True)
    svc = build_services(make_settings(tmp_path / "d", url, lineage_default_project="alpha"))
    event = run_event(job={"namespace": "airflow-prod", "name": "x"})
    try:
        with TestClient(create_app(services=svc, seal_in_background=False)) as c:
            r = c.post("/api/v1/lineage", json=event, headers=world.headers("data-scientist"))
            assert r.status_code == 201 and r.json()["project"] == "alpha", r.text
            # Only where the caller may write lineage: a viewer is refused, an outsider not told.
            r = c.post("/api/v1/lineage", json=event, headers=world.headers("viewer"))
            assert r.status_code == 403, r.text
            outsider = {"Authorization": f"Bearer {world.outsider_token}"}
            r = c.post("/api/v1/lineage", json=event, headers=outsider)
            assert r.status_code == 404 and "STEWARD_LINEAGE_NAMESPACE_MAP" in r.text
    finally:
        svc.db.dispose()
        database_factory.drop(url)
