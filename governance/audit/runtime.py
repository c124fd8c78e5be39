"""Wiring the audit log from settings: the signing key, the witnesses, the verify policy."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from sqlalchemy import inspect, select

from governance.audit.keys import key_ring, load_signer
from governance.audit.models import AuditEntryRow
from governance.audit.schemas import VerifyResult
from governance.audit.service import configure_audit, verify_audit
from governance.audit.signing import Signer
from governance.audit.verify import SealPolicy
from governance.audit.witness import FileWitness, HttpWitness, Witnesses, read_notes
from governance.core.clock import utcnow
from governance.core.db import Database
from governance.core.errors import InvalidInput
from governance.core.settings import Settings
from governance.core.urlguard import Allowlist, check_static


def log_is_empty(db: Database) -> bool:
    """True when the audit log has no entry (a new installation, tables perhaps not yet made)."""
    with db.read() as session:
        if not inspect(session.connection()).has_table(AuditEntryRow.__tablename__):
            return True
        return session.scalar(select(AuditEntryRow.seq).limit(1)) is None


def witnesses(settings: Settings) -> Witnesses:
    """The file witness and every configured HTTP witness (URLs checked now, resolved per post)."""
    allow = Allowlist(settings.webhook_allowlist)
    for url in settings.audit_witness_urls:
        check_static(url, allow=allow)
    remote = [HttpWitness(url, allow=allow) for url in settings.audit_witness_urls]
    return Witnesses(FileWitness(settings.witness_dir), remote)


def open_audit(db: Database, settings: Settings) -> tuple[Signer, Witnesses]:
    """Load the signing key (refused when lost for a non-empty log) and attach the witnesses."""
    signer = load_signer(
        settings.key_path, origin=settings.audit_origin, log_empty=log_is_empty(db)
    )
    found = witnesses(settings)
    configure_audit(db, signer=signer, checkpoint_every=settings.checkpoint_every, witness=found)
    return signer, found


def seal_policy(settings: Settings) -> SealPolicy:
    """What may stand after the last checkpoint before verify reports it as unsealed."""
    return SealPolicy(
        max_entries=settings.audit_max_unsealed_entries or settings.checkpoint_every,
        max_age=timedelta(minutes=settings.audit_max_unsealed_minutes),
        now=utcnow(),
    )


def witnessed_notes(settings: Settings, trusted: Sequence[Path] = ()) -> list[str]:
    """The notes of the file witness plus any trusted checkpoint files an auditor supplies."""
    notes = FileWitness(settings.witness_dir).notes()
    for path in trusted:
        notes.extend(read_notes(path))
    return notes


def verify_configured(
    db: Database,
    settings: Settings,
    *,
    trusted: Sequence[Path] = (),
    extra_keys: Sequence[str] = (),
) -> VerifyResult:
    """Verify the stored log against the key history, the witness and the seal policy.

    Reads only: no key, witness or database file is created or changed.
    """
    ring = key_ring(settings.key_path, origin=settings.audit_origin, extra=extra_keys)
    if not len(ring):
        raise InvalidInput(f"no audit public key: {settings.key_path} is missing; pass --key")
    return verify_audit(
        db,
        keys=ring,
        origin=settings.audit_origin,
        witnessed=witnessed_notes(settings, trusted),
        policy=seal_policy(settings),
    )
