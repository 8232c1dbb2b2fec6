"""Transactions and signed transactions: wire form, hashing, signing, decoding rules."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from ledger import codec
from ledger.errors import CodecError
from ledger.hashing import TX, tagged_hash
from ledger.keys import verify
from ledger.tx import MAX_TX_BYTES, SignedTransaction, Transaction
from tests.ledgerkit import CHAIN_ID, key

ALICE = key(1)
BOB = key(2)


def sample(**changes: Any) -> Transaction:
    tx = Transaction(CHAIN_ID, ALICE.public_key, 3, "coin.transfer", ("IDR", BOB.public_key, 5))
    return replace(tx, **changes)


def test_wire_form_is_the_documented_array() -> None:
    tx = sample(expiry_ms=9)
    assert codec.decode(tx.encode()) == [
        1,
        1,
        CHAIN_ID,
        ALICE.public_key,
        3,
        "coin.transfer",
        ["IDR", BOB.public_key, 5],
        9,
    ]
    assert tx.hash == tagged_hash(TX, tx.encode())


def test_round_trip() -> None:
    tx = sample(expiry_ms=123)
    assert Transaction.decode(tx.encode()) == tx
    stx = tx.sign(ALICE)
    again = SignedTransaction.decode(stx.encode())
    assert again == stx and again.hash == tx.hash
    assert again.encode() == stx.encode()


@pytest.mark.parametrize(
    "changes",
    [
        {"chain_id": "other"},
        {"sender": BOB.public_key},
        {"nonce": 4},
        {"method": "coin.mint"},
        {"args": ("IDR", BOB.public_key, 6)},
        {"expiry_ms": 1},
    ],
)
def test_every_field_changes_the_hash(changes: dict[str, Any]) -> None:
    assert sample(**changes).hash != sample().hash


def test_signature_covers_domain_chain_and_hash() -> None:
    stx = sample().sign(ALICE)
    assert stx.verify_signature()
    assert verify(ALICE.public_key, TX, CHAIN_ID, stx.hash, stx.signatures[0][1])
    assert stx.signature_checks() == [
        (ALICE.public_key, TX, CHAIN_ID, stx.hash, stx.signatures[0][1])
    ]
    forged = SignedTransaction.single(sample(nonce=4), stx.signatures[0][1])
    assert not forged.verify_signature()


def test_the_sender_alone_signs_in_version_1_anyone_else_in_version_2() -> None:
    alone = sample().sign(ALICE)
    assert codec.decode(alone.encode())[:2] == [2, 1]
    other = sample().sign(BOB)  # whether BOB may sign is the account policy's call
    assert codec.decode(other.encode()) == [
        2,
        2,
        GOOD,
        [[BOB.public_key, other.signatures[0][1]]],
    ]


def test_signed_decode_keeps_the_received_bytes() -> None:
    stx = sample().sign(ALICE)
    data = bytearray(stx.encode())
    assert SignedTransaction.decode(bytes(data)).encoded == bytes(data)


@pytest.mark.parametrize(
    "signers", [[1], [2], [1, 2], [2, 3], list(range(1, 16)), list(range(1, 17))]
)
@pytest.mark.parametrize("args", [(), ("IDR", BOB.public_key, 5, "m" * 300), (list(range(40)),)])
def test_a_decoded_transaction_hashes_as_the_transaction_it_carries(
    signers: list[int], args: tuple[Any, ...]
) -> None:
    # decode hashes the slice of the received bytes that holds the transaction: every
    # envelope form (one signature, a fixarray or an array16 of pairs) must cut it right
    tx = sample(args=args)
    signed = tx.sign(*(key(n) for n in signers))
    stx = SignedTransaction.decode(signed.encode())
    assert stx.hash == signed.hash == tx.hash == tagged_hash(TX, codec.encode(tx.to_list()))


def encoded_tx(fields: list[Any]) -> bytes:
    return codec.encode(fields)


GOOD = sample().to_list()


@pytest.mark.parametrize(
    "index, value, code",
    [
        (0, 2, "bad_tag"),
        (0, True, "bad_tag"),
        (1, 2, "bad_version"),
        (1, True, "bad_version"),
        (2, 5, "bad_type"),
        (2, "x" * 65, "too_long"),
        (3, b"\x01" * 31, "bad_length"),
        (3, "sender", "bad_type"),
        (4, -1, "out_of_range"),
        (4, 1 << 63, "out_of_range"),
        (4, True, "bad_type"),
        (5, "m" * 65, "too_long"),
        (6, b"args", "bad_type"),
        (7, -5, "out_of_range"),
        (7, None, "bad_type"),
    ],
)
def test_decode_refuses_malformed_fields(index: int, value: Any, code: str) -> None:
    fields = list(GOOD)
    fields[index] = value
    with pytest.raises(CodecError) as caught:
        Transaction.decode(encoded_tx(fields))
    assert caught.value.code == code


def test_decode_refuses_wrong_arity_and_oversize() -> None:
    with pytest.raises(CodecError) as caught:
        Transaction.decode(encoded_tx(GOOD[:-1]))
    assert caught.value.code == "bad_shape"
    big = sample(args=(b"x" * MAX_TX_BYTES,))
    with pytest.raises(CodecError) as caught:
        Transaction.decode(big.encode())
    assert caught.value.code == "too_large"


def test_signed_decode_refuses_malformed_envelopes() -> None:
    stx = sample().sign(ALICE)
    cases = [
        ([3, 1, GOOD, stx.signatures[0][1]], "bad_tag"),
        ([2, 9, GOOD, stx.signatures[0][1]], "bad_version"),
        ([2, 1, GOOD, stx.signatures[0][1][:63]], "bad_length"),
        ([2, 1, GOOD], "bad_shape"),
        ([2, 1, [9, *GOOD[1:]], stx.signatures[0][1]], "bad_tag"),
    ]
    for fields, code in cases:
        with pytest.raises(CodecError) as caught:
            SignedTransaction.decode(codec.encode(fields))
        assert caught.value.code == code
