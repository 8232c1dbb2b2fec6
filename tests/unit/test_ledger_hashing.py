"""Domain-separated hashing: the exact layout and the separation it buys."""

from __future__ import annotations

import hashlib

import pytest

from ledger import hashing


def test_layout_is_tag_length_tag_then_data() -> None:
    expected = hashlib.sha256(b"\x08pasar/tx" + b"payload").digest()
    assert hashing.tagged_hash(hashing.TX, b"payload") == expected


def test_domains_separate_equal_data() -> None:
    tags = [
        hashing.TX,
        hashing.BLOCK,
        hashing.RECEIPT,
        hashing.MERKLE_LEAF,
        hashing.MERKLE_NODE,
        hashing.STATE_KEY,
        hashing.STATE_VALUE,
        hashing.STATE_LEAF,
        hashing.STATE_NODE16,
        hashing.VALIDATOR_SET,
        hashing.CERTIFICATE,
        hashing.CONSENSUS_MSG,
        hashing.COMMIT_VOTE,
        hashing.ADDRESS,
        hashing.PEER_CHALLENGE,
    ]
    assert len(set(tags)) == len(tags)
    assert len({hashing.tagged_hash(tag, b"same") for tag in tags}) == len(tags)


def test_tag_length_prefix_prevents_shifting_bytes_between_tag_and_data() -> None:
    assert hashing.tagged_hash(b"ab", b"c") != hashing.tagged_hash(b"a", b"bc")


def test_tag_longer_than_255_bytes_is_refused() -> None:
    hashing.tagged_hash(b"x" * 255, b"")
    with pytest.raises(ValueError):
        hashing.tagged_hash(b"x" * 256, b"")


def test_zero_hash() -> None:
    assert bytes(32) == hashing.ZERO_HASH and hashing.HASH_SIZE == 32
