"""Payments through a platform: atomic split into the seller's net and the commission."""

from __future__ import annotations

from contracts import sales
from tests.chainkit import Chain, event, key

V0 = key("validator-0")
SHOP = key("shop")
BUYER = key("buyer")
SELLER = key("seller")


def chain(rate: int = 250) -> Chain:
    return Chain(
        [V0],
        [
            ["roles", [[SHOP.public_key, "Shop", rate]]],
            [
                "coin",
                [
                    [
                        ["IDRX", "Rupiah", 0, SHOP.public_key, 10**15, "platform"],
                        ["OPEN", "Open coin", 0, BUYER.public_key, 10**15, "open"],
                    ],
                    [[BUYER.public_key, "IDRX", 100_000], [BUYER.public_key, "OPEN", 100]],
                ],
            ],
        ],
    )


def pay(c: Chain, amount: int, *, platform: bytes | None = None, symbol: str = "IDRX"):  # type: ignore[no-untyped-def]
    return c.run(
        BUYER,
        "payment.pay",
        platform or SHOP.public_key,
        SELLER.public_key,
        symbol,
        amount,
        "order-17",
    )


def test_the_seller_bears_the_commission() -> None:
    c = chain(250)
    r = pay(c, 10_000)
    assert r.ok
    paid = event(r, "payment.paid")
    assert (paid.get("amount"), paid.get("commission"), paid.get("net")) == (10_000, 250, 9_750)
    assert paid.get("commission_bps") == 250 and paid.get("reference") == "order-17"
    assert c.balance(BUYER, "IDRX") == 90_000
    assert c.balance(SELLER, "IDRX") == 9_750
    assert c.balance(SHOP, "IDRX") == 250


def test_commission_rounds_down_in_the_sellers_favour() -> None:
    c = chain(250)
    r = pay(c, 39)  # 39 * 2.5% = 0.975
    assert event(r, "payment.paid").get("commission") == 0
    assert c.balance(SELLER, "IDRX") == 39


def test_zero_rate_platform_takes_nothing_and_rate_changes_apply_at_once() -> None:
    c = chain(0)
    pay(c, 1000)
    assert c.balance(SHOP, "IDRX") == 0
    c.ok(SHOP, "platform.set_commission", 1000)
    pay(c, 1000)
    assert c.balance(SHOP, "IDRX") == 100
    assert c.balance(SELLER, "IDRX") == 1900


def test_payment_completes_a_sale() -> None:
    c = chain()
    r = pay(c, 500)
    sale = event(r, "sale.completed")
    assert sale.get("kind") == "payment" and sale.get("amount") == 500
    assert sale.get("reference") == r.tx_hash


def test_payment_rejections_change_nothing() -> None:
    c = chain()
    c.fails(
        "insufficient_funds",
        BUYER,
        "payment.pay",
        SHOP.public_key,
        SELLER.public_key,
        "IDRX",
        100_001,
        "",
    )
    c.fails(
        "not_platform", BUYER, "payment.pay", SELLER.public_key, SELLER.public_key, "IDRX", 1, ""
    )
    c.fails("self_payment", BUYER, "payment.pay", SHOP.public_key, BUYER.public_key, "IDRX", 1, "")
    c.fails("bad_amount", BUYER, "payment.pay", SHOP.public_key, SELLER.public_key, "IDRX", 0, "")
    c.fails(
        "unknown_asset", BUYER, "payment.pay", SHOP.public_key, SELLER.public_key, "NOPE", 1, ""
    )
    c.fails(
        "bad_args", BUYER, "payment.pay", SHOP.public_key, SELLER.public_key, "IDRX", 1, "x" * 129
    )
    c.fails("bad_args", BUYER, "payment.pay", SHOP.public_key, SELLER.public_key, "IDRX", 1)


def test_commission_plus_net_always_equals_amount() -> None:
    c = chain(1999)
    total = 0
    for amount in (1, 7, 99, 12_345, 50_000):
        r = pay(c, amount)
        paid = event(r, "payment.paid")
        assert paid.get("commission") + paid.get("net") == amount
        total += amount
    assert c.balance(SELLER, "IDRX") + c.balance(SHOP, "IDRX") == total


def test_sale_listeners_see_the_payment(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    seen: list[sales.Sale] = []
    monkeypatch.setattr(sales, "LISTENERS", (lambda ctx, sale: seen.append(sale),))
    c = chain()
    pay(c, 800)
    assert (
        len(seen) == 1
        and seen[0].seller == SELLER.public_key
        and seen[0].platform == SHOP.public_key
    )


def test_commission_in_an_exclusive_coin_stays_inside_its_group() -> None:
    c = chain(250)
    c.ok(SELLER, "loyalty.create", "LOYAL", "Loyal", 0, 10**9, [], [], [], 0, "open")
    c.ok(SELLER, "coin.mint", "LOYAL", BUYER.public_key, 1_000)
    c.fails(
        "platform_not_member",
        BUYER,
        "payment.pay",
        SHOP.public_key,
        SELLER.public_key,
        "LOYAL",
        400,
        "",
    )
    r = pay(c, 39, symbol="LOYAL")  # commission rounds to 0: nothing leaves the group
    assert r.ok and event(r, "payment.paid").get("commission") == 0
    c.ok(SELLER, "loyalty.add_member", "LOYAL", SHOP.public_key)
    assert pay(c, 400, symbol="LOYAL").ok
    assert c.balance(SHOP, "LOYAL") == 10
