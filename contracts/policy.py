"""Where a coin may go: the transfer, acceptance and exchange rules per asset policy.

Every path that moves a coin between parties asks here first, so restricted
(exclusive) coins are enforced in one place:
- `check_transfer`: a plain transfer between two accounts;
- `check_acceptance`: a merchant taking the coin as payment (listing, order, invoice);
- `check_fee_recipient`: a platform or arbiter taking a fee in the coin (its own code,
  `platform_not_member` / `arbiter_not_member`, so the refusal does not blame the seller);
- `check_can_sell`: a listing created or updated, or an order placed on it (acceptance
  plus the franchise threshold of franchise listings);
- `check_exchangeable`: placing the coin on the exchange or swapping from it.
Refusals are `InvalidTransaction`s with specific codes (`not_member`, `platform_not_member`,
`arbiter_not_member`,
`not_exchangeable`, `transfer_restricted`, `transfers_disabled`, `below_threshold`, ...)
and a message a person can act on, as restricted-token standards report them.
Open and platform coins move freely; the exclusive rules are in `contracts.loyalty`.
"""

from __future__ import annotations

from typing import Literal

from contracts import franchise, loyalty
from contracts.coin import Asset
from ledger.errors import InvalidTransaction
from ledger.state import StateView


def _exclusive_group(state: StateView, asset: Asset) -> loyalty.Group | None:
    if asset.policy != "exclusive":
        return None
    group = loyalty.load_group(state, asset.symbol)
    if group is None:
        # An exclusive asset without a group (e.g. created in genesis) has no members:
        # nothing may accept or move it, which is the safe reading of "exclusive".
        return loyalty.Group(asset.symbol, asset.issuer, (asset.issuer,), "none", (), 0)
    return group


def check_transfer(state: StateView, asset: Asset, source: bytes, target: bytes) -> None:
    """Refuse a transfer the asset's policy forbids; open and platform coins move freely."""
    group = _exclusive_group(state, asset)
    if group is None or group.transfer_mode == "open":
        return
    if group.transfer_mode == "none":
        raise InvalidTransaction(
            "transfers_disabled",
            f"{asset.symbol} cannot be transferred; it is only earned and spent at its group",
        )
    if loyalty.is_member(state, asset.symbol, source) or loyalty.is_member(
        state, asset.symbol, target
    ):
        return
    raise InvalidTransaction(
        "transfer_restricted",
        f"{asset.symbol} moves between two non-members only if its creator allows it;"
        " send it to a member of its group instead",
    )


def check_acceptance(state: StateView, asset: Asset, merchant: bytes) -> None:
    """Refuse payment in `asset` to a merchant outside the coin's group."""
    if _exclusive_group(state, asset) is None:
        return
    if not loyalty.is_member(state, asset.symbol, merchant):
        raise InvalidTransaction(
            "not_member",
            f"{asset.symbol} is an exclusive coin accepted only by members of its group",
        )


def check_fee_recipient(
    state: StateView, asset: Asset, recipient: bytes, role: Literal["platform", "arbiter"]
) -> None:
    """Refuse a fee in `asset` (commission, arbiter fee) to a `role` outside the coin's group.

    The fee would carry an exclusive coin out of its group; the code names who is
    outside (`platform_not_member`, `arbiter_not_member`), not the merchant.
    """
    if _exclusive_group(state, asset) is None:
        return
    if not loyalty.is_member(state, asset.symbol, recipient):
        raise InvalidTransaction(
            f"{role}_not_member",
            f"{asset.symbol} is an exclusive coin: the {role} taking a fee in it must be a "
            "member of its group (choose another, or pay in another coin)",
        )


def check_can_sell(
    state: StateView,
    seller: bytes,
    asset: Asset,
    franchise_program: bytes | None,
    product: str | None = None,
) -> None:
    """Called when a listing is created or updated and when an order is placed on it.

    A franchise listing is valid only while its seller is a franchisee of the
    program holding the program's threshold T1 (`below_threshold` otherwise) and,
    when `product` is given, only for one of the program's products.
    """
    check_acceptance(state, asset, seller)
    if franchise_program is not None:
        franchise.check_franchise_sale(state, franchise_program, seller, product)


def check_exchangeable(state: StateView, asset: Asset) -> None:
    """Only platform coins trade on the exchange."""
    if asset.policy == "exclusive":
        raise InvalidTransaction(
            "not_exchangeable",
            f"{asset.symbol} is an exclusive coin: it can never be exchanged or swapped",
        )
    if asset.policy != "platform":
        raise InvalidTransaction(
            "not_exchangeable", f"{asset.symbol} is not a platform coin and cannot be traded"
        )
