"""Listings: the sellers' inventory on the ledger.

    listing/item/<id>                                -> Listing.to_list()
    listing/by-seller/<seller>/<created_ms:8><id>    -> b"\\x01"   (newest last)

A listing's id is derived from the hash of the transaction that created it, so a
client knows it before the block is committed. The seller alone may update or
withdraw it. Orders (contracts.escrow) take stock from an active listing and
copy its terms (price, coin, platform, shipping and protection windows) at order
time, so changing or withdrawing a listing never changes an open order.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from contracts import args as A
from contracts.amounts import check_amount
from contracts.coin import require_asset
from contracts.pages import index_page
from contracts.policy import check_can_sell
from contracts.roles import require_platform
from ledger import codec
from ledger.errors import InvalidTransaction
from ledger.execution import Context, Handler
from ledger.hashing import tagged_hash
from ledger.kv import KVReader
from ledger.state import StateView

ITEM_PREFIX = b"listing/item/"
BY_SELLER_PREFIX = b"listing/by-seller/"
LISTING_ID_DOMAIN = b"pasar/listing"
LISTING_ID_SIZE = 32
MAX_TITLE = 128
MAX_SKU = 64
MAX_STOCK = 1_000_000_000
MAX_ARBITERS = 8
MIN_WINDOW_MS = 60_000
MAX_SHIPPING_MS = 90 * 24 * 3600 * 1000
MAX_PROTECTION_MS = 180 * 24 * 3600 * 1000
ACTIVE = "active"
WITHDRAWN = "withdrawn"
UPDATABLE = (
    "title",
    "sku",
    "price",
    "stock",
    "platform",
    "arbiters",
    "shipping_ms",
    "protection_ms",
)


@dataclass(frozen=True, slots=True)
class Listing:
    id: bytes
    seller: bytes
    title: str
    sku: str
    price: int  # per unit, minor units of `symbol`
    symbol: str
    stock: int
    platform: bytes | None  # the platform the listing sells through (takes commission)
    arbiters: tuple[bytes, ...]  # platforms the seller accepts as arbiter, in its order
    shipping_ms: int  # time the seller has to ship after an order
    protection_ms: int  # buyer-protection window after shipping
    franchise_program: bytes | None
    status: str
    created_ms: int
    updated_ms: int
    sold: int

    def to_list(self) -> list[Any]:
        return [
            self.seller,
            self.title,
            self.sku,
            self.price,
            self.symbol,
            self.stock,
            self.platform,
            list(self.arbiters),
            self.shipping_ms,
            self.protection_ms,
            self.franchise_program,
            self.status,
            self.created_ms,
            self.updated_ms,
            self.sold,
        ]

    @staticmethod
    def from_list(listing_id: bytes, value: list[Any]) -> Listing:
        (
            seller,
            title,
            sku,
            price,
            symbol,
            stock,
            platform,
            arbiters,
            shipping_ms,
            protection_ms,
            franchise_program,
            status,
            created_ms,
            updated_ms,
            sold,
        ) = value
        return Listing(
            listing_id,
            seller,
            title,
            sku,
            price,
            symbol,
            stock,
            platform,
            tuple(arbiters),
            shipping_ms,
            protection_ms,
            franchise_program,
            status,
            created_ms,
            updated_ms,
            sold,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id.hex(),
            "seller": self.seller.hex(),
            "title": self.title,
            "sku": self.sku,
            "price": self.price,
            "symbol": self.symbol,
            "stock": self.stock,
            "platform": None if self.platform is None else self.platform.hex(),
            "arbiters": [a.hex() for a in self.arbiters],
            "shipping_ms": self.shipping_ms,
            "protection_ms": self.protection_ms,
            "franchise_program": (
                None if self.franchise_program is None else self.franchise_program.hex()
            ),
            "status": self.status,
            "created_ms": self.created_ms,
            "updated_ms": self.updated_ms,
            "sold": self.sold,
        }


def listing_id_for(tx_hash: bytes) -> bytes:
    return tagged_hash(LISTING_ID_DOMAIN, tx_hash)


def item_key(listing_id: bytes) -> bytes:
    return ITEM_PREFIX + listing_id


def seller_index_key(seller: bytes, created_ms: int, listing_id: bytes) -> bytes:
    return BY_SELLER_PREFIX + seller + b"/" + created_ms.to_bytes(8, "big") + listing_id


def load_listing(reader: StateView | KVReader, listing_id: bytes) -> Listing | None:
    raw = reader.get(item_key(listing_id))
    return None if raw is None else Listing.from_list(listing_id, codec.decode(raw))


def require_listing(state: StateView, listing_id: Any) -> Listing:
    listing_id = A.digest(listing_id, "listing id")
    found = load_listing(state, listing_id)
    if found is None:
        raise InvalidTransaction("unknown_listing", "no listing with this id")
    return found


def save_listing(state: StateView, listing: Listing) -> None:
    state.put_value(item_key(listing.id), listing.to_list())


def take_stock(state: StateView, listing: Listing, quantity: int, now_ms: int) -> Listing:
    """Decrement stock for an order; the last unit can only ever be taken once."""
    if listing.status != ACTIVE:
        raise InvalidTransaction("listing_withdrawn", "the listing has been withdrawn")
    if quantity > listing.stock:
        raise InvalidTransaction("out_of_stock", f"{quantity} requested, {listing.stock} in stock")
    updated = replace(
        listing, stock=listing.stock - quantity, sold=listing.sold + quantity, updated_ms=now_ms
    )
    save_listing(state, updated)
    return updated


def return_stock(ctx: Context, listing_id: bytes, quantity: int, order_id: bytes) -> None:
    """Put an unshipped order's units back on its listing (withdrawn listings too, so a
    seller who re-lists keeps an exact count). Stock is never lost nor made up: every
    unit is either on the listing, in an order that may still ship, or sold."""
    listing = load_listing(ctx.state, listing_id)
    if listing is None:  # listings are never deleted; an order always names a real one
        raise InvalidTransaction("unknown_listing", "the order's listing is gone")
    updated = replace(
        listing,
        stock=listing.stock + quantity,
        sold=listing.sold - quantity,
        updated_ms=ctx.block.timestamp_ms,
    )
    save_listing(ctx.state, updated)
    ctx.emit(
        "listing.restocked",
        ("listing", listing.id),
        ("seller", listing.seller),
        ("order", order_id),
        ("quantity", quantity),
        ("stock", updated.stock),
    )


# --- argument checks ---------------------------------------------------------------------


def _window(value: Any, what: str, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidTransaction("bad_args", f"{what} must be an integer number of ms")
    if not MIN_WINDOW_MS <= value <= maximum:
        raise InvalidTransaction("bad_window", f"{what} must be {MIN_WINDOW_MS}..{maximum} ms")
    return value


def _platform(state: StateView, value: Any) -> bytes | None:
    if value is None:
        return None
    platform = A.account(value, "platform")
    require_platform(state, platform, "the listing's platform")
    return platform


def _arbiters(state: StateView, value: Any, seller: bytes) -> tuple[bytes, ...]:
    arbiters = A.account_list(value, "arbiters", MAX_ARBITERS)
    if not arbiters:
        raise InvalidTransaction("bad_args", "a listing needs at least one accepted arbiter")
    for arbiter in arbiters:
        if arbiter == seller:
            raise InvalidTransaction("arbiter_conflict", "a seller cannot arbitrate its own sales")
        require_platform(state, arbiter, "every arbiter")
    return tuple(arbiters)


def _stock(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_STOCK:
        raise InvalidTransaction("bad_args", f"stock must be an integer in 0..{MAX_STOCK}")
    return value


def _program(value: Any) -> bytes | None:
    return None if value is None else A.digest(value, "franchise program")


# --- handlers ------------------------------------------------------------------------------


def create(ctx: Context, args: tuple[Any, ...]) -> None:
    """listing.create(title, sku, price, symbol, stock, platform|nil, arbiters,
    shipping_ms, protection_ms[, franchise_program])."""
    names = (
        "title",
        "sku",
        "price",
        "symbol",
        "stock",
        "platform",
        "arbiters",
        "shipping_ms",
        "protection_ms",
        "franchise_program",
    )
    values = A.unpack(args, names, optional=1)
    title = A.text(values[0], "title", MAX_TITLE, 1)
    sku = A.text(values[1], "sku", MAX_SKU, 1)
    price = check_amount(values[2], "price")
    asset = require_asset(ctx.state, values[3])
    stock = _stock(values[4])
    platform = _platform(ctx.state, values[5])
    arbiters = _arbiters(ctx.state, values[6], ctx.sender)
    shipping_ms = _window(values[7], "shipping_ms", MAX_SHIPPING_MS)
    protection_ms = _window(values[8], "protection_ms", MAX_PROTECTION_MS)
    program = _program(values[9])
    check_can_sell(ctx.state, ctx.sender, asset, program, sku)
    now = ctx.block.timestamp_ms
    listing = Listing(
        id=listing_id_for(ctx.tx_hash),
        seller=ctx.sender,
        title=title,
        sku=sku,
        price=price,
        symbol=asset.symbol,
        stock=stock,
        platform=platform,
        arbiters=arbiters,
        shipping_ms=shipping_ms,
        protection_ms=protection_ms,
        franchise_program=program,
        status=ACTIVE,
        created_ms=now,
        updated_ms=now,
        sold=0,
    )
    save_listing(ctx.state, listing)
    ctx.state.put(seller_index_key(ctx.sender, now, listing.id), b"\x01")
    ctx.emit(
        "listing.created",
        ("listing", listing.id),
        ("seller", listing.seller),
        ("sku", listing.sku),
        ("price", listing.price),
        ("symbol", listing.symbol),
        ("stock", listing.stock),
        ("franchise_program", listing.franchise_program),
    )


def _owned_active(ctx: Context, listing_id: Any) -> Listing:
    listing = require_listing(ctx.state, listing_id)
    if listing.seller != ctx.sender:
        raise InvalidTransaction("not_seller", "only the listing's seller may change it")
    if listing.status != ACTIVE:
        raise InvalidTransaction("listing_withdrawn", "the listing has been withdrawn")
    return listing


def update(ctx: Context, args: tuple[Any, ...]) -> None:
    """listing.update(listing_id, [[field, value], ...]): change some terms for new orders.

    Fields: title, sku, price, stock (the new absolute count), platform (nil: none),
    arbiters, shipping_ms, protection_ms. The coin and franchise program are fixed.
    """
    listing_id, changes = A.unpack(args, ("listing_id", "changes"))
    listing = _owned_active(ctx, listing_id)
    if not isinstance(changes, list) or not 1 <= len(changes) <= len(UPDATABLE):
        raise InvalidTransaction("bad_args", "changes must be a non-empty list of [field, value]")
    fields: dict[str, Any] = {}
    for change in changes:
        name, value = A.unpack(change, ("field", "value"))
        if name not in UPDATABLE:
            raise InvalidTransaction(
                "bad_args", f"field must be one of {', '.join(UPDATABLE)}, got {name!r}"
            )
        if name in fields:
            raise InvalidTransaction("bad_args", f"field {name} is changed twice")
        if name == "title":
            fields[name] = A.text(value, "title", MAX_TITLE, 1)
        elif name == "sku":
            fields[name] = A.text(value, "sku", MAX_SKU, 1)
        elif name == "price":
            fields[name] = check_amount(value, "price")
        elif name == "stock":
            fields[name] = _stock(value)
        elif name == "platform":
            fields[name] = _platform(ctx.state, value)
        elif name == "arbiters":
            fields[name] = _arbiters(ctx.state, value, ctx.sender)
        elif name == "shipping_ms":
            fields[name] = _window(value, "shipping_ms", MAX_SHIPPING_MS)
        else:
            fields[name] = _window(value, "protection_ms", MAX_PROTECTION_MS)
    asset = require_asset(ctx.state, listing.symbol)
    sku = fields.get("sku", listing.sku)
    check_can_sell(ctx.state, ctx.sender, asset, listing.franchise_program, sku)
    updated = replace(listing, updated_ms=ctx.block.timestamp_ms, **fields)
    save_listing(ctx.state, updated)
    ctx.emit(
        "listing.updated",
        ("listing", updated.id),
        ("seller", updated.seller),
        ("fields", sorted(fields)),
        ("price", updated.price),
        ("stock", updated.stock),
    )


def withdraw(ctx: Context, args: tuple[Any, ...]) -> None:
    """listing.withdraw(listing_id): no new orders; open orders run to their end."""
    (listing_id,) = A.unpack(args, ("listing_id",))
    listing = _owned_active(ctx, listing_id)
    updated = replace(listing, status=WITHDRAWN, updated_ms=ctx.block.timestamp_ms)
    save_listing(ctx.state, updated)
    ctx.emit("listing.withdrawn", ("listing", updated.id), ("seller", updated.seller))


# --- queries -------------------------------------------------------------------------------


def listings_by_seller(
    reader: KVReader | StateView, seller: bytes, cursor: bytes | None = None, limit: int = 50
) -> tuple[list[Listing], bytes | None]:
    """A seller's listings (withdrawn ones too), oldest first, one page at a time.

    `cursor` is the opaque value a previous page returned (None: from the start);
    the returned cursor is None when there is nothing more.
    """
    positions, next_cursor = index_page(reader, BY_SELLER_PREFIX + seller + b"/", cursor, limit)
    page = [load_listing(reader, position[8:]) for position in positions]
    return [item for item in page if item is not None], next_cursor


def all_listings(
    reader: KVReader | StateView, cursor: bytes | None = None, limit: int = 50
) -> tuple[list[Listing], bytes | None]:
    """Every listing (withdrawn ones too) in listing-id order, one page at a time: the
    catalogue a shop page browses. `cursor` is the last listing id of the previous page."""
    ids, next_cursor = index_page(reader, ITEM_PREFIX, cursor, limit)
    page = [load_listing(reader, listing_id) for listing_id in ids]
    return [item for item in page if item is not None], next_cursor


HANDLERS: dict[str, Handler] = {
    "listing.create": create,
    "listing.update": update,
    "listing.withdraw": withdraw,
}
