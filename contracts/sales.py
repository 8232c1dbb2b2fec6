"""Completed sales and the contracts that react to them.

Escrow release and invoice payment call `sale_completed` once per sale; the
listeners (loyalty rewards, franchise royalties) run in the fixed order of
`LISTENERS` inside the same transaction or end-of-block hook, so a listener's
rejection would reject the sale (listeners must not reject what already settled:
they only mint within caps or skip).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from contracts import franchise, loyalty
from ledger.execution import Context


@dataclass(frozen=True, slots=True)
class Sale:
    """A settled sale: who sold to whom, what was paid, through which platform."""

    kind: str  # "order" or "invoice"
    reference: bytes  # order id or invoice id
    seller: bytes
    buyer: bytes
    symbol: str
    amount: int  # what the seller received before commission
    platform: bytes | None
    listing_id: bytes | None
    # The franchise program of the listing sold, so royalties can be paid up its chain.
    franchise_program: bytes | None = None


SaleListener = Callable[[Context, Sale], None]

# Fixed order: the buyer's loyalty reward, then the seller's franchise royalties.
LISTENERS: tuple[SaleListener, ...] = (loyalty.reward_sale, franchise.pay_royalties)


def sale_completed(ctx: Context, sale: Sale) -> None:
    ctx.emit(
        "sale.completed",
        ("kind", sale.kind),
        ("reference", sale.reference),
        ("seller", sale.seller),
        ("buyer", sale.buyer),
        ("symbol", sale.symbol),
        ("amount", sale.amount),
    )
    for listener in LISTENERS:
        listener(ctx, sale)
