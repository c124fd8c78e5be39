"""Loopback servers for the alert tests: a recording webhook receiver and a canary listener."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from governance.core.clock import ManualClock
from governance.core.secrets import SecretBox
from steward.api.deps import Services

T0 = datetime(2026, 3, 1, tzinfo=UTC)
SECRET = "s3cret-s3cret-s3cret"


@dataclass
class Received:
    """One request a test server saw."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Hook:
    """A webhook receiver on loopback that answers with the queued statuses (then 200)."""

    server: ThreadingHTTPServer
    statuses: list[int] = field(default_factory=list)
    location: str = ""
    received: list[Received] = field(default_factory=list)

    @property
    def port(self) -> int:
        """The listening port."""
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        """Where to post."""
        return f"http://127.0.0.1:{self.port}/hook"


def _serve(hook_factory: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), hook_factory)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def hook() -> Iterator[Hook]:
    """A recording webhook receiver."""
    state: dict[str, Hook] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            target = state["hook"]
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            target.received.append(Received(self.path, dict(self.headers.items()), body))
            status = target.statuses.pop(0) if target.statuses else 200
            self.send_response(status)
            if target.location:
                self.send_header("Location", target.location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = _serve(Handler)
    state["hook"] = Hook(server=server)
    yield state["hook"]
    server.shutdown()
    server.server_close()


@dataclass
class Canary:
    """A bare TCP listener on loopback that counts every connection attempt it accepts."""

    sock: socket.socket
    connections: int = 0

    @property
    def port(self) -> int:
        """The listening port."""
        return int(self.sock.getsockname()[1])


@pytest.fixture
def canary() -> Iterator[Canary]:
    """A listener no webhook may ever reach."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.settimeout(0.2)
    found = Canary(sock=sock)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except (TimeoutError, OSError):
                continue
            found.connections += 1
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield found
    stop.set()
    thread.join(timeout=2)
    sock.close()


@pytest.fixture
def clock() -> ManualClock:
    """A clock at T0."""
    return ManualClock(T0)


@pytest.fixture
def box(services: Services) -> SecretBox:
    """The app's secrets box (its key file under the test home)."""
    return services.secrets
