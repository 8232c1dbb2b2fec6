"""Carts: several listings of one seller in one order, one escrow and one shipment,
commission and royalties per line, stock per line."""

from __future__ import annotations

import pytest

from contracts import escrow as E
from contracts import listing as L
from contracts import sales
from contracts.sales import Sale
from tests.commercekit import DAY, Market, event

TRACK = b"\x42" * 32


@pytest.fixture
def m() -> Market:
    return Market()


def cart(m: Market, *lines: tuple[bytes, int], buyer: object = None) -> bytes:
    rows = [[listing, quantity, 10**12] for listing, quantity in lines]
    receipt = m.chain.ok(buyer or m.buyer, "order.place_cart", rows, m.arbiter.public_key)  # type: ignore[arg-type]
    return bytes(event(receipt, "order.placed").get("order"))


def stock(m: Market, listing: bytes) -> int:
    found = L.load_listing(m.chain.store, listing)
    assert found is not None
    return found.stock


def test_one_escrow_one_shipment_commission_per_line(
    m: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Sale] = []
    monkeypatch.setattr(sales, "LISTENERS", (lambda ctx, sale: seen.append(sale),))
    shirt = m.create_listing()  # 10,000 via the 2.5 % platform
    cap = m.create_listing(price=2_000, platform=None, sku="CAP-1", shipping_ms=DAY)
    order_id = cart(m, (shirt, 2), (cap, 3))
    o = E.load_order(m.chain.store, order_id)
    assert o is not None and (o.amount, o.held, o.quantity) == (26_000, 26_000, 5)
    assert o.ship_by_ms == o.created_ms + DAY  # the shortest shipping window
    assert m.chain.vault("IDR") == 26_000 and (stock(m, shirt), stock(m, cap)) == (3, 2)
    lines = E.order_lines(m.chain.store, o)
    assert [(line.amount, line.commission_bps) for line in lines] == [(20_000, 250), (6_000, 0)]
    m.chain.ok(m.seller, "escrow.ship", order_id, TRACK)
    receipt = m.chain.ok(m.buyer, "escrow.confirm", order_id)
    assert event(receipt, "escrow.completed").get("commission") == 500  # only the shirt line
    assert m.chain.balance(m.platform, "IDR") == 500
    assert m.chain.balance(m.seller, "IDR") == 25_500
    assert [(s.listing_id, s.amount, s.platform) for s in seen] == [
        (shirt, 20_000, m.platform.public_key),
        (cap, 6_000, None),
    ]


def test_a_cancelled_cart_returns_every_line(m: Market) -> None:
    shirt = m.create_listing()
    cap = m.create_listing(price=2_000, sku="CAP-1")
    order_id = cart(m, (shirt, 2), (cap, 1))
    receipt = m.chain.ok(m.seller, "escrow.cancel", order_id)
    restocked = [e.get("listing") for e in receipt.events if e.name == "listing.restocked"]
    assert restocked == [shirt, cap]
    assert (stock(m, shirt), stock(m, cap)) == (5, 5)
    assert m.chain.balance(m.buyer, "IDR") == 1_000_000


def test_a_split_ruling_shares_the_release_over_the_lines(m: Market) -> None:
    shirt = m.create_listing()
    cap = m.create_listing(price=3_333, platform=None, sku="CAP-1")
    order_id = cart(m, (shirt, 1), (cap, 1))
    m.chain.ok(m.buyer, "escrow.dispute", order_id)
    o = E.load_order(m.chain.store, order_id)
    assert o is not None
    fee = o.terms.fee(o.held)
    seller_part = 7_001
    m.chain.ok(m.arbiter, "escrow.rule", order_id, o.held - fee - seller_part, seller_part)
    done = E.load_order(m.chain.store, order_id)
    assert done is not None and done.released == seller_part
    parts = E.split_by_lines(seller_part, E.order_lines(m.chain.store, done), done.amount)
    assert sum(parts) == seller_part and parts[0] == seller_part * 10_000 // 13_333
    assert done.commission == parts[0] * 250 // 10_000
    assert m.chain.vault("IDR") == 0


def test_cart_rejections(m: Market) -> None:
    shirt = m.create_listing()
    other_coin = m.create_listing(symbol="USD", sku="USD-1")
    arbiter = m.arbiter.public_key
    c = m.chain
    c.rejects("bad_args", m.buyer, "order.place_cart", [], arbiter)
    c.rejects("bad_args", m.buyer, "order.place_cart", [[shirt, 1, 10**9]] * 17, arbiter)
    c.rejects("bad_args", m.buyer, "order.place_cart", [[shirt, 1, 10**9]] * 2, arbiter)
    c.rejects("bad_args", m.buyer, "order.place_cart", [[shirt, 1]], arbiter)
    c.rejects(
        "mixed_coins",
        m.buyer,
        "order.place_cart",
        [[shirt, 1, 10**9], [other_coin, 1, 10**9]],
        arbiter,
    )
    m.seller, own = m.buyer2, m.seller  # buyer2 sells this one
    theirs = m.create_listing(sku="B2-1")
    m.seller = own
    c.rejects(
        "mixed_sellers",
        m.buyer,
        "order.place_cart",
        [[shirt, 1, 10**9], [theirs, 1, 10**9]],
        arbiter,
    )
    c.rejects("out_of_stock", m.buyer, "order.place_cart", [[shirt, 6, 10**9]], arbiter)
    c.rejects("price_changed", m.buyer, "order.place_cart", [[shirt, 1, 9_999]], arbiter)
    c.rejects(
        "arbiter_not_accepted",
        m.buyer,
        "order.place_cart",
        [[shirt, 1, 10**9]],
        m.outsider.public_key,
    )
    c.rejects("self_purchase", m.seller, "order.place_cart", [[shirt, 1, 10**9]], arbiter)
    c.rejects("insufficient_funds", m.outsider, "order.place_cart", [[shirt, 1, 10**9]], arbiter)
    assert stock(m, shirt) == 5


def test_cart_lines_are_served(m: Market) -> None:
    shirt = m.create_listing()
    cap = m.create_listing(price=2_000, sku="CAP-1")
    order_id = cart(m, (shirt, 1), (cap, 2))
    o = E.load_order(m.chain.store, order_id)
    assert o is not None
    assert [line.to_json()["quantity"] for line in E.order_lines(m.chain.store, o)] == [1, 2]
    single = m.place(shirt)
    s = E.load_order(m.chain.store, single)
    assert s is not None and len(E.order_lines(m.chain.store, s)) == 1
