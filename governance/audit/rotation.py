"""``steward audit rotate-key``: replace the signing key, recorded in the log it signs.

The rotation is an entry naming the outgoing and incoming public keys, endorsed by the outgoing
private key when it still exists, and sealed by a checkpoint that both keys sign. A verifier that
trusts the old key therefore learns the new one from the log itself; when the old key was lost
the entry says so, and checkpoints only the lost key signed are reported as "key missing".
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

from governance.audit.keys import read_history, record_in_history
from governance.audit.service import record_audit, write_checkpoint
from governance.audit.signing import Checkpoint, Signer
from governance.audit.store import SqlAuditStore
from governance.audit.verify import ROTATE_ACTION, rotation_statement
from governance.core.db import AuditSealing, CheckpointWitness, Database
from governance.core.principal import Principal


@dataclass(frozen=True, kw_only=True, slots=True)
class Rotation:
    """What a rotation did."""

    previous: str | None
    next: str
    endorsed: bool
    sealed_through: int


def rotate_key(
    db: Database,
    *,
    key_path: Path,
    origin: str,
    actor: Principal,
    witness: CheckpointWitness | None = None,
) -> Rotation:
    """Rotate the signing key at ``key_path`` (which may be missing: a lost key)."""
    old = Signer.load_or_create(key_path, origin=origin) if key_path.is_file() else None
    history = read_history(key_path)
    previous = old.verifier_key() if old is not None else (history[-1] if history else None)
    pending = key_path.with_name(key_path.name + ".new")
    pending.unlink(missing_ok=True)  # left by a rotation that failed before its commit
    new = Signer.create(pending, origin=origin)
    try:
        sealed = _record(db, old=old, new=new, previous=previous, actor=actor, witness=witness)
    except BaseException:
        pending.unlink(missing_ok=True)
        raise
    record_in_history(key_path, new)
    os.replace(pending, key_path)  # the old private key is gone; its public key stays in history
    return Rotation(
        previous=previous, next=new.verifier_key(), endorsed=old is not None, sealed_through=sealed
    )


def _record(
    db: Database,
    *,
    old: Signer | None,
    new: Signer,
    previous: str | None,
    actor: Principal,
    witness: CheckpointWitness | None,
) -> int:
    # No automatic checkpoint inside this transaction: the one that seals the rotation must carry
    # both signatures, so it is written explicitly below.
    db.audit = AuditSealing(signer=new, checkpoint_every=2**62, witness=witness)
    cosigners = [old] if old is not None else []

    def both(*, size: int, root: bytes) -> str:
        return new.sign(Checkpoint(origin=new.origin, size=size, root=root), cosigners=cosigners)

    with db.transaction() as session:
        store = SqlAuditStore(session)
        store.lock()
        head = store.head()
        last = store.last_sealed()
        if old is not None and head is not None and (last is None or last.tree_size < head.seq):
            write_checkpoint(session, old.sign_checkpoint, head.seq)
        endorsement = old.sign_bytes(rotation_statement(new.verifier_key())) if old else None
        entry = record_audit(
            session,
            actor=actor,
            action=ROTATE_ACTION,
            target="audit:signing-key",
            details={
                "previous": previous,
                "next": new.verifier_key(),
                "endorsement": base64.b64encode(endorsement).decode() if endorsement else None,
                "previous_key_available": old is not None,
            },
        )
        return write_checkpoint(session, both, entry.seq)
