"""Webhook secrets at rest: sealed under a key file outside the database, bound to their channel."""

from __future__ import annotations

import shutil
import stat
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, insert, text

from governance.audit.schemas import AuditFilter
from governance.audit.service import list_audit
from governance.core.clock import ManualClock
from governance.core.db import Database, normalise_url
from governance.core.secrets import SecretBox, SecretsKeyMissing, SecretUnreadable
from governance.core.settings import Settings
from monitors.alerts import service
from monitors.alerts.delivery import deliver_pending
from monitors.alerts.models import ChannelRow
from monitors.alerts.schemas import Breach, DeliveryState, Severity
from monitors.alerts.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookSender, verify
from steward.api.app import build_services
from steward.api.deps import Services
from steward.migrations import upgrade
from tests.builders import World
from tests.cli.runner import run_steward
from tests.conftest import PG_URL, make_settings
from tests.dumps import dump as database_dump
from tests.monitors.alerts.conftest import SECRET, Hook

NEW_SECRET = "n3w-s3cret-n3w-s3cret"
LOOPBACK = ["127.0.0.1"]
CHANNELS = "/api/v1/projects/alpha/channels"


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """The suite's settings, with loopback webhooks allowed (the test receiver listens there)."""
    return make_settings(tmp_path / "home", db_url, webhook_allowlist=LOOPBACK)


def _stored(db: Database) -> dict[str, str]:
    """Channel name -> the secret column exactly as the database holds it."""
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT name, secret FROM monitor_alert_channels"))
        return {str(name): str(secret) for name, secret in rows}


def _breach(db: Database, clock: ManualClock, signal: str = "drift:age") -> None:
    with db.transaction() as session:
        service.raise_or_update_alert(
            session, project="alpha", clock=clock,
            breach=Breach(monitor="m", signal=signal, severity=Severity.error, value=1.0),
        )  # fmt: skip


def _deliver(db: Database, box: SecretBox, clock: ManualClock) -> tuple[int, int, int]:
    sender = WebhookSender(allowlist=LOOPBACK, clock=clock, timeout=5)
    report = deliver_pending(db, sender=sender, secrets=box, clock=clock)
    return report.delivered, report.retrying, report.failed


def _signed_with(secret: str, hook: Hook, clock: ManualClock, index: int = -1) -> bool:
    got = hook.received[index]
    return verify(
        secret, got.body, timestamp=got.headers[TIMESTAMP_HEADER],
        signature=got.headers[SIGNATURE_HEADER], now=clock.now(),
    )  # fmt: skip


def _create(client: TestClient, world: World, name: str, url: str, secret: str = SECRET) -> None:
    body = {"name": name, "url": url, "secret": secret}
    r = client.post(CHANNELS, json=body, headers=world.headers("owner"))
    assert r.status_code == 201, r.text


# The key


def test_a_sealed_secret_opens_only_with_its_key_and_for_its_row(tmp_path: Path) -> None:
    box = SecretBox(tmp_path / "keys" / "secrets.key")
    assert not box.has_key() and box.create_key() and not box.create_key()
    assert stat.S_IMODE(box.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(box.path.parent.stat().st_mode) == 0o700
    one, two = str(uuid.uuid4()), str(uuid.uuid4())
    sealed = box.seal(SECRET, context=one)
    assert sealed.startswith(f"v1:{box.key_id()}:") and SECRET not in sealed
    assert box.seal(SECRET, context=one) != sealed  # a fresh nonce every time
    assert box.open(sealed, context=one) == SECRET
    with pytest.raises(SecretUnreadable, match="copied from another row"):
        box.open(sealed, context=two)
    flipped = sealed[:-3] + ("A" if sealed[-3] != "A" else "B") + sealed[-2:]
    with pytest.raises(SecretUnreadable, match="altered"):
        box.open(flipped, context=one)
    other = SecretBox(tmp_path / "other.key")
    other.create_key()
    with pytest.raises(SecretUnreadable, match="another secrets key"):
        other.open(sealed, context=one)
    with pytest.raises(SecretsKeyMissing):
        SecretBox(tmp_path / "absent.key").open(sealed, context=one)
    box.path.write_text("not a key\n")
    with pytest.raises(Exception, match="32-byte"):
        SecretBox(box.path).open(sealed, context=one)


# Through the app


def test_a_channel_secret_is_stored_sealed_and_deliveries_are_signed_with_it(
    client: TestClient, world: World, services: Services, hook: Hook, clock: ManualClock
) -> None:
    _create(client, world, "ops", hook.url)
    (stored,) = _stored(services.db).values()
    assert stored.startswith("v1:") and SECRET not in stored
    _breach(services.db, clock)
    assert _deliver(services.db, services.secrets, clock) == (1, 0, 0)
    assert _signed_with(SECRET, hook, clock)
    # A new secret replaces the sealed one, and signs from then on.
    r = client.patch(f"{CHANNELS}/ops", json={"secret": NEW_SECRET}, headers=world.headers("owner"))
    assert r.status_code == 200 and "secret" not in r.json()
    assert _stored(services.db)["ops"] not in (stored, NEW_SECRET)
    clock.advance(timedelta(hours=2))  # past the cooldown: the next breach notifies again
    _breach(services.db, clock)
    restarted = SecretBox(services.settings.secrets_key)  # what another process reads
    assert _deliver(services.db, restarted, clock) == (1, 0, 0)
    assert _signed_with(NEW_SECRET, hook, clock) and not _signed_with(SECRET, hook, clock)


def test_no_channel_secret_in_a_database_dump(
    client: TestClient, world: World, services: Services, hook: Hook, clock: ManualClock
) -> None:
    _create(client, world, "ops", hook.url)
    _create(client, world, "chat", hook.url, secret=NEW_SECRET)
    r = client.patch(
        f"{CHANNELS}/chat", json={"secret": SECRET + "-2"}, headers=world.headers("owner")
    )
    assert r.status_code == 200, r.text
    _breach(services.db, clock)
    assert _deliver(services.db, services.secrets, clock) == (2, 0, 0)
    db = services.db
    dump = database_dump(db)
    assert "monitor_alert_channels" in dump or not db.is_sqlite
    assert all(value in dump for value in _stored(db).values())  # the dump does see the rows
    for secret in (SECRET, NEW_SECRET, SECRET + "-2"):
        assert secret not in dump
    key = services.settings.secrets_key.read_text().strip()
    assert key not in dump


def test_a_sealed_secret_moved_to_another_channel_is_refused(
    client: TestClient, world: World, services: Services, hook: Hook, clock: ManualClock
) -> None:
    _create(client, world, "a", f"http://127.0.0.1:{hook.port}/a")
    _create(client, world, "b", f"http://127.0.0.1:{hook.port}/b", secret=NEW_SECRET)
    # Someone with write access to the database copies a's sealed secret over b's.
    with services.db.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE monitor_alert_channels SET secret = "
                "(SELECT secret FROM monitor_alert_channels WHERE name = 'a') WHERE name = 'b'"
            )
        )
    _breach(services.db, clock)
    assert _deliver(services.db, services.secrets, clock) == (1, 0, 1)
    assert [got.path for got in hook.received] == ["/a"] and _signed_with(SECRET, hook, clock)
    logged = {d.channel: d for d in service.list_deliveries(services.db, project="alpha")}
    assert logged["b"].state == DeliveryState.failed
    assert "does not open here" in (logged["b"].last_error or "")


def test_a_missing_key_fails_deliveries_cleanly_until_it_is_restored(
    client: TestClient, world: World, services: Services, hook: Hook, clock: ManualClock
) -> None:
    _create(client, world, "ops", hook.url)
    _breach(services.db, clock)
    key = services.settings.secrets_key
    saved = key.with_name("saved.key")
    shutil.move(key, saved)
    restarted = SecretBox(key)
    problem = service.check_secrets_key(services.db, secrets=restarted)
    assert problem is not None and "\n" not in problem and "secrets key" in problem
    assert _deliver(services.db, restarted, clock) == (0, 1, 0)  # no exception, no request
    assert hook.received == []
    (logged,) = service.list_deliveries(services.db, project="alpha")
    assert logged.state == DeliveryState.pending and "secrets key" in (logged.last_error or "")
    shutil.move(saved, key)
    assert service.check_secrets_key(services.db, secrets=restarted) is None
    clock.advance(timedelta(minutes=5))
    assert _deliver(services.db, restarted, clock) == (1, 0, 0)
    assert _signed_with(SECRET, hook, clock)


# Secrets stored in plain text before migration 0006


@pytest.fixture
def legacy_url(tmp_path: Path) -> Iterator[str]:
    """A database of its own (migrated by the test, not copied from the suite's template)."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'legacy.db'}"
        return
    admin = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    name = f"steward_legacy_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield normalise_url(PG_URL).rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_db_upgrade_seals_secrets_kept_in_plain_text_and_audits_it(
    legacy_url: str, tmp_path: Path, hook: Hook, clock: ManualClock
) -> None:
    old = Database(legacy_url)
    upgrade(old, "0005")
    row = {"id": uuid.uuid4(), "project": "alpha", "name": "legacy", "kind": "webhook",
           "url": hook.url, "secret": SECRET, "min_severity": "info", "enabled": True,
           "created_at": clock.now(), "updated_at": clock.now()}  # fmt: skip
    with old.engine.begin() as conn:
        conn.execute(insert(ChannelRow.__table__).values(**row))  # as version 0005 stored it
    upgrade(old)  # the migration alone cannot read the key: it marks the row, nothing more
    assert _stored(old)["legacy"] == f"plain:{SECRET}"
    old.dispose()
    home = tmp_path / "home"
    svc = build_services(make_settings(home, legacy_url, webhook_allowlist=LOOPBACK))
    try:
        _breach(svc.db, clock)
        assert _deliver(svc.db, svc.secrets, clock) == (0, 1, 0)  # refused, kept for a retry
        (logged,) = service.list_deliveries(svc.db, project="alpha")
        assert "steward db upgrade" in (logged.last_error or "") and hook.received == []
        env = {"STEWARD_HOME": str(home), "STEWARD_DATABASE_URL": legacy_url}
        done = run_steward("db", "upgrade", env={**env, "STEWARD_DB_APP_ROLE": ""})
        assert done.returncode == 0, done.stderr + done.stdout
        assert "sealed the secret of channel alpha/legacy" in done.stdout
        stored = _stored(svc.db)["legacy"]
        assert stored.startswith("v1:") and SECRET not in stored
        sealed = list_audit(svc.db, flt=AuditFilter(action="channel.seal_secret"), cursor=None,
                            limit=10).items  # fmt: skip
        assert [e.target for e in sealed] == ["channel:legacy"] and "cli@" in sealed[0].actor
        again = run_steward("db", "upgrade", env={**env, "STEWARD_DB_APP_ROLE": ""})
        assert again.returncode == 0 and "sealed" not in again.stdout
        clock.advance(timedelta(minutes=5))
        assert _deliver(svc.db, SecretBox(svc.settings.secrets_key), clock) == (1, 0, 0)
        assert _signed_with(SECRET, hook, clock)
    finally:
        svc.db.dispose()
