"""Orders and escrow with buyer protection, disputes and arbiter rulings.

    order/item/<id>                                 -> Order.to_list()
    order/note/<id>                                 -> [note_for_seller, note_for_arbiter]
    order/ship-note/<id>                            -> [note_for_buyer, note_for_arbiter]
    order/evidence/<id>/<n:4>                       -> [author, time_ms, hash-or-uri]
    order/by-buyer/<buyer>/<created_ms:8><id>       -> b"\\x01"
    order/by-seller/<seller>/<created_ms:8><id>     -> b"\\x01"

An order takes stock from a listing and moves price * quantity from the buyer
into ESCROW_VAULT, where it stays ("held") until the order ends. States:

    funded --ship--> shipped --confirm / protection window over--> completed
    funded --refund in full / not shipped by the deadline--> refunded
    funded | shipped --dispute--> disputed --rule / ruling deadline over--> resolved

Every timeout is an entry in the deadline index (contracts.deadlines): at most
one per order at a time, the one of its current state (ship_by while funded,
release_at while shipped, rule_by while disputed). An action bounded by a
deadline T is allowed in blocks whose time is < T; at a block time >= T the
end-of-block hook applies the timeout.

Money rules (see docs/contracts.md):
- amount == held + refunded + released + arbiter_fee at all times, and
  ESCROW_VAULT's balance of a coin is the sum of `held` over open orders in it.
- When the seller is paid (`released`), the platform's commission is taken
  from that part at the rate copied at order time; the seller gets the rest.
  `contracts.sales.sale_completed` runs once, after the commission is paid.
- An order ends exactly once (completed, refunded or resolved) and never
  moves again; a refunded order has released nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from contracts import args as A
from contracts import deadlines, reputation
from contracts.amounts import check_amount, share
from contracts.arbiter import ArbiterTerms, available_terms
from contracts.coin import move, require_asset
from contracts.deadlines import Deadline, DeadlineHandler
from contracts.listing import Listing, require_listing, return_stock, take_stock
from contracts.pages import index_page
from contracts.policy import check_can_sell, check_fee_recipient
from contracts.roles import commission_bps
from contracts.sales import Sale, sale_completed
from contracts.vaults import ESCROW_VAULT
from ledger import codec
from ledger.errors import InvalidTransaction
from ledger.execution import Context, Handler
from ledger.hashing import tagged_hash
from ledger.kv import KVReader
from ledger.state import StateView

ITEM_PREFIX = b"order/item/"
NOTE_PREFIX = b"order/note/"
LINES_PREFIX = b"order/lines/"
MAX_CART_LINES = 16
SHIP_NOTE_PREFIX = b"order/ship-note/"
EVIDENCE_PREFIX = b"order/evidence/"
BY_BUYER_PREFIX = b"order/by-buyer/"
BY_SELLER_PREFIX = b"order/by-seller/"
BY_ARBITER_PREFIX = b"order/by-arbiter/"
ORDER_ID_DOMAIN = b"pasar/order"
MAX_NOTE_BYTES = 1024
MAX_EVIDENCE = 32
MAX_URI = 256

FUNDED = "funded"
SHIPPED = "shipped"
DISPUTED = "disputed"
COMPLETED = "completed"
REFUNDED = "refunded"
RESOLVED = "resolved"
CANCELLED = "cancelled"
OPEN_STATES = (FUNDED, SHIPPED, DISPUTED)
CLOSED_STATES = (COMPLETED, REFUNDED, RESOLVED, CANCELLED)

RELEASE_RETRY_MS = 3_600_000  # an auto-release refused by a sale listener is retried hourly

SHIP_DEADLINE = "escrow.ship"
RELEASE_DEADLINE = "escrow.release"
RULING_DEADLINE = "escrow.rule"


@dataclass(frozen=True, slots=True)
class Order:
    id: bytes
    listing_id: bytes
    buyer: bytes
    seller: bytes
    symbol: str
    quantity: int
    unit_price: int
    amount: int  # what the buyer paid into escrow
    held: int  # still in ESCROW_VAULT for this order
    refunded: int  # returned to the buyer so far
    released: int  # paid to the seller's side (commission included)
    commission: int  # the part of `released` the platform took
    arbiter_fee: int
    state: str
    outcome: str  # how it ended: "", confirmed, auto_released, refunded, auto_refunded,
    #              buyer_cancelled, seller_cancelled,
    #              ruled, default_refund
    platform: bytes | None
    commission_bps: int
    arbiter: bytes
    fee_bps: int
    min_fee: int
    max_fee: int
    ruling_ms: int
    protection_ms: int
    created_ms: int
    ship_by_ms: int
    shipped_ms: int
    tracking: bytes | None
    release_at_ms: int
    disputed_ms: int
    disputed_by: bytes | None
    rule_by_ms: int
    evidence_count: int
    franchise_program: bytes | None

    def to_list(self) -> list[Any]:
        return [
            self.listing_id,
            self.buyer,
            self.seller,
            self.symbol,
            self.quantity,
            self.unit_price,
            self.amount,
            self.held,
            self.refunded,
            self.released,
            self.commission,
            self.arbiter_fee,
            self.state,
            self.outcome,
            self.platform,
            self.commission_bps,
            self.arbiter,
            self.fee_bps,
            self.min_fee,
            self.max_fee,
            self.ruling_ms,
            self.protection_ms,
            self.created_ms,
            self.ship_by_ms,
            self.shipped_ms,
            self.tracking,
            self.release_at_ms,
            self.disputed_ms,
            self.disputed_by,
            self.rule_by_ms,
            self.evidence_count,
            self.franchise_program,
        ]

    @staticmethod
    def from_list(order_id: bytes, value: list[Any]) -> Order:
        return Order(order_id, *value)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def terms(self) -> ArbiterTerms:
        return ArbiterTerms(self.fee_bps, self.min_fee, self.max_fee, self.ruling_ms)

    def current_deadline(self) -> tuple[int, str] | None:
        """The one timeout this order has in its state (time, deadline kind)."""
        if self.state == FUNDED:
            return self.ship_by_ms, SHIP_DEADLINE
        if self.state == SHIPPED:
            return self.release_at_ms, RELEASE_DEADLINE
        if self.state == DISPUTED:
            return self.rule_by_ms, RULING_DEADLINE
        return None

    def to_json(self) -> dict[str, Any]:
        def hexed(value: bytes | None) -> str | None:
            return None if value is None else value.hex()

        return {
            "id": self.id.hex(),
            "listing": self.listing_id.hex(),
            "buyer": self.buyer.hex(),
            "seller": self.seller.hex(),
            "symbol": self.symbol,
            "quantity": self.quantity,
            "unit_price": self.unit_price,
            "amount": self.amount,
            "held": self.held,
            "refunded": self.refunded,
            "released": self.released,
            "commission": self.commission,
            "arbiter_fee": self.arbiter_fee,
            "state": self.state,
            "outcome": self.outcome,
            "platform": hexed(self.platform),
            "commission_bps": self.commission_bps,
            "arbiter": self.arbiter.hex(),
            "fee_bps": self.fee_bps,
            "min_fee": self.min_fee,
            "max_fee": self.max_fee,
            "ruling_ms": self.ruling_ms,
            "protection_ms": self.protection_ms,
            "created_ms": self.created_ms,
            "ship_by_ms": self.ship_by_ms,
            "shipped_ms": self.shipped_ms,
            "tracking": hexed(self.tracking),
            "release_at_ms": self.release_at_ms,
            "disputed_ms": self.disputed_ms,
            "disputed_by": hexed(self.disputed_by),
            "rule_by_ms": self.rule_by_ms,
            "evidence_count": self.evidence_count,
            "franchise_program": hexed(self.franchise_program),
        }


@dataclass(frozen=True, slots=True)
class Evidence:
    author: bytes
    time_ms: int
    item: bytes | str  # a 32-byte hash or a URI

    def to_json(self) -> dict[str, Any]:
        kind = "hash" if isinstance(self.item, bytes) else "uri"
        value = self.item.hex() if isinstance(self.item, bytes) else self.item
        return {"author": self.author.hex(), "time_ms": self.time_ms, kind: value}


@dataclass(frozen=True, slots=True)
class Line:
    """One listing of an order: a plain order has one, a cart several (same seller)."""

    listing_id: bytes
    quantity: int
    unit_price: int
    platform: bytes | None
    commission_bps: int  # the line's platform rate, copied at order time
    franchise_program: bytes | None

    @property
    def amount(self) -> int:
        return self.quantity * self.unit_price

    def to_list(self) -> list[Any]:
        return [
            self.listing_id,
            self.quantity,
            self.unit_price,
            self.platform,
            self.commission_bps,
            self.franchise_program,
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "listing": self.listing_id.hex(),
            "quantity": self.quantity,
            "unit_price": self.unit_price,
            "amount": self.amount,
            "platform": None if self.platform is None else self.platform.hex(),
            "commission_bps": self.commission_bps,
            "franchise_program": (
                None if self.franchise_program is None else self.franchise_program.hex()
            ),
        }


def order_lines(reader: StateView | KVReader, order: Order) -> list[Line]:
    """The order's lines: those of a cart, or the one line a plain order is."""
    raw = reader.get(LINES_PREFIX + order.id)
    if raw is None:
        return [
            Line(
                order.listing_id,
                order.quantity,
                order.unit_price,
                order.platform,
                order.commission_bps,
                order.franchise_program,
            )
        ]
    return [Line(*row) for row in codec.decode(raw)]


def split_by_lines(amount: int, lines: list[Line], total: int) -> list[int]:
    """`amount` shared over the lines in proportion to their value (floors; the last line
    takes the remainder, so the parts add up exactly)."""
    parts = [amount * line.amount // total for line in lines[:-1]]
    return [*parts, amount - sum(parts)]


# --- state access --------------------------------------------------------------------------


def order_id_for(tx_hash: bytes) -> bytes:
    return tagged_hash(ORDER_ID_DOMAIN, tx_hash)


def item_key(order_id: bytes) -> bytes:
    return ITEM_PREFIX + order_id


def evidence_key(order_id: bytes, index: int) -> bytes:
    return EVIDENCE_PREFIX + order_id + b"/" + index.to_bytes(4, "big")


def load_order(reader: StateView | KVReader, order_id: bytes) -> Order | None:
    raw = reader.get(item_key(order_id))
    return None if raw is None else Order.from_list(order_id, codec.decode(raw))


def require_order(state: StateView, order_id: Any) -> Order:
    order_id = A.digest(order_id, "order id")
    found = load_order(state, order_id)
    if found is None:
        raise InvalidTransaction("unknown_order", "no order with this id")
    return found


def save_order(state: StateView, order: Order) -> None:
    state.put_value(item_key(order.id), order.to_list())


def _require_open(order: Order) -> None:
    if not order.is_open:
        raise InvalidTransaction("order_closed", f"the order has ended ({order.state})")


def _cancel_current_deadline(state: StateView, order: Order) -> None:
    current = order.current_deadline()
    if current is not None:
        deadlines.cancel(state, current[0], current[1], order.id)


def _schedule_current_deadline(state: StateView, order: Order) -> None:
    current = order.current_deadline()
    if current is not None:
        deadlines.schedule(state, current[0], current[1], order.id)


def _deadline_after(now_ms: int, window_ms: int) -> int:
    return min(now_ms + window_ms, deadlines.MAX_TIME_MS)


# --- settlement ----------------------------------------------------------------------------


def _pay_buyer(state: StateView, order: Order, amount: int) -> Order:
    move(state, order.symbol, ESCROW_VAULT, order.buyer, amount)
    return replace(order, held=order.held - amount, refunded=order.refunded + amount)


def _pay_seller(ctx: Context, order: Order, amount: int) -> Order:
    """Release `amount` to the seller's side, line by line in proportion to their value:
    each line's platform takes its commission from its part, the seller the rest, then
    each line is a completed sale (its listing, its franchise royalties). Called at most
    once per order."""
    lines = order_lines(ctx.state, order)
    parts = split_by_lines(amount, lines, order.amount)
    commission = 0
    for line, part in zip(lines, parts, strict=True):
        line_commission = 0
        if line.platform is not None:
            line_commission = share(part, line.commission_bps)
            move(ctx.state, order.symbol, ESCROW_VAULT, line.platform, line_commission)
        move(ctx.state, order.symbol, ESCROW_VAULT, order.seller, part - line_commission)
        commission += line_commission
    paid = replace(
        order,
        held=order.held - amount,
        released=order.released + amount,
        commission=order.commission + commission,
    )
    save_order(ctx.state, paid)
    for line, part in zip(lines, parts, strict=True):
        if part == 0:
            continue  # a tiny release may leave a small line nothing
        sale_completed(
            ctx,
            Sale(
                kind="order",
                reference=order.id,
                seller=order.seller,
                buyer=order.buyer,
                symbol=order.symbol,
                amount=part,
                platform=line.platform,
                listing_id=line.listing_id,
                franchise_program=line.franchise_program,
            ),
        )
    return paid


def _complete(ctx: Context, order: Order, outcome: str) -> None:
    """Release everything held to the seller and end the order as completed."""
    _cancel_current_deadline(ctx.state, order)
    released = order.held
    done = replace(order, state=COMPLETED, outcome=outcome)
    if released:
        done = _pay_seller(ctx, done, released)
    save_order(ctx.state, done)
    _on_end(ctx, done)
    _emit(
        ctx,
        "escrow.completed",
        order,
        ("outcome", outcome),
        ("symbol", order.symbol),
        ("released", released),
        ("commission", done.commission),
        ("platform", order.platform),
        ("state", COMPLETED),
    )


def _refund_all(ctx: Context, order: Order, state: str, outcome: str) -> Order:
    _cancel_current_deadline(ctx.state, order)
    refund = order.held
    done = replace(_pay_buyer(ctx.state, order, refund), state=state, outcome=outcome)
    save_order(ctx.state, done)
    _on_end(ctx, done)
    return done


def _on_end(ctx: Context, order: Order) -> None:
    """Once per order, when it has just ended: count it in the seller's record, and put
    back the units of an order that never shipped and paid the seller nothing (cancel,
    refund before shipping, auto-refund, a ruling that refunds an unshipped order)."""
    reputation.record_order_end(
        ctx.state,
        order.seller,
        order.state,
        disputed=order.disputed_ms > 0,
        seller_kept_more=order.released > order.refunded,
    )
    if order.shipped_ms == 0 and order.released == 0:
        for line in order_lines(ctx.state, order):
            return_stock(ctx, line.listing_id, line.quantity, order.id)


def _emit(ctx: Context, name: str, order: Order, *attributes: tuple[str, Any]) -> None:
    """Every escrow event names the order and its three parties, so each can follow its
    orders on the event stream (the `account=` filter), end-of-block transitions included."""
    ctx.emit(
        name,
        ("order", order.id),
        *attributes,
        ("buyer", order.buyer),
        ("seller", order.seller),
        ("arbiter", order.arbiter),
    )


# --- handlers ------------------------------------------------------------------------------


def _note(value: Any, what: str) -> bytes | None:
    return None if value is None else A.blob(value, what, MAX_NOTE_BYTES)


def place(ctx: Context, args: tuple[Any, ...]) -> None:
    """order.place(listing_id, quantity, max_unit_price, arbiter[, note_for_seller,
    note_for_arbiter]): take stock and lock price * quantity in escrow.

    The notes are ciphertext sealed on the client (see cli/notes.py); the ledger
    only bounds their size.
    """
    names = (
        "listing_id",
        "quantity",
        "max_unit_price",
        "arbiter",
        "note_for_seller",
        "note_for_arbiter",
    )
    values = A.unpack(args, names, optional=2)
    _open_order(ctx, [values[0:3]], values[3], values[4], values[5], cart=False)


def place_cart(ctx: Context, args: tuple[Any, ...]) -> None:
    """order.place_cart(lines, arbiter[, note_for_seller, note_for_arbiter]): one order
    for several listings of one seller, `lines` = [[listing_id, quantity,
    max_unit_price], ...]: one escrow, one shipment, commission and royalties per line."""
    names = ("lines", "arbiter", "note_for_seller", "note_for_arbiter")
    lines, arbiter, note_for_seller, note_for_arbiter = A.unpack(args, names, optional=2)
    if not isinstance(lines, list) or not 1 <= len(lines) <= MAX_CART_LINES:
        raise InvalidTransaction("bad_args", f"a cart has 1..{MAX_CART_LINES} lines")
    rows = [A.unpack(row, ("listing_id", "quantity", "max_unit_price")) for row in lines]
    _open_order(ctx, rows, arbiter, note_for_seller, note_for_arbiter, cart=True)


def _open_order(
    ctx: Context,
    rows: list[Any],
    arbiter_value: Any,
    note_for_seller_value: Any,
    note_for_arbiter_value: Any,
    cart: bool,
) -> None:
    """Check every line, take its stock and open one escrowed order for all of them."""
    arbiter = A.account(arbiter_value, "arbiter")
    note_for_seller = _note(note_for_seller_value, "note_for_seller")
    note_for_arbiter = _note(note_for_arbiter_value, "note_for_arbiter")
    buyer = ctx.sender
    now = ctx.block.timestamp_ms
    lines: list[Line] = []
    listings: list[Listing] = []
    amount = 0
    for listing_value, quantity_value, max_price_value in rows:
        listing = require_listing(ctx.state, listing_value)
        quantity = A.integer(quantity_value, "quantity", 1)
        max_unit_price = check_amount(max_price_value, "max_unit_price")
        if any(line.listing_id == listing.id for line in lines):
            raise InvalidTransaction("bad_args", "a listing appears twice in the cart")
        if listings and listing.seller != listings[0].seller:
            raise InvalidTransaction("mixed_sellers", "a cart holds listings of one seller")
        if listings and listing.symbol != listings[0].symbol:
            raise InvalidTransaction("mixed_coins", "a cart holds listings priced in one coin")
        if buyer == listing.seller:
            raise InvalidTransaction("self_purchase", "a seller cannot order from its own listing")
        if listing.price > max_unit_price:
            raise InvalidTransaction(
                "price_changed",
                f"the unit price is {listing.price}, above the {max_unit_price} you accepted",
            )
        if arbiter not in listing.arbiters:
            raise InvalidTransaction(
                "arbiter_not_accepted", "the listing does not accept this arbiter"
            )
        if arbiter == buyer:
            raise InvalidTransaction("arbiter_conflict", "a buyer cannot arbitrate its own order")
        listing = take_stock(ctx.state, listing, quantity, now)
        line_amount = check_amount(listing.price * quantity, "price * quantity")
        amount = check_amount(amount + line_amount, "the order's total")
        asset = require_asset(ctx.state, listing.symbol)
        check_can_sell(ctx.state, listing.seller, asset, listing.franchise_program, listing.sku)
        rate = 0 if listing.platform is None else commission_bps(ctx.state, listing.platform)
        # An exclusive coin never leaves its group: whoever the order may pay (the platform
        # its commission, the arbiter its fee) must accept it. A no-op for other coins.
        if listing.platform is not None and rate > 0:
            check_fee_recipient(ctx.state, asset, listing.platform, "platform")
        listings.append(listing)
        lines.append(
            Line(
                listing.id,
                quantity,
                listing.price,
                listing.platform,
                rate,
                listing.franchise_program,
            )
        )
    first = listings[0]
    asset = require_asset(ctx.state, first.symbol)
    terms = available_terms(ctx.state, arbiter, first.symbol)
    if terms.fee_bps > 0 or terms.min_fee > 0:
        check_fee_recipient(ctx.state, asset, arbiter, "arbiter")
    move(ctx.state, first.symbol, buyer, ESCROW_VAULT, amount)
    # One shipment for the whole cart: the shortest shipping window binds the seller,
    # the longest protection window protects the buyer.
    shipping_ms = min(listing.shipping_ms for listing in listings)
    protection_ms = max(listing.protection_ms for listing in listings)
    order = Order(
        id=order_id_for(ctx.tx_hash),
        listing_id=first.id,
        buyer=buyer,
        seller=first.seller,
        symbol=first.symbol,
        quantity=sum(line.quantity for line in lines),
        unit_price=lines[0].unit_price if not cart else 0,
        amount=amount,
        held=amount,
        refunded=0,
        released=0,
        commission=0,
        arbiter_fee=0,
        state=FUNDED,
        outcome="",
        platform=first.platform,
        commission_bps=lines[0].commission_bps,
        arbiter=arbiter,
        fee_bps=terms.fee_bps,
        min_fee=terms.min_fee,
        max_fee=terms.max_fee,
        ruling_ms=terms.ruling_ms,
        protection_ms=protection_ms,
        created_ms=now,
        ship_by_ms=_deadline_after(now, shipping_ms),
        shipped_ms=0,
        tracking=None,
        release_at_ms=0,
        disputed_ms=0,
        disputed_by=None,
        rule_by_ms=0,
        evidence_count=0,
        franchise_program=first.franchise_program,
    )
    save_order(ctx.state, order)
    if cart:
        ctx.state.put_value(LINES_PREFIX + order.id, [line.to_list() for line in lines])
    if note_for_seller is not None or note_for_arbiter is not None:
        ctx.state.put_value(NOTE_PREFIX + order.id, [note_for_seller, note_for_arbiter])
    position = now.to_bytes(8, "big") + order.id
    ctx.state.put(BY_BUYER_PREFIX + buyer + b"/" + position, b"\x01")
    ctx.state.put(BY_SELLER_PREFIX + order.seller + b"/" + position, b"\x01")
    # The arbiter's own list: the disputes it may be asked to rule on.
    ctx.state.put(BY_ARBITER_PREFIX + order.arbiter + b"/" + position, b"\x01")
    _schedule_current_deadline(ctx.state, order)
    ctx.emit(
        "order.placed",
        ("order", order.id),
        ("listing", first.id),
        ("buyer", buyer),
        ("seller", order.seller),
        ("symbol", order.symbol),
        ("quantity", order.quantity),
        ("amount", amount),
        ("arbiter", arbiter),
        ("ship_by_ms", order.ship_by_ms),
        ("state", FUNDED),
        *((("lines", len(lines)),) if cart else ()),
    )


def ship(ctx: Context, args: tuple[Any, ...]) -> None:
    """escrow.ship(order_id, tracking_hash[, note_for_buyer, note_for_arbiter]): the
    seller has shipped; the protection window starts now. The optional notes are the
    tracking details sealed on the client for the buyer and for the arbiter."""
    names = ("order_id", "tracking_hash", "note_for_buyer", "note_for_arbiter")
    order_id, tracking, note_for_buyer, note_for_arbiter = A.unpack(args, names, optional=2)
    order = require_order(ctx.state, order_id)
    tracking = A.digest(tracking, "tracking_hash")
    note_for_buyer = _note(note_for_buyer, "note_for_buyer")
    note_for_arbiter = _note(note_for_arbiter, "note_for_arbiter")
    if ctx.sender != order.seller:
        raise InvalidTransaction("not_seller", "only the seller marks an order shipped")
    _require_open(order)
    if order.state == SHIPPED:
        raise InvalidTransaction("already_shipped", "the order is already marked shipped")
    if order.state != FUNDED:
        raise InvalidTransaction("bad_state", f"an order that is {order.state} cannot ship")
    now = ctx.block.timestamp_ms
    if now >= order.ship_by_ms:
        raise InvalidTransaction(
            "ship_deadline_passed", f"the order had to ship before {order.ship_by_ms} ms"
        )
    _cancel_current_deadline(ctx.state, order)
    shipped = replace(
        order,
        state=SHIPPED,
        shipped_ms=now,
        tracking=tracking,
        release_at_ms=_deadline_after(now, order.protection_ms),
    )
    save_order(ctx.state, shipped)
    if note_for_buyer is not None or note_for_arbiter is not None:
        ctx.state.put_value(SHIP_NOTE_PREFIX + order.id, [note_for_buyer, note_for_arbiter])
    _schedule_current_deadline(ctx.state, shipped)
    _emit(
        ctx,
        "escrow.shipped",
        order,
        ("tracking", tracking),
        ("release_at_ms", shipped.release_at_ms),
        ("state", SHIPPED),
    )


def confirm(ctx: Context, args: tuple[Any, ...]) -> None:
    """escrow.confirm(order_id): the buyer confirms receipt (also ends its own dispute)."""
    (order_id,) = A.unpack(args, ("order_id",))
    order = require_order(ctx.state, order_id)
    if ctx.sender != order.buyer:
        raise InvalidTransaction("not_buyer", "only the buyer confirms receipt")
    _require_open(order)
    _complete(ctx, order, "confirmed")


def refund(ctx: Context, args: tuple[Any, ...]) -> None:
    """escrow.refund(order_id, amount): the seller returns part or all of what is held."""
    order_id, amount = A.unpack(args, ("order_id", "amount"))
    order = require_order(ctx.state, order_id)
    amount = check_amount(amount)
    if ctx.sender != order.seller:
        raise InvalidTransaction("not_seller", "only the seller refunds")
    _require_open(order)
    if amount > order.held:
        raise InvalidTransaction(
            "refund_exceeds_held", f"{amount} is more than the {order.held} held"
        )
    if amount == order.held:
        done = _refund_all(ctx, order, REFUNDED, "refunded")
    else:
        done = _pay_buyer(ctx.state, order, amount)
        save_order(ctx.state, done)
    _emit(
        ctx,
        "escrow.refunded",
        order,
        ("symbol", order.symbol),
        ("amount", amount),
        ("held", done.held),
        ("state", done.state),
    )


def cancel(ctx: Context, args: tuple[Any, ...]) -> None:
    """escrow.cancel(order_id): buyer or seller calls off an order that has not shipped;
    everything held goes back to the buyer and the units back on the listing."""
    (order_id,) = A.unpack(args, ("order_id",))
    order = require_order(ctx.state, order_id)
    if ctx.sender not in (order.buyer, order.seller):
        raise InvalidTransaction("not_party", "only the buyer or the seller can cancel")
    _require_open(order)
    if order.state != FUNDED:
        raise InvalidTransaction(
            "already_shipped" if order.state == SHIPPED else "bad_state",
            f"an order that is {order.state} can no longer be cancelled",
        )
    if ctx.block.timestamp_ms >= order.ship_by_ms:
        # The auto-refund of this very block ends it; a cancel must not compete with it.
        raise InvalidTransaction(
            "ship_deadline_passed", "the shipping deadline has passed: the order auto-refunds"
        )
    by = "buyer" if ctx.sender == order.buyer else "seller"
    refund_amount = order.held
    _refund_all(ctx, order, CANCELLED, f"{by}_cancelled")
    _emit(
        ctx,
        "escrow.cancelled",
        order,
        ("by", ctx.sender),
        ("symbol", order.symbol),
        ("amount", refund_amount),
        ("outcome", f"{by}_cancelled"),
        ("state", CANCELLED),
    )


def rate(ctx: Context, args: tuple[Any, ...]) -> None:
    """order.rate(order_id, stars, review_hash): the buyer rates an ended order, once."""
    order_id, stars, review = A.unpack(args, ("order_id", "stars", "review_hash"))
    order = require_order(ctx.state, order_id)
    review = A.digest(review, "review_hash")
    if isinstance(stars, bool) or not isinstance(stars, int):
        raise InvalidTransaction("bad_args", "stars must be an integer")
    if not reputation.MIN_STARS <= stars <= reputation.MAX_STARS:
        raise InvalidTransaction("bad_rating", "stars must be 1..5")
    if ctx.sender != order.buyer:
        raise InvalidTransaction("not_buyer", "only the order's buyer rates it")
    if order.is_open:
        raise InvalidTransaction("order_open", "an order is rated once it has ended")
    if reputation.rating(ctx.state, order.id) is not None:
        raise InvalidTransaction("already_rated", "this order has been rated")
    reputation.add_rating(ctx.state, order.seller, order.id, stars, review, ctx.block.timestamp_ms)
    _emit(ctx, "order.rated", order, ("stars", stars), ("review", review))


def dispute(ctx: Context, args: tuple[Any, ...]) -> None:
    """escrow.dispute(order_id): buyer or seller asks the arbiter to decide."""
    (order_id,) = A.unpack(args, ("order_id",))
    order = require_order(ctx.state, order_id)
    if ctx.sender not in (order.buyer, order.seller):
        raise InvalidTransaction("not_party", "only the buyer or the seller can open a dispute")
    _require_open(order)
    if order.state == DISPUTED:
        raise InvalidTransaction("already_disputed", "the order is already in dispute")
    current = order.current_deadline()
    now = ctx.block.timestamp_ms
    if current is None or now >= current[0]:
        raise InvalidTransaction(
            "dispute_window_closed", "the window for a dispute in this state has passed"
        )
    _cancel_current_deadline(ctx.state, order)
    disputed = replace(
        order,
        state=DISPUTED,
        disputed_ms=now,
        disputed_by=ctx.sender,
        rule_by_ms=_deadline_after(now, order.ruling_ms),
    )
    save_order(ctx.state, disputed)
    _schedule_current_deadline(ctx.state, disputed)
    _emit(
        ctx,
        "escrow.disputed",
        order,
        ("by", ctx.sender),
        ("rule_by_ms", disputed.rule_by_ms),
        ("state", DISPUTED),
    )


def evidence(ctx: Context, args: tuple[Any, ...]) -> None:
    """escrow.evidence(order_id, hash_or_uri): buyer, seller or arbiter adds a record."""
    order_id, item = A.unpack(args, ("order_id", "evidence"))
    order = require_order(ctx.state, order_id)
    if isinstance(item, bytes):
        item = A.digest(item, "evidence hash")
    else:
        item = A.text(item, "evidence uri", MAX_URI, 1)
    if ctx.sender not in (order.buyer, order.seller, order.arbiter):
        raise InvalidTransaction("not_party", "only the buyer, seller or arbiter add evidence")
    _require_open(order)
    if order.state != DISPUTED:
        raise InvalidTransaction("not_disputed", "evidence is taken while a dispute is open")
    if order.evidence_count >= MAX_EVIDENCE:
        raise InvalidTransaction(
            "too_much_evidence", f"an order keeps at most {MAX_EVIDENCE} evidence records"
        )
    now = ctx.block.timestamp_ms
    ctx.state.put_value(evidence_key(order.id, order.evidence_count), [ctx.sender, now, item])
    save_order(ctx.state, replace(order, evidence_count=order.evidence_count + 1))
    _emit(
        ctx,
        "escrow.evidence",
        order,
        ("author", ctx.sender),
        ("index", order.evidence_count),
        ("evidence", item),
    )


def rule(ctx: Context, args: tuple[Any, ...]) -> None:
    """escrow.rule(order_id, buyer_amount, seller_amount): the arbiter splits what is
    held after its fee; the two shares must add up to exactly held - fee."""
    order_id, buyer_amount, seller_amount = A.unpack(
        args, ("order_id", "buyer_amount", "seller_amount")
    )
    order = require_order(ctx.state, order_id)
    buyer_amount = check_amount(buyer_amount, "buyer_amount", allow_zero=True)
    seller_amount = check_amount(seller_amount, "seller_amount", allow_zero=True)
    if ctx.sender != order.arbiter:
        raise InvalidTransaction("not_arbiter", "only the order's arbiter rules")
    _require_open(order)
    if order.state != DISPUTED:
        raise InvalidTransaction("not_disputed", "there is no open dispute to rule on")
    if ctx.block.timestamp_ms >= order.rule_by_ms:
        raise InvalidTransaction(
            "ruling_deadline_passed", f"the ruling was due before {order.rule_by_ms} ms"
        )
    fee = order.terms.fee(order.held)
    to_split = order.held - fee
    if buyer_amount + seller_amount != to_split:
        raise InvalidTransaction(
            "bad_split",
            f"shares must add up to {to_split} (held {order.held} minus fee {fee})",
        )
    _cancel_current_deadline(ctx.state, order)
    move(ctx.state, order.symbol, ESCROW_VAULT, order.arbiter, fee)
    ruled = replace(order, held=order.held - fee, arbiter_fee=fee, state=RESOLVED, outcome="ruled")
    ruled = _pay_buyer(ctx.state, ruled, buyer_amount)
    save_order(ctx.state, ruled)
    if seller_amount:
        ruled = _pay_seller(ctx, ruled, seller_amount)
    _on_end(ctx, ruled)
    _emit(
        ctx,
        "escrow.resolved",
        order,
        ("outcome", "ruled"),
        ("fee", fee),
        ("buyer_amount", buyer_amount),
        ("seller_amount", seller_amount),
        ("commission", ruled.commission),
        ("state", RESOLVED),
    )


# --- timeouts ------------------------------------------------------------------------------


def _due_order(ctx: Context, entry: Deadline) -> Order:
    """The order an index entry points to, if the entry is still its current deadline."""
    order = load_order(ctx.state, entry.ident)
    if order is None or order.current_deadline() != (entry.time_ms, entry.kind):
        # Entries are cancelled on every transition, so this is a stale or foreign entry.
        raise InvalidTransaction("stale_deadline", "the deadline no longer applies")
    return order


def on_ship_deadline(ctx: Context, entry: Deadline) -> None:
    """Not shipped in time: the buyer gets everything held back."""
    order = _due_order(ctx, entry)
    refund_amount = order.held
    _refund_all(ctx, order, REFUNDED, "auto_refunded")
    _emit(
        ctx,
        "escrow.refunded",
        order,
        ("symbol", order.symbol),
        ("amount", refund_amount),
        ("held", 0),
        ("state", REFUNDED),
        ("outcome", "auto_refunded"),
    )


def on_release_deadline(ctx: Context, entry: Deadline) -> None:
    """The protection window passed without a dispute: the seller is paid.

    Paying the seller runs the completed-sale listeners. Should one of them refuse,
    the release is retried `RELEASE_RETRY_MS` later instead of leaving the order
    without a deadline: the money stays held and the parties keep every way out.
    """
    order = _due_order(ctx, entry)
    attempt = Context(ctx.state.child(), ctx.block, ctx.sender, ctx.tx_hash)
    try:
        _complete(attempt, order, "auto_released")
    except InvalidTransaction as exc:
        retry = replace(
            order, release_at_ms=_deadline_after(ctx.block.timestamp_ms, RELEASE_RETRY_MS)
        )
        save_order(ctx.state, retry)
        _schedule_current_deadline(ctx.state, retry)
        _emit(
            ctx,
            "escrow.release_retry",
            order,
            ("code", exc.code),
            ("release_at_ms", retry.release_at_ms),
        )
        return
    attempt.state.merge_into_parent()
    ctx.events.extend(attempt.events)


def on_ruling_deadline(ctx: Context, entry: Deadline) -> None:
    """The arbiter did not rule in time: the default ruling refunds the buyer in full,
    and the arbiter earns no fee."""
    order = _due_order(ctx, entry)
    refund_amount = order.held
    _refund_all(ctx, order, RESOLVED, "default_refund")
    _emit(
        ctx,
        "escrow.resolved",
        order,
        ("outcome", "default_refund"),
        ("fee", 0),
        ("buyer_amount", refund_amount),
        ("seller_amount", 0),
        ("commission", 0),
        ("state", RESOLVED),
    )


# --- queries -------------------------------------------------------------------------------


def _orders_page(
    reader: KVReader | StateView, prefix: bytes, cursor: bytes | None, limit: int
) -> tuple[list[Order], bytes | None]:
    positions, next_cursor = index_page(reader, prefix, cursor, limit)
    page = [load_order(reader, position[8:]) for position in positions]
    return [item for item in page if item is not None], next_cursor


def orders_by_buyer(
    reader: KVReader | StateView, buyer: bytes, cursor: bytes | None = None, limit: int = 50
) -> tuple[list[Order], bytes | None]:
    """A buyer's orders, oldest first, one page at a time (see contracts.pages)."""
    return _orders_page(reader, BY_BUYER_PREFIX + buyer + b"/", cursor, limit)


def orders_by_seller(
    reader: KVReader | StateView, seller: bytes, cursor: bytes | None = None, limit: int = 50
) -> tuple[list[Order], bytes | None]:
    """A seller's orders, oldest first, one page at a time (see contracts.pages)."""
    return _orders_page(reader, BY_SELLER_PREFIX + seller + b"/", cursor, limit)


def orders_by_arbiter(
    reader: KVReader | StateView, arbiter: bytes, cursor: bytes | None = None, limit: int = 50
) -> tuple[list[Order], bytes | None]:
    """The orders naming this arbiter, oldest first, one page at a time."""
    return _orders_page(reader, BY_ARBITER_PREFIX + arbiter + b"/", cursor, limit)


def order_note(reader: KVReader | StateView, order_id: bytes) -> tuple[bytes | None, bytes | None]:
    """The sealed notes of an order: (for the seller, for the arbiter)."""
    raw = reader.get(NOTE_PREFIX + order_id)
    if raw is None:
        return None, None
    for_seller, for_arbiter = codec.decode(raw)
    return for_seller, for_arbiter


def shipping_note(
    reader: KVReader | StateView, order_id: bytes
) -> tuple[bytes | None, bytes | None]:
    """The sealed tracking notes of a shipment: (for the buyer, for the arbiter)."""
    raw = reader.get(SHIP_NOTE_PREFIX + order_id)
    if raw is None:
        return None, None
    for_buyer, for_arbiter = codec.decode(raw)
    return for_buyer, for_arbiter


def order_evidence(reader: KVReader | StateView, order_id: bytes) -> list[Evidence]:
    """Every evidence record of an order, in the order they were added."""
    records = []
    for _, raw in reader.iterate(EVIDENCE_PREFIX + order_id + b"/"):
        author, time_ms, item = codec.decode(raw)
        records.append(Evidence(author, time_ms, item))
    return records


def open_orders(reader: KVReader | StateView) -> list[Order]:
    """Every open order: a full scan, for audits and tests, never for execution."""
    orders = []
    for key, raw in reader.iterate(ITEM_PREFIX):
        order = Order.from_list(key[len(ITEM_PREFIX) :], codec.decode(raw))
        if order.is_open:
            orders.append(order)
    return orders


HANDLERS: dict[str, Handler] = {
    "order.place": place,
    "order.place_cart": place_cart,
    "escrow.ship": ship,
    "escrow.confirm": confirm,
    "escrow.refund": refund,
    "escrow.cancel": cancel,
    "order.rate": rate,
    "escrow.dispute": dispute,
    "escrow.evidence": evidence,
    "escrow.rule": rule,
}
DEADLINE_HANDLERS: dict[str, DeadlineHandler] = {
    SHIP_DEADLINE: on_ship_deadline,
    RELEASE_DEADLINE: on_release_deadline,
    RULING_DEADLINE: on_ruling_deadline,
}
