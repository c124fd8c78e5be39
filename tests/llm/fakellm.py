"""A local OpenAI-compatible chat-completions server for tests (no network, no mocks).

Usage::

    from tests.llm.fakellm import Reply, fake_llm, judge_by_rules

    def handler(request: dict) -> Reply | str:
        # ``request`` is the JSON body the client posted (model, messages, temperature, ...).
        return '{"score": 4, "reason": "fine"}'

    with fake_llm(handler) as llm:
        llm.url        # "http://127.0.0.1:<port>/v1": the base URL a connection points at
        llm.key        # the API key the server expects ("Authorization: Bearer <key>")
        llm.requests   # every JSON body received so far, in order (also for rejected calls)

The server is a stdlib ``ThreadingHTTPServer`` on 127.0.0.1, port 0 (a free port), served from a
daemon thread while the ``with`` block runs. It answers ``POST /v1/chat/completions`` and
``POST /chat/completions`` with the OpenAI response shape::

    {"id": "chatcmpl-fake-N", "object": "chat.completion", "created": 0, "model": <request model>,
     "choices": [{"index": 0, "message": {"role": "assistant", "content": <text>},
                  "finish_reason": "stop"}],
     "usage": {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}}

(token counts are whitespace word counts of the prompt messages and of the reply).

The handler decides every answer. Return a plain ``str`` for a normal completion, or a
``Reply`` for the unhappy paths:

- ``Reply(text="...", delay=2.0)``: sleep two seconds first (a reply slower than a timeout);
- ``Reply(status=500)`` / ``Reply(status=429)``: an HTTP error with an OpenAI-style error body;
- ``Reply(raw_body=b"not json")``: send these bytes verbatim (status 200 unless ``status``);
- ``Reply(text="...", finish_reason="length")``: a truncated completion.

A request whose ``Authorization`` header is not ``Bearer <key>`` gets 401 without calling the
handler (it is still recorded in ``requests``). Other paths get 404; bodies that are not JSON 400.

``judge_by_rules(score_of)`` is a ready handler for Steward's judges: it finds the text under
judgement (inside ``<response>...</response>`` in the last user message, as Steward's judge
prompts send it, or the whole user message when that section is absent), calls
``score_of(text)`` and answers with the JSON object the judge parser expects:
``{"score": <int>, "reason": "rule"}``.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_PATHS = frozenset({"/v1/chat/completions", "/chat/completions"})


@dataclass(frozen=True, kw_only=True)
class Reply:
    """One scripted answer: text, or an HTTP error, a raw body, a delay."""

    text: str = ""
    delay: float = 0.0
    status: int = 200
    raw_body: bytes | None = None
    finish_reason: str = "stop"


Handler = Callable[[dict[str, Any]], "Reply | str"]


@dataclass
class FakeLLM:
    """A running fake server: where it listens, what key it wants, what it received."""

    url: str
    key: str
    requests: list[dict[str, Any]] = field(default_factory=list)


def _words(text: str) -> int:
    return len(text.split())


def _completion(request: dict[str, Any], reply: Reply, serial: int) -> dict[str, Any]:
    messages = request.get("messages") or []
    prompt = sum(_words(str(m.get("content", ""))) for m in messages if isinstance(m, dict))
    done = _words(reply.text)
    return {
        "id": f"chatcmpl-fake-{serial}",
        "object": "chat.completion",
        "created": 0,
        "model": str(request.get("model", "fake-model")),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.text},
                "finish_reason": reply.finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": done,
            "total_tokens": prompt + done,
        },
    }


def _make_handler(state: FakeLLM, handler: Handler, lock: threading.Lock) -> type:
    class _Http(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # silence the test output
            return

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                pass

        def _error(self, status: int, message: str) -> None:
            body = {"error": {"message": message, "type": "fake_error", "code": status}}
            self._send(status, json.dumps(body).encode())

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path.split("?", 1)[0] not in _PATHS:
                self._error(404, "no such route")
                return
            try:
                request = json.loads(raw)
            except ValueError:
                self._error(400, "body is not JSON")
                return
            with lock:
                state.requests.append(request)
                serial = len(state.requests)
            if self.headers.get("Authorization") != f"Bearer {state.key}":
                self._error(401, "invalid api key")
                return
            answer = handler(request)
            reply = Reply(text=answer) if isinstance(answer, str) else answer
            if reply.delay:
                time.sleep(reply.delay)
            if reply.raw_body is not None:
                self._send(reply.status, reply.raw_body)
            elif reply.status != 200:
                self._error(reply.status, "scripted failure")
            else:
                self._send(200, json.dumps(_completion(request, reply, serial)).encode())

    return _Http


@contextmanager
def fake_llm(handler: Handler, *, key: str | None = None) -> Iterator[FakeLLM]:
    """Serve ``handler`` as an OpenAI-compatible API on 127.0.0.1 for the ``with`` block."""
    lock = threading.Lock()
    state = FakeLLM(url="", key=key or f"sk-fake-{secrets.token_hex(8)}")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(state, handler, lock))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


_RESPONSE_SECTION = re.compile(r"<response>\n?(.*?)\n?</response>", re.DOTALL | re.IGNORECASE)


def judged_text(request: dict[str, Any]) -> str:
    """The text a judge prompt asks about (its <response> section, else the user message)."""
    users = [m for m in request.get("messages") or [] if m.get("role") == "user"]
    content = str(users[-1].get("content", "")) if users else ""
    found = _RESPONSE_SECTION.search(content)
    return found.group(1) if found else content


def judge_by_rules(score_of: Callable[[str], int]) -> Handler:
    """A handler answering judge prompts: ``{"score": score_of(response), "reason": "rule"}``."""

    def handle(request: dict[str, Any]) -> Reply | str:
        return json.dumps({"score": score_of(judged_text(request)), "reason": "rule"})

    return handle
