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
from monitors.alerts.schemas import AlertPolicy, ChannelTarget
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
    target: ChannelTarget | None


def encode(payload: dict[str, object]) -> bytes:
    """The exact bytes that are signed and sent."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def deliver_pending(
    db: Database,
    *,
    sender: Sender,
    policy: AlertPolicy = _DEFAULT_POLICY,
    clock: Clock = _WALL,
    limit: int = 50,
    lease: timedelta = timedelta(minutes=5),
) -> DeliveryReport:
    """Send every due notification once; failures are retried with exponential backoff.

    Deliveries are leased while they are in flight, so two daemons never send one twice at the
    same time; a sender that dies mid-way lets the lease lapse and the delivery is retried.
    """
    counts = {"delivered": 0, "retrying": 0, "failed": 0}
    for claim in _claim(db, clock, limit, lease):
        if claim.target is None:
            result = SendResult(ok=False, error="channel deleted or disabled", retry=False)
        else:
            result = sender.send(claim.target, claim.body, delivery=claim.id, event=claim.event)
        counts[_record(db, claim.id, result, policy, clock)] += 1
    return DeliveryReport(**counts)


def _claim(db: Database, clock: Clock, limit: int, lease: timedelta) -> list[_Claim]:
    now = clock.now()
    with db.transaction() as session:
        store: AlertStore = SqlAlertStore(session)
        return [
            _Claim(
                id=due.id,
                event=str(due.event),
                body=encode(due.payload),
                target=store.target(due.channel_id),
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
