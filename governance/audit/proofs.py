"""RFC 6962 / RFC 9162 Merkle audit proofs over the log: streaming generation, verification.

Generation never holds the log in memory. It reads leaf hashes through a ``LeafSource``, a
callable ``leaves(lo, hi)`` that yields the leaf hashes of indices ``lo <= i < hi`` in order
(the store backs it with one range query over sequence numbers). Every node of a proof is the
head of a subtree over a contiguous leaf range, and the ranges of one proof are disjoint, so a
proof costs one pass over at most ``size`` leaves, ``O(log n)`` source calls and ``O(log n)``
memory (one ``CompactRange`` at a time).

Error convention:
- generation raises ``InvalidInput`` for arguments outside the documented domain (a caller's
  mistake) and ``InvalidState`` when the source does not yield exactly the leaves asked for
  (the log does not hold what its size claims);
- verification never raises for proof content: any malformed or inconsistent input (sizes out
  of order, index beyond the size, a node that is not 32 bytes, wrong proof length) is simply
  a proof that does not verify, and the answer is ``False``.

The size is authenticated only through the root: take ``size`` and ``root`` from the same
signed checkpoint, as RFC 9162 assumes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from governance.audit.chain import CompactRange, node_hash
from governance.core.errors import InvalidInput, InvalidState

HASH_SIZE = 32
EMPTY_ROOT = CompactRange().root()

LeafSource = Callable[[int, int], Iterable[bytes]]
"""``leaves(lo, hi)``: the leaf hashes with index ``lo <= i < hi``, in index order."""


def _split(n: int) -> int:
    """RFC 6962 k: the largest power of two strictly below ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def subtree_root(leaves: LeafSource, lo: int, hi: int) -> bytes:
    """MTH of the leaves ``lo <= i < hi`` (``0 <= lo < hi``), streamed through ``leaves``."""
    if not 0 <= lo < hi:
        raise InvalidInput(f"leaf range [{lo}, {hi}) is empty or negative", field="range")
    tree = CompactRange()
    want = hi - lo
    for leaf in leaves(lo, hi):
        if tree.size == want:
            raise InvalidState(f"the log yielded more than {want} leaves for [{lo}, {hi})")
        if not _is_hash(leaf):
            raise InvalidState(f"leaf {lo + tree.size} is not a {HASH_SIZE}-byte hash")
        tree.append(leaf)
    if tree.size != want:
        raise InvalidState(f"the log yielded {tree.size} of {want} leaves for [{lo}, {hi})")
    return tree.root()


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Leaf ranges whose heads form PATH(index, D[size]) (RFC 6962 2.1.1), in proof order."""
    if not 0 <= index < size:
        raise InvalidInput(f"leaf index {index} is not below tree size {size}", field="index")
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        mid = lo + _split(hi - lo)
        if index < mid:
            ranges.append((mid, hi))
            hi = mid
        else:
            ranges.append((lo, mid))
            lo = mid
    ranges.reverse()  # the path runs from the leaf up to the root
    return ranges


def consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """Leaf ranges whose heads form PROOF(old_size, D[new_size]) (RFC 6962 2.1.2).

    ``0 <= old_size <= new_size``; the proof is empty when the sizes are equal or the old tree
    is empty (every tree extends the empty one).
    """
    if not 0 <= old_size <= new_size:
        raise InvalidInput(
            f"old size {old_size} must be between 0 and new size {new_size}", field="old_size"
        )
    ranges: list[tuple[int, int]] = []
    if old_size in (0, new_size):
        return ranges
    # SUBPROOF(m, D[lo:hi], complete); old_size stays inside (lo, hi] throughout.
    lo, hi, complete = 0, new_size, True
    while old_size != hi:
        mid = lo + _split(hi - lo)
        if old_size <= mid:
            ranges.append((mid, hi))
            hi = mid
        else:
            ranges.append((lo, mid))
            lo, complete = mid, False
    if not complete:
        ranges.append((lo, hi))
    ranges.reverse()  # the deepest node comes first
    return ranges


def inclusion_proof(index: int, size: int, leaves: LeafSource) -> list[bytes]:
    """Audit path of leaf ``index`` in the tree of the first ``size`` leaves."""
    return [subtree_root(leaves, lo, hi) for lo, hi in inclusion_ranges(index, size)]


def consistency_proof(old_size: int, new_size: int, leaves: LeafSource) -> list[bytes]:
    """Proof that the tree of ``new_size`` leaves extends the tree of ``old_size`` leaves."""
    return [subtree_root(leaves, lo, hi) for lo, hi in consistency_ranges(old_size, new_size)]


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """True when ``proof`` shows ``leaf`` at ``index`` in the tree of ``size`` with ``root``.

    RFC 9162 2.1.3.2; any malformed input gives False.
    """
    if not (0 <= index < size and _is_hash(leaf) and _is_hash(root)):
        return False
    if not all(_is_hash(node) for node in proof):
        return False
    fn, sn, r = index, size - 1, leaf
    for node in proof:
        if sn == 0:
            return False  # the proof is longer than the path
        if fn & 1 or fn == sn:
            r = node_hash(node, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, node)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """True when ``proof`` shows the tree (``new_size``, ``new_root``) extends the old one.

    RFC 9162 2.1.4.2; an empty old tree (size 0, the empty root) is extended by every tree with
    an empty proof. Any malformed input gives False.
    """
    if not (0 <= old_size <= new_size and _is_hash(old_root) and _is_hash(new_root)):
        return False
    if not all(_is_hash(node) for node in proof):
        return False
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is a node of the new tree
        path.insert(0, old_root)
    return _consistency_roots(old_size - 1, new_size - 1, path) == (old_root, new_root)


def _consistency_roots(fn: int, sn: int, path: list[bytes]) -> tuple[bytes, bytes] | None:
    """Steps 4-7 of RFC 9162 2.1.4.2: both roots the path implies, None if it is malformed."""
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for node in path[1:]:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            fr, sr = node_hash(node, fr), node_hash(node, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, node)
        fn, sn = fn >> 1, sn >> 1
    return (fr, sr) if sn == 0 else None


def proof_to_hex(proof: Sequence[bytes]) -> list[str]:
    """JSON form of a proof: its nodes as lower-case hex."""
    return [node.hex() for node in proof]


def proof_from_hex(nodes: Sequence[str]) -> list[bytes]:
    """Inverse of ``proof_to_hex``; raises InvalidInput unless every node is 32 bytes of hex."""
    try:
        proof = [bytes.fromhex(node) for node in nodes]
    except (TypeError, ValueError) as exc:
        raise InvalidInput("proof nodes must be hex strings", field="proof") from exc
    if not all(len(node) == HASH_SIZE for node in proof):
        raise InvalidInput(f"proof nodes must be {HASH_SIZE} bytes", field="proof")
    return proof
