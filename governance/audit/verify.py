"""Offline verification of an audit log: recompute every hash, link and signed checkpoint."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from governance.audit.chain import GENESIS, CompactRange, EntryRecord, entry_hash, leaf_hash
from governance.audit.signing import open_note
from governance.core.errors import InvalidInput

MAX_LISTED = 100


class FindingCategory(StrEnum):
    """What kind of tampering a finding points at."""

    modified = "modified"
    missing = "missing"
    reordered = "reordered"
    forged = "forged"
    truncated = "truncated"
    bad_signature = "bad_signature"


@dataclass(frozen=True, kw_only=True, slots=True)
class Finding:
    """One inconsistency, located at the first sequence number it affects."""

    category: FindingCategory
    seq: int
    detail: str


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredCheckpoint:
    """A checkpoint as stored: the claimed size and the signed note."""

    tree_size: int
    note: str


@dataclass(kw_only=True, slots=True)
class VerifyReport:
    """Result of a verification, by category, with the first bad sequence number."""

    entries: int = 0
    checkpoints: int = 0
    sealed_through: int = 0
    findings: list[Finding] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when nothing was found."""
        return not self.counts

    @property
    def first_bad_seq(self) -> int | None:
        """The lowest sequence number any finding points at."""
        return min((f.seq for f in self.findings), default=None)

    def add(self, category: FindingCategory, seq: int, detail: str) -> None:
        """Record a finding (only the first ``MAX_LISTED`` are listed; all are counted)."""
        self.counts[category] = self.counts.get(category, 0) + 1
        if len(self.findings) < MAX_LISTED:
            self.findings.append(Finding(category=category, seq=seq, detail=detail))

    def to_dict(self) -> dict[str, Any]:
        """JSON form used by the API and the CLI."""
        return {
            "ok": self.ok,
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "sealed_through": self.sealed_through,
            "first_bad_seq": self.first_bad_seq,
            "counts": dict(sorted(self.counts.items())),
            "findings": [
                {"category": str(f.category), "seq": f.seq, "detail": f.detail}
                for f in sorted(self.findings, key=lambda f: f.seq)
            ],
        }


class _Index:
    """Where each stored hash and each claimed predecessor sits (for reorder diagnosis)."""

    def __init__(self, entries: Sequence[EntryRecord]) -> None:
        self.seq_of_hash = {e.hash: e.seq for e in entries}
        self.seq_of_successor = {e.prev_hash: e.seq for e in entries}

    def moved(self, entry: EntryRecord) -> bool:
        """Is ``entry`` authentic but stored at another position than it was written at?"""
        candidates = set()
        if entry.prev_hash == GENESIS:
            candidates.add(1)
        if entry.prev_hash in self.seq_of_hash:
            candidates.add(self.seq_of_hash[entry.prev_hash] + 1)
        if entry.hash in self.seq_of_successor:
            candidates.add(self.seq_of_successor[entry.hash] - 1)
        candidates.discard(entry.seq)
        return any(entry_hash(entry.with_seq(s)) == entry.hash for s in candidates if s > 0)


def _check_entry(
    entry: EntryRecord, prev: EntryRecord | None, expected: int, index: _Index, rep: VerifyReport
) -> None:
    if entry.seq > expected:
        rep.add(FindingCategory.missing, expected, f"entries {expected}..{entry.seq - 1} missing")
    elif entry.seq < expected:
        rep.add(FindingCategory.reordered, entry.seq, "sequence number out of order")
    if entry_hash(entry) != entry.hash:
        if index.moved(entry):
            rep.add(FindingCategory.reordered, entry.seq, "authentic entry at the wrong position")
        else:
            rep.add(FindingCategory.modified, entry.seq, "content does not match its hash")
        return
    want = GENESIS if prev is None else prev.hash
    if entry.prev_hash != want and entry.seq == expected:
        rep.add(FindingCategory.forged, entry.seq, "entry does not link to its predecessor")


def _open_checkpoints(
    checkpoints: Sequence[StoredCheckpoint], key: Ed25519PublicKey, origin: str, rep: VerifyReport
) -> dict[int, bytes]:
    roots: dict[int, bytes] = {}
    for cp in checkpoints:
        try:
            stated = open_note(cp.note, key)
        except InvalidInput as exc:
            rep.add(FindingCategory.bad_signature, cp.tree_size, f"checkpoint: {exc.detail}")
            continue
        if stated.size != cp.tree_size or stated.origin != origin:
            rep.add(FindingCategory.bad_signature, cp.tree_size, "row disagrees with signed note")
            continue
        roots[stated.size] = stated.root
    return roots


def verify_log(
    entries: Sequence[EntryRecord],
    checkpoints: Sequence[StoredCheckpoint],
    public_key: Ed25519PublicKey,
    *,
    origin: str,
) -> VerifyReport:
    """Check entries (ordered by seq as stored) against each other and the signed checkpoints."""
    rep = VerifyReport(entries=len(entries), checkpoints=len(checkpoints))
    roots = _open_checkpoints(checkpoints, public_key, origin, rep)
    index = _Index(entries)
    tree = CompactRange()
    prev: EntryRecord | None = None
    last_good_cp = 0
    for entry in entries:
        expected = 1 if prev is None else prev.seq + 1
        _check_entry(entry, prev, expected, index, rep)
        tree.append(leaf_hash(entry.hash))
        root = roots.get(tree.size)
        if root is not None:
            if root != tree.root():
                rep.add(
                    FindingCategory.forged,
                    last_good_cp + 1,
                    f"log disagrees with the signed checkpoint at size {tree.size}",
                )
            last_good_cp = tree.size
        prev = entry
    rep.sealed_through = last_good_cp
    beyond = [size for size in roots if size > tree.size]
    if beyond:
        rep.add(
            FindingCategory.truncated,
            tree.size + 1,
            f"log has {tree.size} entries but a checkpoint signs {max(beyond)}",
        )
    return rep
