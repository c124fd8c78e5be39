"""Exports of the audit log (JSONL, CSV) and their offline verification (no database)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from governance.audit.chain import EntryRecord, blob_digest
from governance.audit.schemas import AuditFilter, VerifyResult
from governance.audit.service import list_audit, list_checkpoints
from governance.audit.signing import KeyRing
from governance.audit.store import SqlAuditStore
from governance.audit.verify import SealPolicy, StoredCheckpoint, verify_log
from governance.core.clock import isoformat
from governance.core.cursor import encode_cursor
from governance.core.db import Database
from governance.core.errors import InvalidInput

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
        page = list_audit(db, flt=flt, cursor=encode_cursor(str(after)), limit=1000).items
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
        with db.read() as session:  # details stored apart, so the export verifies on its own
            for digest, body in SqlAuditStore(session).iter_blobs():
                yield json.dumps({"kind": "blob", "digest": digest, "body": body}) + "\n"


def _csv_line(values: list[Any]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerow(values)
    return buf.getvalue()


def verify_export(
    lines: Callable[[], Iterable[str]],
    *,
    keys: KeyRing | Ed25519PublicKey,
    origin: str,
    witnessed: Sequence[str] = (),
    policy: SealPolicy | None = None,
) -> VerifyResult:
    """Verify a JSONL export offline (no database): ``lines`` re-reads the export each call."""
    checkpoints: list[StoredCheckpoint] = []
    blobs: set[str] = set()  # references whose stored body hashes to them
    for _number, data in _export_records(lines()):
        if data.get("kind") == "checkpoint":
            checkpoints.append(StoredCheckpoint(tree_size=data["tree_size"], note=data["note"]))
        elif data.get("kind") == "blob" and blob_digest(str(data["body"])) == "sha256:" + str(
            data["digest"]
        ):
            blobs.add(blob_digest(str(data["body"])))

    def entries() -> Iterator[EntryRecord]:
        for number, data in _export_records(lines()):
            if data.pop("kind", None) in ("checkpoint", "blob"):
                continue
            try:
                data["ts"] = datetime.fromisoformat(data["ts"])
                yield EntryRecord(**data)
            except (ValueError, KeyError, TypeError) as exc:
                raise InvalidInput(f"line {number} is not an audit export record") from exc

    report = verify_log(
        entries,
        checkpoints,
        keys,
        origin=origin,
        witnessed=witnessed,
        policy=policy,
        blob_ok=blobs.__contains__,
    )
    return VerifyResult.model_validate(report.to_dict())


def _export_records(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError as exc:
            raise InvalidInput(f"line {number} is not an audit export record") from exc
        needs = {"entry": set(), "checkpoint": {"tree_size", "note"}, "blob": {"digest", "body"}}
        kind = data.get("kind") if isinstance(data, dict) else None
        if kind not in needs or not needs[kind] <= data.keys():
            raise InvalidInput(f"line {number} is not an audit export record")
        yield number, data
