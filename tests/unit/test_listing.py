"""Listings: create, update, withdraw; seller only; every rejection code; pagination."""

from __future__ import annotations

from typing import Any

import pytest

from contracts import listing as L
from tests.commercekit import DAY, MINUTE, Market, event


@pytest.fixture
def m() -> Market:
    return Market()


def test_create_stores_every_term(m: Market) -> None:
    listing_id = m.create_listing()
    item = L.load_listing(m.chain.store, listing_id)
    assert item is not None
    assert item.seller == m.seller.public_key
    assert (item.title, item.sku, item.price, item.symbol, item.stock) == (
        "Batik shirt",
        "BTK-01",
        10_000,
        "IDR",
        5,
    )
    assert item.platform == m.platform.public_key
    assert item.arbiters == (m.arbiter.public_key, m.arbiter2.public_key)
    assert (item.shipping_ms, item.protection_ms) == (2 * DAY, 7 * DAY)
    assert item.franchise_program is None and item.status == "active"
    assert item.to_json()["id"] == listing_id.hex()


def test_create_without_platform(m: Market) -> None:
    receipt = m.chain.ok(m.seller, "listing.create", *m.listing_args(platform=None))
    created = event(receipt, "listing.created")
    assert created.get("franchise_program") is None
    item = L.load_listing(m.chain.store, created.get("listing"))
    assert item is not None and item.platform is None and item.franchise_program is None


def test_franchise_program_goes_through_the_sell_policy(m: Market) -> None:
    program = b"\x07" * 32
    m.chain.rejects("unknown_program", m.seller, "listing.create", *m.listing_args(), program)


@pytest.mark.parametrize(
    ("code", "overrides"),
    [
        ("bad_args", {"title": ""}),
        ("bad_args", {"title": "x" * 129}),
        ("bad_args", {"sku": ""}),
        ("bad_amount", {"price": 0}),
        ("amount_overflow", {"price": 1 << 63}),
        ("unknown_asset", {"symbol": "NOPE"}),
        ("bad_symbol", {"symbol": "idr"}),
        ("bad_args", {"stock": -1}),
        ("bad_args", {"stock": True}),
        ("not_platform", {"platform": b"\x09" * 32}),
        ("bad_args", {"platform": b"short"}),
        ("bad_args", {"arbiters": []}),
        ("not_platform", {"arbiters": [b"\x09" * 32]}),
        ("arbiter_conflict", {"arbiters": ["SELLER"]}),
        ("bad_args", {"arbiters": ["ARB", "ARB"]}),
        ("bad_window", {"shipping_ms": MINUTE - 1}),
        ("bad_window", {"shipping_ms": 91 * DAY}),
        ("bad_window", {"protection_ms": 181 * DAY}),
        ("bad_args", {"protection_ms": "7d"}),
    ],
)
def test_create_rejections(m: Market, code: str, overrides: dict[str, Any]) -> None:
    if overrides.get("arbiters") == ["SELLER"]:
        overrides["arbiters"] = [m.seller.public_key]
    if overrides.get("arbiters") == ["ARB", "ARB"]:
        overrides["arbiters"] = [m.arbiter.public_key, m.arbiter.public_key]
    m.chain.rejects(code, m.seller, "listing.create", *m.listing_args(**overrides))


def test_create_rejects_bad_program_and_arg_count(m: Market) -> None:
    m.chain.rejects("bad_args", m.seller, "listing.create", *m.listing_args(), b"short")
    m.chain.rejects("bad_args", m.seller, "listing.create", *m.listing_args()[:-1])


def test_update_changes_only_named_fields(m: Market) -> None:
    listing_id = m.create_listing()
    receipt = m.chain.ok(
        m.seller,
        "listing.update",
        listing_id,
        [["price", 12_000], ["stock", 9], ["arbiters", [m.arbiter2.public_key]]],
    )
    updated = event(receipt, "listing.updated")
    assert updated.get("fields") == ["arbiters", "price", "stock"]
    item = L.load_listing(m.chain.store, listing_id)
    assert item is not None
    assert (item.price, item.stock, item.arbiters) == (12_000, 9, (m.arbiter2.public_key,))
    assert item.title == "Batik shirt" and item.updated_ms == m.chain.time_ms
    m.chain.ok(m.seller, "listing.update", listing_id, [["platform", None], ["title", "Kain"]])
    item = L.load_listing(m.chain.store, listing_id)
    assert item is not None and item.platform is None and item.title == "Kain"


def test_update_rejections(m: Market) -> None:
    listing_id = m.create_listing()
    c = m.chain
    c.rejects("unknown_listing", m.seller, "listing.update", b"\x01" * 32, [["price", 5]])
    c.rejects("bad_args", m.seller, "listing.update", b"\x01", [["price", 5]])
    c.rejects("not_seller", m.buyer, "listing.update", listing_id, [["price", 5]])
    c.rejects("bad_args", m.seller, "listing.update", listing_id, [])
    c.rejects("bad_args", m.seller, "listing.update", listing_id, [["symbol", "USD"]])
    c.rejects("bad_args", m.seller, "listing.update", listing_id, [["price", 5], ["price", 6]])
    c.rejects("bad_amount", m.seller, "listing.update", listing_id, [["price", 0]])
    c.rejects("not_platform", m.seller, "listing.update", listing_id, [["platform", b"\x02" * 32]])
    c.rejects("bad_window", m.seller, "listing.update", listing_id, [["shipping_ms", 1]])
    c.rejects("bad_args", m.seller, "listing.update", listing_id, "price")


def test_withdraw(m: Market) -> None:
    listing_id = m.create_listing()
    m.chain.rejects("not_seller", m.buyer, "listing.withdraw", listing_id)
    receipt = m.chain.ok(m.seller, "listing.withdraw", listing_id)
    assert event(receipt, "listing.withdrawn").get("listing") == listing_id
    item = L.load_listing(m.chain.store, listing_id)
    assert item is not None and item.status == "withdrawn"
    m.chain.rejects("listing_withdrawn", m.seller, "listing.withdraw", listing_id)
    m.chain.rejects("listing_withdrawn", m.seller, "listing.update", listing_id, [["stock", 1]])
    m.chain.rejects(
        "listing_withdrawn", m.buyer, "order.place", listing_id, 1, 10**6, m.arbiter.public_key
    )


def test_listings_by_seller_paginate_with_a_cursor(m: Market) -> None:
    ids = [m.create_listing(sku=f"SKU-{i}") for i in range(7)]
    m.chain.ok(m.seller, "listing.withdraw", ids[2])
    seen: list[bytes] = []
    cursor = None
    pages = 0
    while True:
        page, cursor = L.listings_by_seller(m.chain.store, m.seller.public_key, cursor, 3)
        seen.extend(item.id for item in page)
        pages += 1
        if cursor is None:
            break
    assert seen == ids  # oldest first, withdrawn included
    assert pages == 3
    assert L.listings_by_seller(m.chain.store, m.buyer.public_key) == ([], None)
