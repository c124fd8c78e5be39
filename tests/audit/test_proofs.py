"""Merkle inclusion and consistency proofs: reference answers, exhaustive tampering, streaming.

Known answers come from transparency-dev/merkle (the Go reference of RFC 6962 that
certificate-transparency-go's ``merkle`` package became):
- ``proof/verify_test.go``: the eight leaves (raw data, leaf hash SHA-256(0x00 || data)), their
  tree heads, the ``inclusionProofs`` and ``consistencyProofs`` node hashes, and the probes that
  must not verify;
- ``proof/proof_test.go``: ``TestInclusion`` and ``TestConsistency``, which give proofs as node
  ids; they are transcribed here as the leaf ranges the nodes cover (``id(level, i)`` covers
  ``[i << level, (i + 1) << level)``, and a ``rehash(begin, end)`` group is one node over the
  union of its ranges).
"""

from __future__ import annotations

import hashlib
import itertools
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from governance.audit.chain import CompactRange, leaf_hash
from governance.audit.proofs import (
    EMPTY_ROOT,
    consistency_proof,
    consistency_ranges,
    inclusion_proof,
    inclusion_ranges,
    proof_from_hex,
    proof_to_hex,
    subtree_root,
    verify_consistency,
    verify_inclusion,
)
from governance.core.errors import InvalidInput, InvalidState
from tests.audit.test_merkle_vectors import ROOTS

# proof/verify_test.go: `leaves` and `roots` (ROOTS[n - 1] is the head of the first n leaves).
DATA = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657"]
DATA.append("606162636465666768696a6b6c6d6e6f")
H96A2 = "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"
H5F08 = "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"
H6B47 = "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"
HBC1A = "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"
HCA85 = "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"
H0EBC = "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"
HB086 = "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"
# `inclusionProofs` as (0-based index, size, proof); the Go table counts leaves from 1.
INCLUSION_VECTORS = [
    (0, 1, []),
    (0, 8, [H96A2, H5F08, H6B47]),
    (5, 8, [HBC1A, HCA85, ROOTS[3]]),
    (2, 3, [ROOTS[1]]),
    (1, 5, [ROOTS[0], H5F08, HBC1A]),
]
# `consistencyProofs` as (old size, new size, proof).
CONSISTENCY_VECTORS = [
    (1, 1, []),
    (1, 8, [H96A2, H5F08, H6B47]),
    (6, 8, [H0EBC, HCA85, ROOTS[3]]),
    (2, 5, [H5F08, HBC1A]),
    (6, 7, [H0EBC, HB086, ROOTS[3]]),
]
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")

# proof/proof_test.go TestInclusion: (size, index) -> leaf ranges of the proof nodes.
INCLUSION_SHAPES = {
    (1, 0): [],
    (2, 0): [(1, 2)],
    (2, 1): [(0, 1)],
    (3, 1): [(0, 1), (2, 3)],
    (7, 0): [(1, 2), (2, 4), (4, 7)],
    (7, 1): [(0, 1), (2, 4), (4, 7)],
    (7, 2): [(3, 4), (0, 2), (4, 7)],
    (7, 3): [(2, 3), (0, 2), (4, 7)],
    (7, 4): [(5, 6), (6, 7), (0, 4)],
    (7, 5): [(4, 5), (6, 7), (0, 4)],
    (7, 6): [(4, 6), (0, 4)],
    (4, 2): [(3, 4), (0, 2)],
    (5, 3): [(2, 3), (0, 2), (4, 5)],
    (6, 3): [(2, 3), (0, 2), (4, 6)],
    (6, 4): [(5, 6), (0, 4)],
    (15, 10): [(11, 12), (8, 10), (12, 15), (0, 8)],
    (31, 24): [(25, 26), (26, 28), (28, 31), (16, 24), (0, 16)],
    (95, 81): [(80, 81), (82, 84), (84, 88), (88, 95), (64, 80), (0, 64)],
}
# proof/proof_test.go TestConsistency: (old size, new size) -> leaf ranges of the proof nodes.
CONSISTENCY_SHAPES = {
    (1, 2): [(1, 2)],
    (1, 4): [(1, 2), (2, 4)],
    (1, 6): [(1, 2), (2, 4), (4, 6)],
    (2, 3): [(2, 3)],
    (2, 8): [(2, 4), (4, 8)],
    (3, 7): [(2, 3), (3, 4), (0, 2), (4, 7)],
    (4, 7): [(4, 7)],
    (5, 7): [(4, 5), (5, 6), (6, 7), (0, 4)],
    (6, 7): [(4, 6), (6, 7), (0, 4)],
    (7, 8): [(6, 7), (7, 8), (4, 6), (0, 4)],
    **{(n, n): [] for n in (1, 2, 3, 4, 5, 7, 8)},
    (2, 4): [(2, 4)],
    (3, 5): [(2, 3), (3, 4), (0, 2), (4, 5)],
    (3, 6): [(2, 3), (3, 4), (0, 2), (4, 6)],
    (4, 6): [(4, 6)],
    (1, 7): [(1, 2), (2, 4), (4, 7)],
    (10, 15): [(8, 10), (10, 12), (12, 15), (0, 8)],
    (24, 31): [(16, 24), (24, 31), (0, 16)],
    (81, 95): [(80, 81), (81, 82), (82, 84), (84, 88), (88, 95), (64, 80), (0, 64)],
}

Source = Callable[[int, int], Iterator[bytes]]


def list_source(leaves: list[bytes]) -> Source:
    """A leaf source over an in-memory list (the small trees of the vectors)."""
    return lambda lo, hi: iter(leaves[lo:hi])


def entry_leaf(i: int) -> bytes:
    """The leaf of a synthetic audit entry: leaf_hash of a SHA-256 entry hash, as the log has."""
    return leaf_hash(hashlib.sha256(str(i).encode()).hexdigest())


def heads(leaves: list[bytes]) -> list[bytes]:
    """HEADS[n] is the tree head of the first n leaves (HEADS[0] the empty tree)."""
    tree, out = CompactRange(), [CompactRange().root()]
    for leaf in leaves:
        tree.append(leaf)
        out.append(tree.root())
    return out


VECTOR_LEAVES = [leaf_hash(d) for d in DATA]


@pytest.mark.parametrize(("index", "size", "want"), INCLUSION_VECTORS)
def test_inclusion_proofs_match_the_reference(index: int, size: int, want: list[str]) -> None:
    proof = inclusion_proof(index, size, list_source(VECTOR_LEAVES))
    assert proof_to_hex(proof) == want
    root = bytes.fromhex(ROOTS[size - 1])
    assert verify_inclusion(index, size, VECTOR_LEAVES[index], proof_from_hex(want), root)


@pytest.mark.parametrize(("old", "new", "want"), CONSISTENCY_VECTORS)
def test_consistency_proofs_match_the_reference(old: int, new: int, want: list[str]) -> None:
    proof = consistency_proof(old, new, list_source(VECTOR_LEAVES))
    assert proof_to_hex(proof) == want
    old_root, new_root = bytes.fromhex(ROOTS[old - 1]), bytes.fromhex(ROOTS[new - 1])
    assert verify_consistency(old, new, old_root, new_root, proof_from_hex(want))


@pytest.mark.parametrize(("size", "index"), sorted(INCLUSION_SHAPES))
def test_inclusion_proof_nodes_cover_the_reference_ranges(size: int, index: int) -> None:
    assert inclusion_ranges(index, size) == INCLUSION_SHAPES[(size, index)]


@pytest.mark.parametrize(("old", "new"), sorted(CONSISTENCY_SHAPES))
def test_consistency_proof_nodes_cover_the_reference_ranges(old: int, new: int) -> None:
    assert consistency_ranges(old, new) == CONSISTENCY_SHAPES[(old, new)]


def test_the_reference_probes_that_must_not_verify() -> None:
    # verify_test.go TestVerifyInclusionSingleEntry and TestVerifyInclusion.
    leaf = leaf_hash(b"data".hex())
    assert verify_inclusion(0, 1, leaf, [], leaf)
    assert not verify_inclusion(0, 1, b"", [], leaf)
    assert not verify_inclusion(0, 1, leaf, [], b"")
    for index, size in [(0, 0), (0, 1), (1, 0), (2, 1)]:
        assert not verify_inclusion(index, size, SOME_HASH, [], b"")
        assert not verify_inclusion(index, size, b"", [], EMPTY_ROOT)
        assert not verify_inclusion(index, size, SOME_HASH, [], EMPTY_ROOT)
    # TestVerifyConsistency (the Go test's 12-byte "don't care" roots are 32-byte hashes here).
    r1, r2 = SOME_HASH, leaf
    assert not verify_consistency(1, 1, r1, r2, [])
    assert verify_consistency(1, 1, r2, r2, [])
    assert not verify_consistency(1, 0, r1, r2, [])  # time travel to the past
    assert not verify_consistency(2, 1, r1, r2, [])
    assert not verify_consistency(1, 2, r1, r2, [])  # empty proof
    assert not verify_consistency(1, 1, EMPTY_ROOT, r2, [])
    for old, new in [(0, 0), (0, 1), (1, 1)]:  # roots match but the proof is not empty
        assert not verify_consistency(old, new, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])


MAX_SIZE = 70
LEAVES = [entry_leaf(i) for i in range(MAX_SIZE)]
HEADS = heads(LEAVES)
SOURCE = list_source(LEAVES)


def tampered(proof: list[bytes], extra: bytes) -> Iterator[list[bytes]]:
    """Every proof one edit away: a flipped byte anywhere, a node dropped or added anywhere."""
    for i, node in enumerate(proof):
        for j in range(len(node)):
            yield [*proof[:i], node[:j] + bytes([node[j] ^ 0x10]) + node[j + 1 :], *proof[i + 1 :]]
        yield proof[:i] + proof[i + 1 :]
    for i in range(len(proof) + 1):
        yield [*proof[:i], extra, *proof[i:]]
    yield [*proof, b""]
    yield [*proof, b"\x00" * 33]


@pytest.mark.slow
@pytest.mark.parametrize("size", range(1, MAX_SIZE + 1))
def test_every_inclusion_proof_verifies_and_every_tampering_fails(size: int) -> None:
    root = HEADS[size]
    for index in range(size):
        leaf, proof = LEAVES[index], inclusion_proof(index, size, SOURCE)
        assert verify_inclusion(index, size, leaf, proof, root)
        for bad in tampered(proof, SOME_HASH):
            assert not verify_inclusion(index, size, leaf, bad, root)
        for other in [*range(-1, index), *range(index + 1, size + 1)]:
            assert not verify_inclusion(other, size, leaf, proof, root)
            assert not verify_inclusion(other, size, LEAVES[other % size], proof, root)
        for other in range(index + 1, MAX_SIZE + 1):  # another tree, with its own head
            if other != size:
                assert not verify_inclusion(index, other, leaf, proof, HEADS[other])
        for other in (size * 2, size // 2, 0, -size):  # another height, the same head
            assert not verify_inclusion(index, other, leaf, proof, root)
        for wrong in (*HEADS[:size], *HEADS[size + 1 :], SOME_HASH):
            assert not verify_inclusion(index, size, leaf, proof, wrong)
        assert not verify_inclusion(index, size, LEAVES[(index + 1) % MAX_SIZE], proof, root)


@pytest.mark.slow
@pytest.mark.parametrize("new", range(1, MAX_SIZE + 1))
def test_every_consistency_proof_verifies_and_every_tampering_fails(new: int) -> None:
    new_root = HEADS[new]
    for old in range(1, new + 1):
        old_root, proof = HEADS[old], consistency_proof(old, new, SOURCE)
        assert verify_consistency(old, new, old_root, new_root, proof)
        for bad in tampered(proof, SOME_HASH):
            assert not verify_consistency(old, new, old_root, new_root, bad)
        for other in range(MAX_SIZE + 1):  # another old tree, or another new tree
            if other not in (0, old):  # (size 0 is extended by every tree: tested below)
                assert not verify_consistency(other, new, HEADS[other], new_root, proof)
            if other != new:
                assert not verify_consistency(old, other, old_root, HEADS[other], proof)
        for other in (old - 1, old + 1, old ^ 2, -old):  # another old size, the same heads
            assert not verify_consistency(other, new, old_root, new_root, proof)
        for other in (new * 2, new // 2, -new):
            assert not verify_consistency(old, other, old_root, new_root, proof)
        if old != new:
            assert not verify_consistency(old, new, new_root, old_root, proof)  # swapped
            assert not verify_consistency(old, new, old_root, new_root, [])
        for wrong in (SOME_HASH, EMPTY_ROOT):
            assert not verify_consistency(old, new, wrong, new_root, proof)
            assert not verify_consistency(old, new, old_root, wrong, proof)


def test_the_empty_tree_is_extended_by_every_tree_with_an_empty_proof() -> None:
    assert consistency_proof(0, 5, SOURCE) == []
    assert verify_consistency(0, 5, EMPTY_ROOT, HEADS[5], [])
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert not verify_consistency(0, 5, HEADS[1], HEADS[5], [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, HEADS[5], [HEADS[5]])


def test_verification_refuses_malformed_input_without_raising() -> None:
    leaf, proof, root = LEAVES[2], inclusion_proof(2, 5, SOURCE), HEADS[5]
    bad_nodes: list[Any] = [b"", leaf[:31], leaf + b"\x00", leaf.hex(), None]
    for bad in bad_nodes:
        assert not verify_inclusion(2, 5, bad, proof, root)
        assert not verify_inclusion(2, 5, leaf, proof, bad)
        assert not verify_inclusion(2, 5, leaf, [bad, *proof[1:]], root)
        assert not verify_consistency(3, 5, bad, root, consistency_proof(3, 5, SOURCE))
    old_proof = consistency_proof(3, 5, SOURCE)
    assert not verify_consistency(3, 5, HEADS[3], HEADS[5], [b"", *old_proof[1:]])
    assert not verify_consistency(3, 5, HEADS[3][:16], HEADS[5], old_proof)
    assert not verify_consistency(5, 3, HEADS[5], HEADS[3], old_proof)
    assert not verify_consistency(-3, 5, HEADS[3], HEADS[5], old_proof)
    assert not verify_consistency(3, 5, HEADS[3], HEADS[5], [*old_proof] * 40)


def test_generation_refuses_arguments_outside_the_tree() -> None:
    for index, size in [(-1, 5), (5, 5), (0, 0), (7, 3)]:
        with pytest.raises(InvalidInput):
            inclusion_proof(index, size, SOURCE)
    for old, new in [(6, 5), (-1, 5), (1, 0)]:
        with pytest.raises(InvalidInput):
            consistency_proof(old, new, SOURCE)
    for lo, hi in [(3, 3), (4, 3), (-1, 2)]:
        with pytest.raises(InvalidInput):
            subtree_root(SOURCE, lo, hi)


def test_a_source_that_does_not_hold_the_range_is_an_error() -> None:
    def short(lo: int, hi: int) -> Iterator[bytes]:
        return iter(LEAVES[lo : hi - 1])

    def endless(lo: int, hi: int) -> Iterator[bytes]:
        return itertools.repeat(LEAVES[0])  # must stop reading after one leaf too many

    def truncated(lo: int, hi: int) -> Iterator[bytes]:
        return (leaf[:20] for leaf in LEAVES[lo:hi])

    for source in (short, endless, truncated):
        with pytest.raises(InvalidState):
            inclusion_proof(3, 9, source)
        with pytest.raises(InvalidState):
            subtree_root(source, 0, 9)


class CountingSource:
    """Leaves computed on the fly (nothing stored), with the ranges asked for and leaves read."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.calls: list[tuple[int, int]] = []
        self.read = 0

    def __call__(self, lo: int, hi: int) -> Iterator[bytes]:
        self.calls.append((lo, hi))
        for i in range(lo, hi):
            self.read += 1
            yield entry_leaf(i)

    def head(self) -> bytes:
        return subtree_root(CountingSource(self.size), 0, self.size)


BIG = 10_000
BIG_HEAD = CountingSource(BIG).head()


@pytest.mark.parametrize("index", [0, 1, 4095, 4096, 5000, BIG - 2, BIG - 1])
def test_an_inclusion_proof_streams_the_log_once(index: int) -> None:
    source = CountingSource(BIG)
    proof = inclusion_proof(index, BIG, source)
    assert verify_inclusion(index, BIG, entry_leaf(index), proof, BIG_HEAD)
    assert source.read == BIG - 1  # every leaf but the proven one, each once
    assert len(source.calls) == len(proof) <= BIG.bit_length()
    assert all(0 <= lo < hi <= BIG for lo, hi in source.calls)


@pytest.mark.parametrize("old", [1, 2, 4096, 4097, 7777, BIG - 1, BIG])
def test_a_consistency_proof_streams_the_log_once(old: int) -> None:
    source = CountingSource(BIG)
    proof = consistency_proof(old, BIG, source)
    old_head = CountingSource(old).head()
    assert verify_consistency(old, BIG, old_head, BIG_HEAD, proof)
    assert source.read <= BIG
    assert len(source.calls) == len(proof) <= 2 * BIG.bit_length()
    assert all(0 <= lo < hi <= BIG for lo, hi in source.calls)


def test_generation_holds_a_frontier_not_the_log() -> None:
    # Ten thousand 32-byte leaves held at once would take over 600 KB; the frontier a few KB.
    source = CountingSource(BIG)
    tracemalloc.start()
    try:
        inclusion_proof(5000, BIG, source)
        consistency_proof(3333, BIG, source)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024


def test_proofs_round_trip_through_hex() -> None:
    proof = inclusion_proof(3, 7, SOURCE)
    assert proof_from_hex(proof_to_hex(proof)) == proof
    for bad in (["zz" * 32], ["abc"], ["00" * 31], [b"\x00" * 32]):
        with pytest.raises(InvalidInput):
            proof_from_hex(bad)  # type: ignore[arg-type]
