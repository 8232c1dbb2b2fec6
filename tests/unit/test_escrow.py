"""Orders and escrow: every transition, timeout, money movement and rejection code,
driven by real signed transactions in blocks whose timestamps the test chooses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from contracts import deadlines, sales
from contracts import escrow as E
from contracts import listing as L
from contracts.roles import grant_platform
from contracts.sales import Sale
from ledger.execution import Context
from ledger.state import StateView
from tests.commercekit import DAY, Market, event

TRACK = b"\x42" * 32


@pytest.fixture
def m() -> Market:
    return Market()


@pytest.fixture
def sales_seen(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Sale]]:
    seen: list[Sale] = []

    def listener(ctx: Context, sale: Sale) -> None:
        seen.append(sale)

    monkeypatch.setattr(sales, "LISTENERS", (listener,))
    yield seen


def order(m: Market, order_id: bytes) -> E.Order:
    found = E.load_order(m.chain.store, order_id)
    assert found is not None
    return found


def check_books(m: Market) -> None:
    """Vault == sum of held over open orders; every order's money adds up."""
    held = sum(o.held for o in E.open_orders(m.chain.store) if o.symbol == "IDR")
    assert m.chain.vault("IDR") == held
    for key, _ in m.chain.store.iterate(E.ITEM_PREFIX):
        o = order(m, key[len(E.ITEM_PREFIX) :])
        assert o.amount == o.held + o.refunded + o.released + o.arbiter_fee
        if not o.is_open:
            assert o.held == 0
        if o.state == E.REFUNDED:
            assert o.released == 0


# --- placing orders ------------------------------------------------------------------------


def test_place_locks_payment_takes_stock_and_snapshots_terms(m: Market) -> None:
    listing_id = m.create_listing()
    receipt = m.chain.ok(
        m.buyer, "order.place", listing_id, 2, 10_000, m.arbiter.public_key, b"s" * 80, b"a" * 80
    )
    placed = event(receipt, "order.placed")
    order_id = placed.get("order")
    o = order(m, order_id)
    assert (o.state, o.amount, o.held, o.quantity, o.unit_price) == (
        "funded",
        20_000,
        20_000,
        2,
        10_000,
    )
    assert o.buyer == m.buyer.public_key and o.seller == m.seller.public_key
    assert o.platform == m.platform.public_key and o.commission_bps == 250
    assert (o.fee_bps, o.min_fee, o.max_fee, o.ruling_ms) == (500, 100, 5_000, 3 * DAY)
    assert o.ship_by_ms == m.chain.time_ms + 2 * DAY and o.protection_ms == 7 * DAY
    assert m.chain.balance(m.buyer, "IDR") == 980_000
    assert m.chain.vault("IDR") == 20_000
    item = L.load_listing(m.chain.store, listing_id)
    assert item is not None and (item.stock, item.sold) == (3, 2)
    assert E.order_note(m.chain.store, order_id) == (b"s" * 80, b"a" * 80)
    assert deadlines.is_scheduled(StateView(m.chain.store), o.ship_by_ms, E.SHIP_DEADLINE, order_id)
    assert [x.id for x in E.orders_by_buyer(m.chain.store, m.buyer.public_key)[0]] == [order_id]
    assert [x.id for x in E.orders_by_seller(m.chain.store, m.seller.public_key)[0]] == [order_id]
    assert E.order_note(m.chain.store, b"\x00" * 32) == (None, None)
    check_books(m)


def test_later_listing_and_rate_changes_do_not_touch_an_open_order(m: Market) -> None:
    listing_id = m.create_listing()
    order_id = m.place(listing_id)
    m.chain.ok(m.seller, "listing.update", listing_id, [["price", 99_000], ["protection_ms", DAY]])
    m.chain.ok(m.arbiter, "arbiter.publish", 2_000, DAY)
    view = StateView(m.chain.store)
    grant_platform(view, m.platform.public_key, "shop", 2_000)
    m.chain.store.write(dict(view.write_set()))
    o = order(m, order_id)
    assert (o.unit_price, o.protection_ms, o.fee_bps, o.commission_bps) == (
        10_000,
        7 * DAY,
        500,
        250,
    )
    m.chain.ok(m.buyer, "escrow.confirm", order_id)
    assert m.chain.balance(m.platform, "IDR") == 250  # the rate of order time


def test_place_rejections(m: Market) -> None:
    listing_id = m.create_listing(stock=2)
    c = m.chain
    arb = m.arbiter.public_key
    c.rejects("unknown_listing", m.buyer, "order.place", b"\x05" * 32, 1, 10_000, arb)
    c.rejects("self_purchase", m.seller, "order.place", listing_id, 1, 10_000, arb)
    c.rejects("price_changed", m.buyer, "order.place", listing_id, 1, 9_999, arb)
    c.rejects(
        "arbiter_not_accepted", m.buyer, "order.place", listing_id, 1, 10_000, m.platform.public_key
    )
    c.rejects("out_of_stock", m.buyer, "order.place", listing_id, 3, 10_000, arb)
    c.rejects("bad_args", m.buyer, "order.place", listing_id, 0, 10_000, arb)
    c.rejects("bad_args", m.buyer, "order.place", listing_id, 1, 10_000, arb, b"x" * 1025)
    c.rejects("bad_args", m.buyer, "order.place", listing_id, 1, 10_000, arb, None, "text")
    c.rejects("bad_args", m.buyer, "order.place", listing_id, 1, 10_000)
    c.rejects("insufficient_funds", m.outsider, "order.place", listing_id, 1, 10_000, arb)
    c.ok(m.arbiter2, "arbiter.retire")
    c.rejects(
        "arbiter_unavailable", m.buyer, "order.place", listing_id, 1, 10_000, m.arbiter2.public_key
    )
    c.ok(m.buyer, "coin.transfer", "IDR", arb, 50_000)
    c.rejects("arbiter_conflict", m.arbiter, "order.place", listing_id, 1, 10_000, arb)
    check_books(m)


def test_price_times_quantity_overflow_is_rejected(m: Market) -> None:
    listing_id = m.create_listing(price=1 << 62, stock=3)
    m.chain.rejects(
        "amount_overflow", m.buyer, "order.place", listing_id, 2, 1 << 62, m.arbiter.public_key
    )


def test_two_buyers_can_never_take_the_last_item(m: Market) -> None:
    listing_id = m.create_listing(stock=1)
    arb = m.arbiter.public_key
    result = m.chain.block(
        [
            (m.buyer, "order.place", (listing_id, 1, 10_000, arb)),
            (m.buyer2, "order.place", (listing_id, 1, 10_000, arb)),
        ]
    )
    assert [r.code for r in result.receipts] == ["ok", "out_of_stock"]
    assert m.chain.balance(m.buyer2, "IDR") == 1_000_000
    item = L.load_listing(m.chain.store, listing_id)
    assert item is not None and item.stock == 0
    check_books(m)


# --- the happy paths -----------------------------------------------------------------------


def test_ship_then_confirm_pays_seller_and_commission_once(
    m: Market, sales_seen: list[Sale]
) -> None:
    order_id = m.place(m.create_listing())
    receipt = m.chain.ok(m.seller, "escrow.ship", order_id, TRACK)
    shipped = event(receipt, "escrow.shipped")
    o = order(m, order_id)
    assert o.state == "shipped" and o.tracking == TRACK
    assert shipped.get("release_at_ms") == o.release_at_ms == m.chain.time_ms + 7 * DAY
    receipt = m.chain.ok(m.buyer, "escrow.confirm", order_id)
    done = event(receipt, "escrow.completed")
    assert (done.get("outcome"), done.get("released"), done.get("commission")) == (
        "confirmed",
        10_000,
        250,
    )
    assert event(receipt, "sale.completed").get("amount") == 10_000
    assert m.chain.balance(m.seller, "IDR") == 9_750
    assert m.chain.balance(m.platform, "IDR") == 250
    assert m.chain.vault("IDR") == 0
    o = order(m, order_id)
    assert (o.state, o.outcome, o.released, o.commission, o.held) == (
        "completed",
        "confirmed",
        10_000,
        250,
        0,
    )
    assert sales_seen == [
        Sale(
            "order",
            order_id,
            m.seller.public_key,
            m.buyer.public_key,
            "IDR",
            10_000,
            m.platform.public_key,
            o.listing_id,
        )
    ]
    # the release deadline went with the transition: nothing happens when it passes
    result = m.chain.advance(o.release_at_ms + 1)
    assert result.block_events == []
    m.chain.rejects("order_closed", m.buyer, "escrow.confirm", order_id)
    m.chain.rejects("order_closed", m.seller, "escrow.refund", order_id, 1)
    m.chain.rejects("order_closed", m.buyer, "escrow.dispute", order_id)
    check_books(m)


def test_listing_without_platform_pays_no_commission(m: Market) -> None:
    order_id = m.place(m.create_listing(platform=None))
    m.chain.ok(m.buyer, "escrow.confirm", order_id)  # confirm before shipping is allowed
    assert m.chain.balance(m.seller, "IDR") == 10_000
    assert order(m, order_id).commission == 0


def test_auto_release_when_protection_window_passes(m: Market, sales_seen: list[Sale]) -> None:
    order_id = m.place(m.create_listing())
    m.chain.ok(m.seller, "escrow.ship", order_id, TRACK)
    release_at = order(m, order_id).release_at_ms
    assert m.chain.advance(release_at - 1).block_events == []
    assert order(m, order_id).state == "shipped"
    result = m.chain.advance(release_at)
    assert event(result.block_events, "escrow.completed").get("outcome") == "auto_released"
    assert order(m, order_id).state == "completed"
    assert m.chain.balance(m.seller, "IDR") == 9_750
    assert len(sales_seen) == 1
    check_books(m)


def test_auto_refund_when_not_shipped_in_time(m: Market, sales_seen: list[Sale]) -> None:
    order_id = m.place(m.create_listing())
    ship_by = order(m, order_id).ship_by_ms
    m.chain.advance(ship_by - 1)
    m.chain.run(m.seller, "escrow.ship", order_id, TRACK, at_ms=ship_by)
    receipt = m.chain.last.receipts[0] if m.chain.last else None
    assert receipt is not None and receipt.code == "ship_deadline_passed"
    refunded = event(m.chain.last.block_events if m.chain.last else [], "escrow.refunded")
    assert refunded.get("outcome") == "auto_refunded" and refunded.get("amount") == 10_000
    o = order(m, order_id)
    assert (o.state, o.outcome, o.refunded) == ("refunded", "auto_refunded", 10_000)
    assert m.chain.balance(m.buyer, "IDR") == 1_000_000
    assert sales_seen == []
    check_books(m)


# --- refunds -------------------------------------------------------------------------------


def test_partial_refund_then_confirm(m: Market, sales_seen: list[Sale]) -> None:
    order_id = m.place(m.create_listing(), quantity=2)
    receipt = m.chain.ok(m.seller, "escrow.refund", order_id, 10_000)
    partial = event(receipt, "escrow.refunded")
    assert (partial.get("amount"), partial.get("held"), partial.get("state")) == (
        10_000,
        10_000,
        "funded",
    )
    m.chain.ok(m.seller, "escrow.ship", order_id, TRACK)
    m.chain.ok(m.buyer, "escrow.confirm", order_id)
    o = order(m, order_id)
    assert (o.refunded, o.released, o.commission) == (10_000, 10_000, 250)
    assert m.chain.balance(m.buyer, "IDR") == 990_000
    assert [s.amount for s in sales_seen] == [10_000]
    check_books(m)


def test_full_refund_ends_the_order_and_cancels_its_deadline(
    m: Market, sales_seen: list[Sale]
) -> None:
    order_id = m.place(m.create_listing())
    m.chain.ok(m.seller, "escrow.ship", order_id, TRACK)
    receipt = m.chain.ok(m.seller, "escrow.refund", order_id, 10_000)
    assert event(receipt, "escrow.refunded").get("state") == "refunded"
    o = order(m, order_id)
    assert (o.state, o.outcome, o.released) == ("refunded", "refunded", 0)
    assert m.chain.advance(o.release_at_ms + 1).block_events == []
    assert m.chain.balance(m.seller, "IDR") == 0 and sales_seen == []
    check_books(m)


def test_refund_rejections(m: Market) -> None:
    order_id = m.place(m.create_listing())
    m.chain.rejects("not_seller", m.buyer, "escrow.refund", order_id, 1)
    m.chain.rejects("refund_exceeds_held", m.seller, "escrow.refund", order_id, 10_001)
    m.chain.rejects("bad_amount", m.seller, "escrow.refund", order_id, 0)
    m.chain.rejects("unknown_order", m.seller, "escrow.refund", b"\x00" * 32, 1)


# --- ship and confirm rejections ----------------------------------------------------------


def test_ship_and_confirm_rejections(m: Market) -> None:
    order_id = m.place(m.create_listing())
    c = m.chain
    c.rejects("not_seller", m.buyer, "escrow.ship", order_id, TRACK)
    c.rejects("bad_args", m.seller, "escrow.ship", order_id, b"short")
    c.rejects("bad_args", m.seller, "escrow.ship", b"short", TRACK)
    c.rejects("not_buyer", m.seller, "escrow.confirm", order_id)
    c.ok(m.seller, "escrow.ship", order_id, TRACK)
    c.rejects("already_shipped", m.seller, "escrow.ship", order_id, TRACK)
    c.ok(m.buyer, "escrow.dispute", order_id)
    c.rejects("bad_state", m.seller, "escrow.ship", order_id, TRACK)


# --- disputes ------------------------------------------------------------------------------


def test_dispute_evidence_and_split_ruling(m: Market, sales_seen: list[Sale]) -> None:
    order_id = m.place(m.create_listing(), quantity=4)  # 40,000 held
    m.chain.ok(m.seller, "escrow.ship", order_id, TRACK)
    receipt = m.chain.ok(m.buyer, "escrow.dispute", order_id)
    disputed = event(receipt, "escrow.disputed")
    o = order(m, order_id)
    assert (o.state, o.disputed_by) == ("disputed", m.buyer.public_key)
    assert disputed.get("rule_by_ms") == o.rule_by_ms == m.chain.time_ms + 3 * DAY
    photo = b"\x11" * 32
    m.chain.ok(m.buyer, "escrow.evidence", order_id, photo)
    t_photo = m.chain.time_ms
    m.chain.ok(m.seller, "escrow.evidence", order_id, "https://courier.example/track/1")
    m.chain.ok(m.arbiter, "escrow.evidence", order_id, "note://arbiter/asked-courier")
    records = E.order_evidence(m.chain.store, order_id)
    assert [(r.author, r.item) for r in records] == [
        (m.buyer.public_key, photo),
        (m.seller.public_key, "https://courier.example/track/1"),
        (m.arbiter.public_key, "note://arbiter/asked-courier"),
    ]
    assert records[0].time_ms == t_photo and records[0].to_json()["hash"] == photo.hex()
    # fee: 5% of 40,000 = 2,000 (within 100..5,000); 38,000 to split
    m.chain.rejects("bad_split", m.arbiter, "escrow.rule", order_id, 20_000, 20_000)
    m.chain.rejects("not_arbiter", m.arbiter2, "escrow.rule", order_id, 19_000, 19_000)
    receipt = m.chain.ok(m.arbiter, "escrow.rule", order_id, 28_000, 10_000)
    resolved = event(receipt, "escrow.resolved")
    assert (resolved.get("fee"), resolved.get("commission"), resolved.get("outcome")) == (
        2_000,
        250,
        "ruled",
    )
    assert m.chain.balance(m.arbiter, "IDR") == 2_000
    assert m.chain.balance(m.buyer, "IDR") == 1_000_000 - 40_000 + 28_000
    assert m.chain.balance(m.seller, "IDR") == 9_750
    assert m.chain.balance(m.platform, "IDR") == 250
    o = order(m, order_id)
    assert (o.state, o.arbiter_fee, o.refunded, o.released) == ("resolved", 2_000, 28_000, 10_000)
    assert [s.amount for s in sales_seen] == [10_000]
    m.chain.rejects("order_closed", m.arbiter, "escrow.rule", order_id, 0, 0)
    m.chain.rejects("order_closed", m.buyer, "escrow.evidence", order_id, photo)
    assert m.chain.advance(o.rule_by_ms + 1).block_events == []
    check_books(m)


def test_ruling_all_to_buyer_is_not_a_sale(m: Market, sales_seen: list[Sale]) -> None:
    order_id = m.place(m.create_listing())  # 10,000: fee 500
    m.chain.ok(m.seller, "escrow.dispute", order_id)  # the seller may dispute too
    m.chain.ok(m.arbiter, "escrow.rule", order_id, 9_500, 0)
    assert sales_seen == [] and m.chain.balance(m.seller, "IDR") == 0
    assert order(m, order_id).released == 0
    check_books(m)


def test_fee_minimum_and_schedule_without_bounds(m: Market) -> None:
    listing_id = m.create_listing(price=1_000)
    first = m.place(listing_id)  # 5% of 1,000 = 50 -> minimum 100
    m.chain.ok(m.buyer, "escrow.dispute", first)
    m.chain.ok(m.arbiter, "escrow.rule", first, 450, 450)
    assert order(m, first).arbiter_fee == 100
    second = m.place(listing_id, arbiter=m.arbiter2.public_key)  # 10%, no bounds
    m.chain.ok(m.buyer, "escrow.dispute", second)
    m.chain.ok(m.arbiter2, "escrow.rule", second, 900, 0)
    assert order(m, second).arbiter_fee == 100
    check_books(m)


def test_arbiter_silence_refunds_the_buyer_without_fee(m: Market, sales_seen: list[Sale]) -> None:
    order_id = m.place(m.create_listing())
    m.chain.ok(m.seller, "escrow.ship", order_id, TRACK)
    m.chain.ok(m.buyer, "escrow.dispute", order_id)
    rule_by = order(m, order_id).rule_by_ms
    m.chain.run(m.arbiter, "escrow.rule", order_id, 0, 9_500, at_ms=rule_by)
    assert m.chain.last is not None
    assert m.chain.last.receipts[0].code == "ruling_deadline_passed"
    resolved = event(m.chain.last.block_events, "escrow.resolved")
    assert (resolved.get("outcome"), resolved.get("buyer_amount")) == ("default_refund", 10_000)
    o = order(m, order_id)
    assert (o.state, o.outcome, o.arbiter_fee) == ("resolved", "default_refund", 0)
    assert m.chain.balance(m.buyer, "IDR") == 1_000_000 and sales_seen == []
    check_books(m)


def test_buyer_may_end_its_dispute_by_confirming(m: Market) -> None:
    order_id = m.place(m.create_listing())
    m.chain.ok(m.buyer, "escrow.dispute", order_id)
    m.chain.ok(m.buyer, "escrow.confirm", order_id)
    o = order(m, order_id)
    assert (o.state, o.arbiter_fee, o.released) == ("completed", 0, 10_000)
    assert m.chain.advance(o.rule_by_ms + 1).block_events == []
    check_books(m)


def test_seller_may_refund_during_a_dispute(m: Market) -> None:
    order_id = m.place(m.create_listing())
    m.chain.ok(m.buyer, "escrow.dispute", order_id)
    m.chain.ok(m.seller, "escrow.refund", order_id, 4_000)
    assert order(m, order_id).state == "disputed"
    m.chain.ok(m.arbiter, "escrow.rule", order_id, 5_700, 0)  # 6,000 held, fee 300
    o = order(m, order_id)
    assert (o.refunded, o.arbiter_fee, o.state) == (9_700, 300, "resolved")
    check_books(m)


def test_dispute_rejections(m: Market) -> None:
    order_id = m.place(m.create_listing())
    c = m.chain
    c.rejects("not_party", m.outsider, "escrow.dispute", order_id)
    c.rejects("not_party", m.arbiter, "escrow.dispute", order_id)
    c.rejects("not_disputed", m.buyer, "escrow.evidence", order_id, b"\x01" * 32)
    c.rejects("not_disputed", m.arbiter, "escrow.rule", order_id, 0, 0)
    c.ok(m.buyer, "escrow.dispute", order_id)
    c.rejects("already_disputed", m.seller, "escrow.dispute", order_id)
    c.rejects("not_party", m.outsider, "escrow.evidence", order_id, b"\x01" * 32)
    c.rejects("bad_args", m.buyer, "escrow.evidence", order_id, b"\x01" * 31)
    c.rejects("bad_args", m.buyer, "escrow.evidence", order_id, "")
    c.rejects("bad_args", m.buyer, "escrow.evidence", order_id, "u" * 257)
    c.rejects("bad_amount", m.arbiter, "escrow.rule", order_id, -1, 0)


def test_dispute_window_closes_with_the_protection_window(m: Market) -> None:
    order_id = m.place(m.create_listing())
    m.chain.ok(m.seller, "escrow.ship", order_id, TRACK)
    release_at = order(m, order_id).release_at_ms
    m.chain.run(m.buyer, "escrow.dispute", order_id, at_ms=release_at)
    assert m.chain.last is not None
    assert m.chain.last.receipts[0].code == "dispute_window_closed"
    assert order(m, order_id).state == "completed"  # released at the end of that block


def test_evidence_is_bounded(m: Market) -> None:
    order_id = m.place(m.create_listing())
    m.chain.ok(m.buyer, "escrow.dispute", order_id)
    calls = [
        (m.buyer, "escrow.evidence", (order_id, bytes([i]) * 32)) for i in range(E.MAX_EVIDENCE)
    ]
    result = m.chain.block(calls)
    assert all(r.ok for r in result.receipts)
    m.chain.rejects("too_much_evidence", m.seller, "escrow.evidence", order_id, b"\x01" * 32)
    assert len(E.order_evidence(m.chain.store, order_id)) == E.MAX_EVIDENCE


def test_many_deadlines_in_one_block_all_settle(m: Market) -> None:
    listing_id = m.create_listing(stock=40)
    arb = m.arbiter.public_key
    m.chain.block([(m.buyer, "order.place", (listing_id, 1, 10_000, arb)) for _ in range(20)])
    m.chain.block([(m.buyer2, "order.place", (listing_id, 1, 10_000, arb)) for _ in range(20)])
    orders, _ = E.orders_by_buyer(m.chain.store, m.buyer.public_key, limit=200)
    assert len(orders) == 20
    result = m.chain.advance(m.chain.time_ms + 3 * DAY)
    assert len([e for e in result.block_events if e.name == "escrow.refunded"]) == 40
    assert m.chain.balance(m.buyer, "IDR") == 1_000_000 and m.chain.vault("IDR") == 0
    check_books(m)


def test_orders_paginate(m: Market) -> None:
    listing_id = m.create_listing(stock=10)
    ids = [m.place(listing_id) for _ in range(5)]
    page, cursor = E.orders_by_seller(m.chain.store, m.seller.public_key, None, 2)
    assert [o.id for o in page] == ids[:2] and cursor is not None
    page, cursor = E.orders_by_seller(m.chain.store, m.seller.public_key, cursor, 2)
    assert [o.id for o in page] == ids[2:4]
    page, cursor = E.orders_by_seller(m.chain.store, m.seller.public_key, cursor, 2)
    assert [o.id for o in page] == ids[4:] and cursor is None
    assert order(m, ids[0]).to_json()["state"] == "funded"


def test_a_refused_auto_release_is_retried_not_lost(
    m: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ledger.errors import InvalidTransaction

    refusing = [True]

    def listener(ctx: Context, sale: Sale) -> None:
        ctx.state.put(b"listener/ran", b"1")
        if refusing[0]:
            raise InvalidTransaction("listener_refused", "not now")

    monkeypatch.setattr(sales, "LISTENERS", (listener,))
    order_id = m.place(m.create_listing())
    m.chain.ok(m.seller, "escrow.ship", order_id, TRACK)
    release_at = order(m, order_id).release_at_ms
    result = m.chain.advance(release_at)
    retry = event(result.block_events, "escrow.release_retry")
    assert retry.get("code") == "listener_refused"
    o = order(m, order_id)
    assert (o.state, o.held, o.release_at_ms) == (
        "shipped",
        10_000,
        release_at + E.RELEASE_RETRY_MS,
    )
    assert m.chain.store.get(b"listener/ran") is None  # the failed attempt left nothing
    assert m.chain.balance(m.seller, "IDR") == 0
    check_books(m)
    refusing[0] = False
    result = m.chain.advance(o.release_at_ms)
    assert event(result.block_events, "escrow.completed").get("outcome") == "auto_released"
    assert m.chain.balance(m.seller, "IDR") == 9_750
    check_books(m)


def test_every_escrow_event_names_all_three_parties(m: Market) -> None:
    order_id = m.place(m.create_listing(), quantity=2)
    receipts = [
        m.chain.ok(m.seller, "escrow.refund", order_id, 1_000),
        m.chain.ok(m.seller, "escrow.ship", order_id, TRACK),
        m.chain.ok(m.buyer, "escrow.dispute", order_id),
        m.chain.ok(m.buyer, "escrow.evidence", order_id, "uri://photo"),
        m.chain.ok(m.arbiter, "escrow.rule", order_id, 9_000, 9_050),
    ]
    events = [e for r in receipts for e in r.events if e.name.startswith("escrow.")]
    assert len(events) == 5
    for e in events:
        assert e.get("buyer") == m.buyer.public_key
        assert e.get("seller") == m.seller.public_key
        assert e.get("arbiter") == m.arbiter.public_key


def test_exclusive_coin_orders_only_pay_parties_inside_its_group(m: Market) -> None:
    c = m.chain
    c.ok(
        m.issuer,
        "loyalty.create",
        "PTS",
        "Points",
        0,
        10**9,
        [m.seller.public_key],
        [],
        [],
        0,
        "members",
    )
    c.ok(m.issuer, "coin.mint", "PTS", m.buyer.public_key, 100_000)
    listing_id = m.create_listing(symbol="PTS", price=1_000)
    arb = m.arbiter.public_key
    # the seller is a member: each refusal names the party outside the group
    c.rejects("platform_not_member", m.buyer, "order.place", listing_id, 1, 1_000, arb)
    c.ok(m.issuer, "loyalty.add_member", "PTS", m.platform.public_key)
    c.rejects("arbiter_not_member", m.buyer, "order.place", listing_id, 1, 1_000, arb)
    c.ok(m.issuer, "loyalty.add_member", "PTS", arb)
    # a free arbiter is paid nothing, so it need not be a member
    c.ok(m.arbiter2, "arbiter.publish", 0, DAY)
    m.place(listing_id, arbiter=m.arbiter2.public_key)
    order_id = m.place(listing_id)
    m.chain.ok(m.buyer, "escrow.dispute", order_id)
    m.chain.ok(m.arbiter, "escrow.rule", order_id, 0, 950)  # 5% fee, no coin bounds for PTS
    assert c.balance(m.arbiter, "PTS") == 50
    assert c.balance(m.platform, "PTS") == 23  # 2.5% of 950, rounded down
    assert c.balance(m.seller, "PTS") == 927
