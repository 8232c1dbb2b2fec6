"""Merkle roots and inclusion proofs."""

from __future__ import annotations

import pytest

from ledger.hashing import MERKLE_LEAF, MERKLE_NODE, ZERO_HASH, tagged_hash
from ledger.merkle import leaf_hash, merkle_proof, merkle_root, node_hash, verify_proof


def leaves(count: int) -> list[bytes]:
    return [f"leaf-{i}".encode() for i in range(count)]


def test_hash_layout() -> None:
    assert leaf_hash(b"a") == tagged_hash(MERKLE_LEAF, b"a")
    assert node_hash(b"l" * 32, b"r" * 32) == tagged_hash(MERKLE_NODE, b"l" * 32 + b"r" * 32)


def test_small_tree_shapes() -> None:
    a, b, c, d, e = (leaf_hash(x) for x in leaves(5))
    items = leaves(5)
    assert merkle_root([]) == ZERO_HASH
    assert merkle_root(items[:1]) == a
    assert merkle_root(items[:2]) == node_hash(a, b)
    # The left subtree takes the largest power of two below the count.
    assert merkle_root(items[:3]) == node_hash(node_hash(a, b), c)
    assert merkle_root(items[:4]) == node_hash(node_hash(a, b), node_hash(c, d))
    assert merkle_root(items) == node_hash(node_hash(node_hash(a, b), node_hash(c, d)), e)


def test_no_two_lists_share_a_root_by_duplicating_the_last_leaf() -> None:
    items = leaves(3)
    assert merkle_root(items) != merkle_root([*items, items[-1]])


def test_leaf_and_node_domains_differ() -> None:
    # A two-leaf root must not equal the leaf hash of the concatenated children.
    a, b = (leaf_hash(x) for x in leaves(2))
    assert merkle_root(leaves(2)) != leaf_hash(a + b)


@pytest.mark.parametrize("count", list(range(1, 18)) + [31, 32, 33, 100])
def test_every_proof_verifies(count: int) -> None:
    items = leaves(count)
    root = merkle_root(items)
    for index, item in enumerate(items):
        proof = merkle_proof(items, index)
        assert len(proof) <= max(1, (count - 1).bit_length())
        assert verify_proof(root, item, index, count, proof)


def test_proofs_fail_for_anything_else() -> None:
    items = leaves(11)
    root = merkle_root(items)
    proof = merkle_proof(items, 6)
    assert not verify_proof(root, b"other", 6, 11, proof)
    assert not verify_proof(root, items[6], 5, 11, proof)
    assert not verify_proof(root, items[6], 6, 8, proof)  # a count giving another path shape
    assert not verify_proof(root, items[6], 6, 11, proof[:-1])
    assert not verify_proof(root, items[6], 6, 11, [*proof, ZERO_HASH])
    assert not verify_proof(ZERO_HASH, items[6], 6, 11, proof)
    assert not verify_proof(root, items[6], 11, 11, proof)
    assert not verify_proof(root, items[6], -1, 11, proof)
    flipped = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]
    assert not verify_proof(root, items[6], 6, 11, flipped)


def test_proof_index_out_of_range() -> None:
    with pytest.raises(IndexError):
        merkle_proof(leaves(3), 3)
    with pytest.raises(IndexError):
        merkle_proof([], 0)
