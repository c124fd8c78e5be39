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
from monitors.alerts.schemas import AlertPolicy, ChannelTarget, DeliveryState
from monitors.alerts.store import SqlAlertStore, apply
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
        store = SqlAlertStore(session)
        claims = []
        for row in store.due(now, limit):
            row.lease_until = now + lease
            target = store.target(row.channel_id)
            claims.append(
                _Claim(id=row.id, event=row.event, body=encode(row.payload), target=target)
            )
        return claims


def _record(
    db: Database, delivery_id: UUID, result: SendResult, policy: AlertPolicy, clock: Clock
) -> str:
    now = clock.now()
    with db.transaction() as session:
        row = SqlAlertStore(session).delivery_row(delivery_id)
        assert row is not None
        attempts = row.attempts + 1
        apply(row, attempts=attempts, lease_until=None, last_status=result.status,
              last_error=None if result.ok else (result.error or "failed")[:500])  # fmt: skip
        if result.ok:
            apply(row, state=str(DeliveryState.delivered), delivered_at=now)
            return "delivered"
        if result.retry and attempts < policy.max_attempts:
            row.next_attempt_at = now + policy.retry_delay(attempts)
            return "retrying"
        row.state = str(DeliveryState.failed)
        log.warning("webhook delivery %s to %s failed: %s", row.id, row.channel, row.last_error)
        return "failed"
