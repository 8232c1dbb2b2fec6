"""Exact-in swaps (pay exactly X, receive at least Y) and quotes, which run the same
matching on a throw-away view and must agree with the swap a transaction then makes."""

from __future__ import annotations

import pytest

from contracts import exchange
from contracts.exchange import BUY, PRICE_SCALE, SELL
from ledger.errors import InvalidTransaction
from ledger.execution import BlockInfo
from tests.chainkit import Chain, event
from tests.unit.test_exchange import ANN, BOB, CAT, SHOP, START, chain, order, p, vault


def block(c: Chain) -> BlockInfo:
    return BlockInfo("quote", 1, c.time_ms, bytes(32))


def test_paying_exactly_the_base_sells_it_into_the_bids() -> None:
    c = chain()
    order(c, ANN, BUY, p(4), 10)
    order(c, BOB, BUY, p(2), 10)
    quoted = exchange.quote(c.store, block(c), "AAA", "BBB", pay_amount=15)
    r = c.ok(CAT, "exchange.swap_exact_in", "AAA", "BBB", 15, 50)
    swapped = event(r, "exchange.swapped")
    assert (swapped.get("paid"), swapped.get("received"), swapped.get("mode")) == (
        15,
        50,
        "exact_in",
    )
    assert (quoted.paid, quoted.received, quoted.fills) == (15, 50, 2)
    assert c.balance(CAT, "AAA") == START - 15 and c.balance(CAT, "BBB") == START + 50


def test_paying_exactly_the_quote_buys_base_and_keeps_less_than_a_unit() -> None:
    c = chain()
    order(c, ANN, SELL, p(2), 10)
    order(c, BOB, SELL, p(3), 10)
    # 41 BBB: 10 AAA at 2 (20), then 7 AAA at 3 (21): all 41 spent.
    r = c.ok(CAT, "exchange.swap_exact_in", "BBB", "AAA", 41, 17)
    assert (event(r, "exchange.swapped").get("paid"), c.balance(CAT, "AAA")) == (41, START + 17)
    # 5 BBB at 3 per unit buys 1 AAA; the last 2 BBB cannot buy another unit and stay.
    quoted = exchange.quote(c.store, block(c), "BBB", "AAA", pay_amount=5)
    r = c.ok(CAT, "exchange.swap_exact_in", "BBB", "AAA", 5, 1)
    swapped = event(r, "exchange.swapped")
    assert (swapped.get("paid"), swapped.get("received")) == (quoted.paid, quoted.received)
    assert (quoted.paid, quoted.received) == (3, 1)


def test_fractional_prices_never_overspend_the_budget() -> None:
    c = chain()
    order(c, ANN, SELL, PRICE_SCALE * 3 // 2 + 1, 1_000)  # just above 1.5 BBB per AAA
    r = c.ok(CAT, "exchange.swap_exact_in", "BBB", "AAA", 100, 1)
    swapped = event(r, "exchange.swapped")
    assert swapped.get("paid") <= 100 and swapped.get("received") == 66
    assert c.balance(CAT, "BBB") == START - swapped.get("paid")
    assert vault(c, "AAA") == 1_000 - 66


def test_exact_in_fails_whole() -> None:
    c = chain()
    order(c, ANN, SELL, p(2), 10)
    order(c, BOB, BUY, p(1), 5)
    before = (c.balance(CAT, "AAA"), c.balance(CAT, "BBB"))
    c.fails("insufficient_liquidity", CAT, "exchange.swap_exact_in", "BBB", "AAA", 21, 1)
    c.fails("insufficient_liquidity", CAT, "exchange.swap_exact_in", "AAA", "BBB", 6, 1)
    c.fails("slippage_exceeded", CAT, "exchange.swap_exact_in", "BBB", "AAA", 20, 11)
    c.fails("not_exchangeable", CAT, "exchange.swap_exact_in", "OPEN", "AAA", 1, 0)
    c.fails("bad_amount", CAT, "exchange.swap_exact_in", "BBB", "AAA", 0, 0)
    c.fails("bad_amount", CAT, "exchange.swap_exact_in", "BBB", "AAA", 1, -1)
    c.fails("insufficient_funds", SHOP, "exchange.swap_exact_in", "BBB", "AAA", 20, 10)
    assert (c.balance(CAT, "AAA"), c.balance(CAT, "BBB")) == before


def test_quotes_match_exact_out_swaps_and_report_refusals() -> None:
    c = chain()
    order(c, ANN, SELL, p(2), 10)
    order(c, BOB, SELL, p(3), 10)
    quoted = exchange.quote(c.store, block(c), "BBB", "AAA", receive_amount=15)
    assert (quoted.paid, quoted.received) == (35, 15)
    assert c.balance(exchange.QUOTE_TRADER, "BBB") == 0  # nothing written anywhere
    with pytest.raises(InvalidTransaction) as refused:
        exchange.quote(c.store, block(c), "BBB", "AAA", receive_amount=21)
    assert refused.value.code == "insufficient_liquidity"
    with pytest.raises(InvalidTransaction) as refused:
        exchange.quote(c.store, block(c), "OPEN", "AAA", pay_amount=1)
    assert refused.value.code == "not_exchangeable"
    r = c.ok(CAT, "exchange.swap", "BBB", "AAA", 15, 35)
    assert event(r, "exchange.swapped").get("mode") == "exact_out"
