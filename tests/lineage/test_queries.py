"""Graph queries through the API: as-of upstream of an endpoint, impact, path, renderings."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from governance.core.clock import ManualClock
from governance.core.db import Database
from lineage import query, service
from lineage.graph import Direction
from lineage.render import Format, render
from lineage.schemas import DatasetCreate, EndpointCreate, ModelCreate, NodeKind
from tests.builders import World
from tests.lineage.conftest import ACTOR
from tests.lineage.test_registry import SIG


def _world(db: Database, clock: ManualClock) -> dict[str, Any]:
    """Two training sets -> two runs -> v1, v2 (derived from v1) -> endpoint (v1, then v2)."""
    out: dict[str, Any] = {}
    service.create_endpoint(
        db, project="alpha", data=EndpointCreate(name="api"), actor=ACTOR, clock=clock
    )
    for n in (1, 2):
        dv = service.record_dataset_version(
            db,
            project="alpha",
            data=DatasetCreate(name="train", sha256=str(n) * 64),
            actor=ACTOR,
            clock=clock,
        )
        run = service.log_run(
            db,
            project="alpha",
            job_namespace="alpha",
            job_name="fit",
            run_id=f"run-{n}",
            state="COMPLETE",
            inputs=[dv.id],
            actor=ACTOR,
            clock=clock,  # type: ignore[arg-type]
        )
        mv = service.register_model_version(
            db,
            project="alpha",
            name="clf",
            data=ModelCreate(
                sha256=f"{n + 10:064x}",
                signature=SIG,
                run_id=None,
                training_data=[],
                derived_from=1 if n == 2 else None,
            ),
            actor=ACTOR,
            clock=clock,
        )
        with db.transaction() as session:
            service.record_run(
                session,
                project="alpha",
                job_namespace="alpha",
                job_name="fit",
                run_id=f"run-{n}",
                state="COMPLETE",
                outputs=[
                    service.model_version_ref(session, project="alpha", model="clf", version=n)
                ],
                actor=ACTOR,
                clock=clock,  # type: ignore[arg-type]
            )
        clock.advance(timedelta(days=1))
        service.deploy(
            db, project="alpha", endpoint="api", model="clf", version=n, actor=ACTOR, clock=clock
        )
        out[f"t{n}"] = clock.now()
        out[f"dv{n}"], out[f"run{n}"], out[f"mv{n}"] = dv, run, mv
        clock.advance(timedelta(days=1))
    return out


def test_endpoint_upstream_as_of(db: Database, clock: ManualClock) -> None:
    w = _world(db, clock)
    ep = service.get_endpoint(db, project="alpha", name="api")
    g1 = query.upstream(
        db, project="alpha", node_id=ep.id, at=w["t1"] + timedelta(hours=1), clock=clock
    )
    versions = {n.version for n in g1.nodes if n.kind == NodeKind.model_version}
    assert versions == {"1"}
    assert {n.version for n in g1.nodes if n.kind == NodeKind.dataset_version} == {w["dv1"].version}
    now = query.upstream(db, project="alpha", node_id=ep.id, clock=clock)
    assert {n.version for n in now.nodes if n.kind == NodeKind.model_version} == {
        "1",
        "2",
    }  # v2 derives from v1
    hist = query.walk(
        db, project="alpha", node_id=ep.id, direction=Direction.upstream, history=True, clock=clock
    )
    assert len(hist.nodes) >= len(now.nodes)


def test_impact_and_path(db: Database, clock: ManualClock) -> None:
    w = _world(db, clock)
    impact = query.impact(db, project="alpha", node_id=w["dv1"].id, clock=clock)
    kinds = sorted((n.kind, n.version) for n in impact.nodes)
    # dv1 trained v1, v2 derives from v1, and the endpoint serves v2 now.
    assert kinds == [
        ("dataset_version", w["dv1"].version),
        ("endpoint", ""),
        ("model_version", "1"),
        ("model_version", "2"),
    ]
    ep = service.get_endpoint(db, project="alpha", name="api")
    path = query.path(db, project="alpha", src=w["dv1"].id, dst=ep.id, clock=clock)
    assert [n.kind for n in path.nodes] == [
        "dataset_version",
        "run",
        "model_version",
        "model_version",
        "endpoint",
    ]
    assert len(path.edges) == 4
    none = query.path(db, project="alpha", src=ep.id, dst=w["dv1"].id, clock=clock)
    assert none.nodes == [] and none.edges == []
    # A dataset stands for all of its versions.
    dataset = query.find_node(db, project="alpha", kind=NodeKind.dataset, name="train")
    assert dataset is not None
    both = query.impact(db, project="alpha", node_id=dataset.id, clock=clock)
    assert {n.version for n in both.nodes if n.kind == NodeKind.dataset_version} == {
        w["dv1"].version,
        w["dv2"].version,
    }


def test_renderings(db: Database, clock: ManualClock) -> None:
    _world(db, clock)
    ep = service.get_endpoint(db, project="alpha", name="api")
    graph = query.upstream(db, project="alpha", node_id=ep.id, clock=clock)
    dot = render(graph, Format.dot)
    assert dot.startswith("digraph lineage {") and dot.count("->") == len(graph.edges)
    mermaid = render(graph, Format.mermaid)
    assert mermaid.startswith("flowchart LR") and mermaid.count("-->") == len(graph.edges)
    assert '"edges"' in render(graph, Format.json)


def test_objects_of_other_projects_are_invisible(
    client: TestClient, world: World, db: Database, clock: ManualClock
) -> None:
    _world(db, clock)
    ep = service.get_endpoint(db, project="alpha", name="api")
    outsider = {"Authorization": f"Bearer {world.outsider_token}"}
    r = client.get(f"/api/v1/projects/beta/lineage/nodes/{ep.id}", headers=outsider)
    assert r.status_code == 404
    r = client.get("/api/v1/projects/beta/endpoints/api", headers=outsider)
    assert r.status_code == 404
    r = client.get(
        f"/api/v1/projects/alpha/lineage/nodes/{ep.id}/render",
        params={"format": "mermaid"},
        headers=world.headers("viewer"),
    )
    assert r.status_code == 200 and r.text.startswith("flowchart LR")
    r = client.get(
        "/api/v1/projects/alpha/endpoints/api/served",
        params={"at": "2020-01-01T00:00:00Z"},
        headers=world.headers("viewer"),
    )
    assert r.status_code == 404
    r = client.get(
        "/api/v1/projects/alpha/endpoints/api/deployments", headers=world.headers("app-developer")
    )
    assert r.status_code == 200 and [d["version"] for d in r.json()] == [1, 2]
