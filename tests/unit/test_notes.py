"""Encrypted order notes: real keys round-trip; only ciphertext reaches the ledger."""

from __future__ import annotations

import pytest

from cli.notes import (
    MAX_NOTE_PLAINTEXT,
    NoteError,
    open_note,
    open_order_note,
    seal_for_order,
    seal_note,
)
from contracts import escrow as E
from tests.commercekit import Market, event

ADDRESS = b"Jl. Malioboro No. 52, Yogyakarta 55271 - ring twice"


def test_round_trip_to_seller_and_arbiter() -> None:
    m = Market()
    for_seller, for_arbiter = seal_for_order(ADDRESS, m.seller.public_key, m.arbiter.public_key)
    assert open_note(for_seller, m.seller) == ADDRESS
    assert open_note(for_arbiter, m.arbiter) == ADDRESS
    assert for_seller != for_arbiter
    assert ADDRESS not in for_seller and ADDRESS not in for_arbiter
    # sealed boxes use a fresh ephemeral key: the same note never looks the same twice
    assert seal_note(ADDRESS, m.seller.public_key) != seal_note(ADDRESS, m.seller.public_key)


def test_others_cannot_open_and_tampering_is_detected() -> None:
    m = Market()
    sealed = seal_note(ADDRESS, m.seller.public_key)
    for outsider in (m.buyer, m.arbiter, m.outsider):
        with pytest.raises(NoteError):
            open_note(sealed, outsider)
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(NoteError):
        open_note(tampered, m.seller)
    assert open_order_note(m.outsider, sealed, None) is None
    assert open_order_note(m.seller, None, sealed) == ADDRESS


def test_size_bounds() -> None:
    m = Market()
    longest = seal_note(b"x" * MAX_NOTE_PLAINTEXT, m.seller.public_key)
    assert len(longest) == E.MAX_NOTE_BYTES
    with pytest.raises(NoteError):
        seal_note(b"x" * (MAX_NOTE_PLAINTEXT + 1), m.seller.public_key)
    with pytest.raises(NoteError):
        seal_note(b"x", b"short")


def test_only_ciphertext_is_in_the_transaction_and_the_state() -> None:
    m = Market()
    listing_id = m.create_listing()
    for_seller, for_arbiter = seal_for_order(ADDRESS, m.seller.public_key, m.arbiter.public_key)
    args = (listing_id, 1, 10_000, m.arbiter.public_key, for_seller, for_arbiter)
    stx = m.chain.transaction(m.buyer, "order.place", args)
    assert ADDRESS not in stx.encode()
    assert b"Malioboro" not in stx.encode()
    receipt = m.chain.run(m.buyer, "order.place", *args)
    order_id = event(receipt, "order.placed").get("order")
    assert all(b"Malioboro" not in value for _, value in m.chain.store.iterate(b""))
    stored = E.order_note(m.chain.store, order_id)
    assert open_order_note(m.seller, *stored) == ADDRESS
    assert open_order_note(m.arbiter, *stored) == ADDRESS
    assert open_order_note(m.buyer2, *stored) is None
