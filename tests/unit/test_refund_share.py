"""The platform's published refund share: how much of its commission goes back with a
refund, taken from the platform in the refund's own transaction."""

from __future__ import annotations

from contracts import invoice as inv
from contracts import roles
from tests.chainkit import Chain, event, key

V0 = key("validator-0")
SHOP = key("shop")
MERCHANT = key("merchant")
BUYER = key("buyer")
HOUR = 3600 * 1000


def chain() -> Chain:
    return Chain(
        [V0],
        [
            ["roles", [[SHOP.public_key, "Shop", 1_000]]],
            [
                "coin",
                [
                    [["IDRX", "Rupiah", 0, SHOP.public_key, 10**15, "platform"]],
                    [[BUYER.public_key, "IDRX", 50_000], [MERCHANT.public_key, "IDRX", 1_000]],
                ],
            ],
        ],
    )


def paid_invoice(c: Chain, amount: int) -> bytes:
    args = ("IDRX", amount, c.time_ms + HOUR, "r", b"", SHOP.public_key)
    invoice_id = bytes(event(c.ok(MERCHANT, "invoice.create", *args), "invoice.created").get("id"))
    c.ok(BUYER, "invoice.pay", invoice_id, "IDRX", amount)
    return invoice_id


def test_publishing_the_share() -> None:
    c = chain()
    assert roles.refund_share_bps(c.store, SHOP.public_key) == 0
    r = c.ok(SHOP, "platform.set_refund_share", 5_000)
    assert event(r, "platform.refund_share_set").get("share_bps") == 5_000
    assert roles.refund_share_bps(c.store, SHOP.public_key) == 5_000
    c.fails("bad_rate", SHOP, "platform.set_refund_share", 10_001)
    c.fails("bad_rate", SHOP, "platform.set_refund_share", -1)
    c.fails("not_platform", MERCHANT, "platform.set_refund_share", 100)


def test_without_a_share_the_platform_keeps_its_commission() -> None:
    c = chain()
    invoice_id = paid_invoice(c, 10_000)  # commission 1,000
    r = c.ok(MERCHANT, "invoice.refund", invoice_id, 10_000)
    assert event(r, "invoice.refunded").get("commission_returned") == 0
    assert c.balance(SHOP, "IDRX") == 1_000
    assert c.balance(MERCHANT, "IDRX") == 0
    assert c.balance(BUYER, "IDRX") == 50_000


def test_full_share_claws_back_the_whole_commission_over_partial_refunds() -> None:
    c = chain()
    c.ok(SHOP, "platform.set_refund_share", 10_000)
    invoice_id = paid_invoice(c, 10_001)  # commission floor(10,001 * 10%) = 1,000
    merchant_before = c.balance(MERCHANT, "IDRX")
    first = c.ok(MERCHANT, "invoice.refund", invoice_id, 3_333)
    assert event(first, "invoice.refunded").get("commission_returned") == 333
    c.ok(MERCHANT, "invoice.refund", invoice_id, 3_333)
    c.ok(MERCHANT, "invoice.refund", invoice_id, 3_335)
    found = inv.load_invoice(c.store, invoice_id)
    assert found is not None and found.commission_returned == 1_000
    assert c.balance(SHOP, "IDRX") == 0
    assert c.balance(BUYER, "IDRX") == 50_000
    # The merchant paid back only what it had received: 10,001 - 1,000.
    assert merchant_before - c.balance(MERCHANT, "IDRX") == 9_001


def test_the_share_is_snapshotted_when_the_invoice_is_created() -> None:
    c = chain()
    c.ok(SHOP, "platform.set_refund_share", 5_000)
    invoice_id = paid_invoice(c, 10_000)
    c.ok(SHOP, "platform.set_refund_share", 0)  # too late for this invoice
    r = c.ok(MERCHANT, "invoice.refund", invoice_id, 4_000)
    assert event(r, "invoice.refunded").get("commission_returned") == 200  # 1000 * 50% * 40%
    assert c.balance(SHOP, "IDRX") == 800


def test_a_platform_that_spent_its_commission_blocks_the_refund_atomically() -> None:
    c = chain()
    c.ok(SHOP, "platform.set_refund_share", 10_000)
    invoice_id = paid_invoice(c, 10_000)
    c.ok(SHOP, "coin.transfer", "IDRX", MERCHANT.public_key, 1_000)
    before = (c.balance(MERCHANT, "IDRX"), c.balance(BUYER, "IDRX"))
    c.fails("insufficient_funds", MERCHANT, "invoice.refund", invoice_id, 10_000)
    assert (c.balance(MERCHANT, "IDRX"), c.balance(BUYER, "IDRX")) == before
    found = inv.load_invoice(c.store, invoice_id)
    assert found is not None and found.refunded == 0


def test_returned_commission_is_cumulative_and_bounded() -> None:
    for commission, share, amount in ((999, 3_333, 10_000), (1, 10_000, 7), (2_000, 7_500, 20_000)):
        total = 0
        for refunded in range(0, amount + 1, max(1, amount // 13)):
            now = inv.returned_commission(commission, share, refunded, amount)
            assert total <= now <= commission * share // 10_000
            total = now
        assert inv.returned_commission(commission, share, amount, amount) == (
            commission * share // 10_000
        )
