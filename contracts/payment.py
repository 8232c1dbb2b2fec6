"""Payments through a platform: the buyer pays, the seller and the platform share it.

payment.pay(platform, seller, symbol, amount, reference) moves `amount` from
the sender (the buyer) atomically: the platform receives its commission,
floor(amount * rate / 10000) at the platform's rate in force when the payment
executes, and the seller receives the rest. The seller bears the commission and
the buyer pays exactly `amount`; flooring means rounding favours the seller.
The receipt's `payment.paid` event shows amount, commission, rate and net.
A payment is a completed sale, so the sale listeners (loyalty rewards,
franchise royalties) run on it inside the same transaction.
"""

from __future__ import annotations

from typing import Any

from contracts import args as A
from contracts import roles
from contracts.amounts import check_amount, share
from contracts.coin import move, require_asset
from contracts.policy import check_acceptance, check_fee_recipient
from contracts.sales import Sale, sale_completed
from ledger.errors import InvalidTransaction
from ledger.execution import Context, Handler

MAX_REFERENCE = 128


def pay(ctx: Context, args: tuple[Any, ...]) -> None:
    """payment.pay(platform, seller, symbol, amount, reference)."""
    platform, seller, symbol, amount, reference = A.unpack(
        args, ("platform", "seller", "symbol", "amount", "reference")
    )
    platform = A.account(platform, "platform")
    seller = A.account(seller, "seller")
    asset = require_asset(ctx.state, symbol)
    amount = check_amount(amount)
    reference = A.text(reference, "reference", MAX_REFERENCE)
    if seller == ctx.sender:
        raise InvalidTransaction("self_payment", "the buyer cannot pay itself")
    rate = int(roles.require_platform(ctx.state, platform, "platform")[1])
    check_acceptance(ctx.state, asset, seller)
    commission = share(amount, rate)
    if commission:
        # The commission is paid in the same coin: an exclusive coin may only reach a
        # platform inside its group, or it would leave the group through the fee.
        check_fee_recipient(ctx.state, asset, platform, "platform")
    net = amount - commission
    move(ctx.state, asset.symbol, ctx.sender, seller, net)
    move(ctx.state, asset.symbol, ctx.sender, platform, commission)
    ctx.emit(
        "payment.paid",
        ("buyer", ctx.sender),
        ("seller", seller),
        ("platform", platform),
        ("symbol", asset.symbol),
        ("amount", amount),
        ("commission", commission),
        ("commission_bps", rate),
        ("net", net),
        ("reference", reference),
    )
    sale_completed(
        ctx,
        Sale(
            kind="payment",
            reference=ctx.tx_hash,
            seller=seller,
            buyer=ctx.sender,
            symbol=asset.symbol,
            amount=amount,
            platform=platform,
            listing_id=None,
        ),
    )


HANDLERS: dict[str, Handler] = {"payment.pay": pay}
