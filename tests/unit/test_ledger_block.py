"""Block headers, blocks and commit certificates: wire form and certificate rules."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ledger.block
import ledger.keys
from ledger import codec
from ledger.block import (
    Block,
    BlockHeader,
    CommitCertificate,
    certificate_hash,
    commit_vote_digest,
    max_faulty,
    quorum_size,
    sign_commit_vote,
    validator_set_hash,
    verify_commit_vote,
)
from ledger.errors import CodecError
from ledger.hashing import BLOCK, CERTIFICATE, COMMIT_VOTE, VALIDATOR_SET, ZERO_HASH, tagged_hash
from ledger.keys import verify
from tests.ledgerkit import CHAIN_ID, VALIDATOR_KEYS, key, signed

VALIDATORS = [k.public_key for k in VALIDATOR_KEYS]

HEADER = BlockHeader(
    chain_id=CHAIN_ID,
    height=7,
    prev_hash=b"\x01" * 32,
    timestamp_ms=1_700_000_000_000,
    proposer=VALIDATORS[0],
    tx_count=0,
    tx_root=b"\x02" * 32,
    receipts_count=0,
    receipts_root=b"\x03" * 32,
    state_root=b"\x04" * 32,
    validator_set_hash=validator_set_hash(VALIDATORS),
    last_certificate_hash=ZERO_HASH,
)


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The keys `ledger.block` has an Ed25519 check run for, in order, from now on (its
    remembered commit votes check through `ledger.keys.verify_inline`)."""
    keys: list[bytes] = []

    def counting(public_key: bytes, *rest: Any) -> bool:
        keys.append(public_key)
        return verify(public_key, *rest)

    monkeypatch.setattr(ledger.keys, "verify_inline", counting)
    return keys


def certificate_by(signers: list[int], block_hash: bytes = b"\x09" * 32) -> CommitCertificate:
    votes = {
        VALIDATOR_KEYS[i].public_key: sign_commit_vote(
            VALIDATOR_KEYS[i], CHAIN_ID, 7, 0, block_hash
        )
        for i in signers
    }
    return CommitCertificate.build(7, 0, block_hash, votes)


def test_header_wire_form_and_hash() -> None:
    fields = codec.decode(HEADER.encode())
    assert fields[:4] == [3, 1, CHAIN_ID, 7] and len(fields) == 14
    assert HEADER.hash == tagged_hash(BLOCK, HEADER.encode())
    assert BlockHeader.from_list(fields) == HEADER


@pytest.mark.parametrize(
    "changes",
    [
        {"height": 8},
        {"prev_hash": b"\x05" * 32},
        {"timestamp_ms": 1},
        {"proposer": VALIDATORS[1]},
        {"tx_count": 1},
        {"tx_root": ZERO_HASH},
        {"receipts_count": 1},
        {"receipts_root": ZERO_HASH},
        {"state_root": ZERO_HASH},
        {"validator_set_hash": ZERO_HASH},
        {"last_certificate_hash": b"\x06" * 32},
        {"chain_id": "other"},
    ],
)
def test_every_header_field_changes_the_block_hash(changes: dict[str, Any]) -> None:
    assert replace(HEADER, **changes).hash != HEADER.hash


def test_block_round_trip_with_and_without_certificate() -> None:
    stx = signed(key(1), 0, "coin.transfer", ["IDR", key(2).public_key, 1])
    certificate = certificate_by([0, 1, 2])
    for last in (None, certificate):
        block = Block(HEADER, (stx,), last)
        again = Block.decode(block.encode())
        assert again == block
        assert again.hash == HEADER.hash and again.height == 7
        assert again.encoded == block.encode()


@pytest.mark.parametrize("count", [0, 1, 15, 16, 300])
def test_a_block_encodes_as_its_array_with_the_transactions_own_bytes(count: int) -> None:
    # `encoded` splices each transaction's bytes in: the same bytes as encoding it whole
    stxs = tuple(
        signed(key(1 + i % 5), i, "coin.transfer", ["IDR", key(9).public_key, i])
        for i in range(count)
    )
    for last in (None, certificate_by([0, 1, 2])):
        block = Block(HEADER, stxs, last)
        assert block.encoded == codec.encode(block.to_list())


def test_block_hash_is_the_header_hash_only() -> None:
    stx = signed(key(1), 0, "coin.transfer", ["IDR", key(2).public_key, 1])
    assert Block(HEADER, (stx,), None).hash == Block(HEADER, (), None).hash


def test_block_decode_refuses_malformed_input() -> None:
    header = HEADER.to_list()
    cases = [
        ([4, 1, header, [], None, None], "bad_shape"),
        ([5, 1, header, [], None], "bad_tag"),
        ([4, 2, header, [], None], "bad_version"),
        ([4, True, header, [], None], "bad_version"),
        ([4, 1, header, b"", None], "bad_type"),
        ([4, 1, [9, *header[1:]], [], None], "bad_tag"),
        ([4, 1, header[:13], [], None], "bad_shape"),
        ([4, 1, [*header[:7], -1, *header[8:]], [], None], "out_of_range"),
        ([4, 1, [*header[:9], True, *header[10:]], [], None], "bad_type"),
    ]
    for fields, code in cases:
        with pytest.raises(CodecError) as caught:
            Block.decode(codec.encode(fields))
        assert caught.value.code == code


def test_quorum_arithmetic() -> None:
    table = {1: (0, 1), 2: (0, 2), 3: (0, 3), 4: (1, 3), 5: (1, 4), 7: (2, 5), 10: (3, 7)}
    for n, (f, q) in table.items():
        assert (max_faulty(n), quorum_size(n)) == (f, q)


def test_validator_set_hash_is_order_sensitive() -> None:
    assert validator_set_hash(VALIDATORS) == tagged_hash(VALIDATOR_SET, codec.encode(VALIDATORS))
    assert validator_set_hash(VALIDATORS) != validator_set_hash(VALIDATORS[::-1])


def test_commit_vote_digest_and_signature() -> None:
    digest = commit_vote_digest(7, 2, b"\x09" * 32)
    assert digest == tagged_hash(COMMIT_VOTE, codec.encode([7, 2, b"\x09" * 32]))
    signature = sign_commit_vote(VALIDATOR_KEYS[0], CHAIN_ID, 7, 2, b"\x09" * 32)
    assert verify(VALIDATORS[0], COMMIT_VOTE, CHAIN_ID, digest, signature)


def test_certificate_round_trip_and_sorted_build() -> None:
    certificate = certificate_by([3, 0, 2])
    assert [v for v, _ in certificate.signatures] == sorted(v for v, _ in certificate.signatures)
    assert CommitCertificate.decode(certificate.encode()) == certificate
    assert certificate.hash == tagged_hash(CERTIFICATE, certificate.encode())
    assert certificate_hash(certificate) == certificate.hash
    assert certificate_hash(None) == ZERO_HASH


def test_certificate_needs_a_quorum() -> None:
    assert certificate_by([0, 1, 2]).verify(CHAIN_ID, VALIDATORS)
    assert certificate_by([0, 1, 2, 3]).verify(CHAIN_ID, VALIDATORS)
    assert not certificate_by([0, 1]).verify(CHAIN_ID, VALIDATORS)
    assert not certificate_by([]).verify(CHAIN_ID, VALIDATORS)


def test_certificate_refuses_an_outsider() -> None:
    outsider = key(77)
    good = certificate_by([0, 1, 2])
    vote = sign_commit_vote(outsider, CHAIN_ID, 7, 0, good.block_hash)
    votes = dict(good.signatures)
    votes[outsider.public_key] = vote
    assert not CommitCertificate.build(7, 0, good.block_hash, votes).verify(CHAIN_ID, VALIDATORS)
    # ...even when the outsider would only pad a quorum that is short without it.
    votes.pop(VALIDATORS[0])
    assert not CommitCertificate.build(7, 0, good.block_hash, votes).verify(CHAIN_ID, VALIDATORS)


def test_certificate_refuses_duplicates_and_unsorted_signatures() -> None:
    good = certificate_by([0, 1, 2])
    first = good.signatures[0]
    duplicated = replace(good, signatures=(first, first, good.signatures[1]))
    assert not duplicated.verify(CHAIN_ID, VALIDATORS)
    unsorted = replace(good, signatures=tuple(reversed(good.signatures)))
    assert not unsorted.verify(CHAIN_ID, VALIDATORS)


def test_certificate_refuses_wrong_chain_block_height_view_and_forged_signature() -> None:
    good = certificate_by([0, 1, 2])
    assert not good.verify("other-chain", VALIDATORS)
    assert not replace(good, block_hash=b"\x08" * 32).verify(CHAIN_ID, VALIDATORS)
    assert not replace(good, height=8).verify(CHAIN_ID, VALIDATORS)
    assert not replace(good, view=1).verify(CHAIN_ID, VALIDATORS)
    validator, signature = good.signatures[0]
    forged = ((validator, bytes([signature[0] ^ 1]) + signature[1:]), *good.signatures[1:])
    assert not replace(good, signatures=forged).verify(CHAIN_ID, VALIDATORS)


def test_certificate_decode_refuses_malformed_signatures() -> None:
    good = certificate_by([0, 1, 2]).to_list()
    cases = [
        ([*good[:5], b""], "bad_type"),
        ([*good[:5], [[VALIDATORS[0]]]], "bad_shape"),
        ([*good[:5], [[VALIDATORS[0][:31], bytes(64)]]], "bad_length"),
        ([*good[:5], [[VALIDATORS[0], bytes(63)]]], "bad_length"),
        ([5, 1, -1, *good[3:]], "out_of_range"),
    ]
    for fields, code in cases:
        with pytest.raises(CodecError) as caught:
            CommitCertificate.decode(codec.encode(fields))
        assert caught.value.code == code


@settings(max_examples=60, deadline=None)
@given(
    signer=st.integers(min_value=0, max_value=3),
    claimed=st.integers(min_value=0, max_value=3),
    height=st.integers(min_value=1, max_value=10),
    flip=st.one_of(st.none(), st.integers(min_value=0, max_value=63)),
    chain=st.sampled_from([CHAIN_ID, "other-chain"]),
)
def test_a_remembered_commit_vote_verifies_exactly_as_verify_does(
    signer: int, claimed: int, height: int, flip: int | None, chain: str
) -> None:
    """Whatever was checked before (the same vote, a good one for the same digest),
    the memo answers as `verify` does: it keeps only successes, keyed by every input."""
    digest = commit_vote_digest(height, 0, b"\x09" * 32)
    signature = sign_commit_vote(VALIDATOR_KEYS[signer], CHAIN_ID, height, 0, b"\x09" * 32)
    good = verify_commit_vote(VALIDATORS[signer], CHAIN_ID, digest, signature)
    assert good  # and now remembered
    if flip is not None:
        signature = signature[:flip] + bytes([signature[flip] ^ 1]) + signature[flip + 1 :]
    expected = verify(VALIDATORS[claimed], COMMIT_VOTE, chain, digest, signature)
    for _ in range(2):
        assert verify_commit_vote(VALIDATORS[claimed], chain, digest, signature) == expected


def test_a_certificate_of_votes_already_verified_needs_no_signature_check(
    checked: list[bytes],
) -> None:
    block_hash = b"\x07" * 32
    certificate = certificate_by([0, 1, 2], block_hash)
    ledger.block.COMMIT_VOTES.forget()  # signed here: remembered; as if signed elsewhere
    digest = commit_vote_digest(7, 0, block_hash)
    for validator, signature in certificate.signatures[:2]:  # as the votes arrived
        assert verify_commit_vote(validator, CHAIN_ID, digest, signature)
    checked.clear()
    assert certificate.verify(CHAIN_ID, VALIDATORS)
    assert checked == [certificate.signatures[2][0]]  # only the vote not seen before
    assert certificate.verify(CHAIN_ID, VALIDATORS) and len(checked) == 1


def test_a_nodes_own_commit_vote_needs_no_signature_check_in_a_certificate(
    checked: list[bytes],
) -> None:
    block_hash = b"\x0b" * 32
    certificate = certificate_by([0, 1, 2], block_hash)  # signs all three, in this process
    ledger.block.COMMIT_VOTES.forget()  # as if the other two were signed elsewhere
    own = sign_commit_vote(VALIDATOR_KEYS[1], CHAIN_ID, 7, 0, block_hash)  # this node's vote
    assert dict(certificate.signatures)[VALIDATORS[1]] == own
    assert certificate.verify(CHAIN_ID, VALIDATORS)
    assert sorted(checked) == sorted([VALIDATORS[0], VALIDATORS[2]])  # not the own vote
    # what is remembered is the exact vote: the own key with another signature is checked
    other = dict(certificate.signatures)[VALIDATORS[0]]
    forged = replace(
        certificate,
        signatures=tuple(
            (validator, other if validator == VALIDATORS[1] else signature)
            for validator, signature in certificate.signatures
        ),
    )
    checked.clear()
    assert not forged.verify(CHAIN_ID, VALIDATORS)
    assert VALIDATORS[1] in checked
