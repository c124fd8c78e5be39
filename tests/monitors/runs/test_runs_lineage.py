"""Monitor runs in the lineage graph: one job node per monitor, its runs as its history."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from governance.core.clock import ManualClock
from governance.core.db import Database
from governance.core.settings import Settings
from lineage import query
from lineage import service as lineage
from lineage.models import EdgeRow, NodeRow
from lineage.schemas import DatasetCreate, Node, NodeKind
from monitors.runs.adapters import LineageRunSink
from monitors.runs.service import backfill, list_runs
from monitors.runs.sources import (
    MemoryAlertSink,
    ProfileCache,
    RunEnvironment,
    StaticReferenceLoader,
    TableWindowReader,
)
from monitors.specs.schemas import Monitor
from steward.api.deps import Services
from steward.cli import app as cli_app
from steward.cli import context
from tests.builders import OPERATOR, World
from tests.monitors.runs.conftest import HOUR, START
from tests.monitors.runs.synthetic import reference_table, traffic
from tests.monitors.runs.traffic import AGE_SEX, deploy

WINDOWS = 100
LINEAGE = "/api/v1/projects/alpha/lineage"
TRAFFIC = traffic(START, windows=WINDOWS, rows=40, shift_from=80)
REFERENCE = reference_table(400)


def _env() -> RunEnvironment:
    return RunEnvironment(
        windows=TableWindowReader({"scorer": TRAFFIC}),
        references=StaticReferenceLoader({"train": REFERENCE}, default="train"),
        alerts=MemoryAlertSink(),
        lineage=LineageRunSink(),
        profiles=ProfileCache(),
    )


def _reference(db: Database, tag: str) -> None:
    """Record version ``tag`` of dataset 'train' (the monitor's reference: its newest version)."""
    data = DatasetCreate(name="train", sha256=hashlib.sha256(tag.encode()).hexdigest(), version=tag)
    lineage.record_dataset_version(db, project="alpha", data=data, actor=OPERATOR)


def _backfill(db: Database, first: int, last: int) -> None:
    """Run the windows ending at START + first hours ... START + last hours."""
    clock = ManualClock(START + WINDOWS * HOUR)
    since, until = START + first * HOUR - timedelta(minutes=1), START + last * HOUR
    backfill(db, project="alpha", name="drift", since=since, until=until, env=_env(), clock=clock)


def _counts(db: Database) -> tuple[int, int]:
    """(nodes other than runs, edges) of the whole lineage graph."""
    with db.read() as session:
        nodes = select(func.count()).select_from(NodeRow).where(NodeRow.kind != NodeKind.run)
        edges = select(func.count()).select_from(EdgeRow)
        return int(session.scalar(nodes) or 0), int(session.scalar(edges) or 0)


@pytest.fixture
def endpoint(services: Services, monitor: Monitor) -> Node:
    """Endpoint 'scorer' serving a model, dataset 'train' v1, and the hourly monitor 'drift'."""
    deploy(services, AGE_SEX)
    _reference(services.db, "v1")
    found = query.find_node(services.db, project="alpha", kind=NodeKind.endpoint, name="scorer")
    assert found is not None
    return found


def _monitor_node(db: Database) -> Node:
    found = query.find_node(db, project="alpha", kind=NodeKind.job, name="monitor.drift")
    assert found is not None
    return found


def _all_runs(client: TestClient, world: World, job: Node) -> list[dict[str, Any]]:
    """Every run of the job through the API, in pages of 40."""
    runs: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 40} | ({"cursor": cursor} if cursor else {})
        r = client.get(
            f"{LINEAGE}/nodes/{job.id}/runs", params=params, headers=world.headers("viewer")
        )
        assert r.status_code == 200, r.text
        runs += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return runs


def test_a_backfill_adds_one_monitor_node_and_keeps_every_run_as_its_history(
    client: TestClient, world: World, db: Database, endpoint: Node
) -> None:
    _backfill(db, 0, 0)
    after_first = _counts(db)
    _backfill(db, 1, WINDOWS)
    assert _counts(db) == after_first  # 100 more windows: no node, no edge
    down = query.downstream(db, project="alpha", node_id=endpoint.id)
    job = _monitor_node(db)
    assert [(n.kind, n.name) for n in down.nodes] == [
        (NodeKind.endpoint, "scorer"),
        (NodeKind.job, "monitor.drift"),
    ]
    assert [(e.src, e.dst, e.kind) for e in down.edges] == [(endpoint.id, job.id, "consumed")]

    runs = _all_runs(client, world, job)
    stored = list_runs(db, project="alpha", name="drift", limit=1000)
    assert len(runs) == len(stored) == WINDOWS + 1
    facets = [r["facets"]["steward_monitor"] for r in runs]
    assert [f["monitor_run"] for f in facets] == [str(m.id) for m in stored]  # newest first
    assert [f["window_end"] for f in facets] == [m.window_end.isoformat() for m in stored]
    assert {f["status"] for f in facets} == {"succeeded", "no_data"}
    assert any(f["breached"] for f in facets) and not facets[-1]["breached"]
    version = lineage.get_dataset_version(db, project="alpha", name="train")
    assert all(set(r["inputs"]) == {str(endpoint.id), str(version.id)} for r in runs)


def test_a_new_reference_version_adds_one_edge(
    client: TestClient, world: World, db: Database, endpoint: Node
) -> None:
    _backfill(db, 0, 5)
    nodes, edges = _counts(db)
    _reference(db, "v2")
    _backfill(db, 6, 30)
    assert _counts(db) == (nodes + 1, edges + 1)  # the version itself, and the job reading it
    job = _monitor_node(db)
    up = query.upstream(
        db, project="alpha", node_id=job.id, depth=1, kinds=[NodeKind.dataset_version]
    )
    assert sorted(n.version for n in up.nodes if n.kind is NodeKind.dataset_version) == ["v1", "v2"]
    v1, v2 = (
        lineage.get_dataset_version(db, project="alpha", name="train", version=v)
        for v in ("v1", "v2")
    )
    runs = _all_runs(client, world, job)
    assert sum(str(v2.id) in r["inputs"] for r in runs) == 25
    assert sum(str(v1.id) in r["inputs"] for r in runs) == 6


def test_kind_filters_on_the_monitor_through_the_api(
    client: TestClient, world: World, db: Database, endpoint: Node
) -> None:
    _backfill(db, 0, 3)
    job = _monitor_node(db)
    viewer = world.headers("viewer")
    r = client.get(
        f"{LINEAGE}/nodes/{job.id}/upstream",
        params={"kinds": ["model_version", "model"]},
        headers=viewer,
    )
    assert r.status_code == 200, r.text
    # The model version is reached through the (hidden) endpoint: filtering does not cut paths.
    shown = {(n["kind"], r.json()["depth"][n["id"]]) for n in r.json()["nodes"]}
    assert shown == {("job", 0), ("model_version", 2)}
    bad = client.get(
        f"{LINEAGE}/nodes/{job.id}/upstream", params={"kinds": "monitor"}, headers=viewer
    )
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_input"
    assert "kinds" in bad.json()["detail"] and "'dataset_version'" in bad.json()["detail"]
    impact = client.get(
        f"{LINEAGE}/nodes/{endpoint.id}/impact", params={"kinds": "job"}, headers=viewer
    ).json()
    assert [n["name"] for n in impact["nodes"]] == ["scorer", "monitor.drift"]


def test_kind_filters_on_the_monitor_through_the_cli(
    db: Database, endpoint: Node, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _backfill(db, 0, 3)
    monkeypatch.setenv("STEWARD_HOME", str(settings.home))
    monkeypatch.setenv("STEWARD_DATABASE_URL", settings.database_url)
    context.settings.cache_clear()
    try:
        runner = CliRunner()
        args = ["lineage", "show", "job:monitor.drift", "-p", "alpha", "--format", "json"]
        shown = runner.invoke(cli_app, [*args, "--kind", "model_version", "--kind", "endpoint"])
        assert shown.exit_code == 0, shown.output
        assert sorted(n["kind"] for n in json.loads(shown.output)["nodes"]) == [
            "endpoint",
            "job",
            "model_version",
        ]
        unknown = runner.invoke(cli_app, [*args, "--kind", "monitor"])
        assert unknown.exit_code == 2 and "dataset_version" in unknown.output
    finally:
        context.settings.cache_clear()
