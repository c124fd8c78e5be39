"""Proofs served from the stored log, and their offline checks.

An inclusion bundle lets anyone holding the audit public key confirm that one entry is part of
the log a signed checkpoint covers, without the rest of the log; a consistency bundle confirms
that the latest checkpoint extends a checkpoint the auditor kept, so nothing before it changed.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict, Field

from governance.audit.chain import EntryRecord, entry_hash, leaf_hash
from governance.audit.proofs import (
    LeafSource,
    consistency_proof,
    inclusion_proof,
    proof_from_hex,
    proof_to_hex,
    verify_consistency,
    verify_inclusion,
)
from governance.audit.schemas import AuditEntry, SealedPrefix
from governance.audit.signing import Checkpoint, KeyRing, open_note
from governance.audit.store import SqlAuditStore
from governance.core.db import Database
from governance.core.errors import InvalidInput, InvalidState, NotFound

MAX_PROOF = 64  # a tree of 2**64 leaves has paths far shorter; longer is not a proof


class InclusionBundle(BaseModel):
    """One entry, the signed checkpoint that covers it, and the audit path between them."""

    model_config = ConfigDict(frozen=True)

    entry: AuditEntry
    leaf_index: int = Field(ge=0)
    tree_size: int = Field(ge=1)
    checkpoint: str = Field(max_length=4096)
    proof: list[str] = Field(max_length=MAX_PROOF)


class ConsistencyBundle(BaseModel):
    """The latest signed checkpoint and the proof that it extends the tree of ``first_size``."""

    model_config = ConfigDict(frozen=True)

    first_size: int = Field(ge=1)
    tree_size: int = Field(ge=1)
    checkpoint: str = Field(max_length=4096)
    proof: list[str] = Field(max_length=2 * MAX_PROOF)


def db_leaves(store: SqlAuditStore) -> LeafSource:
    """Leaf hashes of the stored log: leaf ``i`` is entry ``seq = i + 1``."""

    def leaves(lo: int, hi: int) -> Iterator[bytes]:
        for h in store.iter_hashes(lo, hi):
            yield leaf_hash(h)

    return leaves


def _latest(store: SqlAuditStore) -> SealedPrefix:
    last = store.last_sealed()
    if last is None:
        raise InvalidState("the log has no signed checkpoint yet (run `steward audit seal`)")
    return last


def inclusion(db: Database, seq: int) -> InclusionBundle:
    """The inclusion proof of entry ``seq`` against the latest checkpoint."""
    with db.read() as session:
        store = SqlAuditStore(session)
        last = _latest(store)
        if seq > last.tree_size:
            raise InvalidState(
                f"entry {seq} is not sealed yet: the latest checkpoint covers {last.tree_size}"
            )
        entries = store.page_from(seq, limit=1)
        if not entries or entries[0].seq != seq:
            raise NotFound(f"audit entry {seq} not found")
        proof = inclusion_proof(seq - 1, last.tree_size, db_leaves(store))
    return InclusionBundle(
        entry=entries[0],
        leaf_index=seq - 1,
        tree_size=last.tree_size,
        checkpoint=last.note,
        proof=proof_to_hex(proof),
    )


def consistency(db: Database, first_size: int) -> ConsistencyBundle:
    """The consistency proof from the tree of ``first_size`` entries to the latest checkpoint."""
    with db.read() as session:
        store = SqlAuditStore(session)
        last = _latest(store)
        if first_size > last.tree_size:
            raise InvalidState(
                f"size {first_size} is beyond the latest checkpoint ({last.tree_size})"
            )
        proof = consistency_proof(first_size, last.tree_size, db_leaves(store))
    return ConsistencyBundle(
        first_size=first_size,
        tree_size=last.tree_size,
        checkpoint=last.note,
        proof=proof_to_hex(proof),
    )


def _opened(note: str, size: int, ring: KeyRing, origin: str) -> Checkpoint:
    checkpoint = open_note(note, ring)
    if checkpoint.origin != origin or checkpoint.size != size:
        raise InvalidInput("the checkpoint is for another log or another size")
    return checkpoint


def check_inclusion(bundle: InclusionBundle, ring: KeyRing, *, origin: str) -> None:
    """Raise InvalidInput unless the entry is authentic and included in the signed checkpoint."""
    record = EntryRecord(**bundle.entry.model_dump())
    if entry_hash(record) != record.hash:
        raise InvalidInput(f"entry {record.seq}: content does not match its hash")
    if bundle.leaf_index != record.seq - 1:
        raise InvalidInput("the proof is for another position than the entry's")
    checkpoint = _opened(bundle.checkpoint, bundle.tree_size, ring, origin)
    leaf = leaf_hash(record.hash)
    if not verify_inclusion(
        bundle.leaf_index, checkpoint.size, leaf, proof_from_hex(bundle.proof), checkpoint.root
    ):
        raise InvalidInput(f"entry {record.seq} is not included in the signed checkpoint")


def check_consistency(
    bundle: ConsistencyBundle, trusted_note: str, ring: KeyRing, *, origin: str
) -> None:
    """Raise InvalidInput unless the bundle's checkpoint extends the trusted one."""
    trusted = _opened(trusted_note, bundle.first_size, ring, origin)
    latest = _opened(bundle.checkpoint, bundle.tree_size, ring, origin)
    proof = proof_from_hex(bundle.proof)
    if not verify_consistency(trusted.size, latest.size, trusted.root, latest.root, proof):
        raise InvalidInput(
            f"the checkpoint of size {latest.size} does not extend the trusted one of "
            f"size {trusted.size}: the log was rewritten"
        )
