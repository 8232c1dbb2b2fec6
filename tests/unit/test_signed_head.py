"""`messages.signed_head`: who signed a PRE-PREPARE, VIEW-CHANGE or NEW-VIEW, read from its
wire bytes without decoding the block it carries (`codec.item_spans`).

What the driver relies on: a head whose signature is false belongs to a message whose
full decoding would end in a drop too (refused bytes, or a signature found false).
These tests hold the head against the whole decoding for real messages, forged ones
and every single-byte change of them."""

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
    Message,
    NewView,
    PreparedCertificate,
    PrepareVote,
    PrePrepare,
    ViewChange,
    decode_message,
    encode_for_peers,
    encode_message,
    signed_head,
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
    head = signed_head(raw)
    assert head is not None, name
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
    head = signed_head(forged)
    assert head is not None and not head.verify(CHAIN)
    assert not whole_verdict(forged)
    sender = message.sender  # type: ignore[union-attr]
    other = next(key.public_key for key in KEYS if key.public_key != sender)
    impostor = raw.replace(sender, other)
    head = signed_head(impostor)
    assert head is not None and not head.verify(CHAIN)
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
    head = signed_head(whole(moved))
    assert head is not None and not head.verify(CHAIN)
    # other transactions under the same header: the signature still holds; only the
    # whole decoding (the header's tx root) can refuse them, which is why True proves
    # nothing about the rest of a message
    swapped = Block(carried.header, (transfer(99), *carried.transactions[1:]), None)
    head = signed_head(whole(swapped))
    assert head is not None and head.verify(CHAIN)


def test_no_head_for_unsigned_kinds_votes_or_junk() -> None:
    carried = block()
    votes = [(k.public_key, sign_commit_vote(k, CHAIN, 1, 0, carried.hash)) for k in KEYS[:3]]
    certificate = CommitCertificate(1, 0, carried.hash, tuple(sorted(votes)))
    for raw in (
        encode_message(PrepareVote.create(KEYS[0], CHAIN, 1, 0, carried.hash)),
        encode_message(CommitVote.create(KEYS[0], CHAIN, 1, 0, carried.hash)),
        encode_message(Decision(carried, certificate)),
        b"",
        b"\x90",
        codec.encode(7),
        codec.encode([TAG_PRE_PREPARE, 1]),
        codec.encode([TAG_PRE_PREPARE, 1, 1, 0, [1, 2], b"", b""]),  # no header in the block
        b"\x97\x14\x01\x01",  # claims seven items, has three
    ):
        assert signed_head(raw) is None


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
            head = signed_head(changed)
            if head is not None and not head.verify(CHAIN):
                assert not whole_verdict(changed), (position, value)
                checked += 1
    assert checked > 100  # the sample did reach messages whose heads are false
