"""OpenLineage in and out: the real openlineage-python client, malformed events, idempotency."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from governance.core.db import Database
from lineage.models import ColumnEdgeRow, EdgeRow, EventRow, NodeRow
from lineage.olschema import validate_event
from tests.builders import World

PRODUCER = "https://example.com/steward-tests"
RUN_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


def _emit_with_real_client(url: str, token: str) -> str:
    from openlineage.client import OpenLineageClient
    from openlineage.client.event_v2 import (
        InputDataset,
        Job,
        OutputDataset,
        Run,
        RunEvent,
        RunState,
    )
    from openlineage.client.facet_v2 import column_lineage_dataset, schema_dataset
    from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport

    transport = HttpTransport(
        HttpConfig(url=url, endpoint="api/v1/lineage", auth=ApiKeyTokenProvider({"apiKey": token}))
    )
    client = OpenLineageClient(transport=transport)

    def schema(*cols: str) -> dict[str, Any]:
        fields = [schema_dataset.SchemaDatasetFacetFields(name=c, type="DOUBLE") for c in cols]
        return {"schema": schema_dataset.SchemaDatasetFacet(fields=fields)}

    lineage = column_lineage_dataset.ColumnLineageDatasetFacet(
        fields={
            "score": column_lineage_dataset.Fields(
                inputFields=[
                    column_lineage_dataset.InputField(
                        namespace="warehouse", name="customers", field="age"
                    ),
                    column_lineage_dataset.InputField(
                        namespace="warehouse", name="orders", field="amount"
                    ),
                ],
                transformationDescription="weighted sum",
                transformationType="AGGREGATION",
            )
        }
    )
    inputs = [
        InputDataset(namespace="warehouse", name="customers", facets=schema("id", "age")),
        InputDataset(namespace="warehouse", name="orders", facets=schema("id", "amount")),
    ]
    output = OutputDataset(
        namespace="warehouse",
        name="scores",
        facets={**schema("id", "score"), "columnLineage": lineage},
    )
    run_id = str(uuid.uuid4())
    job = Job(namespace="alpha", name="score_customers")
    for state in (RunState.START, RunState.COMPLETE):
        client.emit(
            RunEvent(
                eventType=state,
                eventTime="2026-03-01T10:00:00Z"
                if state == RunState.START
                else "2026-03-01T10:05:00Z",
                run=Run(runId=run_id),
                job=job,
                inputs=inputs,
                outputs=[output],
                producer=PRODUCER,
            )
        )
    return run_id


def _node(
    client: TestClient, headers: dict[str, str], name: str, kind: str = "dataset"
) -> dict[str, Any]:
    r = client.get(
        "/api/v1/projects/alpha/lineage/nodes", params={"kind": kind, "name": name}, headers=headers
    )
    assert r.status_code == 200, r.text
    assert len(r.json()) == 1, r.json()
    return r.json()[0]


def test_real_openlineage_client_start_complete(
    server: str, client: TestClient, world: World
) -> None:
    run_id = _emit_with_real_client(server, world.tokens["data-scientist"])
    h = world.headers("viewer")
    out = _node(client, h, "scores")
    r = client.get(
        f"/api/v1/projects/alpha/lineage/nodes/{out['id']}/upstream", params={"depth": 5}, headers=h
    )
    assert r.status_code == 200, r.text
    graph = r.json()
    names = {n["id"]: (n["kind"], n["name"]) for n in graph["nodes"]}
    edges = {(names[e["src"]], names[e["dst"]], e["kind"]) for e in graph["edges"]}
    run = ("run", "score_customers")
    assert edges == {
        (("dataset", "customers"), run, "consumed"),
        (("dataset", "orders"), run, "consumed"),
        (run, ("dataset", "scores"), "produced"),
    }
    r = client.get(f"/api/v1/projects/alpha/runs/{run_id}", headers=h)
    assert r.status_code == 200 and r.json()["state"] == "COMPLETE", r.text
    assert r.json()["started_at"].startswith("2026-03-01T10:00:00")
    r = client.get(f"/api/v1/projects/alpha/lineage/nodes/{out['id']}/columns", headers=h)
    cols = {(names[c["src"]][1], c["src_field"], c["dst_field"]) for c in r.json()}
    assert cols == {("customers", "age", "score"), ("orders", "amount", "score")}
    assert out["attrs"]["facets"]["schema"]["fields"][1]["name"] == "score"


def run_event(**over: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "eventType": "START",
        "eventTime": "2026-03-01T10:00:00Z",
        "producer": PRODUCER,
        "schemaURL": RUN_URL,
        "run": {"runId": str(uuid.UUID(int=1))},
        "job": {"namespace": "alpha", "name": "etl"},
        "inputs": [{"namespace": "s3", "name": "raw"}],
        "outputs": [{"namespace": "s3", "name": "clean"}],
    }
    event.update(over)
    return event


def _counts(db: Database) -> tuple[int, ...]:
    with db.read() as session:
        return tuple(
            int(session.scalar(select(func.count()).select_from(t)) or 0)
            for t in (NodeRow, EdgeRow, EventRow, ColumnEdgeRow)
        )


def _mutate(path: str, value: Any) -> dict[str, Any]:
    event = run_event()
    *parents, last = path.split(".")
    target = event
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return event


_DELETE = object()
BIG = {"_producer": PRODUCER, "_schemaURL": PRODUCER + "#/big", "blob": "x" * 300_000}


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("run.runId", _DELETE, "run.runId"),
        ("run.runId", "not-a-uuid", "run.runId"),
        ("eventTime", "yesterday", "eventTime"),
        ("eventTime", "2026-13-45T25:00:00Z", "eventTime"),
        ("eventTime", 1234, "eventTime"),
        ("inputs", "raw", "inputs"),
        ("job.name", 5, "job.name"),
        ("eventType", "EXPLODE", "eventType"),
        ("run.facets", {"big": BIG}, "run.facets.big"),
        (
            "outputs.0.facets",
            {"columnLineage": {**BIG, "blob": 1, "fields": []}},
            "outputs[0].facets.columnLineage.fields",
        ),
        ("job.namespace", _DELETE, "job.namespace"),
        ("producer", _DELETE, "producer"),
    ],
)
def test_malformed_event_is_422_naming_the_field(
    client: TestClient, world: World, db: Database, path: str, value: Any, field: str
) -> None:
    before = _counts(db)
    r = client.post(
        "/api/v1/lineage", json=_mutate(path, value), headers=world.headers("data-scientist")
    )
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "invalid_input"
    assert body["detail"].startswith(f"{field}:"), body
    assert _counts(db) == before


def test_retries_are_idempotent_and_order_does_not_matter(
    client: TestClient, world: World, db: Database
) -> None:
    h = world.headers("data-scientist")
    complete = run_event(eventType="COMPLETE", eventTime="2026-03-01T10:05:00Z")
    start = run_event()
    for event in (complete, complete, start, start):
        r = client.post("/api/v1/lineage", json=event, headers=h)
        assert r.status_code == 201, r.text
    assert _counts(db)[1:3] == (2, 2)  # two edges, two distinct raw events
    r = client.get(f"/api/v1/projects/alpha/runs/{uuid.UUID(int=1)}", headers=h)
    run = r.json()
    assert run["state"] == "COMPLETE"
    assert run["started_at"].startswith("2026-03-01T10:00") and run["ended_at"].startswith(
        "2026-03-01T10:05"
    )
    # The edges exist from the earliest event that reported them.
    clean = _node(client, h, "clean")
    r = client.get(
        f"/api/v1/projects/alpha/lineage/nodes/{clean['id']}/upstream",
        params={"at": "2026-03-01T10:01:00Z"},
        headers=h,
    )
    assert len(r.json()["edges"]) == 2


def test_ingest_is_authorised_against_the_namespace_project(
    client: TestClient, world: World, db: Database
) -> None:
    before = _counts(db)
    outsider = {"Authorization": f"Bearer {world.outsider_token}"}
    r = client.post("/api/v1/lineage", json=run_event(), headers=outsider)
    assert r.status_code == 404 and "project 'alpha'" in r.json()["detail"]
    r = client.post("/api/v1/lineage", json=run_event(), headers=world.headers("viewer"))
    assert r.status_code == 403
    r = client.post(
        "/api/v1/lineage",
        json=run_event(job={"namespace": "nowhere", "name": "x"}),
        headers=world.headers("owner"),
    )
    assert r.status_code == 404
    assert _counts(db) == before
    r = client.post(
        "/api/v1/lineage", params={"project": "beta"}, json=run_event(), headers=outsider
    )
    assert r.status_code == 201 and r.json()["project"] == "beta"


def test_job_and_dataset_events(client: TestClient, world: World) -> None:
    h = world.headers("data-scientist")
    job_event = {
        "eventTime": "2026-03-01T10:00:00Z",
        "producer": PRODUCER,
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent",
        "job": {"namespace": "alpha", "name": "static-etl"},
        "inputs": [{"namespace": "s3", "name": "a"}],
        "outputs": [{"namespace": "s3", "name": "b"}],
    }
    r = client.post("/api/v1/lineage", json=job_event, headers=h)
    assert r.status_code == 201 and r.json()["kind"] == "JobEvent" and r.json()["edges"] == 2
    dataset_event = {
        "eventTime": "2026-03-01T10:00:00Z",
        "producer": PRODUCER,
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent",
        "dataset": {
            "namespace": "alpha",
            "name": "c",
            "facets": {
                "version": {"_producer": PRODUCER, "_schemaURL": PRODUCER, "datasetVersion": "v7"}
            },
        },
    }
    r = client.post("/api/v1/lineage", json=dataset_event, headers=h)
    assert r.status_code == 201 and r.json()["kind"] == "DatasetEvent", r.text
    versions = client.get(
        "/api/v1/projects/alpha/lineage/nodes", params={"kind": "dataset_version"}, headers=h
    )
    assert [n["version"] for n in versions.json()] == ["v7"]


def test_export_round_trips_through_ingest(client: TestClient, world: World, db: Database) -> None:
    h = world.headers("owner")
    for event in (run_event(), run_event(eventType="COMPLETE", eventTime="2026-03-01T10:05:00Z")):
        assert client.post("/api/v1/lineage", json=event, headers=h).status_code == 201
    r = client.get("/api/v1/projects/alpha/lineage/export", headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    import json

    events = [json.loads(line) for line in r.text.splitlines()]
    # the datasets first, then the job, then the run
    assert [e.get("eventType") for e in events] == [None, None, None, "COMPLETE"]
    for event in events:
        validate_event(copy.deepcopy(event))
    admin = {"Authorization": f"Bearer {world.admin_token}"}
    for event in events:
        r = client.post("/api/v1/lineage", params={"project": "beta"}, json=event, headers=admin)
        assert r.status_code == 201, r.text
    with db.read() as session:
        kinds = {
            p: sorted(session.scalars(select(EdgeRow.kind).where(EdgeRow.project == p)))
            for p in ("alpha", "beta")
        }
    assert kinds["alpha"] == kinds["beta"] == ["consumed", "produced"]
