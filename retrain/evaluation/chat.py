"""Generation for evaluation runs: one chat completion through the SSRF guard, with its usage.

The judge client (``monitors.evaluators.connections``) returns only the reply text; a variant's
completion also needs its token counts, its latency and the prompt's own model parameters
(temperature, max_tokens, ...), so generation posts itself, with the same guard: the host is
resolved once, internal addresses are refused unless allowlisted, and the request goes to the
pinned address. A failed call becomes the row's error, never an exception.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from governance.core.urlguard import Allowlist, Resolver, SystemResolver, UrlRefused, check_url
from monitors.evaluators.connections import ChatTarget
from retrain.evaluation.generate import Completion

MAX_REPLY_BYTES = 1024 * 1024
USER_AGENT = "steward-evaluation/1"
# Prompt parameters passed on to the API; anything else a prompt stores stays with the prompt.
PASSED = frozenset({"temperature", "top_p", "max_tokens", "presence_penalty",
                    "frequency_penalty", "seed", "stop"})  # fmt: skip


def complete(
    target: ChatTarget, messages: list[dict[str, str]], parameters: Mapping[str, Any], *,
    allowlist: Sequence[str] = (), resolver: Resolver | None = None,
) -> Completion:  # fmt: skip
    """One completion of ``messages`` by ``target`` (its retries on throttling and 5xx)."""
    body = {"model": target.model, "messages": messages}
    body |= {k: v for k, v in parameters.items() if k in PASSED and v is not None}
    started = time.perf_counter()
    done = Completion(text=None, error="generation_failed")
    for attempt in range(target.max_retries + 1):
        done = _attempt(target, body, Allowlist(allowlist), resolver or SystemResolver())
        if done.error not in ("throttled", "server_error", "timeout", "unreachable"):
            break
        if attempt < target.max_retries:
            time.sleep(min(0.5 * 2**attempt, 8.0))
    elapsed = (time.perf_counter() - started) * 1000
    return Completion(text=done.text, error=done.error, latency_ms=elapsed,
                      prompt_tokens=done.prompt_tokens,
                      completion_tokens=done.completion_tokens)  # fmt: skip


def _attempt(
    target: ChatTarget, body: dict[str, Any], allow: Allowlist, resolver: Resolver
) -> Completion:
    import httpx

    url = target.base_url.rstrip("/") + "/chat/completions"
    try:
        dest = check_url(url, allow=allow, resolver=resolver)
    except UrlRefused:
        return Completion(text=None, error="url_refused")
    headers = {"Host": dest.host_header, "User-Agent": USER_AGENT}
    if target.api_key:
        headers["Authorization"] = f"Bearer {target.api_key}"
    extensions = {"sni_hostname": dest.host} if dest.scheme == "https" else {}
    try:
        # trust_env=False: a proxy from the environment would resolve the name again
        with httpx.Client(follow_redirects=False, trust_env=False,
                          timeout=httpx.Timeout(target.timeout_seconds)) as client:  # fmt: skip
            request = client.build_request("POST", dest.pinned_url, json=body, headers=headers,
                                           extensions=extensions)  # fmt: skip
            response = client.send(request, stream=True)
            try:
                raw, status = _bounded(response.iter_bytes()), response.status_code
            finally:
                response.close()
    except httpx.TimeoutException:
        return Completion(text=None, error="timeout")
    except httpx.HTTPError:
        return Completion(text=None, error="unreachable")
    return _parse(status, raw)


def _bounded(chunks: Any) -> bytes | None:
    raw = b""
    for chunk in chunks:
        raw += chunk
        if len(raw) > MAX_REPLY_BYTES:
            return None
    return raw


def _parse(status: int, raw: bytes | None) -> Completion:
    if status != 200:
        error = {401: "auth_failed", 403: "auth_failed", 429: "throttled"}.get(status)
        return Completion(text=None, error=error or ("server_error" if status >= 500 else
                                                      "rejected"))  # fmt: skip
    try:
        data = json.loads(raw or b"")
        text = data["choices"][0]["message"]["content"]
        usage = data.get("usage") or {}
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return Completion(text=None, error="bad_response")
    if not isinstance(text, str):
        return Completion(text=None, error="bad_response")
    return Completion(text=text, prompt_tokens=_count(usage, "prompt_tokens"),
                      completion_tokens=_count(usage, "completion_tokens"))  # fmt: skip


def _count(usage: Any, key: str) -> int | None:
    value = usage.get(key) if isinstance(usage, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
