"""Each stable error code is its own SDK error; transport failures are ServerUnavailable."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from governance.core.settings import Settings
from steward.client import (
    Conflict,
    Forbidden,
    Invalid,
    InvalidState,
    NotFound,
    RetryPolicy,
    ServerUnavailable,
    Steward,
    Throttled,
    TooLarge,
    Unauthenticated,
)
from steward.client.errors import ServerError, error_class
from tests.builders import World
from tests.client.conftest import sdk
from tests.conftest import make_settings


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Two requests per second at most, with bursts of three; small bodies."""
    return make_settings(
        tmp_path / "home", db_url, rate_limit_per_minute=120, rate_limit_burst=3,
        max_body_bytes=4096,
    )  # fmt: skip


def test_each_error_code_raises_its_own_class(server: str, world: World) -> None:
    slow = RetryPolicy(attempts=5, backoff=0.01, max_wait=0.05)
    eng = sdk(server, world.tokens["ml-engineer"], retry=slow)
    with pytest.raises(NotFound) as missing:
        eng.endpoints.get("nope")
    assert (missing.value.status, missing.value.code) == (404, "not_found")
    assert missing.value.request_id and "nope" in missing.value.detail
    with pytest.raises(Forbidden):
        sdk(server, world.tokens["viewer"], retry=slow).endpoints.create("other")
    with pytest.raises(Unauthenticated):
        sdk(server, "stw_not-a-token", retry=slow).endpoints.list()
    eng.endpoints.create("twice")
    with pytest.raises(Conflict) as taken:
        eng.endpoints.create("twice")
    assert taken.value.status == 409
    with pytest.raises(Invalid) as bad:
        eng.monitors.apply("name: m\ntarget: {name: twice}\nwindow: {lookback: soon}\n")
    assert bad.value.field_errors and bad.value.field_errors[0].loc[:2] == ("m", "window")
    with pytest.raises(TooLarge):
        eng.endpoints.create("x" * 10, description="d" * 5000)


def test_unknown_codes_map_by_status() -> None:
    assert error_class("invalid_spec", 422) is Invalid
    assert error_class("step_failed", 409) is Conflict
    assert error_class("invalid_state", 409) is InvalidState
    assert error_class("internal", 500) is ServerError and error_class("x", 502) is ServerError


def test_throttled_requests_wait_as_the_server_says_then_succeed(server: str, world: World) -> None:
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        import time

        time.sleep(seconds)

    steward = sdk(server, world.tokens["viewer"], retry=RetryPolicy(attempts=6), sleep=sleep)
    for _ in range(5):
        steward.endpoints.list()
    assert waits and all(w >= 1 for w in waits)  # Retry-After, whole seconds
    once = sdk(server, world.tokens["viewer"], retry=RetryPolicy(attempts=1))
    with pytest.raises(Throttled) as refused:
        for _ in range(5):
            once.endpoints.list()
    assert refused.value.status == 429 and refused.value.retry_after is not None


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_server_that_is_down_is_server_unavailable_after_retries() -> None:
    waits: list[float] = []
    steward = Steward(
        f"http://127.0.0.1:{_closed_port()}", "t", project="alpha",
        retry=RetryPolicy(attempts=3, backoff=0.01), sleep=waits.append,
    )  # fmt: skip
    with pytest.raises(ServerUnavailable) as down:
        steward.endpoints.list()
    assert len(waits) == 2 and down.value.status is None
    assert "cannot reach the Steward server" in str(down.value)
    assert not isinstance(down.value, httpx.HTTPError)


class Flaky(httpx.BaseTransport):
    """A proxy in front of the real server that answers the first requests 503 itself."""

    def __init__(self, failures: int) -> None:
        self.inner, self.failures, self.seen = httpx.HTTPTransport(), failures, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen += 1
        if self.seen <= self.failures:
            body = {"code": "unavailable", "detail": "the database is unavailable; retry later"}
            return httpx.Response(503, json=body, headers={"Retry-After": "0"})
        return self.inner.handle_request(request)


def test_503_is_retried_and_surfaces_as_server_unavailable_when_it_persists(
    server: str, world: World
) -> None:
    token = world.tokens["viewer"]
    flaky = Flaky(failures=2)
    steward = Steward(server, token, project="alpha", transport=flaky, sleep=lambda s: None)
    assert steward.endpoints.list() == [] and flaky.seen == 3
    down = Steward(server, token, project="alpha", transport=Flaky(failures=9),
                   retry=RetryPolicy(attempts=3), sleep=lambda s: None)  # fmt: skip
    with pytest.raises(ServerUnavailable) as refused:
        down.endpoints.list()
    assert refused.value.status == 503 and "database" in refused.value.detail
