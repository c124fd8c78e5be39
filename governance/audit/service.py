"""Use cases of the audit log: append, seal, verify, query, export."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session

from governance.audit.chain import (
    DIGEST_KEY,
    GENESIS,
    INLINE_DETAILS_BYTES,
    CompactRange,
    EntryRecord,
    blob_digest,
    canonical_json,
    entry_hash,
    leaf_hash,
)
from governance.audit.proof_service import db_leaves
from governance.audit.proofs import consistency_proof, verify_consistency
from governance.audit.schemas import (
    AuditCheckpointInfo,
    AuditEntry,
    AuditFilter,
    AuditPage,
    Decision,
    VerifyResult,
)
from governance.audit.signing import KeyRing, Signer
from governance.audit.store import AuditStore, SqlAuditStore
from governance.audit.verify import (
    FindingCategory,
    SealPolicy,
    StoredCheckpoint,
    VerifyReport,
    verify_log,
)
from governance.core.clock import utcnow
from governance.core.context import client_request_id_var, client_var, request_id_var
from governance.core.cursor import decode_cursor, encode_cursor
from governance.core.db import (
    SIGNED_NOTES,
    AuditSealing,
    CheckpointSigner,
    CheckpointWitness,
    Database,
    database_of,
)
from governance.core.errors import InvalidInput, InvalidState, NotFound
from governance.core.principal import Principal

log = logging.getLogger(__name__)


def configure_audit(
    db: Database,
    *,
    signer: CheckpointSigner,
    checkpoint_every: int,
    witness: CheckpointWitness | None = None,
) -> None:
    """Attach the checkpoint signer (and witnesses) so appends seal every N entries."""
    db.audit = AuditSealing(signer=signer, checkpoint_every=checkpoint_every, witness=witness)


def signer_of(db: Database) -> Signer | None:
    """The Ed25519 signer configured for ``db``, if any (verification needs its public key)."""
    signer = db.audit.signer if db.audit is not None else None
    return signer if isinstance(signer, Signer) else None


def record_audit(
    session: Session,
    *,
    actor: Principal | str,
    action: str,
    target: str | None = None,
    project: str | None = None,
    decision: Decision = Decision.allow,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append an entry inside the caller's transaction: the write and its entry commit together."""
    store = SqlAuditStore(session)
    store.lock()
    head = store.head()
    record = EntryRecord(
        seq=1 if head is None else head.seq + 1,
        ts=utcnow(),
        actor=actor.ref if isinstance(actor, Principal) else actor,
        project=project,
        action=action,
        target=target,
        decision=str(decision),
        request_id=request_id_var.get(),
        client=client_var.get(),
        details=_stored_details(store, _with_client_id(details)),
        prev_hash=GENESIS if head is None else head.hash,
    )
    record = replace(record, hash=entry_hash(record))
    store.append(record)
    db = database_of(session)
    sealing = db.audit if db is not None else None
    if sealing is not None and _checkpoint_due(store, record.seq, sealing.checkpoint_every):
        write_checkpoint(session, sealing.signer.sign_checkpoint, record.seq)
    return AuditEntry.model_validate(record.to_dict() | {"ts": record.ts})


def _with_client_id(details: dict[str, Any] | None) -> dict[str, Any]:
    # A client's own X-Request-ID goes inside the details, apart from the server's request id
    # (and only with it: an entry written outside a request names no client request).
    client_id = client_request_id_var.get() if request_id_var.get() is not None else None
    if client_id is None:
        return details or {}
    return {**(details or {}), "client_request_id": client_id}


def _stored_details(store: AuditStore, details: dict[str, Any]) -> dict[str, Any]:
    # Plain JSON values first (dates and the like become text), then large ones go apart.
    plain = json.loads(json.dumps(details, sort_keys=True, default=str))
    body = canonical_json(plain)
    if len(body.encode()) <= INLINE_DETAILS_BYTES:
        return dict(plain)
    digest = blob_digest(body)
    store.put_blob(digest=digest.removeprefix("sha256:"), body=body, created_at=utcnow())
    return {DIGEST_KEY: digest, "bytes": len(body.encode())}


def blob_checker(db: Database) -> Callable[[str], bool]:
    """Does the stored blob behind a ``sha256:`` reference still hash to it?"""

    def check(ref: str) -> bool:
        with db.read() as session:
            body = SqlAuditStore(session).blob(ref.removeprefix("sha256:"))
        return body is not None and blob_digest(body) == ref

    return check


def details_blob(db: Database, digest: str) -> dict[str, Any]:
    """The details stored under ``digest`` (hex, with or without ``sha256:``)."""
    key = digest.removeprefix("sha256:")
    with db.read() as session:
        body = SqlAuditStore(session).blob(key)
    if body is None:
        raise NotFound(f"no audit details stored under {digest}")
    return dict(json.loads(body))


def _checkpoint_due(store: AuditStore, seq: int, every: int) -> bool:
    last = store.last_sealed()
    return seq - (last.tree_size if last else 0) >= every


def write_checkpoint(session: Session, sign: Callable[..., str], through: int) -> int:
    """Sign and store a checkpoint over the first ``through`` entries, inside ``session``.

    The next tree continues from the newest checkpoint's stored frontier only when that frontier
    is covered by the checkpoint's signature (its root is the signed root); otherwise it is
    recomputed from the entries, since anyone with the database could have planted it.
    """
    store = SqlAuditStore(session)
    tree = _trusted_frontier(store, session)
    for h in store.hashes_between(tree.size, through):
        tree.append(leaf_hash(h))
    note = sign(size=tree.size, root=tree.root())
    store.add_checkpoint(
        tree_size=tree.size,
        created_at=utcnow(),
        root=tree.root().hex(),
        note=note,
        frontier=tree.to_json(),
    )
    session.info.setdefault(SIGNED_NOTES, []).append(note)
    return tree.size


def _trusted_frontier(store: AuditStore, session: Session) -> CompactRange:
    last = store.last_sealed()
    if last is None:
        return CompactRange()
    db = database_of(session)
    signer = db.audit.signer if db is not None and db.audit is not None else None
    try:
        tree = CompactRange.from_json(last.frontier)
        stated = signer.stated(last.note) if signer is not None else None
    except (KeyError, TypeError, ValueError):
        stated, tree = None, CompactRange()
    if stated == (last.tree_size, tree.root()) and tree.size == last.tree_size:
        return tree
    log.warning("audit checkpoint %s: stored frontier is not signed; recomputing", last.tree_size)
    return CompactRange()


def record_denial(
    db: Database,
    *,
    actor: Principal | str,
    action: str,
    target: str | None = None,
    project: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Record a refused request or failed authentication in a transaction of its own."""
    with db.transaction() as session:
        record_audit(
            session,
            actor=actor,
            action=action,
            target=target,
            project=project,
            decision=Decision.deny,
            details=details,
        )


def seal(db: Database) -> int | None:
    """Sign a checkpoint over every entry not yet sealed; returns its size, or None."""
    sealing = db.audit
    if sealing is None:
        raise InvalidInput("no audit signing key configured")
    with db.transaction() as session:
        store = SqlAuditStore(session)
        store.lock()
        head = store.head()
        last = store.last_sealed()
        if head is None or (last is not None and last.tree_size >= head.seq):
            return None
        return write_checkpoint(session, sealing.signer.sign_checkpoint, head.seq)


def latest_note(db: Database) -> str | None:
    """The newest signed checkpoint note in the database (what witnesses catch up to)."""
    with db.read() as session:
        last = SqlAuditStore(session).last_sealed()
    return None if last is None else last.note


def _records(db: Database) -> Callable[[], Iterator[EntryRecord]]:
    def stream() -> Iterator[EntryRecord]:
        with db.read() as session:
            yield from SqlAuditStore(session).iter_records()

    return stream


def verify_audit(
    db: Database,
    *,
    keys: KeyRing | Signer | None = None,
    origin: str | None = None,
    witnessed: Sequence[str] = (),
    policy: SealPolicy | None = None,
) -> VerifyResult:
    """Recompute every hash, link and checkpoint of the stored log, against the witnessed notes.

    The log is streamed (memory does not grow with its length); nothing is written.
    """
    signer = keys if isinstance(keys, Signer) else signer_of(db)
    ring = keys if isinstance(keys, KeyRing) else None
    if ring is None:
        if signer is None:
            raise InvalidInput("no audit public key configured")
        ring = KeyRing([(signer.origin, signer.public_key)])
    name = origin or (signer.origin if signer is not None else "")
    with db.read() as session:
        checkpoints = [
            StoredCheckpoint(tree_size=c.tree_size, note=c.note)
            for c in SqlAuditStore(session).checkpoints()
        ]
    report = verify_log(
        _records(db),
        checkpoints,
        ring,
        origin=name,
        witnessed=witnessed,
        policy=policy,
        blob_ok=blob_checker(db),
    )
    _check_extends_witness(db, report)
    return VerifyResult.model_validate(report.to_dict())


def _check_extends_witness(db: Database, report: VerifyReport) -> None:
    # The newest stored checkpoint must extend the newest witnessed one: an RFC 6962
    # consistency proof built from the stored entries, checked against both signed roots.
    old, new = report.latest_witnessed, report.latest_stored
    if old is None or new is None or new[0] < old[0] or report.entries < new[0]:
        return
    try:
        with db.read() as session:
            proof = consistency_proof(old[0], new[0], db_leaves(SqlAuditStore(session)))
    except InvalidState:  # entries missing from the range: already reported entry by entry
        return
    if not verify_consistency(old[0], new[0], old[1], new[1], proof):
        report.add(
            FindingCategory.rewritten,
            1,
            f"the checkpoint at {new[0]} does not extend the witnessed checkpoint at {old[0]}",
        )


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    (text,) = decode_cursor(cursor, arity=1)
    if not text.isdigit():
        raise InvalidInput("malformed cursor", field="cursor")
    return int(text)


def _encode_cursor(seq: int) -> str:
    return encode_cursor(str(seq))


def list_audit(db: Database, *, flt: AuditFilter, cursor: str | None, limit: int) -> AuditPage:
    """Return one page of entries matching ``flt``."""
    with db.read() as session:
        items = SqlAuditStore(session).page(flt, after=_decode_cursor(cursor), limit=limit + 1)
    more = len(items) > limit
    items = items[:limit]
    return AuditPage(items=items, next_cursor=_encode_cursor(items[-1].seq) if more else None)


def list_checkpoints(db: Database) -> list[AuditCheckpointInfo]:
    """Every stored checkpoint."""
    with db.read() as session:
        return SqlAuditStore(session).checkpoints()
