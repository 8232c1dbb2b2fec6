"""An exclusive coin on every path that moves coins: payments, invoices, the exchange.

The rules live in contracts.policy; these tests check that each contract path
that can move a coin actually asks, and that a settled payment or invoice at a
member earns the buyer the coin.
"""

from __future__ import annotations

from contracts.exchange import PRICE_SCALE
from contracts.roles import grant_platform
from tests.loyalty_harness import Harness, account, named

MEMBER, OUTSIDER, BUYER, SHOP = (account(n) for n in range(60, 64))
DAY_MS = 24 * 3600 * 1000


def setup() -> Harness:
    h = Harness()
    grant_platform(h.state, SHOP, "shop", 200)
    h.platform_coin("IDR", {BUYER: 10**9, MEMBER: 10**9})
    h.call(MEMBER, "loyalty.create", "KOPI", "Kopi", 0, 10**9, [], [], [["IDR", 500]], 0, "open")
    h.call(MEMBER, "coin.mint", "KOPI", BUYER, 10_000)
    return h


def test_payments_in_the_coin_go_only_to_members() -> None:
    h = setup()
    pay = ("payment.pay", SHOP)
    assert h.reject(BUYER, *pay, OUTSIDER, "KOPI", 100, "r") == "not_member"
    # the commission would carry the coin to a platform outside the group: its own code
    assert h.reject(BUYER, *pay, MEMBER, "KOPI", 100, "r") == "platform_not_member"
    h.call(MEMBER, "loyalty.add_member", "KOPI", SHOP)
    h.call(BUYER, *pay, MEMBER, "KOPI", 100, "r")
    assert h.balance(MEMBER, "KOPI") == 98 and h.balance(SHOP, "KOPI") == 2


def test_a_payment_at_a_member_rewards_the_buyer() -> None:
    h = setup()
    events = h.call(BUYER, "payment.pay", SHOP, MEMBER, "IDR", 10_000, "r")
    assert named(events, "loyalty.reward")[0]["minted"] == 500
    assert h.balance(BUYER, "KOPI") == 10_500
    h.call(BUYER, "payment.pay", SHOP, OUTSIDER, "IDR", 10_000, "r")
    assert h.balance(BUYER, "KOPI") == 10_500


def test_invoices_in_the_coin_only_from_members() -> None:
    h = setup()
    expiry = h.height * 1_000 + DAY_MS
    assert h.reject(OUTSIDER, "invoice.create", "KOPI", 100, expiry, "inv", b"") == "not_member"
    created = h.call(MEMBER, "invoice.create", "KOPI", 100, expiry, "inv", b"")
    invoice = named(created, "invoice.created")[0]["id"]
    h.call(MEMBER, "loyalty.remove_member", "KOPI", MEMBER)
    # removal stops acceptance from then on, also for invoices already issued
    assert h.reject(BUYER, "invoice.pay", invoice, "KOPI", 100) == "not_member"


def test_an_invoice_paid_at_a_member_rewards_the_buyer() -> None:
    h = setup()
    expiry = h.height * 1_000 + DAY_MS
    created = h.call(MEMBER, "invoice.create", "IDR", 2_000, expiry, "inv", b"")
    invoice = named(created, "invoice.created")[0]["id"]
    assert h.reject(BUYER, "invoice.pay", invoice, "KOPI", 10_000) == "not_exchangeable"
    events = h.call(BUYER, "invoice.pay", invoice, "IDR", 2_000)
    assert named(events, "loyalty.reward")[0]["minted"] == 100


def test_the_coin_never_reaches_the_exchange() -> None:
    h = setup()
    price = 2 * PRICE_SCALE
    for base, quote in (("KOPI", "IDR"), ("IDR", "KOPI")):
        for side in ("buy", "sell"):
            code = h.reject(BUYER, "exchange.order", base, quote, side, price, 10)
            assert code == "not_exchangeable"
    assert h.reject(BUYER, "exchange.swap", "KOPI", "IDR", 10, 100) == "not_exchangeable"
    assert h.reject(BUYER, "exchange.swap", "IDR", "KOPI", 10, 100) == "not_exchangeable"
