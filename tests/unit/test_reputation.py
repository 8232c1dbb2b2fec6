"""Seller reputation: every way an order ends is counted once in the seller's record,
disputes are won or lost by who kept more, and a buyer rates a real, ended order once."""

from __future__ import annotations

import pytest

from contracts import escrow as E
from contracts import reputation
from tests.commercekit import DAY, Market, event

TRACK = b"\x42" * 32
REVIEW = b"\x07" * 32


@pytest.fixture
def m() -> Market:
    return Market()


def record(m: Market) -> reputation.SellerRecord:
    return reputation.seller_record(m.chain.store, m.seller.public_key)


def order(m: Market, order_id: bytes) -> E.Order:
    found = E.load_order(m.chain.store, order_id)
    assert found is not None
    return found


def test_every_ending_is_counted_once(m: Market) -> None:
    listing = m.create_listing(stock=20)
    c = m.chain
    completed = m.place(listing)
    c.ok(m.seller, "escrow.ship", completed, TRACK)
    c.ok(m.buyer, "escrow.confirm", completed)
    refunded = m.place(listing)
    c.ok(m.seller, "escrow.refund", refunded, 10_000)
    cancelled = m.place(listing)
    c.ok(m.buyer, "escrow.cancel", cancelled)
    auto = m.place(listing)
    c.advance(order(m, auto).ship_by_ms)
    won = m.place(listing)
    c.ok(m.buyer, "escrow.dispute", won)
    fee = order(m, won).terms.fee(10_000)
    c.ok(m.arbiter, "escrow.rule", won, 1_000, 9_000 - fee)
    lost = m.place(listing)
    c.ok(m.seller, "escrow.ship", lost, TRACK)
    c.ok(m.buyer, "escrow.dispute", lost)
    c.advance(order(m, lost).rule_by_ms + DAY)  # the arbiter is silent: default refund
    dropped = m.place(listing)
    c.ok(m.buyer, "escrow.dispute", dropped)
    c.ok(m.buyer, "escrow.confirm", dropped)  # the buyer drops its dispute
    assert record(m) == reputation.SellerRecord(
        completed=2, refunded=2, cancelled=1, disputes_won=2, disputes_lost=1
    )
    # An ended order never counts again: nothing moves it any more.
    c.rejects("order_closed", m.buyer, "escrow.confirm", completed)
    assert record(m).completed == 2


def test_a_buyer_rates_an_ended_order_once(m: Market) -> None:
    listing = m.create_listing()
    first = m.place(listing)
    c = m.chain
    c.rejects("order_open", m.buyer, "order.rate", first, 5, REVIEW)
    c.ok(m.buyer, "escrow.confirm", first)
    c.rejects("not_buyer", m.seller, "order.rate", first, 5, REVIEW)
    c.rejects("not_buyer", m.buyer2, "order.rate", first, 5, REVIEW)
    c.rejects("bad_rating", m.buyer, "order.rate", first, 0, REVIEW)
    c.rejects("bad_rating", m.buyer, "order.rate", first, 6, REVIEW)
    c.rejects("bad_args", m.buyer, "order.rate", first, True, REVIEW)
    c.rejects("bad_args", m.buyer, "order.rate", first, 4, b"short")
    c.rejects("unknown_order", m.buyer, "order.rate", b"\x00" * 32, 4, REVIEW)
    receipt = c.ok(m.buyer, "order.rate", first, 4, REVIEW)
    assert event(receipt, "order.rated").get("stars") == 4
    c.rejects("already_rated", m.buyer, "order.rate", first, 5, REVIEW)
    second = m.place(listing, buyer=m.buyer2)
    c.ok(m.buyer2, "escrow.cancel", second)
    c.ok(m.buyer2, "order.rate", second, 1, REVIEW)
    third = m.place(listing)
    c.ok(m.buyer, "escrow.confirm", third)
    c.ok(m.buyer, "order.rate", third, 4, REVIEW)
    found = record(m)
    assert (found.ratings, found.stars, found.average()) == (3, 9, (3, 1))
    stored = reputation.rating(m.chain.store, first)
    assert stored is not None and stored[:2] == (4, REVIEW)
    assert found.to_json()["average_rating"] == {"numerator": 3, "denominator": 1}
    assert reputation.SellerRecord(ratings=2, stars=9).average() == (9, 2)
    assert reputation.SellerRecord().to_json()["average_rating"] is None
