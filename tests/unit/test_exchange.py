"""The exchange: limit orders, price-time priority, rounding, cancels and swaps."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import exchange
from contracts.exchange import BUY, PRICE_SCALE, SELL
from contracts.vaults import EXCHANGE_VAULT
from ledger.receipt import Receipt
from tests.chainkit import Chain, event, events, key

V0 = key("validator-0")
SHOP = key("shop")
ANN = key("ann")
BOB = key("bob")
CAT = key("cat")
TRADERS = (ANN, BOB, CAT)
START = 1_000_000


def chain() -> Chain:
    balances = [[t.public_key, s, START] for t in TRADERS for s in ("AAA", "BBB", "OPEN")]
    return Chain(
        [V0],
        [
            ["roles", [[SHOP.public_key, "Shop", 0]]],
            [
                "coin",
                [
                    [
                        ["AAA", "Coin A", 0, SHOP.public_key, 10**15, "platform"],
                        ["BBB", "Coin B", 0, SHOP.public_key, 10**15, "platform"],
                        ["OPEN", "Open coin", 0, SHOP.public_key, 10**15, "open"],
                    ],
                    balances,
                ],
            ],
        ],
    )


def p(units: int) -> int:
    """A price of `units` BBB per AAA."""
    return units * PRICE_SCALE


def order(c: Chain, who, side: str, price: int, qty: int) -> Receipt:  # type: ignore[no-untyped-def]
    r = c.run(who, "exchange.order", "AAA", "BBB", side, price, qty)
    assert r.ok, f"{r.code}: {r.message}"
    return r


def vault(c: Chain, symbol: str) -> int:
    return c.balance(EXCHANGE_VAULT, symbol)


def test_a_resting_sell_locks_base_and_a_crossing_buy_fills_at_the_makers_price() -> None:
    c = chain()
    r = order(c, ANN, SELL, p(3), 100)
    placed = event(r, "exchange.order_placed")
    assert (placed.get("id"), placed.get("resting"), placed.get("locked")) == (1, 100, 100)
    assert vault(c, "AAA") == 100 and c.balance(ANN, "AAA") == START - 100
    r = order(c, BOB, BUY, p(5), 40)  # willing to pay 5, gets the resting 3
    fill = event(r, "exchange.fill")
    assert (fill.get("price"), fill.get("base_amount"), fill.get("quote_amount")) == (p(3), 40, 120)
    assert event(r, "exchange.order_placed").get("resting") == 0
    assert c.balance(BOB, "AAA") == START + 40 and c.balance(BOB, "BBB") == START - 120
    assert c.balance(ANN, "BBB") == START + 120
    maker = exchange.load_order(c.store, 1)
    assert maker is not None and (maker.remaining, maker.locked) == (60, 60)
    assert vault(c, "AAA") == 60


def test_a_partially_filled_taker_rests_its_remainder_uncrossed() -> None:
    c = chain()
    order(c, ANN, SELL, p(3), 10)
    r = order(c, BOB, BUY, p(4), 25)
    placed = event(r, "exchange.order_placed")
    assert (placed.get("filled"), placed.get("resting"), placed.get("locked")) == (10, 15, 60)
    assert exchange.best_order(c.store, "AAA", "BBB", SELL) is None
    bid = exchange.best_order(c.store, "AAA", "BBB", BUY)
    assert bid is not None and bid.price == p(4) and bid.remaining == 15
    assert vault(c, "BBB") == 60


def test_price_then_time_priority() -> None:
    c = chain()
    order(c, ANN, SELL, p(5), 10)  # id 1
    order(c, BOB, SELL, p(4), 10)  # id 2: better price
    order(c, CAT, SELL, p(4), 10)  # id 3: same price, later
    r = order(c, ANN, BUY, p(5), 25)
    fills = [(f.get("maker_order"), f.get("base_amount")) for f in events(r, "exchange.fill")]
    assert fills == [(2, 10), (3, 10), (1, 5)]
    bids = [exchange.best_order(c.store, "AAA", "BBB", BUY)]
    assert bids == [None]
    order(c, BOB, BUY, p(2), 1)  # id 5
    order(c, CAT, BUY, p(3), 1)  # id 6: best bid
    order(c, ANN, BUY, p(3), 1)  # id 7
    r = order(c, BOB, SELL, p(1), 3)
    assert [f.get("maker_order") for f in events(r, "exchange.fill")] == [6, 7, 5]


def test_rounding_favours_the_resting_order() -> None:
    c = chain()
    price = PRICE_SCALE * 3 // 2 + 1  # just over 1.5 BBB per AAA
    order(c, ANN, SELL, price, 3)
    r = order(c, BOB, BUY, price, 1)
    assert event(r, "exchange.fill").get("quote_amount") == 2  # 1.5000...1 rounded up
    r = order(c, CAT, BUY, price, 3)  # 2 fill, 1 rests
    placed = event(r, "exchange.order_placed")
    assert event(r, "exchange.fill").get("quote_amount") == 4  # ceil(3.00..02)
    assert placed.get("locked") == 2  # ceil(1.5000...1) locked for the resting unit
    r = order(c, ANN, SELL, 1, 1)  # taker seller gets floor(1.5000...1) = 1
    fill = event(r, "exchange.fill")
    assert fill.get("quote_amount") == 1
    closed = event(r, "exchange.order_closed")
    assert (closed.get("reason"), closed.get("refund")) == ("filled", 1)
    assert vault(c, "BBB") == 0 and vault(c, "AAA") == 0


def test_cancel_refunds_the_lock() -> None:
    c = chain()
    order(c, ANN, BUY, p(2), 50)
    assert c.balance(ANN, "BBB") == START - 100
    c.fails("not_owner", BOB, "exchange.cancel", 1)
    c.fails("unknown_order", ANN, "exchange.cancel", 9)
    r = c.ok(ANN, "exchange.cancel", 1)
    assert event(r, "exchange.order_closed").get("reason") == "cancelled"
    assert c.balance(ANN, "BBB") == START and vault(c, "BBB") == 0
    assert exchange.load_order(c.store, 1) is None
    c.fails("unknown_order", ANN, "exchange.cancel", 1)


def test_order_rejections_change_nothing() -> None:
    c = chain()
    c.fails("bad_market", ANN, "exchange.order", "BBB", "AAA", SELL, p(1), 1)
    c.fails("same_coin", ANN, "exchange.order", "AAA", "AAA", SELL, p(1), 1)
    c.fails("not_exchangeable", ANN, "exchange.order", "AAA", "OPEN", SELL, p(1), 1)
    c.fails("unknown_asset", ANN, "exchange.order", "AAA", "ZZZ", SELL, p(1), 1)
    c.fails("bad_price", ANN, "exchange.order", "AAA", "BBB", SELL, 0, 1)
    c.fails("bad_price", ANN, "exchange.order", "AAA", "BBB", SELL, exchange.MAX_PRICE + 1, 1)
    c.fails("bad_args", ANN, "exchange.order", "AAA", "BBB", "hold", p(1), 1)
    c.fails("bad_amount", ANN, "exchange.order", "AAA", "BBB", SELL, p(1), 0)
    c.fails("insufficient_funds", ANN, "exchange.order", "AAA", "BBB", SELL, p(1), START + 1)
    c.fails("insufficient_funds", ANN, "exchange.order", "AAA", "BBB", BUY, p(2), START)
    order(c, BOB, SELL, p(1), 10)
    # A taker that cannot pay for its fills is rejected whole; the maker is untouched.
    poor = key("poor")
    c.fails("insufficient_funds", poor, "exchange.order", "AAA", "BBB", BUY, p(1), 5)
    maker = exchange.load_order(c.store, 1)
    assert maker is not None and maker.remaining == 10


def test_too_many_fills_is_rejected() -> None:
    c = chain()
    txs = [c.tx(ANN, "exchange.order", "AAA", "BBB", SELL, p(1), 1) for _ in range(101)]
    assert all(r.ok for r in c.block(*txs))
    c.fails("too_many_fills", BOB, "exchange.order", "AAA", "BBB", BUY, p(1), 101)
    r = order(c, BOB, BUY, p(1), 100)
    assert len(events(r, "exchange.fill")) == 100


def test_swap_buys_an_exact_amount_of_base() -> None:
    c = chain()
    order(c, ANN, SELL, p(2), 10)
    order(c, BOB, SELL, p(3), 10)
    r = c.ok(CAT, "exchange.swap", "BBB", "AAA", 15, 40)
    swapped = event(r, "exchange.swapped")
    assert (swapped.get("paid"), swapped.get("received")) == (20 + 15, 15)
    assert c.balance(CAT, "AAA") == START + 15 and c.balance(CAT, "BBB") == START - 35


def test_swap_for_quote_sells_just_enough_base() -> None:
    c = chain()
    order(c, ANN, BUY, p(4), 10)
    order(c, BOB, BUY, p(2), 10)
    r = c.ok(CAT, "exchange.swap", "AAA", "BBB", 50, 20)
    swapped = event(r, "exchange.swapped")
    # 10 AAA at 4 = 40, then 5 AAA at 2 = 10.
    assert (swapped.get("paid"), swapped.get("received")) == (15, 50)


def test_swap_fills_or_fails_whole() -> None:
    c = chain()
    order(c, ANN, SELL, p(2), 10)
    order(c, BOB, SELL, p(3), 10)
    c.fails("insufficient_liquidity", CAT, "exchange.swap", "BBB", "AAA", 21, 10**6)
    c.fails("slippage_exceeded", CAT, "exchange.swap", "BBB", "AAA", 15, 34)
    c.fails("not_exchangeable", CAT, "exchange.swap", "OPEN", "AAA", 1, 10)
    c.fails("same_coin", CAT, "exchange.swap", "AAA", "AAA", 1, 10)
    c.fails("bad_amount", CAT, "exchange.swap", "BBB", "AAA", 0, 10)
    assert c.balance(CAT, "AAA") == START


def test_queries_depth_and_orders_of_an_owner() -> None:
    c = chain()
    order(c, ANN, SELL, p(3), 5)
    order(c, BOB, SELL, p(3), 7)
    order(c, ANN, SELL, p(4), 1)
    order(c, ANN, BUY, p(1), 2)
    assert exchange.depth(c.store, "AAA", "BBB", SELL) == [[p(3), 12, 2], [p(4), 1, 1]]
    assert exchange.depth(c.store, "AAA", "BBB", SELL, levels=1) == [[p(3), 12, 2]]
    assert exchange.depth(c.store, "AAA", "BBB", BUY) == [[p(1), 2, 1]]
    assert [o.id for o in exchange.orders_of(c.store, ANN.public_key)] == [1, 3, 4]
    assert [o.id for o in exchange.orders_of(c.store, ANN.public_key, after_id=1, limit=1)] == [3]


@settings(max_examples=100, deadline=None)
@given(
    remaining=st.integers(min_value=0, max_value=10**12),
    locked=st.integers(min_value=0, max_value=10**12),
    amount=st.integers(min_value=0, max_value=10**12),
    unlocked=st.integers(min_value=0, max_value=10**12),
    side=st.sampled_from([BUY, SELL]),
)
def test_a_filled_order_is_the_order_with_remaining_and_locked_reduced(
    remaining: int, locked: int, amount: int, unlocked: int, side: str
) -> None:
    order = exchange.Order(7, b"o" * 32, "AAA", "BBB", side, 3, 10**12, remaining, locked, 4, 5)
    expected = replace(order, remaining=remaining - amount, locked=locked - unlocked)
    filled = order.filled(amount, unlocked)
    assert filled == expected and filled.to_list() == expected.to_list()
