"""Hypothesis state machine over the exchange: random orders, cancels and swaps.

After every step: every coin's total is conserved, no balance is negative, the
exchange vault holds exactly the locks of the resting orders, every lock covers
its order's remainder, and the book at rest is never crossed. A rejected
transaction must leave every key but the sender's nonce untouched.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from contracts import exchange
from contracts.coin import BALANCE_PREFIX
from contracts.exchange import BUY, PRICE_SCALE, SELL, quote_ceil
from contracts.vaults import EXCHANGE_VAULT
from ledger import codec
from tests.chainkit import Chain, key

SHOP = key("shop")
TRADERS = [key(f"trader-{i}") for i in range(4)]
COINS = ("AAA", "BBB", "CCC")
START = 10_000
NONCE_PREFIX = b"acct/nonce/"

prices = st.one_of(
    st.sampled_from([PRICE_SCALE, 2 * PRICE_SCALE, 3 * PRICE_SCALE // 2 + 1, PRICE_SCALE // 3]),
    st.integers(1, 4 * PRICE_SCALE),
)
traders = st.sampled_from(TRADERS)
pairs = st.sampled_from([("AAA", "BBB"), ("AAA", "CCC"), ("BBB", "CCC")])


def genesis() -> list[object]:
    return [
        ["roles", [[SHOP.public_key, "Shop", 0]]],
        [
            "coin",
            [
                [[s, s, 0, SHOP.public_key, 10**12, "platform"] for s in COINS],
                [[t.public_key, s, START] for t in TRADERS for s in COINS],
            ],
        ],
    ]


class ExchangeMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.chain = Chain([key("validator-0")], genesis())
        self.order_ids: list[int] = []

    def submit(self, who, method: str, *args: object):  # type: ignore[no-untyped-def]
        before = self.chain.snapshot()
        receipt = self.chain.run(who, method, *args)
        if receipt.ok:
            for item in receipt.events:
                if item.name == "exchange.order_placed" and item.get("resting"):
                    self.order_ids.append(item.get("id"))
            return receipt
        after = self.chain.snapshot()
        changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
        assert all(k.startswith(NONCE_PREFIX) for k in changed), receipt.code
        return receipt

    @rule(
        who=traders,
        pair=pairs,
        side=st.sampled_from([BUY, SELL]),
        price=prices,
        qty=st.integers(1, 3_000),
    )
    def place(self, who, pair, side, price, qty) -> None:  # type: ignore[no-untyped-def]
        receipt = self.submit(who, "exchange.order", pair[0], pair[1], side, price, qty)
        fills = [item for item in receipt.events if item.name == "exchange.fill"]
        for fill in fills:
            # A taker never trades beyond its limit, and each fill is at the maker's price.
            assert fill.get("price") <= price if side == BUY else fill.get("price") >= price
        fill_prices = [fill.get("price") for fill in fills]
        assert fill_prices == sorted(fill_prices, reverse=side == SELL)  # best price first

    @rule(who=traders, data=st.data())
    def cancel(self, who, data) -> None:  # type: ignore[no-untyped-def]
        if not self.order_ids:
            return
        order_id = data.draw(st.sampled_from(self.order_ids))
        self.submit(who, "exchange.cancel", order_id)

    @rule(
        who=traders,
        pay=st.sampled_from(COINS),
        receive=st.sampled_from(COINS),
        amount=st.integers(1, 2_000),
        max_pay=st.integers(1, 8_000),
    )
    def swap(self, who, pay, receive, amount, max_pay) -> None:  # type: ignore[no-untyped-def]
        self.submit(who, "exchange.swap", pay, receive, amount, max_pay)

    def resting(self) -> list[exchange.Order]:
        return [
            exchange.Order.from_list(codec.decode(value))
            for _, value in self.chain.store.iterate(exchange.BOOK_PREFIX)
        ]

    @invariant()
    def coins_are_conserved_and_never_negative(self) -> None:
        totals = dict.fromkeys(COINS, 0)
        for raw_key, value in self.chain.store.iterate(BALANCE_PREFIX):
            amount = codec.decode(value)
            assert amount > 0  # zero balances are deleted, never stored
            totals[raw_key.rsplit(b"/", 1)[1].decode()] += amount
        assert totals == dict.fromkeys(COINS, START * len(TRADERS))

    @invariant()
    def vault_holds_exactly_the_locks(self) -> None:
        locked = dict.fromkeys(COINS, 0)
        for order in self.resting():
            locked[order.locked_symbol] += order.locked
            if order.side == SELL:
                assert order.locked == order.remaining
            else:
                assert order.locked >= quote_ceil(order.remaining, order.price)
            assert 0 < order.remaining <= order.quantity
        for symbol in COINS:
            assert self.chain.balance(EXCHANGE_VAULT, symbol) == locked[symbol]

    @invariant()
    def book_is_not_crossed(self) -> None:
        for base, quote in [("AAA", "BBB"), ("AAA", "CCC"), ("BBB", "CCC")]:
            bid = exchange.best_order(self.chain.store, base, quote, BUY)
            ask = exchange.best_order(self.chain.store, base, quote, SELL)
            if bid is not None and ask is not None:
                assert bid.price < ask.price


ExchangeMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestExchangeMachine = ExchangeMachine.TestCase
