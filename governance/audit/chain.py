"""The pure mathematics of the log: canonical encoding, entry hashes, RFC 6962 Merkle roots."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from governance.core.clock import isoformat

GENESIS = "0" * 64


@dataclass(frozen=True, kw_only=True, slots=True)
class EntryRecord:
    """One audit entry exactly as stored; the unit that hashes and verifies."""

    seq: int
    ts: datetime
    actor: str
    project: str | None
    action: str
    target: str | None
    decision: str
    request_id: str | None
    client: str | None
    details: dict[str, Any] = field(default_factory=dict)
    prev_hash: str = GENESIS
    hash: str = ""

    def with_seq(self, seq: int) -> EntryRecord:
        """Return a copy at another position (used to recognise moved entries)."""
        return replace(self, seq=seq)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (the export format)."""
        return {**canonical_fields(self), "hash": self.hash}


def canonical_fields(entry: EntryRecord) -> dict[str, Any]:
    """The fields covered by the hash, in their canonical value forms."""
    return {
        "seq": entry.seq,
        "ts": isoformat(entry.ts),
        "actor": entry.actor,
        "project": entry.project,
        "action": entry.action,
        "target": entry.target,
        "decision": entry.decision,
        "request_id": entry.request_id,
        "client": entry.client,
        "details": entry.details,
        "prev_hash": entry.prev_hash,
    }


def canonical_bytes(entry: EntryRecord) -> bytes:
    """Canonical encoding: JSON, sorted keys, no whitespace, UTF-8, NaN refused."""
    return canonical_json(canonical_fields(entry)).encode()


# Details larger than this (canonical JSON bytes) are stored once by digest, not in the entry.
INLINE_DETAILS_BYTES = 4096
DIGEST_KEY = "$digest"


def canonical_json(value: Any) -> str:
    """The canonical JSON text of a value (sorted keys, no whitespace, NaN refused)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)  # fmt: skip


def blob_digest(body: str) -> str:
    """The digest reference of stored details: ``sha256:<hex>`` of their canonical JSON."""
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()


def referenced_digest(details: dict[str, Any]) -> str | None:
    """The digest an entry's details point to, when they were stored apart."""
    ref = details.get(DIGEST_KEY)
    return ref if isinstance(ref, str) and set(details) == {DIGEST_KEY, "bytes"} else None


def entry_hash(entry: EntryRecord) -> str:
    """SHA-256 over the canonical encoding (which includes the previous hash)."""
    return hashlib.sha256(canonical_bytes(entry)).hexdigest()


def leaf_hash(entry_hash_hex: str) -> bytes:
    """RFC 6962 leaf hash of one entry hash."""
    return hashlib.sha256(b"\x00" + bytes.fromhex(entry_hash_hex)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash."""
    return hashlib.sha256(b"\x01" + left + right).digest()


@dataclass(slots=True)
class CompactRange:
    """The right frontier of a Merkle tree: O(log n) state to append leaves and get roots."""

    size: int = 0
    # Roots of perfect subtrees, largest first; their sizes are the binary digits of ``size``.
    peaks: list[bytes] = field(default_factory=list)

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash."""
        node, level, size = leaf, 0, self.size
        while size >> level & 1:
            node = node_hash(self.peaks.pop(), node)
            level += 1
        self.peaks.append(node)
        self.size += 1

    def root(self) -> bytes:
        """RFC 6962 tree head of the leaves so far."""
        if not self.peaks:
            return hashlib.sha256(b"").digest()
        node = self.peaks[-1]
        for peak in reversed(self.peaks[:-1]):
            node = node_hash(peak, node)
        return node

    def to_json(self) -> dict[str, Any]:
        """Serialisable form kept beside a checkpoint so the next one starts from here."""
        return {"size": self.size, "peaks": [p.hex() for p in self.peaks]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CompactRange:
        """Inverse of ``to_json``."""
        return cls(size=int(data["size"]), peaks=[bytes.fromhex(p) for p in data["peaks"]])


def merkle_root(entry_hashes: list[str]) -> bytes:
    """Root over a whole list of entry hashes (reference implementation for tests)."""
    rng = CompactRange()
    for h in entry_hashes:
        rng.append(leaf_hash(h))
    return rng.root()
