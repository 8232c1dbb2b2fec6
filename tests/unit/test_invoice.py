"""Invoices: exact settlement, payment through a swap, expiry, single payment, refunds."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import invoice as inv
from contracts.exchange import PRICE_SCALE
from ledger.receipt import Receipt
from tests.chainkit import Chain, event, key

V0 = key("validator-0")
SHOP = key("shop")
MERCHANT = key("merchant")
BUYER = key("buyer")
MAKER = key("maker")
HOUR = 3600 * 1000


def chain(rate: int = 200) -> Chain:
    c = Chain(
        [V0],
        [
            ["roles", [[SHOP.public_key, "Shop", rate]]],
            [
                "coin",
                [
                    [
                        ["IDRX", "Rupiah", 0, SHOP.public_key, 10**15, "platform"],
                        ["EMAS", "Gold", 0, SHOP.public_key, 10**15, "platform"],
                        ["OPEN", "Open coin", 0, SHOP.public_key, 10**15, "open"],
                    ],
                    [
                        [BUYER.public_key, "IDRX", 50_000],
                        [BUYER.public_key, "EMAS", 1_000],
                        [BUYER.public_key, "OPEN", 1_000],
                        [MAKER.public_key, "IDRX", 10_000_000],
                        [MERCHANT.public_key, "IDRX", 1_000],
                    ],
                ],
            ],
        ],
    )
    return c


def create(c: Chain, amount: int = 30_000, platform: bytes | None = None, ttl: int = HOUR) -> bytes:
    args: list[object] = ["IDRX", amount, c.time_ms + ttl, "order-42", b"{}"]
    if platform is not None:
        args.append(platform)
    r = c.ok(MERCHANT, "invoice.create", *args)
    invoice_id = event(r, "invoice.created").get("id")
    assert invoice_id == r.tx_hash
    return bytes(invoice_id)


def pay(c: Chain, invoice_id: bytes, symbol: str = "IDRX", max_pay: int = 10**9) -> Receipt:
    return c.run(BUYER, "invoice.pay", invoice_id, symbol, max_pay)


def test_paying_in_the_settlement_coin_settles_exactly() -> None:
    c = chain()
    invoice_id = create(c)
    r = pay(c, invoice_id)
    assert r.ok
    assert c.balance(MERCHANT, "IDRX") == 1_000 + 30_000
    assert c.balance(BUYER, "IDRX") == 20_000
    paid = event(r, "invoice.paid")
    assert (paid.get("amount"), paid.get("commission"), paid.get("pay_amount")) == (
        30_000,
        0,
        30_000,
    )
    sale = event(r, "sale.completed")
    assert (sale.get("kind"), sale.get("reference"), sale.get("amount")) == (
        "invoice",
        invoice_id,
        30_000,
    )
    invoice = inv.load_invoice(c.store, invoice_id)
    assert invoice is not None and invoice.status == inv.PAID and invoice.payer == BUYER.public_key


def test_an_invoice_is_paid_at_most_once() -> None:
    c = chain()
    invoice_id = create(c, 10_000)
    assert pay(c, invoice_id).ok
    c.fails("invoice_already_paid", BUYER, "invoice.pay", invoice_id, "IDRX", 10**9)
    assert c.balance(MERCHANT, "IDRX") == 11_000


def test_paying_in_another_coin_swaps_in_the_same_transaction() -> None:
    c = chain()
    # The maker buys EMAS at 250 IDRX each: the buyer's gold becomes rupiah.
    c.ok(MAKER, "exchange.order", "EMAS", "IDRX", "buy", 250 * PRICE_SCALE, 1_000)
    invoice_id = create(c, 30_000)
    c.fails("slippage_exceeded", BUYER, "invoice.pay", invoice_id, "EMAS", 119)
    r = pay(c, invoice_id, "EMAS", 130)
    assert r.ok, r.code
    assert event(r, "exchange.swapped").get("paid") == 120
    assert event(r, "invoice.paid").get("pay_amount") == 120
    assert c.balance(MERCHANT, "IDRX") == 31_000  # exactly the invoice amount arrived
    assert c.balance(BUYER, "EMAS") == 880
    assert c.balance(BUYER, "IDRX") == 50_000  # the swap output went straight on


def test_a_swap_without_liquidity_or_from_an_untradeable_coin_fails() -> None:
    c = chain()
    invoice_id = create(c, 30_000)
    c.fails("insufficient_liquidity", BUYER, "invoice.pay", invoice_id, "EMAS", 1_000)
    c.fails("not_exchangeable", BUYER, "invoice.pay", invoice_id, "OPEN", 1_000)


def test_expiry_cancel_and_other_payment_rejections() -> None:
    c = chain()
    invoice_id = create(c, 10_000, ttl=1_500)
    c.fails("unknown_invoice", BUYER, "invoice.pay", bytes(32), "IDRX", 10**6)  # t + 1000
    c.fails("invoice_expired", BUYER, "invoice.pay", invoice_id, "IDRX", 10**6)  # t + 2000
    invoice = inv.load_invoice(c.store, invoice_id)
    assert invoice is not None and invoice.status_at(c.time_ms) == inv.EXPIRED
    second = create(c, 60_000)
    c.fails("insufficient_funds", BUYER, "invoice.pay", second, "IDRX", 10**6)
    c.fails("slippage_exceeded", BUYER, "invoice.pay", second, "IDRX", 59_999)
    c.fails("self_payment", MERCHANT, "invoice.pay", second, "IDRX", 10**6)
    c.fails("bad_args", BUYER, "invoice.pay", b"short", "IDRX", 10**6)
    c.fails("not_merchant", BUYER, "invoice.cancel", second)
    c.ok(MERCHANT, "invoice.cancel", second)
    c.fails("invoice_cancelled", BUYER, "invoice.pay", second, "IDRX", 10**6)
    c.fails("invoice_cancelled", MERCHANT, "invoice.cancel", second)


def test_create_rejections() -> None:
    c = chain()
    later = c.time_ms + HOUR
    c.fails("unknown_asset", MERCHANT, "invoice.create", "NOPE", 1, later, "", b"")
    c.fails("bad_amount", MERCHANT, "invoice.create", "IDRX", 0, later, "", b"")
    c.fails("bad_expiry", MERCHANT, "invoice.create", "IDRX", 1, c.time_ms, "", b"")
    too_far = c.time_ms + inv.MAX_INVOICE_TTL_MS + 10_000
    c.fails("bad_expiry", MERCHANT, "invoice.create", "IDRX", 1, too_far, "", b"")
    c.fails("bad_args", MERCHANT, "invoice.create", "IDRX", 1, later, "x" * 129, b"")
    c.fails("bad_args", MERCHANT, "invoice.create", "IDRX", 1, later, "", b"x" * 1025)
    c.fails("not_platform", MERCHANT, "invoice.create", "IDRX", 1, later, "", b"", BUYER.public_key)


def test_a_platform_invoice_pays_the_snapshotted_commission() -> None:
    c = chain(rate=200)
    invoice_id = create(c, 10_000, platform=SHOP.public_key)
    c.ok(SHOP, "platform.set_commission", 1_000)  # too late for this invoice
    r = pay(c, invoice_id)
    paid = event(r, "invoice.paid")
    assert (paid.get("commission"), paid.get("net")) == (200, 9_800)
    assert c.balance(SHOP, "IDRX") == 200
    assert c.balance(MERCHANT, "IDRX") == 1_000 + 9_800
    assert c.balance(BUYER, "IDRX") == 40_000


def test_refunds_full_or_partial_up_to_the_amount() -> None:
    c = chain()
    invoice_id = create(c, 10_000)
    c.fails("invoice_not_paid", MERCHANT, "invoice.refund", invoice_id, 1)
    pay(c, invoice_id)
    c.fails("not_merchant", BUYER, "invoice.refund", invoice_id, 1)
    r = c.ok(MERCHANT, "invoice.refund", invoice_id, 4_000, "damaged box")
    assert event(r, "invoice.refunded").get("refunded_total") == 4_000
    assert c.balance(BUYER, "IDRX") == 44_000
    c.fails("refund_exceeds_paid", MERCHANT, "invoice.refund", invoice_id, 6_001)
    c.ok(MERCHANT, "invoice.refund", invoice_id, 6_000)
    invoice = inv.load_invoice(c.store, invoice_id)
    assert invoice is not None and invoice.status == inv.REFUNDED and invoice.refunded == 10_000
    assert c.balance(BUYER, "IDRX") == 50_000
    c.fails("refund_exceeds_paid", MERCHANT, "invoice.refund", invoice_id, 1)
    c.fails("invoice_already_paid", BUYER, "invoice.pay", invoice_id, "IDRX", 10**6)


def test_a_refund_needs_the_merchants_funds() -> None:
    c = chain()
    invoice_id = create(c, 10_000)
    pay(c, invoice_id)
    c.ok(MERCHANT, "coin.transfer", "IDRX", BUYER.public_key, 11_000)
    c.fails("insufficient_funds", MERCHANT, "invoice.refund", invoice_id, 1)


def test_invoices_of_a_merchant_page_by_number() -> None:
    c = chain()
    ids = [create(c, amount) for amount in (1, 2, 3)]
    first = inv.invoices_of(c.store, MERCHANT.public_key, limit=2)
    assert [i.id for i in first] == ids[:2]
    rest = inv.invoices_of(c.store, MERCHANT.public_key, after_number=first[-1].number)
    assert [i.id for i in rest] == ids[2:]
    assert inv.invoices_of(c.store, BUYER.public_key) == []


def test_a_platform_invoice_in_an_exclusive_coin_needs_a_member_platform() -> None:
    c = chain(rate=200)
    c.ok(MERCHANT, "loyalty.create", "LOYAL", "Loyal", 0, 10**9, [], [], [], 0, "open")
    c.ok(MERCHANT, "coin.mint", "LOYAL", BUYER.public_key, 5_000)
    expiry = c.time_ms + HOUR
    args = ("LOYAL", 1_000, expiry, "", b"", SHOP.public_key)
    invoice_id = bytes(event(c.ok(MERCHANT, "invoice.create", *args), "invoice.created").get("id"))
    c.fails("platform_not_member", BUYER, "invoice.pay", invoice_id, "LOYAL", 1_000)
    c.ok(MERCHANT, "loyalty.add_member", "LOYAL", SHOP.public_key)
    assert pay(c, invoice_id, "LOYAL").ok
    assert c.balance(SHOP, "LOYAL") == 20


@settings(max_examples=60, deadline=None)
@given(
    platform=st.one_of(st.none(), st.just(b"p" * 32)),
    refunded=st.integers(min_value=0, max_value=10**9),
    paid_ms=st.integers(min_value=0, max_value=10**13),
    pay_amount=st.integers(min_value=1, max_value=10**12),
    commission=st.integers(min_value=0, max_value=10**9),
)
def test_a_settled_invoice_is_the_invoice_replaced_with_its_payment(
    platform: bytes | None, refunded: int, paid_ms: int, pay_amount: int, commission: int
) -> None:
    invoice = inv.Invoice(
        b"i" * 32, 3, b"m" * 32, "IDRX", 25_000, 10**13, "order-1", b"meta", platform,
        250, 10**12, inv.OPEN, refunded=refunded, refund_share_bps=40, commission_returned=7,
    )  # fmt: skip
    expected = replace(
        invoice,
        status=inv.PAID,
        payer=b"b" * 32,
        paid_ms=paid_ms,
        pay_symbol="EMAS",
        pay_amount=pay_amount,
        commission=commission,
    )
    settled = invoice.settled(b"b" * 32, paid_ms, "EMAS", pay_amount, commission)
    assert settled == expected and settled.to_list() == expected.to_list()
