"""Work through the notification outbox: claim due deliveries, send, record, back off."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Final
from uuid import UUID

from governance.core.clock import Clock, SystemClock
from governance.core.db import Database
from governance.core.errors import StewardError
from governance.core.secrets import SecretBox, SecretUnreadable, is_sealed
from monitors.alerts.schemas import AlertPolicy, ChannelTarget, SealedChannel
from monitors.alerts.service import open_channel_secret
from monitors.alerts.store import AlertStore, SqlAlertStore
from monitors.alerts.webhook import Sender, SendResult

log = logging.getLogger(__name__)

_WALL: Final = SystemClock()
_DEFAULT_POLICY: Final = AlertPolicy()


@dataclass(frozen=True, kw_only=True, slots=True)
class DeliveryReport:
    """What one pass over the outbox did."""

    delivered: int = 0
    retrying: int = 0
    failed: int = 0

    @property
    def attempted(self) -> int:
        """Deliveries attempted in this pass."""
        return self.delivered + self.retrying + self.failed


@dataclass(frozen=True, kw_only=True, slots=True)
class _Claim:
    id: UUID
    event: str
    body: bytes
    channel: SealedChannel | None


def encode(payload: dict[str, object]) -> bytes:
    """The exact bytes that are signed and sent."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def deliver_pending(
    db: Database,
    *,
    sender: Sender,
    secrets: SecretBox,
    policy: AlertPolicy = _DEFAULT_POLICY,
    clock: Clock = _WALL,
    limit: int = 50,
    lease: timedelta = timedelta(minutes=5),
) -> DeliveryReport:
    """Send every due notification once; failures are retried with exponential backoff.

    Deliveries are leased while they are in flight, so two daemons never send one twice at the
    same time; a sender that dies mid-way lets the lease lapse and the delivery is retried. A
    channel secret that cannot be opened (key missing, sealed elsewhere) fails its delivery
    with the reason, never the pass.
    """
    counts = {"delivered": 0, "retrying": 0, "failed": 0}
    for claim in _claim(db, clock, limit, lease):
        target = _unseal(claim.channel, secrets)
        if isinstance(target, SendResult):
            result = target
        else:
            result = sender.send(target, claim.body, delivery=claim.id, event=claim.event)
        counts[_record(db, claim.id, result, policy, clock)] += 1
    return DeliveryReport(**counts)


def _unseal(channel: SealedChannel | None, secrets: SecretBox) -> ChannelTarget | SendResult:
    """The target to send to, or why the delivery cannot be attempted."""
    if channel is None:
        return SendResult(ok=False, error="channel deleted or disabled", retry=False)
    try:
        return open_channel_secret(secrets, channel)
    except StewardError as exc:
        # A missing or unreadable key file, or a secret still to be sealed by `steward db
        # upgrade`, is for the operator to fix: retry on the schedule. A sealed secret that does
        # not open (another key, altered, moved from another row) needs a new secret.
        retry = not (isinstance(exc, SecretUnreadable) and is_sealed(channel.stored_secret))
        log.error("webhook channel %s/%s: %s", channel.project, channel.name, exc.detail)
        return SendResult(ok=False, error=f"channel secret: {exc.detail}", retry=retry)


def _claim(db: Database, clock: Clock, limit: int, lease: timedelta) -> list[_Claim]:
    now = clock.now()
    with db.transaction() as session:
        store: AlertStore = SqlAlertStore(session)
        return [
            _Claim(
                id=due.id,
                event=str(due.event),
                body=encode(due.payload),
                channel=store.target(due.channel_id),
            )
            for due in store.claim_due(now, limit, lease_until=now + lease)
        ]


def _record(
    db: Database, delivery_id: UUID, result: SendResult, policy: AlertPolicy, clock: Clock
) -> str:
    now = clock.now()
    error = None if result.ok else (result.error or "failed")[:500]
    with db.transaction() as session:
        store: AlertStore = SqlAlertStore(session)
        sent = store.record_delivery_attempt(delivery_id, status=result.status, error=error)
        if result.ok:
            store.mark_delivered(delivery_id, now)
            return "delivered"
        if result.retry and sent.attempts < policy.max_attempts:
            store.schedule_retry(delivery_id, now + policy.retry_delay(sent.attempts))
            return "retrying"
        store.mark_failed(delivery_id)
        log.warning("webhook delivery %s to %s failed: %s", sent.id, sent.channel, sent.last_error)
        return "failed"
