"""Clean failures: unusable input is a 422 naming the field, an outage a 503, a bug a bare 500."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from governance.core.db import Database
from monitors.capture.service import capture_files, ingest_counts
from steward.api.deps import Services
from tests.builders import World
from tests.monitors.capture.conftest import deploy_endpoint, json_body, records

ERROR_KEYS = {"code", "detail", "request_id"}
DEAD_DATABASE = "postgresql://postgres@127.0.0.1:1/postgres"
NON_FINITE = ["NaN", "Infinity", "-Infinity"]
# Valid ISO-8601 date-times that no UTC date-time can represent.
OUT_OF_RANGE = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]
MONITORS = "/api/v1/projects/alpha/monitors"


def _assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert ERROR_KEYS <= set(body) <= ERROR_KEYS | {"errors"}, body
    assert body["code"] == code
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def _assert_invalid(response: Any, loc: list[str]) -> None:
    body = _assert_error(response, 422, "invalid_input")
    assert body["errors"][0]["loc"] == loc, body
    assert body["detail"].startswith(".".join(loc) + ":"), body


def _post_json(client: TestClient, path: str, text: str, headers: dict[str, str]) -> Any:
    return client.post(path, content=text, headers={**headers, "Content-Type": "application/json"})


def _audit_size(client: TestClient, world: World) -> int:
    r = client.get("/api/v1/audit/verify", headers=world.headers("admin"))
    assert r.status_code == 200, r.text
    return int(r.json()["entries"])


# 1. NaN and Infinity are not JSON


def _monitor(signal: str) -> str:
    return f'{{"name": "drift", "target": {{"name": "income"}}, "signals": [{signal}]}}'


def test_non_finite_numbers_in_a_typed_body_are_422_naming_the_field(
    client: TestClient, world: World
) -> None:
    for literal in NON_FINITE:
        text = _monitor(f'{{"kind": "data_drift", "threshold": {literal}}}')
        r = _post_json(client, MONITORS, text, world.headers("data-scientist"))
        _assert_invalid(r, ["body", "signals", "0", "threshold"])
    assert client.get(f"{MONITORS}/drift", headers=world.headers("viewer")).status_code == 404
    text = _monitor('{"kind": "data_drift", "threshold": 0.2}')
    assert _post_json(client, MONITORS, text, world.headers("data-scientist")).status_code == 201


def test_non_finite_numbers_in_free_form_bodies_are_422(client: TestClient, world: World) -> None:
    for literal in NON_FINITE:
        text = _monitor(f'{{"kind": "data_drift", "options": {{"alpha": [1, {literal}]}}}}')
        r = _post_json(client, MONITORS, text, world.headers("data-scientist"))
        _assert_invalid(r, ["body", "signals", "0", "options", "alpha", "1"])
        event = f'{{"eventType": "COMPLETE", "run": {{"facets": {{"x": {{"v": {literal}}}}}}}}}'
        r = _post_json(client, "/api/v1/lineage", event, world.headers("admin"))
        _assert_invalid(r, ["body", "run", "facets", "x", "v"])


def test_non_finite_model_metrics_are_422(client: TestClient, world: World) -> None:
    text = json.dumps({"sha256": "0" * 64, "metrics": {"auc": 0.9}, "signature": {}})
    text = text.replace("0.9", "Infinity")
    r = _post_json(
        client, "/api/v1/projects/alpha/models/m/versions", text, world.headers("ml-engineer")
    )
    _assert_invalid(r, ["body", "metrics", "auc"])


def test_non_finite_numbers_in_json_inference_records_are_422(
    client: TestClient, world: World, services: Services
) -> None:
    deploy_endpoint(services)
    for literal in NON_FINITE:
        text = json_body(records(2)).decode().replace("21.0", literal)
        r = _post_json(
            client,
            "/api/v1/projects/alpha/endpoints/income-api/inferences",
            text,
            world.headers("app-developer"),
        )
        _assert_invalid(r, ["body", "records", "1", "features", "age"])
    assert ingest_counts(services.db) == []


def test_nan_inside_strings_is_ordinary_text(client: TestClient, world: World) -> None:
    text = (
        '{"name": "nan-watch", "target": {"name": "income"},'
        ' "description": "NaN, Infinity, 0001-01-01T00:00:00+01:00 in text"}'
    )
    r = _post_json(client, MONITORS, text, world.headers("data-scientist"))
    assert r.status_code == 201, r.text


# 2. Date-times that overflow on conversion to UTC

QUERIES: list[tuple[str, str, dict[str, str]]] = [
    ("/api/v1/audit", "since", {}),
    ("/api/v1/audit", "until", {}),
    ("/api/v1/projects/alpha/audit", "since", {}),
    (f"{MONITORS}/drift/results", "since", {}),
    (f"{MONITORS}/drift/runs", "since", {}),
    ("/api/v1/projects/alpha/endpoints/income-api/served", "at", {}),
    (
        "/api/v1/projects/alpha/endpoints/income-api/inferences",
        "start",
        {"end": "9999-12-31T23:59:59Z"},
    ),
]


def test_out_of_range_datetimes_in_the_query_are_422_naming_the_parameter(
    client: TestClient, world: World, services: Services
) -> None:
    admin = world.headers("admin")
    deploy_endpoint(services)
    text = _monitor('{"kind": "data_drift"}')
    assert _post_json(client, MONITORS, text, admin).status_code == 201
    nodes = "/api/v1/projects/alpha/lineage/nodes"
    node = client.get(nodes, params={"kind": "endpoint"}, headers=admin).json()[0]["id"]
    upstream = (f"/api/v1/projects/alpha/lineage/nodes/{node}/upstream", "at", {})
    for path, param, others in [*QUERIES, upstream]:
        for when in OUT_OF_RANGE:
            r = client.get(path, params={**others, param: when}, headers=admin)
            _assert_invalid(r, ["query", param])
        # The very edge of the range, the other way round, is a valid time.
        r = client.get(path, params={**others, param: "9999-12-31T23:59:59+01:00"}, headers=admin)
        assert r.status_code == 200, (path, r.text)


def test_out_of_range_datetimes_in_bodies_are_422_naming_the_field(
    client: TestClient, world: World
) -> None:
    headers = world.headers("owner")
    text = _monitor('{"kind": "data_drift"}')
    assert _post_json(client, MONITORS, text, headers).status_code == 201
    for when in OUT_OF_RANGE:
        r = client.post(f"{MONITORS}/drift/run", json={"window_end": when}, headers=headers)
        _assert_invalid(r, ["body", "window_end"])
        r = client.post(f"{MONITORS}/drift/backfill", json={"since": when}, headers=headers)
        _assert_invalid(r, ["body", "since"])


def test_datetimes_at_the_edges_of_the_range_still_work(client: TestClient, world: World) -> None:
    for when in ("0001-01-01T00:00:00-01:00", "9999-12-31T23:59:59+01:00", "0001-01-01T00:00:00"):
        r = client.get("/api/v1/audit", params={"since": when}, headers=world.headers("admin"))
        assert r.status_code == 200, (when, r.text)


# 3. An unexpected error


@pytest.fixture
def failing_app(app: FastAPI) -> FastAPI:
    """The app with one more route, which fails as a bug would."""

    @app.get("/api/v1/test-only/boom")
    def boom() -> None:
        raise RuntimeError("secret at /srv/steward/private: SELECT * FROM tokens")

    @app.get("/api/v1/test-only/locked")
    def locked() -> None:
        cause = sqlite3.OperationalError("database is locked")
        raise OperationalError("UPDATE secret_table SET x = 1", {}, cause)

    return app


def test_an_unexpected_error_is_a_500_with_the_request_id_and_no_text(
    failing_app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    # Raising server exceptions: the app answers the error itself, nothing reaches the server.
    with TestClient(failing_app) as client, caplog.at_level(logging.ERROR, "steward.api"):
        r = client.get("/api/v1/test-only/boom", headers={"X-Request-ID": "mine"})
        body = _assert_error(r, 500, "internal")
        assert "secret" not in r.text and "SELECT" not in r.text and "/srv" not in r.text
        assert body["request_id"] != "mine"
        assert any(body["request_id"] in m and rec.exc_info for m, rec in _logged(caplog))
        # The same client (connection) goes on working.
        assert client.get("/api/v1/health").status_code == 200


def _logged(caplog: pytest.LogCaptureFixture) -> Iterator[tuple[str, logging.LogRecord]]:
    for record in caplog.records:
        yield record.getMessage(), record


# 4. Ingest on an unknown endpoint

INGEST_BODIES = [
    ("application/json", json_body(records(1))),
    ("application/json", b"{not json"),
    ("text/csv", b"a,b\n1,2\n"),
    ("application/vnd.apache.arrow.stream", b"\x00garbage"),
]


@pytest.mark.parametrize("kind", ["inferences", "labels"])
def test_ingest_on_an_unknown_endpoint_is_404_and_writes_nothing(
    client: TestClient, world: World, services: Services, kind: str
) -> None:
    deploy_endpoint(services)  # another endpoint of the project exists
    before = _audit_size(client, world)
    for name in ("nope", "-nope", "no pe", "n%C3%B6pe", "x" * 200):
        for content_type, body in INGEST_BODIES:
            r = client.post(
                f"/api/v1/projects/alpha/endpoints/{name}/{kind}",
                content=body,
                headers={**world.headers("owner"), "Content-Type": content_type},
            )
            _assert_error(r, 404, "not_found")
    assert ingest_counts(services.db) == []
    root = capture_files(services.settings).root
    assert not root.exists() or not any(p.is_file() for p in root.rglob("*"))
    assert _audit_size(client, world) == before


# 5. Request ids: the server's own, the client's apart


def _grant(client: TestClient, world: World, role: str, request_id: str | bytes | None) -> Any:
    headers: dict[str, Any] = world.headers("admin")
    if request_id is not None:
        headers = {**headers, "X-Request-ID": request_id}
    r = client.post(
        "/api/v1/projects/alpha/roles",
        json={"principal": "outsider", "role": role},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return r


def _last_grant(client: TestClient, world: World) -> dict[str, Any]:
    r = client.get("/api/v1/audit", params={"action": "role.grant"}, headers=world.headers("admin"))
    entry: dict[str, Any] = r.json()["items"][-1]
    return entry


def test_a_client_request_id_is_recorded_apart_from_the_server_id(
    client: TestClient, world: World
) -> None:
    given = "trace 42; forged=yes"
    r = _grant(client, world, "viewer", given)
    server_id = r.headers["x-request-id"]
    assert server_id != given and r.json().get("request_id") in (None, server_id)
    entry = _last_grant(client, world)
    assert entry["request_id"] == server_id
    assert entry["details"]["client_request_id"] == given
    # The same client id again: a new server id, never a collision in the log.
    again = _grant(client, world, "auditor", given).headers["x-request-id"]
    assert again != server_id and _last_grant(client, world)["request_id"] == again
    assert client.get("/api/v1/audit/verify", headers=world.headers("admin")).json()["ok"]


def test_a_client_request_id_that_is_not_short_printable_ascii_is_dropped(
    client: TestClient, world: World
) -> None:
    unusable: list[str | bytes | None] = ["x" * 129, b"caf\xc3\xa9", "tab\there", b"del\x7f", None]
    for role, given in zip(
        ["viewer", "auditor", "data-scientist", "ml-engineer", "app-developer"],
        unusable,
        strict=True,
    ):
        r = _grant(client, world, role, given)
        entry = _last_grant(client, world)
        assert entry["request_id"] == r.headers["x-request-id"], given
        assert "client_request_id" not in entry["details"], given


# 6. A database that is down or locked


@pytest.fixture
def dead_database(services: Services) -> Iterator[None]:
    """The app's database swapped, after start-up, for one on a closed port."""
    healthy = services.db
    services.db = Database(DEAD_DATABASE)
    yield
    services.db.dispose()
    services.db = healthy


def test_health_reports_the_database_up(client: TestClient) -> None:
    r = client.get("/api/v1/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok" and r.json()["database"] == "up"


def test_health_reports_a_database_that_is_down_as_503(
    client: TestClient, dead_database: None
) -> None:
    r = client.get("/api/v1/health")
    assert r.status_code == 503, r.text
    assert int(r.headers["retry-after"]) >= 1
    body = r.json()
    assert body["status"] == "degraded" and body["database"] == "down"
    assert body["schema_revision"] is None
    assert "127.0.0.1" not in r.text and "refused" not in r.text.lower()


def test_a_request_while_the_database_is_down_is_503_with_retry_after(
    client: TestClient, world: World, dead_database: None
) -> None:
    r = client.get("/api/v1/me", headers=world.headers("admin"))
    _assert_error(r, 503, "unavailable")
    assert int(r.headers["retry-after"]) >= 1
    assert "127.0.0.1" not in r.text and "SELECT" not in r.text


def test_a_locked_database_is_503_without_the_statement(failing_app: FastAPI) -> None:
    with TestClient(failing_app) as client:
        r = client.get("/api/v1/test-only/locked")
        _assert_error(r, 503, "unavailable")
        assert int(r.headers["retry-after"]) >= 1
        assert "secret_table" not in r.text and "locked" not in r.text


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/projects/alpha/pipelines/p?version=2147483648",
        "/api/v1/projects/alpha/models/m/versions/2147483648",
        "/api/v1/projects/alpha/prompts/p/versions/2147483648",
        "/api/v1/projects/alpha/reports?version=2147483648",
    ],
)
def test_a_version_past_32_bits_is_refused_not_a_database_error(
    client: TestClient, world: World, path: str
) -> None:
    response = client.get(path, headers=world.headers("owner"))
    assert response.status_code == 422, response.text  # PostgreSQL's integer ends at 2**31 - 1
