"""Walks filtered by node kind: filtering hides nodes, it does not cut the paths through them."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from governance.core.clock import ManualClock
from governance.core.db import Database
from lineage import query, service
from lineage.graph import Direction
from lineage.schemas import NodeKind
from tests.builders import World
from tests.lineage.test_queries import _world

LINEAGE = "/api/v1/projects/alpha/lineage"


def _get(client: TestClient, world: World, path: str, **params: Any) -> Any:
    r = client.get(f"{LINEAGE}/nodes/{path}", params=params, headers=world.headers("viewer"))
    assert r.status_code == 200, r.text
    return r.json()


def test_kinds_show_only_those_nodes_with_their_full_distance(
    client: TestClient, world: World, db: Database, clock: ManualClock
) -> None:
    w = _world(db, clock)
    ep = service.get_endpoint(db, project="alpha", name="api")
    # endpoint <- model versions <- runs <- dataset versions; only the datasets are asked for.
    g = _get(client, world, f"{ep.id}/upstream", kinds="dataset_version", history=True)
    assert {(n["kind"], g["depth"][n["id"]]) for n in g["nodes"]} == {
        ("endpoint", 0),
        ("dataset_version", 3),
    }
    assert {n["version"] for n in g["nodes"]} == {"", w["dv1"].version, w["dv2"].version}
    assert g["edges"] == []  # no edge joins two shown nodes directly
    both = _get(client, world, f"{ep.id}/upstream", kinds=["model_version", "run"], history=True)
    kinds = sorted(n["kind"] for n in both["nodes"])
    assert kinds == ["endpoint", "model_version", "model_version", "run", "run"]
    assert {e["kind"] for e in both["edges"]} == {"deployed", "derived_from", "produced"}
    unfiltered = _get(client, world, f"{ep.id}/upstream", history=True)
    assert len(unfiltered["nodes"]) > len(both["nodes"]) + 1


def test_the_root_is_kept_and_impact_takes_kinds(
    client: TestClient, world: World, db: Database, clock: ManualClock
) -> None:
    w = _world(db, clock)
    dv1 = w["dv1"].id
    g = _get(client, world, f"{dv1}/downstream", kinds="endpoint")
    assert [(n["kind"], n["name"]) for n in g["nodes"]] == [
        ("dataset_version", "train"),
        ("endpoint", "api"),
    ]
    default = _get(client, world, f"{dv1}/impact")
    assert {n["kind"] for n in default["nodes"]} == {"dataset_version", "model_version", "endpoint"}
    runs = _get(client, world, f"{dv1}/impact", kinds="run")
    assert sorted(n["kind"] for n in runs["nodes"]) == ["dataset_version", "run"]
    text = client.get(
        f"{LINEAGE}/nodes/{dv1}/render",
        params={"direction": "downstream", "format": "mermaid", "kinds": "endpoint"},
        headers=world.headers("viewer"),
    ).text
    assert "endpoint: api" in text and "run:" not in text and "model_version" not in text


def test_unknown_kinds_are_refused_with_the_known_ones(
    client: TestClient, world: World, db: Database, clock: ManualClock
) -> None:
    w = _world(db, clock)
    for route in ("upstream", "downstream", "impact"):
        r = client.get(
            f"{LINEAGE}/nodes/{w['dv1'].id}/{route}",
            params={"kinds": ["run", "monitor"]},
            headers=world.headers("viewer"),
        )
        assert r.status_code == 422 and r.json()["code"] == "invalid_input", r.text
        detail = r.json()["detail"]
        assert detail.startswith("query.kinds.1:")
        assert all(f"'{k}'" in detail for k in NodeKind)


def test_the_filter_counts_only_the_nodes_it_shows(db: Database, clock: ManualClock) -> None:
    w = _world(db, clock)
    dv1 = w["dv1"].id
    g = query.downstream(db, project="alpha", node_id=dv1, kinds=[NodeKind.endpoint], clock=clock)
    assert not g.truncated and len(g.nodes) == 2
    limited = query.walk(
        db,
        project="alpha",
        node_id=dv1,
        direction=Direction.downstream,
        kinds=[NodeKind.endpoint],
        limit=2,
        clock=clock,
    )
    assert not limited.truncated and [n.kind for n in limited.nodes][-1] is NodeKind.endpoint
