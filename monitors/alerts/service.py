"""Use cases of alerts and notification channels; each owns its transaction (or joins one)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final
from uuid import UUID

from sqlalchemy.orm import Session

from governance.audit.service import record_audit
from governance.core.clock import Clock, SystemClock, isoformat
from governance.core.db import Database
from governance.core.errors import Conflict, InvalidState, NotFound
from governance.core.ids import new_id
from governance.core.principal import SYSTEM, Principal
from governance.core.secrets import SecretBox, SecretUnreadable, is_sealed
from governance.core.urlguard import Allowlist, check_static
from monitors.alerts.rules import cooldown_of, evaluate, monitor_rule
from monitors.alerts.schemas import (
    Alert,
    AlertEvent,
    AlertOutcome,
    AlertPolicy,
    AlertRule,
    AlertState,
    Breach,
    Channel,
    ChannelCreate,
    ChannelTarget,
    ChannelUpdate,
    Delivery,
    RuleVerdict,
    SealedChannel,
    Severity,
)
from monitors.alerts.store import AlertStore, SqlAlertStore

log = logging.getLogger(__name__)
_WALL: Final = SystemClock()
_DEFAULT_POLICY: Final = AlertPolicy()
_CHANNELS = "channels"  # key in an alert's details: the channel names chosen by its monitor
_RULE = "rule"  # key in an alert's details: how the latest windows fared against the rule
_LEGACY = "plain:"  # how migration 0006 marked the secrets stored in plain text before it


def raise_or_update_alert(
    session: Session,
    *,
    project: str,
    breach: Breach,
    channels: Sequence[str] | None = None,
    policy: AlertPolicy = _DEFAULT_POLICY,
    rule: AlertRule | None = None,
    actor: Principal = SYSTEM,
    clock: Clock = _WALL,
) -> AlertOutcome:
    """Open an alert for a breach, or update the signal's unresolved one (inside the caller's
    transaction, with its audit entry); queue notifications unless the alert is cooling down.

    ``rule`` (default: the rule in the spec of the monitor whose run breached) opens an alert
    only when enough of the signal's latest windows breached; else nothing is stored and the
    outcome's alert is None. ``channels`` names the project's channels to notify (None: every
    enabled channel).
    """
    store: AlertStore = SqlAlertStore(session)
    now = clock.now()
    rule = rule or monitor_rule(session, breach)
    verdict = evaluate(session, breach, rule)
    alert = store.active_alert(project, breach.monitor, breach.signal)
    if alert is None:
        if not verdict.met:
            return AlertOutcome(alert=None, opened=False, notified=0, verdict=verdict)
        chosen = None if channels is None else list(channels)
        details = {**breach.details, _CHANNELS: chosen, _RULE: verdict.details()}
        opened = store.open_alert(project, breach, details=details, when=now)
        if opened is not None:
            opened, notified = _notify(store, opened, AlertEvent.opened, now)
            _audit(session, actor, "alert.open", opened, breach)
            return AlertOutcome(alert=opened, opened=True, notified=notified, verdict=verdict)
        # Another transaction opened it a moment ago: update that one instead.
        alert = store.active_alert(project, breach.monitor, breach.signal)
        assert alert is not None
    escalated = Severity(breach.severity).rank > alert.severity.rank
    updated = _record_breach(store, alert, breach, verdict, escalated, now)
    notified = 0
    cooldown = cooldown_of(session, project, rule, policy.cooldown)
    if _should_notify(updated, escalated, cooldown, now):
        updated, notified = _notify(store, updated, AlertEvent.updated, now)
    _audit(session, actor, "alert.update", updated, breach)
    return AlertOutcome(alert=updated, opened=False, notified=notified, verdict=verdict)


def _record_breach(
    store: AlertStore,
    alert: Alert,
    breach: Breach,
    verdict: RuleVerdict,
    escalated: bool,
    now: datetime,
) -> Alert:
    keep = {_CHANNELS: alert.details.get(_CHANNELS), _RULE: verdict.details()}
    return store.record_breach(
        alert.id,
        breach,
        severity=Severity(breach.severity) if escalated else alert.severity,
        details={**breach.details, **keep},
        when=now,
    )


def _should_notify(alert: Alert, escalated: bool, cooldown: timedelta, now: datetime) -> bool:
    if escalated:
        return True
    if alert.state == AlertState.acknowledged:
        return False  # someone is on it; only a worse breach is news
    last = alert.last_notified_at
    return last is None or now - last >= cooldown


def _audit(session: Session, actor: Principal, action: str, alert: Alert, breach: Breach) -> None:
    record_audit(
        session, actor=actor, action=action, project=alert.project, target=alert.ref,
        details={"monitor": alert.monitor, "signal": alert.signal,
                 "severity": str(alert.severity), "value": breach.value,
                 "threshold": breach.threshold},
    )  # fmt: skip


def payload(alert: Alert, event: AlertEvent) -> dict[str, Any]:
    """The JSON document a webhook receives."""
    when = {
        k: None if getattr(alert, k) is None else isoformat(getattr(alert, k))
        for k in ("window_start", "window_end", "opened_at", "updated_at", "resolved_at")
    }
    body = {
        "id": str(alert.id), "project": alert.project, "monitor": alert.monitor,
        "signal": alert.signal, "severity": str(alert.severity), "state": str(alert.state),
        "value": alert.value, "threshold": alert.threshold, "breach_count": alert.breach_count,
        **when,
        "rule": alert.details.get(_RULE),
    }  # fmt: skip
    return {"event": str(event), "alert": body}


def _notify(store: AlertStore, alert: Alert, event: AlertEvent, now: datetime) -> tuple[Alert, int]:
    """Queue a notification to every target of the alert; the alert as it is afterwards."""
    names = alert.details.get(_CHANNELS)
    targets = store.notify_targets(alert.project, names, alert.severity)
    body = payload(alert, event)
    for channel in targets:
        store.queue_delivery(alert, channel, event=event, payload=body, when=now)
    if targets:
        alert = store.mark_notified(alert.id, now)
    return alert, len(targets)


def _change(
    db: Database,
    *,
    project: str,
    alert_id: UUID,
    to: AlertState,
    actor: Principal,
    note: str,
    clock: Clock,
) -> Alert:
    with db.transaction() as session:
        store: AlertStore = SqlAlertStore(session)
        now = clock.now()
        alert = store.lock_alert(project, alert_id)
        if alert is None:
            raise NotFound("alert not found")
        if alert.state == AlertState.resolved or alert.state == to:
            raise InvalidState(f"alert is already {alert.state}")
        note_kept = note or alert.note
        if to == AlertState.acknowledged:
            alert = store.acknowledge(alert.id, by=actor.ref, note=note_kept, when=now)
            action = "alert.acknowledge"
        else:
            alert = store.resolve(alert.id, by=actor.ref, note=note_kept, when=now)
            alert, _ = _notify(store, alert, AlertEvent.resolved, now)
            action = "alert.resolve"
        record_audit(
            session, actor=actor, action=action, project=project, target=alert.ref,
            details={"note": note},
        )  # fmt: skip
        return alert


def acknowledge_alert(
    db: Database, *, project: str, alert_id: UUID, actor: Principal, note: str = "",
    clock: Clock = _WALL,
) -> Alert:  # fmt: skip
    """Mark an open alert acknowledged (repeats stop notifying unless the severity rises)."""
    return _change(
        db, project=project, alert_id=alert_id, to=AlertState.acknowledged, actor=actor,
        note=note, clock=clock,
    )  # fmt: skip


def resolve_alert(
    db: Database, *, project: str, alert_id: UUID, actor: Principal, note: str = "",
    clock: Clock = _WALL,
) -> Alert:  # fmt: skip
    """Resolve an alert; the next breach of its signal opens a new one."""
    return _change(
        db, project=project, alert_id=alert_id, to=AlertState.resolved, actor=actor,
        note=note, clock=clock,
    )  # fmt: skip


def get_alert(db: Database, *, project: str, alert_id: UUID) -> Alert:
    """One alert; raises NotFound."""
    with db.read() as session:
        alert = SqlAlertStore(session).find_alert(project, alert_id)
    if alert is None:
        raise NotFound("alert not found")
    return alert


def list_alerts(
    db: Database,
    *,
    project: str,
    states: Sequence[AlertState] = (),
    monitor: str | None = None,
    before: UUID | None = None,
    limit: int = 100,
) -> list[Alert]:
    """Alerts of a project, newest first; page with ``before`` = the last id seen."""
    with db.read() as session:
        return SqlAlertStore(session).alerts(
            project, states=states, monitor=monitor, before=before, limit=limit
        )


def count_open_alerts(db: Database) -> dict[tuple[str, str, str], int]:
    """Unresolved alerts per (project, monitor, severity), for ``/metrics``."""
    with db.read() as session:
        return SqlAlertStore(session).count_open()


def list_deliveries(
    db: Database, *, project: str, alert_id: UUID | None = None, limit: int = 100
) -> list[Delivery]:
    """The webhook delivery log, newest first."""
    with db.read() as session:
        return SqlAlertStore(session).deliveries(project, alert_id=alert_id, limit=limit)


# ---------------------------------------------------------------- channels


def create_channel(
    db: Database, *, project: str, data: ChannelCreate, actor: Principal, secrets: SecretBox,
    allowlist: Sequence[str] = (), clock: Clock = _WALL,
) -> Channel:  # fmt: skip
    """Add a webhook channel (literal internal addresses are refused now, names at delivery);
    its secret is stored sealed by ``secrets``, bound to the channel's id."""
    check_static(str(data.url), allow=Allowlist(allowlist))
    now = clock.now()
    channel_id = new_id()
    with db.transaction() as session:
        store = SqlAlertStore(session)
        if store.find_channel(project, data.name) is not None:
            raise Conflict(f"channel {data.name!r} already exists")
        sealed = _seal(store, secrets, data.secret, channel_id)
        channel = store.add_channel(
            project, data, channel_id=channel_id, sealed_secret=sealed, when=now
        )
        _audit_channel(session, actor, "channel.create", channel)
    return channel


def _context(channel_id: UUID) -> str:
    """What a channel's sealed secret is bound to: copied to another row, it does not open."""
    return f"monitor_alert_channels.secret:{channel_id}"


def _seal(store: AlertStore, secrets: SecretBox, secret: str, channel_id: UUID) -> str:
    if not secrets.has_key():
        orphans = sum(store.sealed_key_ids().values())
        if secrets.create_key() and orphans:
            log.warning(
                "created a new secrets key although %d channel secrets are sealed with a lost "
                "one: those channels deliver again once their secret is set anew", orphans
            )  # fmt: skip
    return secrets.seal(secret, context=_context(channel_id))


def open_channel_secret(secrets: SecretBox, channel: SealedChannel) -> ChannelTarget:
    """The channel with its secret opened; raises SecretsKeyMissing or SecretUnreadable."""
    if not is_sealed(channel.stored_secret):
        raise SecretUnreadable(
            "the channel's secret is stored in plain text: run `steward db upgrade` to seal it"
        )
    secret = secrets.open(channel.stored_secret, context=_context(channel.id))
    return ChannelTarget(id=channel.id, name=channel.name, url=channel.url, secret=secret)


def seal_legacy_secrets(db: Database, *, secrets: SecretBox, actor: Principal) -> list[str]:
    """Seal the secrets stored in plain text before migration 0006 (one audit entry each);
    the ``project/name`` of every channel sealed."""
    with db.transaction() as session:
        store: AlertStore = SqlAlertStore(session)
        done = []
        for channel in store.unsealed_channels():
            if not channel.stored_secret.startswith(_LEGACY):
                continue  # neither sealed nor marked: left for delivery to refuse, never guessed
            plain = channel.stored_secret.removeprefix(_LEGACY)
            store.set_stored_secret(channel.id, _seal(store, secrets, plain, channel.id))
            record_audit(
                session, actor=actor, action="channel.seal_secret", project=channel.project,
                target=f"channel:{channel.name}", details={"key_id": secrets.key_id()},
            )  # fmt: skip
            done.append(f"{channel.project}/{channel.name}")
    return done


def check_secrets_key(db: Database, *, secrets: SecretBox) -> str | None:
    """A one-line problem (for the operator: it names the key's path) with the secrets key of
    the channels, or None; nothing is created or changed."""
    with db.read() as session:
        store = SqlAlertStore(session)
        kids, legacy = store.sealed_key_ids(), len(store.unsealed_channels())
    sealed = sum(kids.values())
    if sealed and not secrets.has_key():
        return (
            f"the secrets key {secrets.path} is missing but {sealed} channel secrets are sealed "
            "with it: their webhooks fail until it is restored (STEWARD_SECRETS_KEY_PATH) or "
            "the channels get new secrets"
        )
    try:
        other = sealed - kids.get(secrets.key_id(), 0) if sealed else 0
    except InvalidState as exc:  # a key file that is not a key
        return f"{secrets.path}: {exc.detail}"
    if other:
        return (
            f"{other} channel secrets are sealed with another key than {secrets.path}: restore "
            "that key, or set the channels' secrets anew"
        )
    if legacy:
        return f"{legacy} channel secrets are stored in plain text: run `steward db upgrade`"
    return None


def _audit_channel(session: Session, actor: Principal, action: str, channel: Channel) -> None:
    record_audit(
        session, actor=actor, action=action, project=channel.project,
        target=f"channel:{channel.name}",
        details={"url": channel.url, "enabled": channel.enabled,
                 "min_severity": str(channel.min_severity)},
    )  # fmt: skip


def list_channels(db: Database, *, project: str) -> list[Channel]:
    """Channels of a project."""
    with db.read() as session:
        return SqlAlertStore(session).channels(project)


def get_channel(db: Database, *, project: str, name: str) -> Channel:
    """One channel; raises NotFound."""
    with db.read() as session:
        channel = SqlAlertStore(session).find_channel(project, name)
    if channel is None:
        raise NotFound(f"channel {name!r} not found")
    return channel


def update_channel(
    db: Database, *, project: str, name: str, data: ChannelUpdate, actor: Principal,
    secrets: SecretBox, allowlist: Sequence[str] = (), clock: Clock = _WALL,
) -> Channel:  # fmt: skip
    """Change a channel's URL, secret (stored sealed by ``secrets``), threshold or state."""
    if data.url is not None:
        check_static(str(data.url), allow=Allowlist(allowlist))
    with db.transaction() as session:
        store = SqlAlertStore(session)
        current = store.find_channel(project, name)
        if current is None:
            raise NotFound(f"channel {name!r} not found")
        sealed = None if data.secret is None else _seal(store, secrets, data.secret, current.id)
        channel = store.update_channel(current.id, data, sealed_secret=sealed, when=clock.now())
        _audit_channel(session, actor, "channel.update", channel)
    return channel


def delete_channel(db: Database, *, project: str, name: str, actor: Principal) -> None:
    """Remove a channel; queued deliveries to it fail."""
    with db.transaction() as session:
        store = SqlAlertStore(session)
        channel = store.find_channel(project, name)
        if channel is None:
            raise NotFound(f"channel {name!r} not found")
        store.delete_channel(channel.id)
        _audit_channel(session, actor, "channel.delete", channel)
