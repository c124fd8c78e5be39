"""A local webhook receiver that checks Steward's HMAC signature on every notification."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from governance.core.clock import utcnow
from monitors.alerts.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify


@dataclass(kw_only=True)
class Received:
    """One notification as received, and whether its signature was valid."""

    valid: bool
    event: str
    body: dict[str, Any] = field(default_factory=dict)


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 (random port) keeping every POST it receives."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.received: list[Received] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.accept(body, dict(self.headers.items()))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Stay quiet: the demo prints its own summary."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Where to post."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/steward"

    def accept(self, body: bytes, headers: dict[str, str]) -> None:
        """Check the signature and keep the notification."""
        valid = verify(
            self.secret,
            body,
            timestamp=headers.get(TIMESTAMP_HEADER, ""),
            signature=headers.get(SIGNATURE_HEADER, ""),
            now=utcnow(),
        )
        try:
            document = json.loads(body)
        except ValueError:
            document = {}
        self.received.append(
            Received(valid=valid, event=headers.get("X-Steward-Event", ""), body=document)
        )

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
