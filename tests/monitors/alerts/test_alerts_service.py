"""Alerts: open, update, cooldown, acknowledge, resolve, channels, signed delivery with retries."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from governance.audit.schemas import AuditFilter
from governance.audit.service import list_audit, verify_audit
from governance.core.clock import ManualClock
from governance.core.db import Database
from governance.core.errors import Conflict, InvalidState
from governance.core.principal import Principal
from governance.core.secrets import SecretBox
from governance.core.urlguard import UrlRefused
from monitors.alerts import service
from monitors.alerts.delivery import deliver_pending
from monitors.alerts.schemas import (
    AlertOutcome,
    AlertPolicy,
    AlertState,
    Breach,
    ChannelCreate,
    ChannelUpdate,
    DeliveryState,
    Severity,
)
from monitors.alerts.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookSender, verify
from tests.monitors.alerts.conftest import SECRET, Hook

USER = Principal(id=None, name="ml-engineer-user")
POLICY = AlertPolicy(cooldown=timedelta(hours=2), backoff=timedelta(seconds=30), max_attempts=3)


def _breach(
    db: Database,
    clock: ManualClock,
    severity: Severity = Severity.warning,
    signal: str = "drift:age",
    channels: list[str] | None = None,
) -> AlertOutcome:
    with db.transaction() as session:
        return service.raise_or_update_alert(
            session,
            project="alpha",
            channels=channels,
            policy=POLICY,
            clock=clock,
            breach=Breach(
                monitor="income-drift",
                signal=signal,
                severity=severity,
                value=0.3,
                threshold=0.1,
                window_end=clock.now(),
            ),
        )


def _channel(db: Database, box: SecretBox, url: str, name: str = "ops", **kw: object) -> None:
    data = ChannelCreate(name=name, url=url, secret=SECRET, **kw)  # type: ignore[arg-type]
    service.create_channel(
        db, project="alpha", data=data, actor=USER, secrets=box, allowlist=["127.0.0.1"]
    )


def _sender(clock: ManualClock) -> WebhookSender:
    return WebhookSender(allowlist=["127.0.0.1"], clock=clock, timeout=5)


def test_a_repeated_breach_updates_the_open_alert(db, world, clock) -> None:
    first = _breach(db, clock)
    clock.advance(timedelta(hours=1))
    second = _breach(db, clock, Severity.critical)
    assert first.opened and not second.opened
    assert second.alert.id == first.alert.id
    assert (second.alert.breach_count, second.alert.severity) == (2, Severity.critical)
    other = _breach(db, clock, signal="drift:hours")
    assert other.opened and other.alert.id != first.alert.id
    assert len(service.list_alerts(db, project="alpha")) == 2
    actions = [
        e.action
        for e in list_audit(
            db, flt=AuditFilter(target=f"alert:{first.alert.id}"), cursor=None, limit=10
        ).items
    ]
    assert actions == ["alert.open", "alert.update"]


def test_cooldown_and_acknowledgement_limit_notifications(
    db, box, world, clock, hook: Hook
) -> None:
    _channel(db, box, hook.url)
    assert _breach(db, clock).notified == 1
    clock.advance(timedelta(hours=1))
    assert _breach(db, clock).notified == 0  # inside the cooldown
    clock.advance(timedelta(hours=1))
    outcome = _breach(db, clock)
    assert outcome.notified == 1  # cooldown over
    service.acknowledge_alert(
        db, project="alpha", alert_id=outcome.alert.id, actor=USER, clock=clock
    )
    clock.advance(timedelta(hours=5))
    assert _breach(db, clock).notified == 0  # acknowledged: repeats are not news
    assert _breach(db, clock, Severity.critical).notified == 1  # a worse breach is


def test_acknowledge_and_resolve_are_audited_and_reopen_afresh(db, services, world, clock) -> None:
    alert = _breach(db, clock).alert
    acked = service.acknowledge_alert(
        db, project="alpha", alert_id=alert.id, actor=USER, note="looking", clock=clock
    )
    assert (
        acked.state == AlertState.acknowledged and acked.acknowledged_by == "user:ml-engineer-user"
    )
    with pytest.raises(InvalidState):
        service.acknowledge_alert(db, project="alpha", alert_id=alert.id, actor=USER, clock=clock)
    done = service.resolve_alert(db, project="alpha", alert_id=alert.id, actor=USER, clock=clock)
    assert done.state == AlertState.resolved and done.note == "looking"
    with pytest.raises(InvalidState):
        service.resolve_alert(db, project="alpha", alert_id=alert.id, actor=USER, clock=clock)
    again = _breach(db, clock)
    assert again.opened and again.alert.id != alert.id
    entries = list_audit(
        db, flt=AuditFilter(target=f"alert:{alert.id}"), cursor=None, limit=10
    ).items
    assert [e.action for e in entries] == ["alert.open", "alert.acknowledge", "alert.resolve"]
    assert verify_audit(db, keys=services.signer).ok


def test_channels_crud_never_show_the_secret(db, box, world, clock) -> None:
    _channel(db, box, "https://hooks.example.com/steward", min_severity=Severity.error)
    with pytest.raises(Conflict):
        _channel(db, box, "https://hooks.example.com/other")
    (listed,) = service.list_channels(db, project="alpha")
    assert "secret" not in listed.model_dump() and listed.min_severity == Severity.error
    changed = service.update_channel(
        db, project="alpha", name="ops", actor=USER, data=ChannelUpdate(enabled=False),
        secrets=box, clock=clock,
    )  # fmt: skip
    assert not changed.enabled
    with pytest.raises(UrlRefused):
        service.update_channel(
            db,
            project="alpha",
            name="ops",
            actor=USER,
            data=ChannelUpdate(url="http://169.254.169.254/latest"),
            secrets=box,
            clock=clock,
        )
    service.delete_channel(db, project="alpha", name="ops", actor=USER)
    assert service.list_channels(db, project="alpha") == []
    actions = {
        e.action
        for e in list_audit(db, flt=AuditFilter(target="channel:ops"), cursor=None, limit=10).items
    }
    assert actions == {"channel.create", "channel.update", "channel.delete"}
    for url in (
        "http://10.0.0.1/x",
        "http://[::1]/x",
        "http://2130706433/x",
        "http://metadata.google.internal/",
    ):
        with pytest.raises(UrlRefused):
            service.create_channel(
                db,
                project="alpha",
                actor=USER,
                data=ChannelCreate(name="bad", url=url, secret=SECRET),
                secrets=box,
            )


def test_severity_threshold_and_channel_selection(db, box, world, clock, hook: Hook) -> None:
    _channel(db, box, hook.url, name="pager", min_severity=Severity.critical)
    _channel(db, box, hook.url, name="chat")
    assert _breach(db, clock, signal="a").notified == 1  # chat only
    assert _breach(db, clock, Severity.critical, signal="b").notified == 2
    assert _breach(db, clock, Severity.critical, signal="c", channels=["pager"]).notified == 1


def test_webhook_is_signed_and_logged(db, box, world, clock, hook: Hook) -> None:
    _channel(db, box, hook.url)
    alert = _breach(db, clock).alert
    report = deliver_pending(db, secrets=box, sender=_sender(clock), policy=POLICY, clock=clock)
    assert report.delivered == 1
    (got,) = hook.received
    assert got.path == "/hook"
    assert verify(
        SECRET,
        got.body,
        timestamp=got.headers[TIMESTAMP_HEADER],
        signature=got.headers[SIGNATURE_HEADER],
        now=clock.now(),
    )
    assert not verify(
        SECRET,
        got.body + b" ",
        timestamp=got.headers[TIMESTAMP_HEADER],
        signature=got.headers[SIGNATURE_HEADER],
        now=clock.now(),
    )
    assert not verify(
        SECRET,
        got.body,
        timestamp=got.headers[TIMESTAMP_HEADER],
        signature=got.headers[SIGNATURE_HEADER],
        now=clock.now() + timedelta(hours=1),
    )
    payload = json.loads(got.body)
    assert payload["event"] == "opened" and payload["alert"]["id"] == str(alert.id)
    assert payload["alert"]["severity"] == "warning"
    (logged,) = service.list_deliveries(db, project="alpha", alert_id=alert.id)
    assert (logged.state, logged.attempts, logged.last_status) == (DeliveryState.delivered, 1, 200)
    assert deliver_pending(db, secrets=box, sender=_sender(clock), clock=clock).attempted == 0


def test_failures_retry_with_exponential_backoff(db, box, world, clock, hook: Hook) -> None:
    _channel(db, box, hook.url)
    alert = _breach(db, clock).alert
    hook.statuses = [503, 500, 500, 500]
    sender = _sender(clock)
    assert deliver_pending(db, secrets=box, sender=sender, policy=POLICY, clock=clock).retrying == 1
    assert (
        deliver_pending(db, secrets=box, sender=sender, policy=POLICY, clock=clock).attempted == 0
    )  # not due
    clock.advance(timedelta(seconds=30))
    assert deliver_pending(db, secrets=box, sender=sender, policy=POLICY, clock=clock).retrying == 1
    clock.advance(timedelta(seconds=59))
    assert (
        deliver_pending(db, secrets=box, sender=sender, policy=POLICY, clock=clock).attempted == 0
    )  # 60 s now
    clock.advance(timedelta(seconds=1))
    assert deliver_pending(db, secrets=box, sender=sender, policy=POLICY, clock=clock).failed == 1
    (logged,) = service.list_deliveries(db, project="alpha", alert_id=alert.id)
    assert (logged.state, logged.attempts, logged.last_error) == (
        DeliveryState.failed,
        3,
        "HTTP 500",
    )
    assert len(hook.received) == 3


def test_resolution_is_notified(db, box, world, clock, hook: Hook) -> None:
    _channel(db, box, hook.url)
    alert = _breach(db, clock).alert
    service.resolve_alert(db, project="alpha", alert_id=alert.id, actor=USER, clock=clock)
    assert deliver_pending(db, secrets=box, sender=_sender(clock), clock=clock).delivered == 2
    assert [json.loads(r.body)["event"] for r in hook.received] == ["opened", "resolved"]


def test_non_finite_numbers_never_break_the_run(db, box, world, clock, hook: Hook) -> None:
    _channel(db, box, hook.url)
    with db.transaction() as session:
        outcome = service.raise_or_update_alert(
            session, project="alpha", clock=clock,
            breach=Breach(monitor="m", signal="s", value=float("nan"), threshold=float("inf"),
                          details={"psi": float("-inf"), "per_feature": [1.0, float("nan")]}),
        )  # fmt: skip
    assert outcome.alert.value is None and outcome.alert.details["per_feature"] == [1.0, None]
    assert deliver_pending(db, secrets=box, sender=_sender(clock), clock=clock).delivered == 1
    assert json.loads(hook.received[0].body)["alert"]["threshold"] is None
