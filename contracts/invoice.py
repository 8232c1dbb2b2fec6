"""Invoices: the merchant's volatility shield.

A merchant invoices an exact amount in a settlement coin (say a platform's
rupiah coin). The buyer pays in that coin, or in any other tradeable coin: then
the same transaction swaps on the exchange (`contracts.exchange.swap_for`),
spending at most the maximum the buyer states, so the merchant is settled in the
exact amount whatever the buyer held. An invoice is paid at most once.

    inv/next                              -> next invoice number
    inv/rec/<id>                          -> invoice record (id = creating tx hash)
    inv/merchant/<merchant>/<number:8>    -> id (the merchant's invoices in order)

Commission: an invoice may name a platform; its commission rate is snapshotted
when the invoice is created and deducted from the invoice amount on payment, as
for any platform sale (the merchant bears it). Without a platform the merchant
receives exactly the amount. Refunds (full or partial, by the merchant, up to the
invoice amount in total) go back to the payer in the settlement coin. The
platform's published refund share (`roles.refund_share_bps`, snapshotted with the
rate) decides how much of the commission on the refunded part it gives back: that
part comes from the platform, the rest from the merchant, in one transaction.

Statuses: open -> paid -> refunded (fully); open -> cancelled. "expired" is an
open invoice past its expiry (block time); it holds no funds, so nothing needs
to clean it up.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from contracts import args as A
from contracts import roles
from contracts.amounts import BASIS_POINTS, check_amount, share
from contracts.coin import move, require_asset
from contracts.exchange import swap_for
from contracts.policy import check_acceptance, check_fee_recipient
from contracts.sales import Sale, sale_completed
from ledger import codec
from ledger.errors import InvalidTransaction
from ledger.execution import Context, Handler
from ledger.kv import KVReader
from ledger.state import StateView

NEXT_KEY = b"inv/next"
RECORD_PREFIX = b"inv/rec/"
MERCHANT_PREFIX = b"inv/merchant/"
MAX_INVOICE_TTL_MS = 90 * 24 * 3600 * 1000
MAX_REFERENCE = 128
MAX_METADATA = 1024
OPEN = "open"
PAID = "paid"
REFUNDED = "refunded"
CANCELLED = "cancelled"
EXPIRED = "expired"  # derived for queries; never stored

Reader = StateView | KVReader


@dataclass(frozen=True, slots=True)
class Invoice:
    id: bytes
    number: int
    merchant: bytes
    symbol: str
    amount: int
    expiry_ms: int
    reference: str
    metadata: bytes
    platform: bytes | None
    commission_bps: int
    created_ms: int
    status: str
    payer: bytes | None = None
    paid_ms: int = 0
    pay_symbol: str = ""
    pay_amount: int = 0
    commission: int = 0
    refunded: int = 0
    refund_share_bps: int = 0  # of the commission, returned on refunds (snapshotted)
    commission_returned: int = 0  # taken back from the platform by refunds so far

    def to_list(self) -> list[Any]:
        return [
            self.id,
            self.number,
            self.merchant,
            self.symbol,
            self.amount,
            self.expiry_ms,
            self.reference,
            self.metadata,
            self.platform,
            self.commission_bps,
            self.created_ms,
            self.status,
            self.payer,
            self.paid_ms,
            self.pay_symbol,
            self.pay_amount,
            self.commission,
            self.refunded,
            self.refund_share_bps,
            self.commission_returned,
        ]

    @staticmethod
    def from_list(value: list[Any]) -> Invoice:
        return Invoice(*value)

    def settled(
        self, payer: bytes, paid_ms: int, pay_symbol: str, pay_amount: int, commission: int
    ) -> Invoice:
        """This invoice once paid: what `dataclasses.replace` gives with these fields and
        the status PAID, built directly (it runs once per payment)."""
        return Invoice(
            self.id,
            self.number,
            self.merchant,
            self.symbol,
            self.amount,
            self.expiry_ms,
            self.reference,
            self.metadata,
            self.platform,
            self.commission_bps,
            self.created_ms,
            PAID,
            payer,
            paid_ms,
            pay_symbol,
            pay_amount,
            commission,
            self.refunded,
            self.refund_share_bps,
            self.commission_returned,
        )

    def status_at(self, now_ms: int) -> str:
        if self.status == OPEN and now_ms > self.expiry_ms:
            return EXPIRED
        return self.status


def record_key(invoice_id: bytes) -> bytes:
    return RECORD_PREFIX + invoice_id


def merchant_key(merchant: bytes, number: int) -> bytes:
    return MERCHANT_PREFIX + merchant + b"/" + number.to_bytes(8, "big")


def load_invoice(reader: Reader, invoice_id: bytes) -> Invoice | None:
    raw = reader.get(record_key(invoice_id))
    # a state value read back as `codec.encode` stored it: no canonical re-check
    return None if raw is None else Invoice.from_list(codec.decode_stored(raw))


def invoices_of(
    reader: Reader, merchant: bytes, after_number: int = 0, limit: int = 50
) -> list[Invoice]:
    """A merchant's invoices with number > after_number, oldest first (cursor = number)."""
    found: list[Invoice] = []
    prefix = MERCHANT_PREFIX + merchant + b"/"
    for _, value in reader.seek(prefix, merchant_key(merchant, after_number + 1)):
        invoice = load_invoice(reader, bytes(value))
        if invoice is not None:
            found.append(invoice)
        if len(found) >= limit:
            break
    return found


def _save(state: StateView, invoice: Invoice) -> None:
    state.put_value(record_key(invoice.id), invoice.to_list())


def _require(state: StateView, value: Any) -> Invoice:
    invoice_id = A.digest(value, "invoice id")
    invoice = load_invoice(state, invoice_id)
    if invoice is None:
        raise InvalidTransaction("unknown_invoice", "no invoice with this id")
    return invoice


def create(ctx: Context, args: tuple[Any, ...]) -> None:
    """invoice.create(symbol, amount, expiry_ms, reference, metadata[, platform])."""
    symbol, amount, expiry_ms, reference, metadata, platform = A.unpack(
        args, ("symbol", "amount", "expiry_ms", "reference", "metadata", "platform"), optional=1
    )
    asset = require_asset(ctx.state, symbol)
    amount = check_amount(amount)
    now = ctx.block.timestamp_ms
    expiry = A.integer(expiry_ms, "expiry_ms")
    if not now < expiry <= now + MAX_INVOICE_TTL_MS:
        raise InvalidTransaction(
            "bad_expiry", f"expiry must be after the block time and within {MAX_INVOICE_TTL_MS} ms"
        )
    reference = A.text(reference, "reference", MAX_REFERENCE)
    metadata = A.blob(metadata, "metadata", MAX_METADATA)
    rate = refund_share = 0
    if platform is not None:
        platform = A.account(platform, "platform")
        rate = int(roles.require_platform(ctx.state, platform, "platform")[1])
        refund_share = roles.refund_share_bps(ctx.state, platform)
    check_acceptance(ctx.state, asset, ctx.sender)
    number = ctx.state.get_int(NEXT_KEY) or 1
    ctx.state.put_int(NEXT_KEY, number + 1)
    invoice = Invoice(
        ctx.tx_hash,
        number,
        ctx.sender,
        asset.symbol,
        amount,
        expiry,
        reference,
        metadata,
        platform,
        rate,
        now,
        OPEN,
        refund_share_bps=refund_share,
    )
    _save(ctx.state, invoice)
    ctx.state.put(merchant_key(ctx.sender, number), invoice.id)
    ctx.emit(
        "invoice.created",
        ("id", invoice.id),
        ("merchant", ctx.sender),
        ("symbol", asset.symbol),
        ("amount", amount),
        ("expiry_ms", expiry),
        ("reference", reference),
        ("platform", platform),
        ("commission_bps", rate),
        ("refund_share_bps", refund_share),
    )


def pay(ctx: Context, args: tuple[Any, ...]) -> None:
    """invoice.pay(id, pay_symbol, max_pay): settle in full, swapping if needed."""
    invoice_id, pay_symbol, max_pay = A.unpack(args, ("id", "pay_symbol", "max_pay"))
    invoice = _require(ctx.state, invoice_id)
    max_pay = check_amount(max_pay, "max_pay")
    if invoice.status == CANCELLED:
        raise InvalidTransaction("invoice_cancelled", "the merchant cancelled this invoice")
    if invoice.status != OPEN:
        raise InvalidTransaction("invoice_already_paid", "this invoice has already been paid")
    if ctx.block.timestamp_ms > invoice.expiry_ms:
        raise InvalidTransaction("invoice_expired", f"the invoice expired at {invoice.expiry_ms}")
    if ctx.sender == invoice.merchant:
        raise InvalidTransaction("self_payment", "a merchant cannot pay its own invoice")
    asset = require_asset(ctx.state, invoice.symbol)
    check_acceptance(ctx.state, asset, invoice.merchant)
    pay_asset = require_asset(ctx.state, pay_symbol)
    if pay_asset.symbol == asset.symbol:
        if invoice.amount > max_pay:
            raise InvalidTransaction(
                "slippage_exceeded", f"the invoice is {invoice.amount}, above max_pay {max_pay}"
            )
        paid = invoice.amount
    else:
        paid = swap_for(
            ctx, ctx.sender, pay_asset.symbol, asset.symbol, invoice.amount, max_pay
        ).paid
    commission = share(invoice.amount, invoice.commission_bps)
    if commission and invoice.platform is not None:
        # Paid in the settlement coin: an exclusive coin must stay inside its group.
        check_fee_recipient(ctx.state, asset, invoice.platform, "platform")
    net = invoice.amount - commission
    move(ctx.state, asset.symbol, ctx.sender, invoice.merchant, net)
    if invoice.platform is not None:
        move(ctx.state, asset.symbol, ctx.sender, invoice.platform, commission)
    _save(
        ctx.state,
        invoice.settled(ctx.sender, ctx.block.timestamp_ms, pay_asset.symbol, paid, commission),
    )
    ctx.emit(
        "invoice.paid",
        ("id", invoice.id),
        ("merchant", invoice.merchant),
        ("payer", ctx.sender),
        ("symbol", asset.symbol),
        ("amount", invoice.amount),
        ("commission", commission),
        ("net", net),
        ("pay_symbol", pay_asset.symbol),
        ("pay_amount", paid),
    )
    sale_completed(
        ctx,
        Sale(
            kind="invoice",
            reference=invoice.id,
            seller=invoice.merchant,
            buyer=ctx.sender,
            symbol=asset.symbol,
            amount=invoice.amount,
            platform=invoice.platform,
            listing_id=None,
        ),
    )


def refund(ctx: Context, args: tuple[Any, ...]) -> None:
    """invoice.refund(id, amount[, reason]): the merchant returns part or all of it."""
    invoice_id, amount, reason = A.unpack(args, ("id", "amount", "reason"), optional=1)
    invoice = _require(ctx.state, invoice_id)
    amount = check_amount(amount)
    reason = "" if reason is None else A.text(reason, "reason", MAX_REFERENCE)
    if ctx.sender != invoice.merchant:
        raise InvalidTransaction("not_merchant", "only the invoice's merchant may refund it")
    if invoice.status not in (PAID, REFUNDED) or invoice.payer is None:
        raise InvalidTransaction("invoice_not_paid", "only a paid invoice can be refunded")
    refundable = invoice.amount - invoice.refunded
    if amount > refundable:
        raise InvalidTransaction(
            "refund_exceeds_paid", f"at most {refundable} {invoice.symbol} is left to refund"
        )
    refunded = invoice.refunded + amount
    # Cumulative, so partial refunds never return more in total than one full refund.
    returned = returned_commission(
        invoice.commission, invoice.refund_share_bps, refunded, invoice.amount
    )
    from_platform = returned - invoice.commission_returned
    move(ctx.state, invoice.symbol, invoice.merchant, invoice.payer, amount - from_platform)
    if from_platform and invoice.platform is not None:
        move(ctx.state, invoice.symbol, invoice.platform, invoice.payer, from_platform)
    status = REFUNDED if refunded == invoice.amount else PAID
    _save(
        ctx.state,
        replace(invoice, refunded=refunded, status=status, commission_returned=returned),
    )
    ctx.emit(
        "invoice.refunded",
        ("id", invoice.id),
        ("merchant", invoice.merchant),
        ("payer", invoice.payer),
        ("symbol", invoice.symbol),
        ("amount", amount),
        ("refunded_total", refunded),
        ("commission_returned", from_platform),
        ("reason", reason),
    )


def returned_commission(commission: int, share_bps: int, refunded: int, amount: int) -> int:
    """What the platform has given back once `refunded` of a sale of `amount` is refunded:
    floor(commission * share_bps / 10000 * refunded / amount), in integers."""
    return commission * share_bps * refunded // (BASIS_POINTS * amount)


def cancel(ctx: Context, args: tuple[Any, ...]) -> None:
    """invoice.cancel(id): the merchant withdraws an unpaid invoice."""
    (invoice_id,) = A.unpack(args, ("id",))
    invoice = _require(ctx.state, invoice_id)
    if ctx.sender != invoice.merchant:
        raise InvalidTransaction("not_merchant", "only the invoice's merchant may cancel it")
    if invoice.status == CANCELLED:
        raise InvalidTransaction("invoice_cancelled", "the invoice is already cancelled")
    if invoice.status != OPEN:
        raise InvalidTransaction(
            "invoice_already_paid", "a paid invoice is refunded, not cancelled"
        )
    _save(ctx.state, replace(invoice, status=CANCELLED))
    ctx.emit("invoice.cancelled", ("id", invoice.id), ("merchant", invoice.merchant))


HANDLERS: dict[str, Handler] = {
    "invoice.create": create,
    "invoice.pay": pay,
    "invoice.refund": refund,
    "invoice.cancel": cancel,
}
