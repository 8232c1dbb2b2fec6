"""The exchange: an on-chain order book per pair of platform coins.

Markets. A pair of coins trades in one book whose base is the symbol that sorts
first and whose quote is the other (market "AAA/BBB"); placing an order on the
reversed pair is refused (`bad_market`) so one pair never splits into two books.

Prices. A price is an integer number of quote minor units per PRICE_SCALE
(10^8) base minor units, 1..MAX_PRICE. No floats anywhere: the quote value of
q base units at price p is q * p / PRICE_SCALE rounded to an integer, and the
rounding always favours the book (the resting order):
- a resting buy order locks ceil(remaining * p / SCALE) quote when it rests;
- a taker buying from a resting sell pays ceil(q * p / SCALE) quote;
- a taker selling into a resting buy receives floor(q * p / SCALE) quote.
So a resting order never trades worse than its limit and the taker bears the
rounding, at most one quote minor unit per fill. A buy order's lock always
covers its remainder: ceil(a) - floor(b) >= ceil(a - b).

Matching. Price-time priority: the best price first, and at one price the oldest
order (lowest id) first. A fill executes at the resting order's price. Orders may
fill partially; the remainder rests with its funds locked in EXCHANGE_VAULT (sell
orders lock base, buy orders lock quote) until filled or cancelled, when the
leftover lock is refunded. An account's orders may match each other (harmless:
every coin is conserved). A taker that would need more than MAX_FILLS fills is
rejected (`too_many_fills`) so one transaction's work stays bounded; split it.

State, laid out so the best price is the first key under a prefix:
    exch/next                                        -> next order id
    exch/book/<base>/<quote>/ask/<price:8>/<id:8>    -> order record
    exch/book/<base>/<quote>/bid/<MAX-price:8>/<id:8> -> order record
    exch/ord/<id:8>                                  -> the order's book key
    exch/own/<owner>/<id:8>                          -> the order's book key
Bid keys store MAX_PRICE - price so ascending key order is best (highest) bid
first and, at one price, oldest first, for both sides.

Swaps. `swap_for` (and the `exchange.swap` op) buys at least an exact amount of
one coin, paying at most a stated maximum of the other: a market order with a
worst acceptable price that fills completely or fails whole
(`insufficient_liquidity`, `slippage_exceeded`). Other contracts (invoices) call
it inside their own transaction. `swap_exact_in` (`exchange.swap_exact_in`) is the
other way round: pay exactly an amount, receive at least a stated minimum.
`quote` answers what either would pay and receive now, without a transaction.

Only coins `contracts.policy.check_exchangeable` accepts (platform coins) trade.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from contracts import args as A
from contracts.amounts import MAX_AMOUNT, check_amount
from contracts.coin import Asset, credit, move, require_asset
from contracts.policy import check_exchangeable
from contracts.vaults import EXCHANGE_VAULT
from ledger import codec
from ledger.errors import InvalidTransaction
from ledger.execution import BlockInfo, Context, Handler
from ledger.kv import KVReader
from ledger.state import StateView

PRICE_SCALE = 10**8
MAX_PRICE = 10**18
MAX_FILLS = 100
BUY = "buy"
SELL = "sell"
SIDES = (BUY, SELL)

NEXT_ID_KEY = b"exch/next"
BOOK_PREFIX = b"exch/book/"
ORDER_PREFIX = b"exch/ord/"
OWNER_PREFIX = b"exch/own/"

Reader = StateView | KVReader


@dataclass(frozen=True, slots=True)
class Order:
    """A resting limit order; `locked` is what it still holds in the vault."""

    id: int
    owner: bytes
    base: str
    quote: str
    side: str
    price: int
    quantity: int
    remaining: int
    locked: int
    height: int
    time_ms: int

    def to_list(self) -> list[Any]:
        return [
            self.id,
            self.owner,
            self.base,
            self.quote,
            self.side,
            self.price,
            self.quantity,
            self.remaining,
            self.locked,
            self.height,
            self.time_ms,
        ]

    @staticmethod
    def from_list(value: list[Any]) -> Order:
        return Order(*value)

    def filled(self, amount: int, unlocked: int) -> Order:
        """This order after `amount` base of it traded, releasing `unlocked` from the vault
        (what `dataclasses.replace` gives, built directly: it runs once per fill)."""
        return Order(
            self.id,
            self.owner,
            self.base,
            self.quote,
            self.side,
            self.price,
            self.quantity,
            self.remaining - amount,
            self.locked - unlocked,
            self.height,
            self.time_ms,
        )

    @property
    def locked_symbol(self) -> str:
        return self.base if self.side == SELL else self.quote


@dataclass(frozen=True, slots=True)
class SwapResult:
    paid: int
    received: int
    fills: int


# --- integer price arithmetic --------------------------------------------------------


def quote_floor(base_amount: int, price: int) -> int:
    return base_amount * price // PRICE_SCALE


def quote_ceil(base_amount: int, price: int) -> int:
    return -(-base_amount * price // PRICE_SCALE)


def check_price(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PRICE:
        raise InvalidTransaction("bad_price", f"price must be an integer in 1..{MAX_PRICE}")
    return value


# --- keys ----------------------------------------------------------------------------


def _id_bytes(order_id: int) -> bytes:
    return order_id.to_bytes(8, "big")


def side_prefix(base: str, quote: str, side: str) -> bytes:
    """Resting orders of one side; `side` is the resting order's side (SELL = asks)."""
    label = b"ask" if side == SELL else b"bid"
    return BOOK_PREFIX + base.encode() + b"/" + quote.encode() + b"/" + label + b"/"


def book_key(order: Order) -> bytes:
    rank = order.price if order.side == SELL else MAX_PRICE - order.price
    return (
        side_prefix(order.base, order.quote, order.side)
        + rank.to_bytes(8, "big")
        + _id_bytes(order.id)
    )


def order_index_key(order_id: int) -> bytes:
    return ORDER_PREFIX + _id_bytes(order_id)


def owner_index_key(owner: bytes, order_id: int) -> bytes:
    return OWNER_PREFIX + owner + b"/" + _id_bytes(order_id)


# --- reading -------------------------------------------------------------------------


def load_order(reader: Reader, order_id: int) -> Order | None:
    key = reader.get(order_index_key(order_id))
    if key is None:
        return None
    raw = reader.get(key)
    return None if raw is None else Order.from_list(codec.decode_stored(raw))


def _resting(reader: Reader, prefix: bytes) -> Iterator[Order]:
    # State values are read back as `codec.encode` stored them: no canonical re-check.
    for _, value in reader.iterate(prefix):
        yield Order.from_list(codec.decode_stored(value))


def best_order(reader: Reader, base: str, quote: str, side: str) -> Order | None:
    """The resting order of `side` that trades next, or None."""
    return next(_resting(reader, side_prefix(base, quote, side)), None)


def depth(reader: Reader, base: str, quote: str, side: str, levels: int = 20) -> list[list[int]]:
    """[[price, total remaining, order count], ...] best first, at most `levels` prices."""
    result: list[list[int]] = []
    for order in _resting(reader, side_prefix(base, quote, side)):
        if result and result[-1][0] == order.price:
            result[-1][1] += order.remaining
            result[-1][2] += 1
            continue
        if len(result) >= levels:
            break
        result.append([order.price, order.remaining, 1])
    return result


def orders_of(reader: Reader, owner: bytes, after_id: int = 0, limit: int = 50) -> list[Order]:
    """An account's resting orders with id > after_id, in id order."""
    found: list[Order] = []
    prefix = OWNER_PREFIX + owner + b"/"
    for _, book in reader.seek(prefix, owner_index_key(owner, after_id + 1)):
        raw = reader.get(book)
        if raw is not None:
            found.append(Order.from_list(codec.decode_stored(raw)))
        if len(found) >= limit:
            break
    return found


def market_of(symbol_a: str, symbol_b: str) -> tuple[str, str]:
    """(base, quote) of the book that trades this pair."""
    return (symbol_a, symbol_b) if symbol_a < symbol_b else (symbol_b, symbol_a)


# --- writing -------------------------------------------------------------------------


def _save(state: StateView, order: Order) -> None:
    state.put_value(book_key(order), order.to_list())


def _rest(state: StateView, order: Order) -> None:
    key = book_key(order)
    state.put_value(key, order.to_list())
    state.put(order_index_key(order.id), key)
    state.put(owner_index_key(order.owner, order.id), key)


def _close(ctx: Context, order: Order, reason: str) -> None:
    """Remove an order from the book and refund what it still holds."""
    move(ctx.state, order.locked_symbol, EXCHANGE_VAULT, order.owner, order.locked)
    ctx.state.delete(book_key(order))
    ctx.state.delete(order_index_key(order.id))
    ctx.state.delete(owner_index_key(order.owner, order.id))
    ctx.emit(
        "exchange.order_closed",
        ("id", order.id),
        ("owner", order.owner),
        ("reason", reason),
        ("refund_symbol", order.locked_symbol),
        ("refund", order.locked),
        ("unfilled", order.remaining),
    )


def _fill_event(
    ctx: Context, maker: Order, taker: bytes, base_amount: int, quote_amount: int
) -> None:
    ctx.emit(
        "exchange.fill",
        ("maker_order", maker.id),
        ("maker", maker.owner),
        ("taker", taker),
        ("maker_side", maker.side),
        ("base", maker.base),
        ("quote", maker.quote),
        ("price", maker.price),
        ("base_amount", base_amount),
        ("quote_amount", quote_amount),
    )


def _fill_count(fills: int) -> int:
    fills += 1
    if fills > MAX_FILLS:
        raise InvalidTransaction(
            "too_many_fills", f"more than {MAX_FILLS} fills in one transaction; trade less at once"
        )
    return fills


def buy_from_asks(
    ctx: Context,
    taker: bytes,
    base: str,
    quote: str,
    base_wanted: int,
    limit_price: int | None,
    quote_budget: int | None = None,
) -> tuple[int, int, int]:
    """Take up to `base_wanted` base from the asks at prices <= limit, spending at most
    `quote_budget` quote when one is given; return (got, paid, fills)."""
    got = paid = fills = 0
    prefix = side_prefix(base, quote, SELL)
    while got < base_wanted:
        maker = next(_resting(ctx.state, prefix), None)
        if maker is None or (limit_price is not None and maker.price > limit_price):
            break
        amount = min(maker.remaining, base_wanted - got)
        if quote_budget is not None:
            # ceil(a * p / SCALE) <= budget exactly when a <= floor(budget * SCALE / p).
            amount = min(amount, (quote_budget - paid) * PRICE_SCALE // maker.price)
            if amount == 0:
                break
        fills = _fill_count(fills)
        cost = quote_ceil(amount, maker.price)
        move(ctx.state, quote, taker, maker.owner, cost)
        move(ctx.state, base, EXCHANGE_VAULT, taker, amount)
        maker = maker.filled(amount, amount)
        _fill_event(ctx, maker, taker, amount, cost)
        if maker.remaining == 0:
            _close(ctx, maker, "filled")
        else:
            _save(ctx.state, maker)
        got += amount
        paid += cost
    return got, paid, fills


def sell_to_bids(
    ctx: Context,
    taker: bytes,
    base: str,
    quote: str,
    base_offered: int | None,
    quote_wanted: int | None,
    limit_price: int | None,
) -> tuple[int, int, int]:
    """Sell base into the bids at prices >= limit until `base_offered` is sold or
    `quote_wanted` is received; return (sold, received, fills)."""
    sold = received = fills = 0
    prefix = side_prefix(base, quote, BUY)
    while True:
        if base_offered is not None and sold >= base_offered:
            break
        if quote_wanted is not None and received >= quote_wanted:
            break
        maker = next(_resting(ctx.state, prefix), None)
        if maker is None or (limit_price is not None and maker.price < limit_price):
            break
        fills = _fill_count(fills)
        if base_offered is not None:
            amount = min(maker.remaining, base_offered - sold)
        else:
            wanted = (quote_wanted or 0) - received
            # The least base whose floored proceeds reach what is still wanted.
            amount = min(maker.remaining, -(-wanted * PRICE_SCALE // maker.price))
        proceeds = quote_floor(amount, maker.price)
        move(ctx.state, base, taker, maker.owner, amount)
        move(ctx.state, quote, EXCHANGE_VAULT, taker, proceeds)
        maker = maker.filled(amount, proceeds)
        _fill_event(ctx, maker, taker, amount, proceeds)
        if maker.remaining == 0:
            _close(ctx, maker, "filled")
        else:
            _save(ctx.state, maker)
        sold += amount
        received += proceeds
    return sold, received, fills


def _tradeable_pair(state: StateView, first: Any, second: Any) -> tuple[Asset, Asset]:
    asset_a = require_asset(state, first)
    asset_b = require_asset(state, second)
    if asset_a.symbol == asset_b.symbol:
        raise InvalidTransaction("same_coin", "a coin cannot trade against itself")
    check_exchangeable(state, asset_a)
    check_exchangeable(state, asset_b)
    return asset_a, asset_b


def swap_for(
    ctx: Context,
    trader: bytes,
    pay_symbol: str,
    receive_symbol: str,
    receive_amount: int,
    max_pay: int,
) -> SwapResult:
    """Receive at least `receive_amount` of one coin for at most `max_pay` of another.

    Fills or fails whole: `insufficient_liquidity` when the book cannot supply the
    amount, `slippage_exceeded` when it would cost more than `max_pay`. When the
    received coin is the quote, flooring may deliver up to one minor unit more per
    fill than asked; the surplus stays with the trader.
    """
    pay_asset, receive_asset = _tradeable_pair(ctx.state, pay_symbol, receive_symbol)
    base, quote = market_of(pay_asset.symbol, receive_asset.symbol)
    if receive_asset.symbol == base:
        received, paid, fills = buy_from_asks(ctx, trader, base, quote, receive_amount, None)
    else:
        paid, received, fills = sell_to_bids(ctx, trader, base, quote, None, receive_amount, None)
    if received < receive_amount:
        raise InvalidTransaction(
            "insufficient_liquidity",
            f"the {base}/{quote} book holds only {received} of the {receive_amount} "
            f"{receive_asset.symbol} wanted",
        )
    if paid > max_pay:
        raise InvalidTransaction(
            "slippage_exceeded",
            f"receiving {receive_amount} {receive_asset.symbol} costs {paid} "
            f"{pay_asset.symbol}, more than the maximum {max_pay}",
        )
    ctx.emit(
        "exchange.swapped",
        ("trader", trader),
        ("pay_symbol", pay_asset.symbol),
        ("paid", paid),
        ("receive_symbol", receive_asset.symbol),
        ("received", received),
        ("fills", fills),
        ("mode", "exact_out"),
    )
    return SwapResult(paid, received, fills)


def swap_exact_in(
    ctx: Context,
    trader: bytes,
    pay_symbol: str,
    receive_symbol: str,
    pay_amount: int,
    min_receive: int,
) -> SwapResult:
    """Pay exactly `pay_amount` of one coin and receive at least `min_receive` of another.

    Paying the base sells exactly that much into the bids. Paying the quote buys base
    from the asks until the rest of the budget cannot buy one more base minor unit at
    the next ask: that remainder (less than one unit's price) stays with the trader.
    Fails whole: `insufficient_liquidity` when the book runs out first,
    `slippage_exceeded` when it would deliver less than `min_receive`.
    """
    pay_asset, receive_asset = _tradeable_pair(ctx.state, pay_symbol, receive_symbol)
    base, quote = market_of(pay_asset.symbol, receive_asset.symbol)
    if pay_asset.symbol == base:
        paid, received, fills = sell_to_bids(ctx, trader, base, quote, pay_amount, None, None)
        exhausted = paid < pay_amount
    else:
        received, paid, fills = buy_from_asks(
            ctx, trader, base, quote, MAX_AMOUNT, None, quote_budget=pay_amount
        )
        exhausted = paid < pay_amount and best_order(ctx.state, base, quote, SELL) is None
    if exhausted:
        raise InvalidTransaction(
            "insufficient_liquidity",
            f"the {base}/{quote} book takes only {paid} of the {pay_amount} "
            f"{pay_asset.symbol} offered",
        )
    if received < min_receive:
        raise InvalidTransaction(
            "slippage_exceeded",
            f"paying {paid} {pay_asset.symbol} receives {received} {receive_asset.symbol}, "
            f"less than the minimum {min_receive}",
        )
    ctx.emit(
        "exchange.swapped",
        ("trader", trader),
        ("pay_symbol", pay_asset.symbol),
        ("paid", paid),
        ("receive_symbol", receive_asset.symbol),
        ("received", received),
        ("fills", fills),
        ("mode", "exact_in"),
    )
    return SwapResult(paid, received, fills)


QUOTE_TRADER = b"\x00" * 31 + b"\x71"  # a phantom account funded only inside a quote


def quote(
    reader: Reader,
    block: BlockInfo,
    pay_symbol: str,
    receive_symbol: str,
    *,
    receive_amount: int | None = None,
    pay_amount: int | None = None,
) -> SwapResult:
    """What a swap would pay and receive against the book as `reader` holds it now:
    exact-out (`receive_amount`) or exact-in (`pay_amount`). Runs the real matching on
    a throw-away view in which a phantom trader holds enough to pay, so the answer is
    exactly what the transaction would do in the next block if the book stays as it
    is. Raises InvalidTransaction with the swap's own codes."""
    scratch = StateView(reader)
    ctx = Context(scratch, block, QUOTE_TRADER, b"\x00" * 32)
    pay_asset, _ = _tradeable_pair(scratch, pay_symbol, receive_symbol)
    credit(scratch, QUOTE_TRADER, pay_asset.symbol, MAX_AMOUNT)
    if pay_amount is not None:
        return swap_exact_in(ctx, QUOTE_TRADER, pay_symbol, receive_symbol, pay_amount, 0)
    if receive_amount is None:
        raise InvalidTransaction("bad_args", "a quote needs pay_amount or receive_amount")
    return swap_for(ctx, QUOTE_TRADER, pay_symbol, receive_symbol, receive_amount, MAX_AMOUNT)


# --- handlers ------------------------------------------------------------------------


def place_order(ctx: Context, args: tuple[Any, ...]) -> None:
    """exchange.order(base, quote, side, price, quantity): a limit order of `quantity` base.

    Matches against the opposite side first; any remainder rests with its funds
    locked (sell: the base remainder; buy: ceil(remainder * price / SCALE) quote).
    """
    base, quote, side, price, quantity = A.unpack(
        args, ("base", "quote", "side", "price", "quantity")
    )
    base_asset, quote_asset = _tradeable_pair(ctx.state, base, quote)
    if not base_asset.symbol < quote_asset.symbol:
        raise InvalidTransaction(
            "bad_market",
            f"the pair trades as {quote_asset.symbol}/{base_asset.symbol}: "
            "the base is the symbol that sorts first",
        )
    if side not in SIDES:
        raise InvalidTransaction("bad_args", "side must be buy or sell")
    price = check_price(price)
    quantity = check_amount(quantity, "quantity")
    base, quote = base_asset.symbol, quote_asset.symbol
    order_id = ctx.state.get_int(NEXT_ID_KEY) or 1
    ctx.state.put_int(NEXT_ID_KEY, order_id + 1)
    if side == BUY:
        filled, _, _ = buy_from_asks(ctx, ctx.sender, base, quote, quantity, price)
    else:
        filled, _, _ = sell_to_bids(ctx, ctx.sender, base, quote, quantity, None, price)
    remaining = quantity - filled
    locked = 0
    if remaining:
        locked = remaining if side == SELL else quote_ceil(remaining, price)
        locked = check_amount(locked, "order value")
        order = Order(
            order_id,
            ctx.sender,
            base,
            quote,
            side,
            price,
            quantity,
            remaining,
            locked,
            ctx.block.height,
            ctx.block.timestamp_ms,
        )
        move(ctx.state, order.locked_symbol, ctx.sender, EXCHANGE_VAULT, locked)
        _rest(ctx.state, order)
    ctx.emit(
        "exchange.order_placed",
        ("id", order_id),
        ("owner", ctx.sender),
        ("base", base),
        ("quote", quote),
        ("side", side),
        ("price", price),
        ("quantity", quantity),
        ("filled", filled),
        ("resting", remaining),
        ("locked", locked),
    )


def cancel_order(ctx: Context, args: tuple[Any, ...]) -> None:
    """exchange.cancel(id): the owner takes a resting order off the book, refunded."""
    (order_id,) = A.unpack(args, ("id",))
    order_id = A.integer(order_id, "id", 1)
    order = load_order(ctx.state, order_id)
    if order is None:
        raise InvalidTransaction("unknown_order", f"no resting order {order_id}")
    if order.owner != ctx.sender:
        raise InvalidTransaction("not_owner", "only the order's owner may cancel it")
    _close(ctx, order, "cancelled")


def swap(ctx: Context, args: tuple[Any, ...]) -> None:
    """exchange.swap(pay_symbol, receive_symbol, receive_amount, max_pay)."""
    pay_symbol, receive_symbol, receive_amount, max_pay = A.unpack(
        args, ("pay_symbol", "receive_symbol", "receive_amount", "max_pay")
    )
    receive_amount = check_amount(receive_amount, "receive_amount")
    max_pay = check_amount(max_pay, "max_pay")
    swap_for(ctx, ctx.sender, pay_symbol, receive_symbol, receive_amount, max_pay)


def swap_in(ctx: Context, args: tuple[Any, ...]) -> None:
    """exchange.swap_exact_in(pay_symbol, receive_symbol, pay_amount, min_receive)."""
    pay_symbol, receive_symbol, pay_amount, min_receive = A.unpack(
        args, ("pay_symbol", "receive_symbol", "pay_amount", "min_receive")
    )
    pay_amount = check_amount(pay_amount, "pay_amount")
    min_receive = check_amount(min_receive, "min_receive", allow_zero=True)
    swap_exact_in(ctx, ctx.sender, pay_symbol, receive_symbol, pay_amount, min_receive)


HANDLERS: dict[str, Handler] = {
    "exchange.order": place_order,
    "exchange.cancel": cancel_order,
    "exchange.swap": swap,
    "exchange.swap_exact_in": swap_in,
}
