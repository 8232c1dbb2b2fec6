"""A small in-memory chain for commerce tests: real signed txs, real blocks, chosen times.

Blocks run through `ledger.execution.apply_block` with the full contract registry
over a `MemoryStore`; the block timestamp is set by the test, which is how the
tests drive deadlines. Keys come from fixed seeds so failures reproduce exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from contracts import coin
from contracts.registry import APPLICATION
from contracts.roles import grant_platform
from contracts.vaults import ESCROW_VAULT
from ledger.execution import (
    Application,
    BlockInfo,
    BlockResult,
    account_nonce,
    apply_block,
    apply_genesis,
    nonce_key,
)
from ledger.genesis import Genesis
from ledger.keys import PrivateKey
from ledger.kv import MemoryStore
from ledger.receipt import Event, Receipt
from ledger.state import StateView
from ledger.state_tree import TREE_PREFIX
from ledger.tx import SignedTransaction, Transaction

CHAIN_ID = "pasar-commerce-test"
START_MS = 1_700_000_000_000
MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR


def key(n: int) -> PrivateKey:
    """The n-th deterministic test key."""
    return PrivateKey.from_seed(bytes([n % 256]) * 31 + bytes([n // 256]))


PROPOSER = key(250)


class CommerceChain:
    """Genesis with open coins, some platforms, then one block per call."""

    def __init__(
        self,
        assets: Sequence[tuple[str, PrivateKey, int]] = (),
        balances: Sequence[tuple[PrivateKey, str, int]] = (),
        platforms: Sequence[tuple[PrivateKey, str, int]] = (),
        app: Application = APPLICATION,
    ) -> None:
        self.store = MemoryStore()
        self.app = app
        asset_rows = [[s, s.lower(), 2, k.public_key, cap, "open"] for s, k, cap in assets]
        balance_rows = [[k.public_key, s, amount] for k, s, amount in balances]
        genesis = Genesis(
            CHAIN_ID,
            START_MS,
            ((PROPOSER.public_key, "v0"),),
            [["coin", [asset_rows, balance_rows]]],
        )
        result = apply_genesis(app, self.store, genesis)
        self.store.write(result.state_batch())
        self.state_root = result.state_root
        if platforms:
            view = StateView(self.store)
            for platform, name, bps in platforms:
                grant_platform(view, platform.public_key, name, bps)
            self.store.write(dict(view.write_set()))
        self.height = 0
        self.time_ms = START_MS
        self.last: BlockResult | None = None

    def transaction(
        self, sender: PrivateKey, method: str, args: Sequence[Any], nonce: int | None = None
    ) -> SignedTransaction:
        if nonce is None:
            nonce = account_nonce(self.store, sender.public_key)
        tx = Transaction(CHAIN_ID, sender.public_key, nonce, method, tuple(args))
        return tx.sign(sender)

    def block(
        self,
        calls: Sequence[tuple[PrivateKey, str, Sequence[Any]]] = (),
        at_ms: int | None = None,
    ) -> BlockResult:
        """Apply one block holding `calls` (nonces assigned in order) at `at_ms`."""
        time_ms = self.time_ms + 1_000 if at_ms is None else at_ms
        if time_ms <= self.time_ms:
            raise ValueError("block time must increase")
        pending: dict[bytes, int] = {}
        transactions = []
        for sender, method, args in calls:
            account = sender.public_key
            nonce = pending.get(account, account_nonce(self.store, account))
            pending[account] = nonce + 1
            transactions.append(self.transaction(sender, method, args, nonce))
        info = BlockInfo(CHAIN_ID, self.height + 1, time_ms, PROPOSER.public_key)
        result = apply_block(self.app, self.store, info, transactions, self.state_root)
        self.store.write(result.state_batch())
        self.state_root = result.state_root
        self.height += 1
        self.time_ms = time_ms
        self.last = result
        return result

    def run(self, sender: PrivateKey, method: str, *args: Any, at_ms: int | None = None) -> Receipt:
        """One transaction in its own block; returns its receipt."""
        return self.block([(sender, method, args)], at_ms).receipts[0]

    def ok(self, sender: PrivateKey, method: str, *args: Any, at_ms: int | None = None) -> Receipt:
        receipt = self.run(sender, method, *args, at_ms=at_ms)
        if not receipt.ok:
            raise AssertionError(f"{method} rejected: {receipt.code}: {receipt.message}")
        return receipt

    def rejects(
        self, code: str, sender: PrivateKey, method: str, *args: Any, at_ms: int | None = None
    ) -> Receipt:
        """Run a tx that must be rejected with `code`, and check it changed nothing."""
        before = dict(self.store.iterate(b""))
        receipt = self.run(sender, method, *args, at_ms=at_ms)
        if receipt.ok or receipt.code != code:
            got = f"{receipt.code}: {receipt.message}"
            raise AssertionError(f"{method}: expected {code}, got {got}")
        after = dict(self.store.iterate(b""))
        changed = {
            k
            for k in before.keys() | after.keys()
            if before.get(k) != after.get(k) and not k.startswith(TREE_PREFIX)
        }
        # Only the consumed nonce may change (unless end-of-block work ran in that block).
        if self.last is not None and not self.last.block_events:
            unexpected = changed - {nonce_key(sender.public_key)}
            if unexpected:
                raise AssertionError(f"rejected tx changed state: {sorted(unexpected)[:3]}")
        return receipt

    def advance(self, to_ms: int) -> BlockResult:
        """An empty block at `to_ms`: only end-of-block processing runs."""
        return self.block([], at_ms=to_ms)

    def balance(self, account: PrivateKey | bytes, symbol: str) -> int:
        public = account.public_key if isinstance(account, PrivateKey) else account
        return coin.balance(self.store, public, symbol)

    def vault(self, symbol: str) -> int:
        return coin.balance(self.store, ESCROW_VAULT, symbol)


def event(receipt_or_events: Receipt | Sequence[Event], name: str) -> Event:
    """The single event called `name`."""
    events = (
        receipt_or_events.events if isinstance(receipt_or_events, Receipt) else receipt_or_events
    )
    found = [e for e in events if e.name == name]
    if len(found) != 1:
        raise AssertionError(f"expected one {name} event, got {[e.name for e in events]}")
    return found[0]


class Market:
    """A ready market: coin IDR, a platform with 2.5% commission, two arbiter platforms
    with published schedules, a seller, two funded buyers and an outsider."""

    def __init__(self) -> None:
        self.issuer = key(1)
        self.platform = key(2)
        self.arbiter = key(3)
        self.arbiter2 = key(4)
        self.seller = key(5)
        self.buyer = key(6)
        self.buyer2 = key(7)
        self.outsider = key(8)
        self.chain = CommerceChain(
            assets=[("IDR", self.issuer, 10**15), ("USD", self.issuer, 10**15)],
            balances=[
                (self.buyer, "IDR", 1_000_000),
                (self.buyer2, "IDR", 1_000_000),
                (self.buyer, "USD", 50_000),
            ],
            platforms=[
                (self.platform, "shop", 250),
                (self.arbiter, "court", 0),
                (self.arbiter2, "court2", 0),
            ],
        )
        # 5% fee, at least 100 and at most 5,000 IDR; 3 days to rule.
        self.chain.ok(self.arbiter, "arbiter.publish", 500, 3 * DAY, [["IDR", 100, 5_000]])
        self.chain.ok(self.arbiter2, "arbiter.publish", 1_000, 1 * DAY)

    def listing_args(self, **overrides: Any) -> list[Any]:
        fields: dict[str, Any] = {
            "title": "Batik shirt",
            "sku": "BTK-01",
            "price": 10_000,
            "symbol": "IDR",
            "stock": 5,
            "platform": self.platform.public_key,
            "arbiters": [self.arbiter.public_key, self.arbiter2.public_key],
            "shipping_ms": 2 * DAY,
            "protection_ms": 7 * DAY,
        }
        fields.update(overrides)
        return list(fields.values())

    def create_listing(self, **overrides: Any) -> bytes:
        receipt = self.chain.ok(self.seller, "listing.create", *self.listing_args(**overrides))
        listing_id: bytes = event(receipt, "listing.created").get("listing")
        return listing_id

    def place(
        self, listing_id: bytes, quantity: int = 1, buyer: PrivateKey | None = None, **kw: Any
    ) -> bytes:
        who = self.buyer if buyer is None else buyer
        arbiter = kw.get("arbiter", self.arbiter.public_key)
        receipt = self.chain.ok(
            who, "order.place", listing_id, quantity, kw.get("max_price", 10**12), arbiter
        )
        order_id: bytes = event(receipt, "order.placed").get("order")
        return order_id
