"""The deploy webhook: a signed POST telling an external serving platform what to serve.

Signed and guarded like the alert channels (``monitors.alerts.webhook``): HMAC-SHA256 over the
timestamp and body, the URL checked against the SSRF rules and ``STEWARD_WEBHOOK_ALLOWLIST``
(literal internal addresses when set, resolved names at delivery), the secret sealed at rest.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from pydantic import SecretStr

from governance.audit.service import record_audit
from governance.core.clock import Clock, SystemClock, isoformat
from governance.core.db import Database
from governance.core.ids import new_id
from governance.core.principal import Principal
from governance.core.secrets import SecretBox, SecretsKeyMissing, SecretUnreadable
from governance.core.settings import Settings
from governance.core.urlguard import Allowlist, check_static
from monitors.alerts.schemas import ChannelTarget
from monitors.alerts.webhook import SendResult, WebhookSender
from retrain.rollout.schemas import DeployEvent, DeployWebhook, DeployWebhookSet, Rollout
from retrain.rollout.store import SealedWebhook, SqlRolloutStore

log = logging.getLogger(__name__)
_WALL = SystemClock()
# A rollback may run inside a scoring request: a slow platform must not hold it for long.
TIMEOUT_SECONDS = 5.0


def secret_context(project: str) -> str:
    """What a deploy webhook's sealed secret is bound to (copied elsewhere, it does not open)."""
    return f"retrain_deploy_webhooks.secret:{project}"


def seal_secret(secrets: SecretBox, project: str, secret: str) -> str:
    """The secret sealed for the project's webhook row (the key is made on first use)."""
    if not secrets.has_key():
        secrets.create_key()
    return secrets.seal(secret, context=secret_context(project))


def payload(event: DeployEvent, rollout: Rollout, serving: tuple[str, int] | None) -> bytes:
    """The JSON body: the event, the rollout, and the version the endpoint serves after it."""
    body: dict[str, Any] = {
        "event": str(event),
        "project": rollout.project,
        "endpoint": rollout.endpoint,
        "serving": None if serving is None else {"model": serving[0], "version": serving[1]},
        "rollout": {
            "id": str(rollout.id), "model": rollout.model, "version": rollout.version,
            "strategy": str(rollout.strategy), "percent": rollout.percent,
            "state": str(rollout.state), "previous_model": rollout.previous_model,
            "previous_version": rollout.previous_version,
            "shadow_endpoint": rollout.shadow_endpoint,
            "started_at": isoformat(rollout.started_at),
            "ended_at": None if rollout.ended_at is None else isoformat(rollout.ended_at),
            "reason": rollout.end_reason or rollout.reason,
        },
    }  # fmt: skip
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _target(secrets: SecretBox, sealed: SealedWebhook) -> ChannelTarget:
    plain = secrets.open(sealed.sealed_secret, context=secret_context(sealed.webhook.project))
    return ChannelTarget(
        id=new_id(), name="deploy-webhook", url=sealed.webhook.url, secret=SecretStr(plain)
    )


def notify(
    db: Database,
    *,
    settings: Settings,
    event: DeployEvent,
    rollout: Rollout,
    serving: tuple[str, int] | None,
    clock: Clock,
) -> SendResult | None:
    """Post the event to the project's webhook once (None: no enabled webhook); never raises.

    Called after the change committed: the platform hears only of what happened.
    """
    with db.read() as session:
        sealed = SqlRolloutStore(session).webhook(rollout.project)
    if sealed is None or not sealed.webhook.enabled:
        return None
    try:
        target = _target(SecretBox.from_settings(settings), sealed)
    except (SecretUnreadable, SecretsKeyMissing) as exc:
        log.error("deploy webhook of %s not sent: %s", rollout.project, exc)
        return SendResult(ok=False, error=str(exc))
    sender = WebhookSender(
        allowlist=settings.webhook_allowlist, timeout=TIMEOUT_SECONDS, clock=clock
    )
    result = sender.send(
        target, payload(event, rollout, serving), delivery=new_id(), event=f"rollout.{event}"
    )
    if not result.ok:
        log.error("deploy webhook of %s failed: %s", rollout.project, result.error)
    return result


def get_deploy_webhook(db: Database, *, project: str) -> DeployWebhook | None:
    """The project's deploy webhook (never its secret)."""
    with db.read() as session:
        found = SqlRolloutStore(session).webhook(project)
    return None if found is None else found.webhook


def set_deploy_webhook(
    db: Database,
    *,
    settings: Settings,
    project: str,
    data: DeployWebhookSet,
    actor: Principal,
    clock: Clock = _WALL,
) -> DeployWebhook:
    """Set where the project's deploy events are posted; the secret is stored sealed."""
    url = str(data.url)
    check_static(url, allow=Allowlist(settings.webhook_allowlist))
    sealed = seal_secret(SecretBox.from_settings(settings), project, data.secret)
    with db.transaction() as session:
        hook = SqlRolloutStore(session).set_webhook(
            project, url=url, sealed_secret=sealed, enabled=data.enabled, by=actor.ref,
            at=clock.now(),
        )  # fmt: skip
        record_audit(
            session, actor=actor, action="deploy_webhook.set", project=project,
            target=f"deploy-webhook:{project}", details={"url": url, "enabled": data.enabled},
        )  # fmt: skip
    return hook
