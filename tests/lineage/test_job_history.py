"""Jobs that keep their runs as history: one node with its edges, runs listed under it."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from governance.audit.service import record_audit
from governance.core.clock import ManualClock
from governance.core.db import Database
from lineage import query, service
from lineage.models import EdgeRow
from lineage.runs import list_job_runs
from lineage.schemas import DatasetCreate, EndpointCreate, Node, NodeKind, Run, RunState
from tests.builders import World
from tests.lineage.conftest import ACTOR

LINEAGE = "/api/v1/projects/alpha/lineage"


def _setup(db: Database, clock: ManualClock) -> None:
    """Endpoint 'ep' and dataset 'ref' (one version) in project alpha."""
    service.create_endpoint(
        db, project="alpha", data=EndpointCreate(name="ep"), actor=ACTOR, clock=clock
    )
    data = DatasetCreate(name="ref", sha256="a" * 64, version="v1")
    service.record_dataset_version(db, project="alpha", data=data, actor=ACTOR, clock=clock)


def _record(session: Session, clock: ManualClock, n: int, *, as_history: bool = True) -> Run:
    """Run ``n`` of job 'watch' reading 'ep' and the newest 'ref', ``100 - n`` hours ago."""
    ep = service.endpoint_ref(session, project="alpha", name="ep")
    ref = service.dataset_version_ref(session, project="alpha", name="ref")
    return service.record_run(
        session,
        project="alpha",
        job_namespace="steward.monitors",
        job_name="watch",
        run_id=f"r{n}",
        state=RunState.complete,
        inputs=[ep, ref],
        started_at=clock.now() - timedelta(hours=100 - n),
        facets={"window": {"n": n}},
        as_history=as_history,
        actor=ACTOR,
        clock=clock,
    )


def _run(db: Database, clock: ManualClock, n: int, *, as_history: bool) -> Run:
    """``_record`` in a transaction of its own."""
    with db.transaction() as session:
        return _record(session, clock, n, as_history=as_history)


def _in_own_transaction(db: Database, clock: ManualClock, n: int) -> Run:
    return _run(db, clock, n, as_history=True)


def _node(db: Database, kind: NodeKind, name: str) -> Node:
    """The node of ``kind`` called ``name`` in project alpha."""
    found = query.find_node(db, project="alpha", kind=kind, name=name)
    assert found is not None
    return found


def _edges(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(EdgeRow)) or 0)


def test_runs_as_history_add_no_edges_and_page_newest_first(
    db: Database, clock: ManualClock
) -> None:
    _setup(db, clock)
    first = _run(db, clock, 0, as_history=True)
    assert _edges(db) == 2
    for n in range(1, 25):
        _run(db, clock, n, as_history=True)
    assert _edges(db) == 2
    ep, job = _node(db, NodeKind.endpoint, "ep"), _node(db, NodeKind.job, "watch")
    down = query.downstream(db, project="alpha", node_id=ep.id, clock=clock)
    assert [n.id for n in down.nodes] == [ep.id, job.id]
    assert service.get_run(db, project="alpha", run_id="r0").inputs == first.inputs
    ref = service.get_dataset_version(db, project="alpha", name="ref")
    assert set(first.inputs) == {ep.id, ref.id}
    seen, cursor = [], None
    while True:
        page = list_job_runs(db, project="alpha", job=job.id, cursor=cursor, limit=10)
        seen += [r.run_id for r in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [f"r{n}" for n in range(24, -1, -1)]


def test_runs_recorded_with_edges_of_their_own_move_them_onto_the_job(
    db: Database, clock: ManualClock
) -> None:
    """Stored data of the per-run shape is carried over by the job's next run as history."""
    _setup(db, clock)
    old = [_run(db, clock, n, as_history=False) for n in range(3)]
    ep, job = _node(db, NodeKind.endpoint, "ep"), _node(db, NodeKind.job, "watch")
    assert len(query.downstream(db, project="alpha", node_id=ep.id, clock=clock).nodes) == 4
    assert _edges(db) == 6
    _run(db, clock, 3, as_history=True)
    assert _edges(db) == 2
    down = query.downstream(db, project="alpha", node_id=ep.id, clock=clock)
    assert [n.id for n in down.nodes] == [ep.id, job.id]
    assert [e.valid_from for e in down.edges] == [clock.now() - timedelta(hours=100)]  # earliest
    for run in old:  # every old run still names what it read
        assert service.get_run(db, project="alpha", run_id=run.run_id).inputs == run.inputs
    runs = list_job_runs(db, project="alpha", job=job.id).items
    assert [r.run_id for r in runs] == ["r3", "r2", "r1", "r0"]


def test_runs_route_lists_a_jobs_history_and_refuses_other_nodes(
    client: TestClient, world: World, db: Database, clock: ManualClock
) -> None:
    _setup(db, clock)
    for n in range(3):
        _run(db, clock, n, as_history=True)
    job, ep = _node(db, NodeKind.job, "watch"), _node(db, NodeKind.endpoint, "ep")
    viewer = world.headers("viewer")
    r = client.get(f"{LINEAGE}/nodes/{job.id}/runs", params={"limit": 2}, headers=viewer)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x["facets"]["window"]["n"] for x in body["items"]] == [2, 1]
    assert body["items"][0]["inputs"] and body["next_cursor"]
    r = client.get(
        f"{LINEAGE}/nodes/{job.id}/runs", params={"cursor": body["next_cursor"]}, headers=viewer
    )
    assert [x["run_id"] for x in r.json()["items"]] == ["r0"] and r.json()["next_cursor"] is None
    r = client.get(f"{LINEAGE}/nodes/{ep.id}/runs", headers=viewer)
    assert r.status_code == 422 and r.json()["code"] == "invalid_input"
    assert "not a job" in r.json()["detail"]
    r = client.get(f"{LINEAGE}/nodes/{job.id}/runs", params={"cursor": "junk"}, headers=viewer)
    assert r.status_code == 422
    other = client.get(
        f"/api/v1/projects/beta/lineage/nodes/{job.id}/runs", headers=world.headers("admin")
    )
    assert other.status_code == 404


def test_concurrent_runs_link_a_new_input_once(db: Database, clock: ManualClock) -> None:
    """Two runs reading a new reference version at once add one edge, not one each."""
    _setup(db, clock)
    _run(db, clock, 0, as_history=True)
    data = DatasetCreate(name="ref", sha256="b" * 64, version="v2")
    service.record_dataset_version(db, project="alpha", data=data, actor=ACTOR, clock=clock)
    with ThreadPoolExecutor(max_workers=1) as pool, db.transaction() as session:
        _record(session, clock, 1)
        other = pool.submit(_in_own_transaction, db, clock, 2)
        time.sleep(0.5)  # the other run waits for this one's lock (or its BEGIN, on SQLite)
        record_audit(session, actor=ACTOR, action="test.hold", project="alpha")
    other.result()
    assert _edges(db) == 3
