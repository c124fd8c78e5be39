"""Calls to an OpenAI-compatible chat-completions API through the SSRF guard, with retries.

Every attempt resolves the host once, refuses internal addresses (unless allowlisted) and
connects to the pinned address. 429, 5xx, timeouts and connection failures are retried with
exponential backoff up to ``max_retries`` times; other failures are final. Failures raise
``JudgeCallError`` whose ``code`` becomes the Score's error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from governance.core.urlguard import Allowlist, Resolver, SystemResolver, UrlRefused, check_url

USER_AGENT = "steward-judge/1"
MAX_BACKOFF_SECONDS = 8.0
MAX_REPLY_BYTES = 1024 * 1024
_RETRY_CODES = frozenset(
    {"judge_throttled", "judge_server_error", "judge_timeout", "judge_unreachable"}
)


class JudgeCallError(Exception):
    """A judge call that produced no usable reply; ``code`` is stable."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True, kw_only=True, slots=True)
class ChatTarget:
    """Where and how to call: base URL (ending before /chat/completions), model, key, limits."""

    base_url: str
    model: str
    api_key: str | None
    timeout_seconds: float
    max_retries: int


def _status_error(status: int) -> JudgeCallError:
    if status in (401, 403):
        return JudgeCallError("judge_auth_failed")
    if status == 429:
        return JudgeCallError("judge_throttled")
    if status >= 500:
        return JudgeCallError("judge_server_error")
    return JudgeCallError("judge_rejected")


def _content(body: bytes) -> str:
    import json

    try:
        message = json.loads(body)["choices"][0]["message"]
        content: Any = message["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise JudgeCallError("judge_bad_response") from None
    if not isinstance(content, str):
        raise JudgeCallError("judge_bad_response")
    return content


def _read(response: httpx.Response) -> bytes:
    raw = b""
    for chunk in response.iter_bytes():
        raw += chunk
        if len(raw) > MAX_REPLY_BYTES:
            raise JudgeCallError("judge_bad_response")
    return raw


class OpenAIChat:
    """A chat-completions client bound to one target."""

    def __init__(
        self,
        target: ChatTarget,
        *,
        allowlist: Sequence[str] = (),
        resolver: Resolver | None = None,
        backoff_seconds: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.target = target
        self.allow = Allowlist(allowlist)
        self.resolver = resolver or SystemResolver()
        self.backoff = backoff_seconds
        self.sleep = sleep

    def complete(self, messages: list[dict[str, str]]) -> str:
        """The reply text to ``messages``, after at most ``max_retries`` retries."""
        body = {"model": self.target.model, "messages": messages, "temperature": 0}
        for attempt in range(self.target.max_retries + 1):
            try:
                return self._attempt(body)
            except JudgeCallError as exc:
                if exc.code not in _RETRY_CODES or attempt == self.target.max_retries:
                    raise
            self.sleep(min(self.backoff * 2**attempt, MAX_BACKOFF_SECONDS))
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(self, body: dict[str, Any]) -> str:
        url = self.target.base_url.rstrip("/") + "/chat/completions"
        try:
            dest = check_url(url, allow=self.allow, resolver=self.resolver)
        except UrlRefused:
            raise JudgeCallError("url_refused") from None
        headers = {"Host": dest.host_header, "User-Agent": USER_AGENT}
        if self.target.api_key:
            headers["Authorization"] = f"Bearer {self.target.api_key}"
        # Certificates are checked against the real name, not the pinned address.
        extensions = {"sni_hostname": dest.host} if dest.scheme == "https" else {}
        status, raw = self._post(dest.pinned_url, body, headers, extensions)
        if status != 200:
            raise _status_error(status)
        return _content(raw)

    def _post(
        self, url: str, body: dict[str, Any], headers: dict[str, str], extensions: dict[str, str]
    ) -> tuple[int, bytes]:
        timeout = httpx.Timeout(self.target.timeout_seconds)
        try:
            # trust_env=False: a proxy from the environment would resolve the name again.
            with httpx.Client(follow_redirects=False, trust_env=False, timeout=timeout) as client:
                request = client.build_request(
                    "POST", url, json=body, headers=headers, extensions=extensions
                )
                response = client.send(request, stream=True)
                try:
                    return response.status_code, _read(response)
                finally:
                    response.close()
        except httpx.TimeoutException:
            raise JudgeCallError("judge_timeout") from None
        except httpx.HTTPError:
            raise JudgeCallError("judge_unreachable") from None
