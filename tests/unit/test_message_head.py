"""`messages.message_head`: who signed a PRE-PREPARE, VIEW-CHANGE or NEW-VIEW, and a
DECISION's header hash and certificate, read from the wire bytes without decoding the
block the message carries (`codec.item_spans`).

What the driver relies on: a head whose signature (or a decision's certificate) is
false belongs to a message whose full decoding would end in a drop too (refused bytes,
or the same signature found false). These tests hold the head against the whole
decoding for real messages, forged ones and single-byte changes of them."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from consensus.messages import (
    TAG_NEW_VIEW,
    TAG_PRE_PREPARE,
    TAG_VIEW_CHANGE,
    CommitVote,
    CompactPrePrepare,
    Decision,
    DecisionHead,
    Message,
    NewView,
    PreparedCertificate,
    PrepareVote,
    PrePrepare,
    SignedHead,
    ViewChange,
    decode_message,
    encode_for_peers,
    encode_message,
    message_head,
)
from ledger import codec
from ledger.block import Block, BlockHeader, CommitCertificate, sign_commit_vote
from ledger.errors import CodecError
from ledger.keys import PrivateKey
from ledger.tx import SignedTransaction, Transaction

CHAIN = "t"
KEYS = [PrivateKey.from_seed(bytes([90 + i]) * 32) for i in range(4)]
VALIDATORS = [key.public_key for key in KEYS]
ZERO_SIGNATURE = b"\0" * 64


def transfer(index: int) -> SignedTransaction:
    sender = PrivateKey.from_seed(index.to_bytes(4, "big").ljust(32, b"s"))
    tx = Transaction(CHAIN, sender.public_key, 0, "coin.transfer", ("PSR", KEYS[1].public_key, 1))
    return tx.sign(sender)


def block(count: int = 5, height: int = 1) -> Block:
    header = BlockHeader(
        chain_id=CHAIN,
        height=height,
        prev_hash=bytes(32),
        timestamp_ms=1_000,
        proposer=KEYS[1].public_key,
        tx_count=count,
        tx_root=bytes(32),
        receipts_count=count,
        receipts_root=bytes(32),
        state_root=bytes(32),
        validator_set_hash=bytes(32),
        last_certificate_hash=bytes(32),
    )
    return Block(header, tuple(transfer(i) for i in range(count)), None)


def prepared(carried: Block) -> PreparedCertificate:
    signatures = []
    for key in KEYS[:3]:
        vote = PrepareVote.create(key, CHAIN, 1, 0, carried.hash)
        signatures.append((key.public_key, vote.signature))
    return PreparedCertificate(1, 0, carried.hash, tuple(sorted(signatures)))


def signed_messages() -> list[tuple[str, bytes, Message]]:
    """(name, wire bytes, the message) for each form a head is read from."""
    carried = block()
    pre_prepare = PrePrepare.create(KEYS[1], CHAIN, 1, 0, carried)
    empty_changes = [ViewChange.create(key, CHAIN, 1, 2, None, None) for key in KEYS[:3]]
    with_block = ViewChange.create(KEYS[2], CHAIN, 1, 1, prepared(carried), carried)
    new_view = NewView.create(KEYS[2], CHAIN, 1, 2, empty_changes, carried)
    return [
        ("pre-prepare, whole", encode_message(pre_prepare), pre_prepare),
        ("pre-prepare, compact", encode_for_peers(pre_prepare), pre_prepare),
        ("view change, no block", encode_message(empty_changes[0]), empty_changes[0]),
        ("view change with its block", encode_message(with_block), with_block),
        ("new view", encode_message(new_view), new_view),
    ]


def whole_verdict(raw: bytes) -> bool:
    """What decoding the message whole finds of its signature (False if refused)."""
    try:
        message = decode_message(raw)
    except CodecError:
        return False
    if isinstance(message, ViewChange):
        return message.verify(CHAIN, VALIDATORS)  # the signature first, then the certificate
    if isinstance(message, NewView):
        return message.verify_signature(CHAIN)
    assert isinstance(message, PrePrepare | CompactPrePrepare)
    return message.verify(CHAIN)


@pytest.mark.parametrize("index", range(5))
def test_the_head_of_a_signed_message_is_its_sender_and_verifies(index: int) -> None:
    name, raw, message = signed_messages()[index]
    head = message_head(raw)
    assert isinstance(head, SignedHead), name
    tag = {PrePrepare: TAG_PRE_PREPARE, ViewChange: TAG_VIEW_CHANGE, NewView: TAG_NEW_VIEW}
    assert head.tag == tag[type(message)]
    assert (head.height, head.view) == (message.height, message.view)  # type: ignore[union-attr]
    assert head.sender == message.sender  # type: ignore[union-attr]
    assert head.signature == message.signature  # type: ignore[union-attr]
    assert head.verify(CHAIN)
    assert not head.verify("another chain")


@pytest.mark.parametrize("index", range(5))
def test_a_forged_signature_or_sender_is_seen_in_the_head(index: int) -> None:
    _, raw, message = signed_messages()[index]
    signature = message.signature  # type: ignore[union-attr]
    forged = raw.replace(signature, ZERO_SIGNATURE)
    head = message_head(forged)
    assert isinstance(head, SignedHead) and not head.verify(CHAIN)
    assert not whole_verdict(forged)
    sender = message.sender  # type: ignore[union-attr]
    other = next(key.public_key for key in KEYS if key.public_key != sender)
    impostor = raw.replace(sender, other)
    head = message_head(impostor)
    assert isinstance(head, SignedHead) and not head.verify(CHAIN)
    assert not whole_verdict(impostor)


def test_the_head_of_a_pre_prepare_covers_its_header_not_its_transactions() -> None:
    carried = block()
    message = PrePrepare.create(KEYS[1], CHAIN, 1, 0, carried)

    def whole(body: Block) -> bytes:
        return codec.encode(
            [TAG_PRE_PREPARE, 1, 1, 0, body.to_list(), message.sender, message.signature]
        )

    # another height in the header: the block hash signed is not this one
    moved = Block(replace(carried.header, height=2), carried.transactions, None)
    head = message_head(whole(moved))
    assert isinstance(head, SignedHead) and not head.verify(CHAIN)
    # other transactions under the same header: the signature still holds; only the
    # whole decoding (the header's tx root) can refuse them, which is why True proves
    # nothing about the rest of a message
    swapped = Block(carried.header, (transfer(99), *carried.transactions[1:]), None)
    head = message_head(whole(swapped))
    assert isinstance(head, SignedHead) and head.verify(CHAIN)


def decision(carried: Block, signers: list[PrivateKey]) -> Decision:
    votes = [(k.public_key, sign_commit_vote(k, CHAIN, 1, 0, carried.hash)) for k in signers]
    return Decision(carried, CommitCertificate(1, 0, carried.hash, tuple(sorted(votes))))


def test_the_head_of_a_decision_is_its_header_hash_and_certificate() -> None:
    carried = block()
    message = decision(carried, KEYS[:3])
    head = message_head(encode_message(message))
    assert isinstance(head, DecisionHead)
    assert (head.height, head.block_hash) == (1, carried.hash)
    assert head.certificate == message.certificate
    assert head.certificate.verify(CHAIN, VALIDATORS)


def test_no_head_for_votes_or_junk() -> None:
    carried = block()
    for raw in (
        encode_message(PrepareVote.create(KEYS[0], CHAIN, 1, 0, carried.hash)),
        encode_message(CommitVote.create(KEYS[0], CHAIN, 1, 0, carried.hash)),
        b"",
        b"\x90",
        codec.encode(7),
        codec.encode([TAG_PRE_PREPARE, 1]),
        codec.encode([TAG_PRE_PREPARE, 1, 1, 0, [1, 2], b"", b""]),  # no header in the block
        codec.encode([27, 1, [1, 2], [3]]),  # a decision without a block
        b"\x97\x14\x01\x01",  # claims seven items, has three
    ):
        assert message_head(raw) is None


@pytest.mark.parametrize("index", range(5))
def test_a_false_head_never_stands_for_a_message_the_whole_decoding_would_keep(
    index: int,
) -> None:
    """Every single-byte change of a signed message (a seeded sample of positions and
    values, among them every byte of the small fields): where the head says its
    signature is false, the whole decoding refuses the bytes or finds it false too."""
    _, raw, _ = signed_messages()[index]
    rng = random.Random(index)
    positions = list(range(min(len(raw), 160))) + rng.sample(range(len(raw)), min(len(raw), 200))
    positions += list(range(max(0, len(raw) - 110), len(raw)))
    checked = 0
    for position in positions:
        for value in (raw[position] ^ 1, rng.randrange(256)):
            changed = raw[:position] + bytes((value,)) + raw[position + 1 :]
            if changed == raw:
                continue
            head = message_head(changed)
            if isinstance(head, SignedHead) and not head.verify(CHAIN):
                assert not whole_verdict(changed), (position, value)
                checked += 1
    assert checked > 100  # the sample did reach messages whose heads are false


def test_a_false_decision_head_never_stands_for_a_decision_that_would_be_kept() -> None:
    """Single-byte changes of a DECISION (the bytes before its transactions and its
    certificate): where the head's certificate fails (another block or height, or no
    quorum of valid votes), the whole decoding refuses the bytes or fails it too."""
    raw = encode_message(decision(block(), KEYS[:3]))
    tail = len(raw) - 420  # the certificate and the last transaction's end
    checked = 0
    for position in [*range(0, 200), *range(tail, len(raw))]:
        changed = raw[:position] + bytes((raw[position] ^ 1,)) + raw[position + 1 :]
        head = message_head(changed)
        if not isinstance(head, DecisionHead):
            continue
        certificate = head.certificate
        if (certificate.height, certificate.block_hash) == (
            head.height,
            head.block_hash,
        ) and certificate.verify(CHAIN, VALIDATORS):
            continue
        checked += 1
        try:
            whole = decode_message(changed)
        except CodecError:
            continue
        assert isinstance(whole, Decision)
        kept = whole.certificate.block_hash == whole.block.hash and whole.certificate.verify(
            CHAIN, VALIDATORS
        )
        assert not kept, position
    assert checked > 50
