"""Random interleavings of commerce operations by many accounts, with money invariants.

Hypothesis drives a real chain (signed transactions, blocks, end-of-block
deadline processing) through listings, orders, shipping, confirmations, refunds,
disputes, evidence, rulings, cancels, plain transfers, platform payments,
invoices (paid directly or through a swap, refunded with the platform's published
share of the commission), exchange orders, cancels and swaps, and
jumps in block time. Actors are
drawn at random, so wrong senders, late actions and bad amounts are exercised
as well as the happy paths. After every step:

- the total of every coin is what genesis created (no mint or burn here);
- no balance is negative;
- the escrow vault holds exactly the sum of `held` over open orders, per coin;
- every order's money adds up, an ended order holds nothing and never changes
  again, and a refunded order released nothing;
- every open order has exactly its current deadline in the index, and the index
  holds nothing else;
- no order produced more than one completed sale;
- the exchange vault holds exactly the locks of the resting orders, and the book
  at rest is never crossed;
- an invoice is paid at most once, never refunded beyond its amount, and a paid
  invoice produced exactly one completed sale.

Other contracts add their operations as further rules of `CommerceMachine`.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    rule,
)

from contracts import coin, deadlines, exchange, reputation
from contracts import escrow as E
from contracts import invoice as I
from contracts import listing as L
from contracts import redemption as R
from contracts.exchange import PRICE_SCALE
from contracts.vaults import ESCROW_VAULT, EXCHANGE_VAULT, REDEMPTION_VAULT
from ledger import codec
from ledger.execution import BlockResult
from ledger.keys import PrivateKey
from ledger.receipt import Receipt
from tests.commercekit import DAY, HOUR, MINUTE, CommerceChain, key

SYMBOLS = ("IDR", "USD")
PLATFORM_COINS = ("PTA", "PTB")  # the platform's coins: the only pair the exchange trades
ALL_SYMBOLS = SYMBOLS + PLATFORM_COINS
USERS = tuple(key(20 + i) for i in range(6))
PLATFORM = key(10)  # a platform with commission that also arbitrates
COURT = key(11)  # an arbiter-only platform
ISSUER = key(12)
EVERYONE = (*USERS, PLATFORM, COURT)
START_BALANCE = 1_000_000

BY_PUBLIC_KEY = {k.public_key: k for k in EVERYONE}

actors = st.sampled_from(EVERYONE)
users = st.sampled_from(USERS)
# Who sends an escrow action: mostly the party entitled to it, sometimes someone else.
roles = st.sampled_from(["right", "right", "right", "buyer", "seller", "arbiter", "stranger"])


class CommerceMachine(RuleBasedStateMachine):
    listings = Bundle("listings")
    orders = Bundle("orders")
    invoices = Bundle("invoices")
    redemptions = Bundle("redemptions")

    def __init__(self) -> None:
        super().__init__()
        balances = [(u, s, START_BALANCE) for u in USERS for s in SYMBOLS]
        self.chain = CommerceChain(
            assets=[(s, ISSUER, 10**15) for s in SYMBOLS],
            balances=balances,
            platforms=[(PLATFORM, "shop", 300), (COURT, "court", 0)],
        )
        self.supply = {s: START_BALANCE * len(USERS) for s in SYMBOLS}
        self.chain.ok(PLATFORM, "arbiter.publish", 400, DAY, [["IDR", 50, 2_000]])
        self.chain.ok(COURT, "arbiter.publish", 1_000, 2 * DAY)
        for symbol in PLATFORM_COINS:
            self.chain.ok(PLATFORM, "platform.create_coin", symbol, symbol, 0, 10**12)
            for user in USERS:
                self.chain.ok(PLATFORM, "coin.mint", symbol, user.public_key, START_BALANCE)
            self.supply[symbol] = START_BALANCE * len(USERS)
        self.chain.ok(PLATFORM, "redeem.set_terms", DAY)
        self.ended: dict[bytes, list[Any]] = {}
        self.settle_times: list[int] = []
        self.sales: Counter[bytes] = Counter()
        self.invoice_sales: Counter[bytes] = Counter()
        self.exchange_orders: list[int] = []
        # The model's own count of each listing's stock: set by create and update, less
        # every order placed, plus every order that ended unshipped with nothing paid out.
        self.stock: dict[bytes, int] = {}
        self.returned: set[bytes] = set()

    # --- plumbing ---------------------------------------------------------------------------

    def submit(self, sender: PrivateKey, method: str, *args: Any) -> Receipt:
        result = self.chain.block([(sender, method, args)])
        self.record(result)
        receipt = result.receipts[0]
        if receipt.ok and method == "listing.create":
            created = next(e.get("listing") for e in receipt.events if e.name == "listing.created")
            self.stock[created] = args[4]
        if receipt.ok and method == "listing.update":
            for field, value in args[1]:
                if field == "stock":
                    self.stock[args[0]] = value
        if receipt.ok and method == "order.place":
            self.stock[args[0]] -= args[1]
        if receipt.ok and method == "order.place_cart":
            for listing, quantity, _ in args[0]:
                self.stock[listing] -= quantity
        return receipt

    def record(self, result: BlockResult) -> None:
        self.count_returned_units()
        self.record_events(result)

    def count_returned_units(self) -> None:
        for key_bytes, raw in self.chain.store.iterate(E.ITEM_PREFIX):
            order = E.Order.from_list(key_bytes[len(E.ITEM_PREFIX) :], codec.decode(raw))
            unshipped = order.shipped_ms == 0 and order.released == 0
            if not order.is_open and unshipped and order.id not in self.returned:
                self.returned.add(order.id)
                for line in E.order_lines(self.chain.store, order):
                    self.stock[line.listing_id] += line.quantity

    def record_events(self, result: BlockResult) -> None:
        events = [e for r in result.receipts for e in r.events] + list(result.block_events)
        for e in events:
            if e.name == "sale.completed" and e.get("kind") == "order":
                self.sales[e.get("reference")] += 1
            if e.name == "sale.completed" and e.get("kind") == "invoice":
                self.invoice_sales[e.get("reference")] += 1
            if e.name == "exchange.order_placed" and e.get("resting"):
                self.exchange_orders.append(e.get("id"))
            if e.name == "redeem.settled":  # the one way coins leave supply here
                self.supply[e.get("symbol")] -= e.get("amount")
                self.settle_times.append(e.get("settle_ms"))

    def order(self, order_id: bytes) -> E.Order | None:
        return E.load_order(self.chain.store, order_id)

    def actor(self, order_id: bytes, role: str, right: str) -> PrivateKey:
        """The sender for an action on an order, by role ("right" = the entitled party)."""
        found = self.order(order_id)
        if found is None:
            return USERS[0]
        role = right if role == "right" else role
        if role == "buyer":
            return BY_PUBLIC_KEY[found.buyer]
        if role == "seller":
            return BY_PUBLIC_KEY[found.seller]
        if role == "arbiter":
            return BY_PUBLIC_KEY[found.arbiter]
        parties = (found.buyer, found.seller, found.arbiter)
        return next(k for k in EVERYONE if k.public_key not in parties)

    # --- rules ------------------------------------------------------------------------------

    @initialize(
        target=listings,
        seller=users,
        symbol=st.sampled_from(SYMBOLS),
        protection=st.sampled_from([DAY, 7 * DAY]),
    )
    def open_shop(self, seller: PrivateKey, symbol: str, protection: int) -> Any:
        """Start every run with two well-stocked listings of one seller (one without a
        platform), so orders and carts happen early and often."""
        created = []
        for sku, platform in (("SKU-0", PLATFORM.public_key), ("SKU-1", None)):
            receipt = self.submit(
                seller,
                "listing.create",
                "stocked item",
                sku,
                7_000 if platform else 3_001,
                symbol,
                40,
                platform,
                [PLATFORM.public_key, COURT.public_key],
                2 * DAY,
                protection,
            )
            created.append(
                next(e.get("listing") for e in receipt.events if e.name == "listing.created")
            )
        return multiple(*created)

    @rule(
        target=listings,
        seller=users,
        price=st.integers(1, 50_000),
        stock=st.integers(0, 6),
        symbol=st.sampled_from(SYMBOLS),
        with_platform=st.booleans(),
        arbiters=st.sampled_from([[PLATFORM], [COURT], [PLATFORM, COURT]]),
        shipping=st.sampled_from([MINUTE, HOUR, 2 * DAY]),
        protection=st.sampled_from([MINUTE, DAY, 7 * DAY]),
    )
    def create_listing(
        self,
        seller: PrivateKey,
        price: int,
        stock: int,
        symbol: str,
        with_platform: bool,
        arbiters: list[PrivateKey],
        shipping: int,
        protection: int,
    ) -> Any:
        platform = PLATFORM.public_key if with_platform else None
        receipt = self.submit(
            seller,
            "listing.create",
            "item",
            "SKU",
            price,
            symbol,
            stock,
            platform,
            [a.public_key for a in arbiters],
            shipping,
            protection,
        )
        if not receipt.ok:
            return multiple()
        return next(e.get("listing") for e in receipt.events if e.name == "listing.created")

    def listing_actor(self, listing: bytes, by_seller: bool) -> PrivateKey:
        found = L.load_listing(self.chain.store, listing)
        if by_seller and found is not None:
            return BY_PUBLIC_KEY[found.seller]
        return USERS[-1] if found is None or found.seller != USERS[-1].public_key else USERS[0]

    @rule(
        listing=listings,
        by_seller=st.sampled_from([True, True, True, False]),
        price=st.integers(1, 50_000),
        stock=st.integers(0, 6),
    )
    def update_listing(self, listing: bytes, by_seller: bool, price: int, stock: int) -> None:
        sender = self.listing_actor(listing, by_seller)
        self.submit(sender, "listing.update", listing, [["price", price], ["stock", stock]])

    @rule(listing=consumes(listings), by_seller=st.sampled_from([True, False]))
    def withdraw_listing(self, listing: bytes, by_seller: bool) -> None:
        self.submit(self.listing_actor(listing, by_seller), "listing.withdraw", listing)

    @rule(
        target=orders,
        listing=listings,
        buyer=st.one_of(users, users, users, actors),
        quantity=st.integers(1, 3),
        arbiter=st.sampled_from([PLATFORM, PLATFORM, COURT, COURT, USERS[1]]),
        max_price=st.sampled_from([10**9, 10**9, 10**9, 25_000]),
    )
    def place_order(
        self,
        listing: bytes,
        buyer: PrivateKey,
        quantity: int,
        arbiter: PrivateKey,
        max_price: int,
    ) -> Any:
        receipt = self.submit(
            buyer, "order.place", listing, quantity, max_price, arbiter.public_key, b"sealed"
        )
        if not receipt.ok:
            return multiple()
        return next(e.get("order") for e in receipt.events if e.name == "order.placed")

    @rule(
        target=orders,
        data=st.data(),
        buyer=users,
        arbiter=st.sampled_from([PLATFORM, COURT]),
        quantities=st.lists(st.integers(1, 3), min_size=1, max_size=3),
    )
    def place_cart(
        self, data: st.DataObject, buyer: PrivateKey, arbiter: PrivateKey, quantities: list[int]
    ) -> Any:
        """A cart over the listings of one seller (chosen from those that exist)."""
        by_seller: dict[bytes, list[bytes]] = {}
        for key_bytes, _ in self.chain.store.iterate(L.ITEM_PREFIX):
            found = L.load_listing(self.chain.store, key_bytes[len(L.ITEM_PREFIX) :])
            if found is not None:
                by_seller.setdefault(found.seller, []).append(found.id)
        if not by_seller:
            return multiple()
        seller = data.draw(st.sampled_from(sorted(by_seller)))
        chosen = data.draw(st.permutations(by_seller[seller]))[: len(quantities)]
        rows = [[listing, q, 10**9] for listing, q in zip(chosen, quantities, strict=False)]
        receipt = self.submit(buyer, "order.place_cart", rows, arbiter.public_key)
        if not receipt.ok:
            return multiple()
        return next(e.get("order") for e in receipt.events if e.name == "order.placed")

    @rule(order=orders, role=roles)
    def ship(self, order: bytes, role: str) -> None:
        self.submit(self.actor(order, role, "seller"), "escrow.ship", order, b"\x01" * 32)

    @rule(order=orders, role=roles)
    def confirm(self, order: bytes, role: str) -> None:
        self.submit(self.actor(order, role, "buyer"), "escrow.confirm", order)

    @rule(order=orders, role=roles, fraction=st.sampled_from([1, 10, 50, 100, 101]))
    def refund(self, order: bytes, role: str, fraction: int) -> None:
        found = self.order(order)
        held = found.held if found is not None else 1
        amount = max(1, held * fraction // 100)
        self.submit(self.actor(order, role, "seller"), "escrow.refund", order, amount)

    @rule(order=orders, role=roles, by_seller=st.booleans())
    def cancel(self, order: bytes, role: str, by_seller: bool) -> None:
        sender = self.actor(order, role, "seller" if by_seller else "buyer")
        self.submit(sender, "escrow.cancel", order)

    @rule(order=orders, role=roles, stars=st.integers(0, 6))
    def rate(self, order: bytes, role: str, stars: int) -> None:
        self.submit(self.actor(order, role, "buyer"), "order.rate", order, stars, b"\x09" * 32)

    @rule(order=orders, role=roles, by_seller=st.booleans())
    def dispute(self, order: bytes, role: str, by_seller: bool) -> None:
        sender = self.actor(order, role, "seller" if by_seller else "buyer")
        self.submit(sender, "escrow.dispute", order)

    @rule(
        order=orders,
        role=roles,
        item=st.one_of(st.binary(min_size=32, max_size=32), st.just("uri://x")),
    )
    def evidence(self, order: bytes, role: str, item: bytes | str) -> None:
        self.submit(self.actor(order, role, "buyer"), "escrow.evidence", order, item)

    @rule(
        order=orders,
        role=roles,
        buyer_percent=st.sampled_from([0, 30, 50, 100]),
        off_by=st.sampled_from([0, 0, 0, 1]),
    )
    def rule_dispute(self, order: bytes, role: str, buyer_percent: int, off_by: int) -> None:
        found = self.order(order)
        if found is None:
            return
        to_split = found.held - found.terms.fee(found.held)
        buyer_amount = to_split * buyer_percent // 100
        seller_amount = to_split - buyer_amount + off_by
        sender = self.actor(order, role, "arbiter")
        self.submit(sender, "escrow.rule", order, buyer_amount, seller_amount)

    @rule(
        sender=users,
        target_account=actors,
        symbol=st.sampled_from(SYMBOLS),
        amount=st.integers(1, 200_000),
    )
    def transfer(
        self, sender: PrivateKey, target_account: PrivateKey, symbol: str, amount: int
    ) -> None:
        self.submit(sender, "coin.transfer", symbol, target_account.public_key, amount)

    @rule(
        buyer=users,
        seller=actors,
        platform=st.sampled_from([PLATFORM, PLATFORM, COURT, USERS[0]]),
        symbol=st.sampled_from(ALL_SYMBOLS),
        amount=st.integers(1, 100_000),
    )
    def pay(
        self, buyer: PrivateKey, seller: PrivateKey, platform: PrivateKey, symbol: str, amount: int
    ) -> None:
        self.submit(
            buyer, "payment.pay", platform.public_key, seller.public_key, symbol, amount, "ref"
        )

    @rule(
        target=invoices,
        merchant=users,
        symbol=st.sampled_from(ALL_SYMBOLS),
        amount=st.integers(1, 60_000),
        ttl=st.sampled_from([MINUTE, HOUR, 2 * DAY]),
        with_platform=st.booleans(),
    )
    def create_invoice(
        self, merchant: PrivateKey, symbol: str, amount: int, ttl: int, with_platform: bool
    ) -> Any:
        extra = [PLATFORM.public_key] if with_platform else []
        expiry = self.chain.time_ms + ttl
        receipt = self.submit(
            merchant, "invoice.create", symbol, amount, expiry, "order", b"", *extra
        )
        if not receipt.ok:
            return multiple()
        return next(e.get("id") for e in receipt.events if e.name == "invoice.created")

    @rule(
        invoice=invoices,
        payer=users,
        pay_symbol=st.sampled_from(ALL_SYMBOLS),
        max_pay=st.sampled_from([10**9, 10**9, 70_000, 1_000]),
    )
    def pay_invoice(self, invoice: bytes, payer: PrivateKey, pay_symbol: str, max_pay: int) -> None:
        self.submit(payer, "invoice.pay", invoice, pay_symbol, max_pay)

    @rule(
        invoice=invoices,
        by_merchant=st.sampled_from([True, True, True, False]),
        fraction=st.sampled_from([10, 50, 100, 101]),
    )
    def refund_invoice(self, invoice: bytes, by_merchant: bool, fraction: int) -> None:
        found = I.load_invoice(self.chain.store, invoice)
        if found is None:
            return
        merchant = BY_PUBLIC_KEY[found.merchant]
        sender = merchant if by_merchant else next(u for u in USERS if u != merchant)
        amount = max(1, found.amount * fraction // 100)
        self.submit(sender, "invoice.refund", invoice, amount)

    @rule(share=st.sampled_from([0, 2_500, 10_000]))
    def set_refund_share(self, share: int) -> None:
        self.submit(PLATFORM, "platform.set_refund_share", share)

    @rule(invoice=invoices)
    def cancel_invoice(self, invoice: bytes) -> None:
        found = I.load_invoice(self.chain.store, invoice)
        if found is not None:
            self.submit(BY_PUBLIC_KEY[found.merchant], "invoice.cancel", invoice)

    @rule(
        trader=users,
        side=st.sampled_from([exchange.BUY, exchange.SELL]),
        price=st.one_of(
            st.sampled_from([PRICE_SCALE, 2 * PRICE_SCALE, PRICE_SCALE * 3 // 2 + 1]),
            st.integers(1, 3 * PRICE_SCALE),
        ),
        quantity=st.integers(1, 50_000),
    )
    def exchange_order(self, trader: PrivateKey, side: str, price: int, quantity: int) -> None:
        self.submit(trader, "exchange.order", "PTA", "PTB", side, price, quantity)

    @rule(trader=users, data=st.data())
    def cancel_exchange_order(self, trader: PrivateKey, data: st.DataObject) -> None:
        if self.exchange_orders:
            order_id = data.draw(st.sampled_from(self.exchange_orders))
            found = exchange.load_order(self.chain.store, order_id)
            owner = trader if found is None else BY_PUBLIC_KEY[found.owner]
            self.submit(owner, "exchange.cancel", order_id)

    @rule(
        trader=users,
        direction=st.sampled_from([("PTA", "PTB"), ("PTB", "PTA")]),
        amount=st.integers(1, 30_000),
        max_pay=st.integers(1, 100_000),
    )
    def swap(
        self, trader: PrivateKey, direction: tuple[str, str], amount: int, max_pay: int
    ) -> None:
        self.submit(trader, "exchange.swap", direction[0], direction[1], amount, max_pay)

    @rule(
        trader=users,
        direction=st.sampled_from([("PTA", "PTB"), ("PTB", "PTA")]),
        pay_amount=st.integers(1, 60_000),
        min_receive=st.integers(0, 60_000),
    )
    def swap_exact_in(
        self, trader: PrivateKey, direction: tuple[str, str], pay_amount: int, min_receive: int
    ) -> None:
        before = coin.balance(self.chain.store, trader.public_key, direction[0])
        # A trader's own resting orders may fill against its swap (moving coins between its
        # own balances), so the exact spend is only checked for traders with none resting.
        was_maker = trader.public_key in self.makers()
        receipt = self.submit(
            trader, "exchange.swap_exact_in", direction[0], direction[1], pay_amount, min_receive
        )
        if receipt.ok:
            swapped = next(e for e in receipt.events if e.name == "exchange.swapped")
            assert swapped.get("paid") <= pay_amount and swapped.get("received") >= min_receive
            spent = before - coin.balance(self.chain.store, trader.public_key, direction[0])
            if direction[0] == "PTA":  # paying the base: exactly what was offered
                assert swapped.get("paid") == pay_amount
            assert spent == swapped.get("paid") or was_maker

    def makers(self) -> set[bytes]:
        return {
            exchange.Order.from_list(codec.decode(raw)).owner
            for _, raw in self.chain.store.iterate(exchange.BOOK_PREFIX)
        }

    @rule(
        target=redemptions,
        requester=st.one_of(users, st.just(PLATFORM)),
        symbol=st.sampled_from(ALL_SYMBOLS),
        amount=st.integers(1, 400_000),
    )
    def request_redemption(self, requester: PrivateKey, symbol: str, amount: int) -> Any:
        receipt = self.submit(requester, "redeem.request", symbol, amount, b"\x05" * 32)
        if not receipt.ok:
            return multiple()
        return next(e.get("id") for e in receipt.events if e.name == "redeem.requested")

    @rule(
        redemption=redemptions,
        by_issuer=st.sampled_from([True, True, False]),
        settle=st.booleans(),
    )
    def answer_redemption(self, redemption: bytes, by_issuer: bool, settle: bool) -> None:
        sender = PLATFORM if by_issuer else COURT
        if settle:
            self.submit(sender, "redeem.settle", redemption, b"\x06" * 32)
        else:
            self.submit(sender, "redeem.reject", redemption, "no")

    @rule(step=st.sampled_from([MINUTE, HOUR, DAY, 3 * DAY, 8 * DAY]))
    def advance_time(self, step: int) -> None:
        self.record(self.chain.advance(self.chain.time_ms + step))

    # --- invariants -------------------------------------------------------------------------

    @invariant()
    def coins_are_conserved_and_never_negative(self) -> None:
        totals: Counter[str] = Counter()
        for key_bytes, raw in self.chain.store.iterate(coin.BALANCE_PREFIX):
            value = codec.decode(raw)
            assert isinstance(value, int) and value > 0, key_bytes
            symbol = key_bytes.rsplit(b"/", 1)[1].decode()
            totals[symbol] += value
        for symbol in ALL_SYMBOLS:
            assert totals[symbol] == self.supply[symbol]
            asset = coin.load_asset(self.chain.store, symbol)
            assert asset is not None and asset.supply == self.supply[symbol]

    @invariant()
    def vault_holds_exactly_the_open_escrows(self) -> None:
        held: Counter[str] = Counter()
        for order in E.open_orders(self.chain.store):
            held[order.symbol] += order.held
        for symbol in SYMBOLS:
            assert coin.balance(self.chain.store, ESCROW_VAULT, symbol) == held[symbol]

    @invariant()
    def orders_add_up_and_end_once(self) -> None:
        for key_bytes, raw in self.chain.store.iterate(E.ITEM_PREFIX):
            order = E.Order.from_list(key_bytes[len(E.ITEM_PREFIX) :], codec.decode(raw))
            assert order.amount == order.held + order.refunded + order.released + order.arbiter_fee
            assert min(order.held, order.refunded, order.released, order.arbiter_fee) >= 0
            assert order.commission <= order.released
            if order.state == E.REFUNDED:
                assert order.released == 0
            if order.is_open:
                assert order.held > 0
                continue
            assert order.held == 0
            snapshot = order.to_list()
            previous = self.ended.setdefault(order.id, snapshot)
            assert previous == snapshot, "an ended order changed"
        for order_id, count in self.sales.items():
            found = self.order(order_id)
            assert found is not None and found.released > 0
            # One release per order, one completed sale per line it paid (a cart: several).
            assert 1 <= count <= len(E.order_lines(self.chain.store, found))

    @invariant()
    def stock_is_never_negative_nor_lost(self) -> None:
        sold: Counter[bytes] = Counter()
        for key_bytes, raw in self.chain.store.iterate(E.ITEM_PREFIX):
            order = E.Order.from_list(key_bytes[len(E.ITEM_PREFIX) :], codec.decode(raw))
            if order.id not in self.returned:
                for line in E.order_lines(self.chain.store, order):
                    sold[line.listing_id] += line.quantity
        for key_bytes, raw in self.chain.store.iterate(L.ITEM_PREFIX):
            found = L.Listing.from_list(key_bytes[len(L.ITEM_PREFIX) :], codec.decode(raw))
            assert found.stock >= 0 and found.stock == self.stock[found.id]
            assert found.sold == sold[found.id]

    @invariant()
    def deadline_index_matches_open_orders(self) -> None:
        expected = set()
        for order in E.open_orders(self.chain.store):
            current = order.current_deadline()
            assert current is not None
            expected.add(deadlines.deadline_key(current[0], current[1], order.id))
        actual = {
            k
            for k, _ in self.chain.store.iterate(deadlines.PREFIX)
            if deadlines.parse_key(k).kind.startswith("escrow.")
        }
        assert actual == expected

    @invariant()
    def seller_records_are_derived_from_the_orders(self) -> None:
        expected: dict[bytes, list[int]] = {}
        for key_bytes, raw in self.chain.store.iterate(E.ITEM_PREFIX):
            order = E.Order.from_list(key_bytes[len(E.ITEM_PREFIX) :], codec.decode(raw))
            tally = expected.setdefault(order.seller, [0] * 7)
            rated = reputation.rating(self.chain.store, order.id)
            if order.is_open:
                assert rated is None
                continue
            if order.state in (E.COMPLETED, E.REFUNDED, E.CANCELLED):
                tally[(E.COMPLETED, E.REFUNDED, E.CANCELLED).index(order.state)] += 1
            if order.disputed_ms:
                tally[3 if order.released > order.refunded else 4] += 1
            if rated is not None:
                assert 1 <= rated[0] <= 5
                tally[5] += 1
                tally[6] += rated[0]
        for seller, tally in expected.items():
            assert reputation.seller_record(self.chain.store, seller).to_list() == tally

    @invariant()
    def redemptions_add_up(self) -> None:
        pending: Counter[str] = Counter()
        count = 0
        due = set()
        for key_bytes, raw in self.chain.store.iterate(R.ITEM_PREFIX):
            item = R.Redemption.from_list(key_bytes[len(R.ITEM_PREFIX) :], codec.decode(raw))
            if item.state == R.PENDING:
                pending[item.symbol] += item.amount
                count += 1
                due.add(deadlines.deadline_key(item.due_ms, R.RETURN_DEADLINE, item.id))
        scheduled = {
            k
            for k, _ in self.chain.store.iterate(deadlines.PREFIX)
            if deadlines.parse_key(k).kind == R.RETURN_DEADLINE
        }
        assert scheduled == due
        for symbol in ALL_SYMBOLS:
            assert coin.balance(self.chain.store, REDEMPTION_VAULT, symbol) == pending[symbol]
            assert R.coin_totals(self.chain.store, symbol)[1] == pending[symbol]
        stats = R.platform_stats(self.chain.store, PLATFORM.public_key)
        assert (stats.outstanding_count, stats.outstanding_amount) == (
            count,
            sum(pending.values()),
        )
        assert stats.settled_count == len(self.settle_times)
        ordered = sorted(self.settle_times)
        expected = None
        if ordered:
            middle = len(ordered) // 2
            expected = (
                ordered[middle]
                if len(ordered) % 2
                else (ordered[middle - 1] + ordered[middle]) // 2
            )
        assert R.median_settle_ms(self.chain.store, PLATFORM.public_key) == expected

    @invariant()
    def exchange_vault_holds_exactly_the_resting_locks(self) -> None:
        locked: Counter[str] = Counter()
        for _, raw in self.chain.store.iterate(exchange.BOOK_PREFIX):
            order = exchange.Order.from_list(codec.decode(raw))
            assert order.remaining > 0 and order.locked > 0
            locked[order.locked_symbol] += order.locked
        for symbol in ALL_SYMBOLS:
            assert coin.balance(self.chain.store, EXCHANGE_VAULT, symbol) == locked[symbol]
        bid = exchange.best_order(self.chain.store, "PTA", "PTB", exchange.BUY)
        ask = exchange.best_order(self.chain.store, "PTA", "PTB", exchange.SELL)
        if bid is not None and ask is not None:
            assert bid.price < ask.price

    @invariant()
    def invoices_settle_once(self) -> None:
        for _, raw in self.chain.store.iterate(I.RECORD_PREFIX):
            found = I.Invoice.from_list(codec.decode(raw))
            assert 0 <= found.refunded <= found.amount
            paid = found.status in (I.PAID, I.REFUNDED)
            assert self.invoice_sales[found.id] == (1 if paid else 0)
            if found.status == I.REFUNDED:
                assert found.refunded == found.amount
            assert 0 <= found.commission_returned <= found.commission
            expected = I.returned_commission(
                found.commission, found.refund_share_bps, found.refunded, found.amount
            )
            assert found.commission_returned == expected
            if not paid:
                assert found.refunded == 0 and found.payer is None


TestCommerceMachine = CommerceMachine.TestCase
TestCommerceMachine.settings = settings(
    max_examples=40,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
