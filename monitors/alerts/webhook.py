"""Signed webhook delivery over a pinned, redirect-free connection."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

import httpx

from governance.core.clock import Clock, SystemClock
from governance.core.settings import Settings
from governance.core.urlguard import Allowlist, Resolver, SystemResolver, UrlRefused, check_url
from monitors.alerts.schemas import ChannelTarget

SIGNATURE_HEADER = "X-Steward-Signature"
TIMESTAMP_HEADER = "X-Steward-Timestamp"
DELIVERY_HEADER = "X-Steward-Delivery"
EVENT_HEADER = "X-Steward-Event"
USER_AGENT = "steward-webhook/1"
_RETRY_STATUS = frozenset({408, 425, 429})


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` HMAC-SHA256 of ``"<timestamp>." + body`` (the timestamp stops replays)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify(
    secret: str,
    body: bytes,
    *,
    timestamp: str,
    signature: str,
    now: datetime,
    tolerance: float = 300.0,
) -> bool:
    """Check a received webhook: a valid MAC and a timestamp within ``tolerance`` seconds."""
    try:
        age = abs(now.timestamp() - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance and hmac.compare_digest(sign(secret, timestamp, body), signature)


@dataclass(frozen=True, kw_only=True, slots=True)
class SendResult:
    """How one attempt went."""

    ok: bool
    status: int | None = None
    error: str | None = None
    retry: bool = False


class Sender(Protocol):
    """Delivers one notification body to a channel."""

    def send(self, target: ChannelTarget, body: bytes, *, delivery: UUID, event: str) -> SendResult:
        """Attempt delivery once; never raises for network or HTTP failures."""
        ...


class WebhookSender:
    """POSTs signed JSON to a webhook, connecting only to the address checked by the guard."""

    def __init__(
        self,
        *,
        allowlist: Sequence[str] = (),
        resolver: Resolver | None = None,
        timeout: float = 10.0,
        clock: Clock | None = None,
    ) -> None:
        self.allow = Allowlist(allowlist)
        self.resolver = resolver or SystemResolver()
        self.timeout = timeout
        self.clock = clock or SystemClock()

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock | None = None) -> WebhookSender:
        """A sender honouring ``STEWARD_WEBHOOK_ALLOWLIST``."""
        return cls(allowlist=settings.webhook_allowlist, clock=clock)

    def send(self, target: ChannelTarget, body: bytes, *, delivery: UUID, event: str) -> SendResult:
        """Check the URL, sign the body, post it once; redirects count as failures."""
        try:
            dest = check_url(target.url, allow=self.allow, resolver=self.resolver)
        except UrlRefused as exc:
            return SendResult(ok=False, error=exc.detail, retry=False)
        stamp = str(int(self.clock.now().timestamp()))
        headers = {
            "Host": dest.host_header,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: sign(target.secret.get_secret_value(), stamp, body),
            DELIVERY_HEADER: str(delivery),
            EVENT_HEADER: event,
        }
        # Certificates are checked against the real name, not the pinned address.
        extensions = {"sni_hostname": dest.host} if dest.scheme == "https" else {}
        return self._post(dest.pinned_url, body, headers, extensions)

    def _post(
        self, url: str, body: bytes, headers: dict[str, str], extensions: dict[str, str]
    ) -> SendResult:
        try:
            # trust_env=False: a proxy from the environment would resolve the name again.
            with httpx.Client(follow_redirects=False, trust_env=False, timeout=self.timeout) as c:
                request = c.build_request(
                    "POST", url, content=body, headers=headers, extensions=extensions
                )
                response = c.send(request, stream=True)
                response.close()
        except httpx.HTTPError as exc:
            return SendResult(
                ok=False, error=f"connection failed: {type(exc).__name__}", retry=True
            )
        status = response.status_code
        if 200 <= status < 300:
            return SendResult(ok=True, status=status)
        if 300 <= status < 400:
            return SendResult(ok=False, status=status, error="redirect not followed", retry=False)
        retry = status in _RETRY_STATUS or status >= 500
        return SendResult(ok=False, status=status, error=f"HTTP {status}", retry=retry)
