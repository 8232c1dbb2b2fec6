"""What a platform does with its role: issue its coin, set its commission, rename itself.

Each e-commerce platform's virtual currency becomes a coin with policy
"platform": tradeable on the exchange and accepted anywhere (subject to
`contracts.policy`). The platform is the coin's issuer and mints it with
`coin.mint` while it holds the role. The commission rate (basis points, at most
`amounts.MAX_COMMISSION_BPS`) applies to every payment through the platform
executed after the change (later transactions of the same block included);
invoices and orders snapshot the rate in force when they are created.

A platform also publishes the share of its commission it returns when a sale is
refunded (`platform.set_refund_share`, basis points of the commission on the
refunded part; 0 by default). Invoices snapshot it with the rate; a refund then
takes that share back from the platform in the same transaction.
"""

from __future__ import annotations

from typing import Any

from contracts import args as A
from contracts import roles
from contracts.coin import create_asset
from ledger.execution import Context, Handler


def create_coin(ctx: Context, args: tuple[Any, ...]) -> None:
    """platform.create_coin(symbol, name, decimals, cap): platforms only."""
    symbol, name, decimals, cap = A.unpack(args, ("symbol", "name", "decimals", "cap"))
    roles.require_platform(ctx.state, ctx.sender, "sender")
    asset = create_asset(ctx.state, symbol, name, decimals, cap, ctx.sender, "platform")
    ctx.emit(
        "coin.created",
        ("symbol", asset.symbol),
        ("issuer", asset.issuer),
        ("decimals", asset.decimals),
        ("cap", asset.cap),
        ("policy", asset.policy),
    )


def set_commission(ctx: Context, args: tuple[Any, ...]) -> None:
    """platform.set_commission(bps): the sender's own rate, 0..MAX_COMMISSION_BPS."""
    (bps,) = A.unpack(args, ("commission_bps",))
    previous = roles.commission_bps(ctx.state, ctx.sender)
    roles.require_platform(ctx.state, ctx.sender, "sender")
    roles.set_commission(ctx.state, ctx.sender, bps)
    ctx.emit(
        "platform.commission_set",
        ("platform", ctx.sender),
        ("previous_bps", previous),
        ("commission_bps", bps),
    )


def set_refund_share(ctx: Context, args: tuple[Any, ...]) -> None:
    """platform.set_refund_share(share_bps): 0..10000 of the commission on a refunded
    part goes back with the refund (for sales made after this)."""
    (share_bps,) = A.unpack(args, ("share_bps",))
    roles.require_platform(ctx.state, ctx.sender, "sender")
    previous = roles.refund_share_bps(ctx.state, ctx.sender)
    roles.set_refund_share(ctx.state, ctx.sender, share_bps)
    ctx.emit(
        "platform.refund_share_set",
        ("platform", ctx.sender),
        ("previous_bps", previous),
        ("share_bps", share_bps),
    )


def set_name(ctx: Context, args: tuple[Any, ...]) -> None:
    """platform.set_name(name): the display name shown in queries and receipts."""
    (name,) = A.unpack(args, ("name",))
    roles.require_platform(ctx.state, ctx.sender, "sender")
    roles.set_platform_name(ctx.state, ctx.sender, name)
    ctx.emit("platform.renamed", ("platform", ctx.sender), ("name", name))


HANDLERS: dict[str, Handler] = {
    "platform.create_coin": create_coin,
    "platform.set_commission": set_commission,
    "platform.set_name": set_name,
    "platform.set_refund_share": set_refund_share,
}
