"""Rollout tests: a small rollback limit and the loopback allowed for webhooks."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
import uvicorn
from fastapi import FastAPI

from governance.core.settings import Settings
from steward.demo.data import load_adult
from tests.conftest import make_settings

MIN_REQUESTS = 5


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Roll back after 5 requests of which half failed; webhooks may post to 127.0.0.1."""
    return make_settings(
        tmp_path / "home", db_url, rollback_min_requests=MIN_REQUESTS, rollback_error_rate=0.5,
        webhook_allowlist=["127.0.0.1"],
    )  # fmt: skip


@pytest.fixture(scope="session")
def adult() -> pa.Table:
    return load_adult().slice(0, 3000)


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    """The real app served by uvicorn on a free local port, in a background thread."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)
