"""Use cases of the audit log: append, seal, verify, query, export."""

from __future__ import annotations

import csv
import io
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from governance.audit.chain import GENESIS, CompactRange, EntryRecord, entry_hash, leaf_hash
from governance.audit.schemas import (
    AuditCheckpointInfo,
    AuditEntry,
    AuditFilter,
    AuditPage,
    Decision,
    VerifyResult,
)
from governance.audit.signing import Signer
from governance.audit.store import AuditStore, SqlAuditStore
from governance.audit.verify import StoredCheckpoint, verify_log
from governance.core.clock import isoformat, utcnow
from governance.core.context import client_request_id_var, client_var, request_id_var
from governance.core.cursor import decode_cursor, encode_cursor
from governance.core.db import AuditSealing, CheckpointSigner, Database, database_of
from governance.core.errors import InvalidInput
from governance.core.principal import Principal

log = logging.getLogger(__name__)


def configure_audit(db: Database, *, signer: CheckpointSigner, checkpoint_every: int) -> None:
    """Attach the checkpoint signer to a database so appends seal every N entries."""
    db.audit = AuditSealing(signer=signer, checkpoint_every=checkpoint_every)


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
        details=json.loads(json.dumps(_with_client_id(details), sort_keys=True, default=str)),
        prev_hash=GENESIS if head is None else head.hash,
    )
    record = replace(record, hash=entry_hash(record))
    store.append(record)
    db = database_of(session)
    sealing = db.audit if db is not None else None
    if sealing is not None and _checkpoint_due(store, record.seq, sealing.checkpoint_every):
        _write_checkpoint(store, sealing.signer, record.seq)
    return AuditEntry.model_validate(record.to_dict() | {"ts": record.ts})


def _with_client_id(details: dict[str, Any] | None) -> dict[str, Any]:
    # A client's own X-Request-ID goes inside the details, apart from the server's request id
    # (and only with it: an entry written outside a request names no client request).
    client_id = client_request_id_var.get() if request_id_var.get() is not None else None
    if client_id is None:
        return details or {}
    return {**(details or {}), "client_request_id": client_id}


def _checkpoint_due(store: AuditStore, seq: int, every: int) -> bool:
    last = store.last_sealed()
    return seq - (last.tree_size if last else 0) >= every


def _write_checkpoint(store: AuditStore, signer: CheckpointSigner, through: int) -> int:
    last = store.last_sealed()
    tree = CompactRange.from_json(last.frontier) if last else CompactRange()
    for h in store.hashes_between(tree.size, through):
        tree.append(leaf_hash(h))
    note = signer.sign_checkpoint(size=tree.size, root=tree.root())
    store.add_checkpoint(
        tree_size=tree.size,
        created_at=utcnow(),
        root=tree.root().hex(),
        note=note,
        frontier=tree.to_json(),
    )
    return tree.size


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
        return _write_checkpoint(store, sealing.signer, head.seq)


def verify_audit(db: Database, *, signer: Signer | None = None) -> VerifyResult:
    """Recompute every hash, link and checkpoint of the stored log."""
    signer = signer or signer_of(db)
    if signer is None:
        raise InvalidInput("no audit public key configured")
    with db.read() as session:
        store = SqlAuditStore(session)
        entries = list(store.iter_records())
        checkpoints = [
            StoredCheckpoint(tree_size=c.tree_size, note=c.note) for c in store.checkpoints()
        ]
    report = verify_log(entries, checkpoints, signer.public_key, origin=signer.origin)
    return VerifyResult.model_validate(report.to_dict())


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


EXPORT_COLUMNS = [
    "seq", "ts", "actor", "project", "action", "target", "decision",
    "request_id", "client", "details", "prev_hash", "hash",
]  # fmt: skip


def export_audit(
    db: Database, *, fmt: str, flt: AuditFilter | None = None, checkpoints: bool = True
) -> Iterator[str]:
    """Stream the log as JSONL (entries, then checkpoints) or CSV lines."""
    if fmt not in ("jsonl", "csv"):
        raise InvalidInput("format must be jsonl or csv", field="format")
    flt = flt or AuditFilter()
    after = 0
    if fmt == "csv":
        yield _csv_line(EXPORT_COLUMNS)
    while True:
        page = list_audit(db, flt=flt, cursor=_encode_cursor(after), limit=1000).items
        for entry in page:
            data = entry.model_dump(mode="json") | {"ts": isoformat(entry.ts)}
            if fmt == "jsonl":
                yield json.dumps({"kind": "entry", **data}, sort_keys=True) + "\n"
            else:
                data["details"] = json.dumps(data["details"], sort_keys=True)
                yield _csv_line([data[c] for c in EXPORT_COLUMNS])
        if len(page) < 1000:
            break
        after = page[-1].seq
    if fmt == "jsonl" and checkpoints:
        for cp in list_checkpoints(db):
            yield (
                json.dumps({"kind": "checkpoint", "tree_size": cp.tree_size, "note": cp.note})
                + "\n"
            )


def _csv_line(values: list[Any]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerow(values)
    return buf.getvalue()


def verify_export(lines: Iterator[str], *, signer_key: Any, origin: str) -> VerifyResult:
    """Verify a JSONL export offline against a public key (no database needed)."""
    entries: list[EntryRecord] = []
    checkpoints: list[StoredCheckpoint] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            kind = data.pop("kind")
            if kind == "checkpoint":
                checkpoints.append(StoredCheckpoint(tree_size=data["tree_size"], note=data["note"]))
            else:
                data["ts"] = datetime.fromisoformat(data["ts"])
                entries.append(EntryRecord(**data))
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(f"line {number} is not an audit export record") from exc
    entries.sort(key=lambda e: e.seq)
    return VerifyResult.model_validate(
        verify_log(entries, checkpoints, signer_key, origin=origin).to_dict()
    )


class Sealer:
    """Background thread that seals the log every few minutes (server and daemon)."""

    def __init__(self, db: Database, *, interval: float) -> None:
        self.db = db
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-sealer", daemon=True)

    def start(self) -> None:
        """Start sealing in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop and seal what is left."""
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                seal(self.db)
            except Exception:  # keep sealing on the next tick; the failure is logged
                log.exception("audit seal failed")
