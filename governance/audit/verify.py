"""Offline verification of an audit log: every hash, link, signed checkpoint and witness.

The log is streamed once in sequence order, so memory does not grow with its length: the state is
the previous entry, a Merkle frontier and the checkpoints still ahead. A second pass runs only
when entries fail their hash, to tell an edited entry from an authentic one stored elsewhere.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from governance.audit.chain import (
    GENESIS,
    CompactRange,
    EntryRecord,
    entry_hash,
    leaf_hash,
    referenced_digest,
)
from governance.audit.signing import (
    KeyRing,
    UnknownKey,
    key_id,
    open_note,
    parse_verifier_key,
)
from governance.audit.witness import note_size
from governance.core.errors import InvalidInput

MAX_LISTED = 100
# Entries failing their hash kept for the reorder diagnosis; beyond this they count as modified.
MAX_SUSPECTS = 10_000
ROTATE_ACTION = "audit.key.rotate"


class FindingCategory(StrEnum):
    """What kind of tampering a finding points at."""

    modified = "modified"
    missing = "missing"
    reordered = "reordered"
    forged = "forged"
    truncated = "truncated"
    rewritten = "rewritten"
    unsealed = "unsealed"
    checkpoint_deleted = "checkpoint_deleted"
    bad_signature = "bad_signature"
    key_missing = "key_missing"


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


@dataclass(frozen=True, kw_only=True, slots=True)
class SealPolicy:
    """How much of the log may stand after the last checkpoint before it is a finding."""

    max_entries: int | None = None
    max_age: timedelta | None = None
    now: datetime | None = None


@dataclass(kw_only=True, slots=True)
class VerifyReport:
    """Result of a verification, by category, with the first bad sequence number."""

    entries: int = 0
    checkpoints: int = 0
    sealed_through: int = 0
    witnessed_through: int = 0
    findings: list[Finding] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    # (size, signed root) of the newest witnessed and stored checkpoints that verified.
    latest_witnessed: tuple[int, bytes] | None = None
    latest_stored: tuple[int, bytes] | None = None

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
            "witnessed_through": self.witnessed_through,
            "first_bad_seq": self.first_bad_seq,
            "counts": dict(sorted(self.counts.items())),
            "findings": [
                {"category": str(f.category), "seq": f.seq, "detail": f.detail}
                for f in sorted(self.findings, key=lambda f: f.seq)
            ],
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class _Note:
    size: int
    note: str
    witnessed: bool
    claimed: int  # the stored row's tree_size (equal to ``size`` unless tampered)


def _notes(checkpoints: Sequence[StoredCheckpoint], witnessed: Sequence[str]) -> list[_Note]:
    notes = []
    for cp in checkpoints:
        try:
            size = note_size(cp.note)
        except InvalidInput:
            size = cp.tree_size
        notes.append(_Note(size=size, note=cp.note, witnessed=False, claimed=cp.tree_size))
    for text in witnessed:
        try:
            size = note_size(text)
        except InvalidInput:
            size = 0
        notes.append(_Note(size=size, note=text, witnessed=True, claimed=size))
    return sorted(notes, key=lambda n: (n.size, n.witnessed))


class _Verifier:
    """One streaming pass: entries in, findings out."""

    def __init__(
        self,
        ring: KeyRing,
        origin: str,
        notes: list[_Note],
        policy: SealPolicy | None,
        blob_ok: Callable[[str], bool] | None,
    ) -> None:
        self.ring, self.origin, self.notes, self.policy = ring, origin, notes, policy
        self.blob_ok = blob_ok
        self.rep = VerifyReport()
        self.tree = CompactRange()
        self.prev: EntryRecord | None = None
        self.next_note = 0
        self.stored_sizes: set[int] = set()
        self.unknown_key: list[_Note] = []
        self.lost_key_rotations: list[int] = []
        self.suspects: list[EntryRecord] = []
        self.unsealed_since: datetime | None = None

    def entry(self, entry: EntryRecord) -> None:
        expected = 1 if self.prev is None else self.prev.seq + 1
        rep = self.rep
        rep.entries += 1
        if entry.seq > expected:
            rep.add(
                FindingCategory.missing, expected, f"entries {expected}..{entry.seq - 1} missing"
            )
        elif entry.seq < expected:
            rep.add(FindingCategory.reordered, entry.seq, "sequence number out of order")
        if entry_hash(entry) != entry.hash:
            if len(self.suspects) < MAX_SUSPECTS:
                self.suspects.append(entry)
            else:
                rep.add(FindingCategory.modified, entry.seq, "content does not match its hash")
        else:
            want = GENESIS if self.prev is None else self.prev.hash
            if entry.prev_hash != want and entry.seq == expected:
                rep.add(FindingCategory.forged, entry.seq, "entry does not link to its predecessor")
            elif entry.action == ROTATE_ACTION:
                self._rotation(entry)
            ref = referenced_digest(entry.details)
            if ref is not None and self.blob_ok is not None and not self.blob_ok(ref):
                rep.add(
                    FindingCategory.modified,
                    entry.seq,
                    "details stored by digest are altered or gone",
                )
        self.tree.append(leaf_hash(entry.hash))
        if self.unsealed_since is None:
            self.unsealed_since = entry.ts
        self._notes_at(self.tree.size, entry.seq)
        self.prev = entry

    def _rotation(self, entry: EntryRecord) -> None:
        # The new key is trusted when the previous key (already trusted) endorsed it.
        details = entry.details
        try:
            nxt_name, nxt = parse_verifier_key(str(details["next"]))
            prev_text, endorsement = details.get("previous"), details.get("endorsement")
            if not prev_text or not endorsement:
                self.lost_key_rotations.append(entry.seq)
                return
            prev_name, prev = parse_verifier_key(str(prev_text))
            if self.ring.get(key_id(prev_name or self.origin, prev)) is None:
                self.lost_key_rotations.append(entry.seq)
                return
            prev.verify(
                base64.b64decode(str(endorsement)), rotation_statement(str(details["next"]))
            )
        except (KeyError, ValueError, InvalidInput, InvalidSignature):
            self.rep.add(FindingCategory.forged, entry.seq, "key rotation is not endorsed")
            return
        self.ring.add(nxt_name or self.origin, nxt)

    def _notes_at(self, size: int, seq: int) -> None:
        while self.next_note < len(self.notes) and self.notes[self.next_note].size <= size:
            note = self.notes[self.next_note]
            self.next_note += 1
            root = self._open(note)
            if root is None:
                continue
            if note.size < size:  # a note for a size this pass skipped (only with tampering)
                continue
            self._compare(note, root)

    def _open(self, note: _Note) -> bytes | None:
        where = "witnessed checkpoint" if note.witnessed else "checkpoint"
        try:
            stated = open_note(note.note, self.ring)
        except UnknownKey:
            self.unknown_key.append(note)
            return None
        except InvalidInput as exc:
            self.rep.add(FindingCategory.bad_signature, note.claimed, f"{where}: {exc.detail}")
            return None
        if stated.size != note.claimed or stated.origin != self.origin:
            self.rep.add(FindingCategory.bad_signature, note.claimed, f"{where}: row disagrees")
            return None
        return stated.root

    def _compare(self, note: _Note, root: bytes) -> None:
        size, rep = note.size, self.rep
        matches = root == self.tree.root()
        if note.witnessed:
            rep.latest_witnessed = (size, root)
            rep.witnessed_through = max(rep.witnessed_through, size)
            if not matches:
                rep.add(
                    FindingCategory.rewritten,
                    rep.sealed_through + 1,
                    f"the log no longer matches the witnessed checkpoint at size {size}",
                )
            elif size not in self.stored_sizes:
                rep.add(
                    FindingCategory.checkpoint_deleted,
                    size,
                    f"checkpoint at size {size} was witnessed but is not in the database",
                )
            return
        self.stored_sizes.add(size)
        rep.latest_stored = (size, root)
        if not matches:
            rep.add(
                FindingCategory.forged,
                rep.sealed_through + 1,
                f"log disagrees with the signed checkpoint at size {size}",
            )
        rep.sealed_through = size
        self.unsealed_since = None

    def finish(self) -> VerifyReport:
        rep = self.rep
        rep.checkpoints = sum(1 for n in self.notes if not n.witnessed)
        for note in self.notes[self.next_note :]:
            root = self._open(note)
            if root is not None:
                category = FindingCategory.truncated
                source = "a witnessed checkpoint" if note.witnessed else "a checkpoint"
                rep.add(
                    category,
                    self.tree.size + 1,
                    f"log has {self.tree.size} entries but {source} signs {note.size}",
                )
        for note in self.unknown_key:
            lost = any(seq >= note.size for seq in self.lost_key_rotations)
            category = FindingCategory.key_missing if lost else FindingCategory.bad_signature
            rep.add(category, note.claimed, f"checkpoint at {note.size}: signed by an unknown key")
        self._unsealed()
        return rep

    def _unsealed(self) -> None:
        policy, rep = self.policy, self.rep
        if policy is None:
            return
        standing = self.tree.size - rep.sealed_through
        first = rep.sealed_through + 1
        if policy.max_entries is not None and standing > policy.max_entries:
            rep.add(
                FindingCategory.unsealed,
                first,
                f"{standing} entries stand after the last checkpoint "
                f"(at most {policy.max_entries} allowed)",
            )
        elif policy.max_age is not None and policy.now is not None and self.unsealed_since:
            age = policy.now - self.unsealed_since
            if standing and age > policy.max_age:
                minutes = int(age.total_seconds() // 60)
                rep.add(
                    FindingCategory.unsealed,
                    first,
                    f"entries after the last checkpoint are {minutes} minutes old",
                )


def rotation_statement(next_key: str) -> bytes:
    """What the outgoing key signs to endorse its successor."""
    return f"steward audit key rotation\n{next_key}\n".encode()


def _diagnose(
    suspects: list[EntryRecord], entries: Callable[[], Iterable[EntryRecord]]
) -> dict[int, bool]:
    """For each suspect seq: is it an authentic entry stored at another position? (second pass)"""
    wanted_hash = {s.prev_hash for s in suspects}
    wanted_succ = {s.hash for s in suspects}
    seq_of_hash: dict[str, int] = {}
    seq_of_successor: dict[str, int] = {}
    for e in entries():
        if e.hash in wanted_hash:
            seq_of_hash[e.hash] = e.seq
        if e.prev_hash in wanted_succ:
            seq_of_successor[e.prev_hash] = e.seq
    moved = {}
    for s in suspects:
        candidates = {1} if s.prev_hash == GENESIS else set()
        if s.prev_hash in seq_of_hash:
            candidates.add(seq_of_hash[s.prev_hash] + 1)
        if s.hash in seq_of_successor:
            candidates.add(seq_of_successor[s.hash] - 1)
        candidates.discard(s.seq)
        moved[s.seq] = any(entry_hash(s.with_seq(c)) == s.hash for c in candidates if c > 0)
    return moved


def verify_log(
    entries: Sequence[EntryRecord] | Callable[[], Iterable[EntryRecord]],
    checkpoints: Sequence[StoredCheckpoint],
    keys: KeyRing | Ed25519PublicKey,
    *,
    origin: str,
    witnessed: Sequence[str] = (),
    policy: SealPolicy | None = None,
    blob_ok: Callable[[str], bool] | None = None,
) -> VerifyReport:
    """Check entries (in stored order) against each other, the checkpoints and the witness.

    ``entries`` is a sequence or a callable that streams them afresh (it is called a second time
    only when some entry fails its hash). ``witnessed`` are signed notes kept outside the
    database; ``policy`` bounds what may stand unsealed after the last checkpoint; ``blob_ok``
    checks details stored apart by digest (None: not checked).
    """
    stream = entries if callable(entries) else (lambda: entries)
    ring = keys if isinstance(keys, KeyRing) else KeyRing([(origin, keys)])
    verifier = _Verifier(ring, origin, _notes(checkpoints, witnessed), policy, blob_ok)
    for entry in stream():
        verifier.entry(entry)
    if verifier.suspects:
        for seq, moved in sorted(_diagnose(verifier.suspects, stream).items()):
            if moved:
                verifier.rep.add(
                    FindingCategory.reordered, seq, "authentic entry at the wrong position"
                )
            else:
                verifier.rep.add(FindingCategory.modified, seq, "content does not match its hash")
    return verifier.finish()
