"""RFC 6962 Merkle tree hashes against the reference implementation's known answers.

The expected values are copied from transparency-dev/merkle (the Go reference of RFC 6962 that
certificate-transparency-go's ``merkle`` package became): ``rfc6962/rfc6962_test.go`` for the
leaf and node hashes, ``proof/verify_test.go`` for the eight leaves, the tree heads of sizes 1 to 8
and the inclusion and consistency proofs whose nodes are the subtree heads checked below. Nothing
here is computed with the code under test: every expected value is hard-coded hex.
"""

from __future__ import annotations

import pytest

from governance.audit.chain import CompactRange, leaf_hash, merkle_root, node_hash

LEAVES = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
]
# ROOTS[n - 1] is the tree head of the first n leaves.
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
EMPTY_ROOT = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
# Subtree heads MTH(LEAVES[start:end]): the nodes of the reference's proofs, e.g. the inclusion
# proof of leaf 0 in the tree of 8 is [96a2…, 5f08…, 6b47…], of leaf 5 is [bc1a…, ca85…, d37e…],
# and the consistency proof from 6 to 7 is [0ebc…, b086…, d37e…].
SUBTREES = {
    (1, 2): "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    (4, 5): "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    (6, 7): "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    (2, 4): "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    (4, 6): "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    (6, 8): "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    (4, 8): "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
}


def test_the_empty_tree_head_is_the_hash_of_nothing() -> None:
    # RFC 6962 2.1: MTH({}) = SHA-256() (e3b0…, the digest of the empty string).
    assert merkle_root([]).hex() == EMPTY_ROOT
    assert CompactRange().root().hex() == EMPTY_ROOT


def test_leaf_and_node_hashes_match_the_reference() -> None:
    # The empty leaf differs from the empty tree: the 0x00 prefix is hashed too.
    assert leaf_hash("").hex() == ROOTS[0]
    assert leaf_hash(b"L123456".hex()).hex() == (
        "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    )
    assert node_hash(b"N123", b"N456").hex() == (
        "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
    )


@pytest.mark.parametrize("size", range(1, len(LEAVES) + 1))
def test_tree_heads_of_sizes_1_to_8(size: int) -> None:
    assert merkle_root(LEAVES[:size]).hex() == ROOTS[size - 1]


def test_appending_one_leaf_at_a_time_gives_every_head_and_survives_json() -> None:
    tree = CompactRange()
    heads = []
    for n, leaf in enumerate(LEAVES, start=1):
        tree.append(leaf_hash(leaf))
        heads.append(tree.root().hex())
        if n == 5:  # a checkpoint stores the range and the next one resumes from it
            tree = CompactRange.from_json(tree.to_json())
    assert heads == ROOTS
    assert tree.size == len(LEAVES)


@pytest.mark.parametrize(("start", "end"), sorted(SUBTREES))
def test_subtree_heads_are_the_reference_proof_nodes(start: int, end: int) -> None:
    assert merkle_root(LEAVES[start:end]).hex() == SUBTREES[(start, end)]


def test_a_head_is_the_node_of_its_two_subtree_heads() -> None:
    # RFC 6962 2.1: MTH(D[n]) = HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n])), k the largest power of
    # two below n; here n = 8 and n = 6 with k = 4, whose left head is the size-4 tree.
    left = bytes.fromhex(ROOTS[3])
    assert node_hash(left, bytes.fromhex(SUBTREES[(4, 8)])).hex() == ROOTS[7]
    assert node_hash(left, bytes.fromhex(SUBTREES[(4, 6)])).hex() == ROOTS[5]
