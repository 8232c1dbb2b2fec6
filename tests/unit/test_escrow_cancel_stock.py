"""Cancels before shipping and the stock rule: every unshipped order that ends without
paying the seller puts its units back on the listing (cancel, refund before shipping,
auto-refund, a refunding ruling), and a shipped order never does."""

from __future__ import annotations

import pytest

from contracts import escrow as E
from contracts import listing as L
from tests.commercekit import DAY, Market, event

TRACK = b"\x42" * 32


@pytest.fixture
def m() -> Market:
    return Market()


def stock(m: Market, listing_id: bytes) -> tuple[int, int]:
    found = L.load_listing(m.chain.store, listing_id)
    assert found is not None
    return found.stock, found.sold


def order(m: Market, order_id: bytes) -> E.Order:
    found = E.load_order(m.chain.store, order_id)
    assert found is not None
    return found


def test_buyer_cancel_refunds_everything_and_returns_stock(m: Market) -> None:
    listing = m.create_listing()
    order_id = m.place(listing, quantity=2)
    assert stock(m, listing) == (3, 2)
    receipt = m.chain.ok(m.buyer, "escrow.cancel", order_id)
    cancelled = event(receipt, "escrow.cancelled")
    assert (cancelled.get("amount"), cancelled.get("outcome"), cancelled.get("state")) == (
        20_000,
        "buyer_cancelled",
        "cancelled",
    )
    restocked = event(receipt, "listing.restocked")
    assert (restocked.get("quantity"), restocked.get("stock")) == (2, 5)
    o = order(m, order_id)
    assert (o.state, o.held, o.refunded, o.released) == ("cancelled", 0, 20_000, 0)
    assert stock(m, listing) == (5, 0)
    assert m.chain.balance(m.buyer, "IDR") == 1_000_000 and m.chain.vault("IDR") == 0
    # The ship deadline went with the order: nothing happens when it comes.
    assert m.chain.advance(o.ship_by_ms + 1).block_events == []


def test_seller_cancel_after_a_partial_refund(m: Market) -> None:
    listing = m.create_listing()
    order_id = m.place(listing, quantity=2)
    m.chain.ok(m.seller, "escrow.refund", order_id, 5_000)
    assert stock(m, listing) == (3, 2)  # a partial refund is not the end of the order
    receipt = m.chain.ok(m.seller, "escrow.cancel", order_id)
    assert event(receipt, "escrow.cancelled").get("amount") == 15_000
    assert order(m, order_id).outcome == "seller_cancelled"
    assert stock(m, listing) == (5, 0)
    assert m.chain.balance(m.buyer, "IDR") == 1_000_000


def test_cancel_rejections(m: Market) -> None:
    listing = m.create_listing()
    order_id = m.place(listing)
    c = m.chain
    c.rejects("not_party", m.outsider, "escrow.cancel", order_id)
    c.rejects("not_party", m.arbiter, "escrow.cancel", order_id)
    c.rejects("unknown_order", m.buyer, "escrow.cancel", b"\x00" * 32)
    c.rejects("bad_args", m.buyer, "escrow.cancel", b"short")
    c.ok(m.seller, "escrow.ship", order_id, TRACK)
    c.rejects("already_shipped", m.buyer, "escrow.cancel", order_id)
    disputed = m.place(listing)
    c.ok(m.buyer, "escrow.dispute", disputed)
    c.rejects("bad_state", m.seller, "escrow.cancel", disputed)
    late = m.place(listing)
    ship_by = order(m, late).ship_by_ms
    c.rejects("ship_deadline_passed", m.buyer, "escrow.cancel", late, at_ms=ship_by)
    assert order(m, late).outcome == "auto_refunded"  # the same block's timeout ended it
    c.rejects("order_closed", m.buyer, "escrow.cancel", late)


def test_full_refund_before_shipping_returns_stock(m: Market) -> None:
    listing = m.create_listing()
    order_id = m.place(listing, quantity=3)
    m.chain.ok(m.seller, "escrow.refund", order_id, 10_000)
    m.chain.ok(m.seller, "escrow.refund", order_id, 20_000)
    assert order(m, order_id).state == "refunded"
    assert stock(m, listing) == (5, 0)


def test_refund_after_shipping_keeps_the_units_out(m: Market) -> None:
    listing = m.create_listing()
    order_id = m.place(listing)
    m.chain.ok(m.seller, "escrow.ship", order_id, TRACK)
    receipt = m.chain.ok(m.seller, "escrow.refund", order_id, 10_000)
    assert [e for e in receipt.events if e.name == "listing.restocked"] == []
    assert stock(m, listing) == (4, 1)


def test_auto_refund_returns_stock_even_to_a_withdrawn_listing(m: Market) -> None:
    listing = m.create_listing()
    order_id = m.place(listing, quantity=4)
    m.chain.ok(m.seller, "listing.withdraw", listing)
    result = m.chain.advance(order(m, order_id).ship_by_ms)
    assert event(result.block_events, "listing.restocked").get("quantity") == 4
    assert stock(m, listing) == (5, 0)
    found = L.load_listing(m.chain.store, listing)
    assert found is not None and found.status == "withdrawn"


def test_stock_returns_on_top_of_a_later_stock_update(m: Market) -> None:
    listing = m.create_listing()
    order_id = m.place(listing, quantity=2)
    m.chain.ok(m.seller, "listing.update", listing, [["stock", 10]])
    m.chain.ok(m.buyer, "escrow.cancel", order_id)
    assert stock(m, listing) == (12, 0)


def test_rulings_on_unshipped_orders_return_stock_unless_the_seller_is_paid(m: Market) -> None:
    listing = m.create_listing()
    refunded = m.place(listing)
    split = m.place(listing)
    silent = m.place(listing)
    for order_id in (refunded, split, silent):
        m.chain.ok(m.buyer, "escrow.dispute", order_id)
    assert stock(m, listing) == (2, 3)
    fee = order(m, refunded).terms.fee(10_000)
    m.chain.ok(m.arbiter, "escrow.rule", refunded, 10_000 - fee, 0)
    assert stock(m, listing) == (3, 2)
    m.chain.ok(m.arbiter, "escrow.rule", split, 5_000 - fee, 5_000)
    assert stock(m, listing) == (3, 2)  # the seller was paid for it: the unit is sold
    m.chain.advance(order(m, silent).rule_by_ms + DAY)
    assert order(m, silent).outcome == "default_refund"
    assert stock(m, listing) == (4, 1)


def test_a_shipment_may_carry_sealed_notes_for_buyer_and_arbiter(m: Market) -> None:
    order_id = m.place(m.create_listing())
    m.chain.rejects(
        "bad_args", m.seller, "escrow.ship", order_id, TRACK, b"x" * (E.MAX_NOTE_BYTES + 1), None
    )
    m.chain.ok(m.seller, "escrow.ship", order_id, TRACK, b"for-buyer", b"for-arbiter")
    assert E.shipping_note(m.chain.store, order_id) == (b"for-buyer", b"for-arbiter")
    plain = m.place(m.create_listing())
    m.chain.ok(m.seller, "escrow.ship", plain, TRACK)
    assert E.shipping_note(m.chain.store, plain) == (None, None)
