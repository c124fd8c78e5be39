"""API hygiene: rate limits, body limits, page sizes, one error body shape, request ids."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from steward.api.app import create_app
from steward.api.deps import MAX_PAGE, Services
from steward.api.ratelimit import RateLimiter
from tests.builders import World

ERROR_KEYS = {"code", "detail", "request_id"}


def _assert_error(response, status: int, code: str | None = None) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert ERROR_KEYS <= set(body) <= ERROR_KEYS | {"errors"}, body
    assert body["request_id"] == response.headers["x-request-id"]
    if code is not None:
        assert body["code"] == code


@pytest.fixture
def small_app(services: Services) -> FastAPI:
    """The app with a 4 KiB body limit."""
    limited = dataclasses.replace(
        services, settings=services.settings.model_copy(update={"max_body_bytes": 4096})
    )
    return create_app(services=limited, seal_in_background=False)


@pytest.fixture
def small_client(small_app: FastAPI) -> Iterator[TestClient]:
    """Client on the 4 KiB app."""
    with TestClient(small_app, raise_server_exceptions=False) as c:
        yield c


def test_rate_limit_is_per_token_with_retry_after(
    client: TestClient, world: World, services: Services
) -> None:
    services.limiter = RateLimiter(per_minute=60, burst=3)
    admin, viewer = world.headers("admin"), world.headers("viewer")
    for _ in range(3):
        assert client.get("/api/v1/me", headers=admin).status_code == 200
    r = client.get("/api/v1/me", headers=admin)
    _assert_error(r, 429, "rate_limited")
    assert 1 <= int(r.headers["retry-after"]) <= 2
    # Another caller has a bucket of its own.
    assert client.get("/api/v1/me", headers=viewer).status_code == 200


def test_failed_authentications_are_rate_limited_per_client(
    client: TestClient, services: Services
) -> None:
    services.limiter = RateLimiter(per_minute=60, burst=2)
    bad = {"Authorization": "Bearer stw_000000000000_nope"}
    assert [client.get("/api/v1/me", headers=bad).status_code for _ in range(3)] == [401, 401, 429]


def test_body_over_the_limit_by_content_length_is_413(
    small_client: TestClient, world: World
) -> None:
    body = b'{"name": "' + b"x" * 5000 + b'"}'
    r = small_client.post(
        "/api/v1/tokens",
        content=body,
        headers={**world.headers("admin"), "Content-Type": "application/json"},
    )
    _assert_error(r, 413, "payload_too_large")


def test_body_over_the_limit_while_streaming_chunked_is_413(
    small_client: TestClient, world: World
) -> None:
    sent = []

    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(100):
            sent.append(1)
            yield b"x" * 1000
        yield b'"}'

    r = small_client.post(
        "/api/v1/tokens",
        content=chunks(),
        headers={**world.headers("admin"), "Content-Type": "application/json"},
    )
    _assert_error(r, 413, "payload_too_large")


def test_chunked_body_under_the_limit_reaches_the_route(
    small_client: TestClient, world: World
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"principal": "viewer-user", '
        yield b'"role": "auditor"}'

    r = small_client.post(
        "/api/v1/projects/alpha/roles",
        content=chunks(),
        headers={**world.headers("admin"), "Content-Type": "application/json"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["role"] == "auditor"


def _serve_once(app: FastAPI, path: str, query: bytes, headers: dict[str, str]) -> list[dict]:
    """One GET the way an ASGI server delivers it: no Content-Length, no body, and
    http.disconnect only once the response is complete."""
    messages: list[dict] = []

    async def run() -> None:
        done = asyncio.Event()
        requested = False

        async def receive() -> dict:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            messages.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                done.set()

        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query,
            "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        }  # fmt: skip
        await app(scope, receive, send)

    # In a thread of its own: a handler that spins without yielding cannot be timed out
    # from inside its event loop.
    worker = threading.Thread(target=asyncio.run, args=(run(),), daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), f"GET {path} did not finish"
    return messages


def test_streamed_response_to_a_request_without_content_length_finishes(
    app: FastAPI, world: World
) -> None:
    # Regression: the body-limit middleware answered the http.disconnect poll of streaming
    # responses with empty bodies forever, so GET /api/v1/audit/export never finished.
    messages = _serve_once(app, "/api/v1/audit/export", b"format=csv", world.headers("admin"))
    assert messages[0]["status"] == 200
    body = b"".join(m.get("body", b"") for m in messages[1:])
    assert b"role.grant" in body


@pytest.mark.parametrize("limit", [MAX_PAGE + 1, 10_000, 0, -1])
def test_page_size_outside_the_bounds_is_422(client: TestClient, world: World, limit: int) -> None:
    for path in ("/api/v1/audit", "/api/v1/projects/alpha/audit"):
        r = client.get(path, params={"limit": limit}, headers=world.headers("admin"))
        _assert_error(r, 422, "invalid_input")
        assert r.json()["errors"][0]["loc"] == ["query", "limit"]


def test_page_size_at_the_maximum_is_accepted(client: TestClient, world: World) -> None:
    r = client.get("/api/v1/audit", params={"limit": MAX_PAGE}, headers=world.headers("admin"))
    assert r.status_code == 200


def test_every_error_has_the_common_shape(client: TestClient, world: World) -> None:
    admin, viewer = world.headers("admin"), world.headers("viewer")
    _assert_error(client.get("/api/v1/me"), 401, "unauthenticated")
    _assert_error(
        client.post(
            "/api/v1/projects/alpha/roles",
            json={"principal": "viewer-user", "role": "owner"},
            headers=viewer,
        ),
        403,
        "permission_denied",
    )
    _assert_error(client.get("/api/v1/projects/beta", headers=viewer), 404, "not_found")
    _assert_error(client.get("/api/v1/no-such-route", headers=admin), 404, "not_found")
    _assert_error(client.put("/api/v1/me", headers=admin), 405, "method_not_allowed")
    _assert_error(
        client.post("/api/v1/projects", json={"name": "alpha"}, headers=admin), 409, "conflict"
    )
    _assert_error(
        client.post("/api/v1/projects", json={"name": "Not Valid!"}, headers=admin),
        422,
        "invalid_input",
    )
    _assert_error(
        client.post("/api/v1/projects", content=b"{not json", headers=admin), 422, "invalid_input"
    )


def test_request_id_is_the_servers_own(client: TestClient, world: World) -> None:
    # A client's X-Request-ID is never taken as the server's id (it could forge or collide
    # ids in the log); it is recorded apart (tests/api/test_clean_failures.py).
    r = client.get("/api/v1/health", headers={"X-Request-ID": "trace-42.a_b"})
    assert r.headers["x-request-id"] and r.headers["x-request-id"] != "trace-42.a_b"
    r = client.get("/api/v1/me", headers={"X-Request-ID": "trace-43"})
    assert r.headers["x-request-id"] != "trace-43"
    assert r.json()["request_id"] == r.headers["x-request-id"]
    for unsafe in ("has space", "x" * 65, "semi;colon"):
        r = client.get("/api/v1/health", headers={"X-Request-ID": unsafe})
        assert r.headers["x-request-id"] != unsafe
        assert r.headers["x-request-id"]
    first = client.get("/api/v1/health").headers["x-request-id"]
    assert first != client.get("/api/v1/health").headers["x-request-id"]


def test_request_id_reaches_the_audit_entry(client: TestClient, world: World) -> None:
    r = client.post(
        "/api/v1/projects/alpha/roles",
        json={"principal": "outsider", "role": "viewer"},
        headers={**world.headers("admin"), "X-Request-ID": "grant-1"},
    )
    assert r.status_code == 201
    rid = r.headers["x-request-id"]
    r = client.get("/api/v1/audit", params={"action": "role.grant"}, headers=world.headers("admin"))
    assert [e["request_id"] for e in r.json()["items"]][-1] == rid
    assert r.json()["items"][-1]["details"]["client_request_id"] == "grant-1"
