"""The inference and label routes through the real app."""

from __future__ import annotations

import dataclasses
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
from fastapi.testclient import TestClient

from steward.api.app import create_app
from steward.api.deps import Services
from tests.builders import World
from tests.monitors.capture.conftest import arrow_stream, bulk_table, json_body, records

URL = "/api/v1/projects/alpha/endpoints/income-api"
WINDOW = {"start": "2026-03-01T00:00:00Z", "end": "2026-03-02T00:00:00Z"}


def test_post_json_then_replay_then_read(client: TestClient, world: World, endpoint: str) -> None:
    app = world.headers("app-developer")
    body = json_body(records(20))
    first = client.post(f"{URL}/inferences", content=body, headers=app)
    assert first.status_code == 201, first.text
    again = client.post(f"{URL}/inferences", content=body, headers=app)
    assert again.status_code == 200 and again.json()["duplicate"]
    assert again.json()["batch_id"] == first.json()["batch_id"]
    keyed = {**app, "Idempotency-Key": "k1"}
    assert (
        client.post(
            f"{URL}/inferences", content=json_body(records(5, start=20)), headers=keyed
        ).status_code
        == 201
    )
    clash = client.post(f"{URL}/inferences", content=json_body(records(5, start=30)), headers=keyed)
    assert clash.status_code == 409 and clash.json()["code"] == "conflict"
    labels = {"labels": [{"correlation_id": "c3", "label": ">50K"}]}
    assert client.post(f"{URL}/labels", json=labels, headers=app).status_code == 201
    read = client.get(
        f"{URL}/inferences",
        params={**WINDOW, "labels": True},
        headers=world.headers("data-scientist"),
    )
    assert read.status_code == 200, read.text
    rows = read.json()["rows"]
    assert len(rows) == 25 and rows[3]["label"] == ">50K" and rows[0]["label"] is None


def test_a_bad_batch_gets_a_422_listing_every_reason(
    client: TestClient, world: World, endpoint: str
) -> None:
    recs = records(3)
    recs[0]["features"]["age"] = "x"
    recs[2]["features"]["height"] = 1.8
    r = client.post(f"{URL}/inferences", content=json_body(recs), headers=world.headers("owner"))
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "invalid_input"
    assert {e["msg"] for e in body["errors"]} == {
        "age: expected float, got str",
        "unknown features ['height']",
    }
    r = client.post(f"{URL}/inferences", content=b"{", headers=world.headers("owner"))
    assert r.status_code == 422 and r.json()["errors"]


def test_bulk_arrow_and_parquet_bodies(client: TestClient, world: World, endpoint: str) -> None:
    headers = world.headers("ml-engineer")
    r = client.post(
        f"{URL}/inferences",
        content=arrow_stream(bulk_table(1000)),
        headers={**headers, "Content-Type": "application/vnd.apache.arrow.stream"},
    )
    assert r.status_code == 201 and r.json()["rows"] == 1000
    sink = io.BytesIO()
    pq.write_table(bulk_table(500, prefix="p"), sink)
    r = client.post(
        f"{URL}/inferences",
        content=sink.getvalue(),
        headers={**headers, "Content-Type": "application/x-parquet"},
    )
    assert r.status_code == 201 and r.json()["rows"] == 500
    r = client.get(f"{URL}/inferences", params={**WINDOW, "format": "arrow"}, headers=headers)
    assert r.headers["content-type"] == "application/vnd.apache.arrow.stream"
    assert pa.ipc.open_stream(r.content).read_all().num_rows == 1500


def test_ingest_routes_have_their_own_body_limit(
    services: Services, world: World, endpoint: str
) -> None:
    small = services.settings.model_copy(
        update={"max_body_bytes": 4096, "max_ingest_body_bytes": 1 << 20}
    )
    app = create_app(
        services=dataclasses.replace(services, settings=small), seal_in_background=False
    )
    big = json_body(records(200))
    assert 4096 < len(big) < 1 << 20
    with TestClient(app) as client:
        headers = world.headers("owner")
        assert client.post(f"{URL}/inferences", content=big, headers=headers).status_code == 201
        too_big = json.dumps({"name": "x" * 5000}).encode()
        r = client.post("/api/v1/projects", content=too_big, headers=headers)
        assert r.status_code == 413
        huge = json_body(records(8000))
        assert client.post(f"{URL}/inferences", content=huge, headers=headers).status_code == 413


def test_unknown_endpoint_is_404(client: TestClient, world: World, endpoint: str) -> None:
    r = client.post(
        "/api/v1/projects/alpha/endpoints/nope/inferences",
        content=json_body(records(1)),
        headers=world.headers("owner"),
    )
    assert r.status_code == 404 and r.json()["code"] == "not_found"
