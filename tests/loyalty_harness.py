"""A small in-memory harness for the loyalty and franchise contract tests.

It calls handlers the way `ledger.execution.apply_tx` does (a child view merged
only on success) without signing, so unit and property tests stay fast; the
end-to-end tests exercise the signed path on real nodes.
"""

from __future__ import annotations

from typing import Any

from contracts import coin
from contracts.registry import APPLICATION
from contracts.sales import Sale, sale_completed
from ledger.errors import InvalidTransaction
from ledger.execution import BlockInfo, Context
from ledger.hashing import tagged_hash
from ledger.kv import MemoryStore
from ledger.receipt import Event
from ledger.state import StateView

CHAIN_ID = "loyalty-test"


def account(number: int) -> bytes:
    """A distinct 32-byte account for participant `number`."""
    return tagged_hash(b"test/account", number.to_bytes(4, "big"))


class Harness:
    def __init__(self) -> None:
        self.store = MemoryStore()
        self.state = StateView(self.store)
        self.height = 1
        self.calls = 0

    def context(self, state: StateView, sender: bytes, proposer: bytes | None = None) -> Context:
        self.calls += 1
        info = BlockInfo(CHAIN_ID, self.height, 1_000 * self.height, proposer or account(0))
        tx_hash = tagged_hash(b"test/tx", self.calls.to_bytes(8, "big"))
        return Context(state, info, sender, tx_hash)

    def call(self, sender: bytes, method: str, *args: Any) -> list[Event]:
        """Run a handler; on rejection nothing is written and the error propagates."""
        child = self.state.child()
        ctx = self.context(child, sender)
        APPLICATION.handlers[method](ctx, tuple(args))
        child.merge_into_parent()
        return ctx.events

    def reject(self, sender: bytes, method: str, *args: Any) -> str:
        """Run a handler that must fail; check it left nothing behind; return its code."""
        before = self.state.write_set()
        try:
            self.call(sender, method, *args)
        except InvalidTransaction as exc:
            if self.state.write_set() != before:
                raise AssertionError("a rejected call changed state") from exc
            return exc.code
        raise AssertionError(f"{method} was accepted")

    def end_block(self, proposer: bytes) -> list[Event]:
        """Run the end-of-block hooks for a block proposed by `proposer`."""
        events: list[Event] = []
        for hook in APPLICATION.end_block_hooks:
            child = self.state.child()
            ctx = self.context(child, proposer, proposer)
            hook(ctx)
            child.merge_into_parent()
            events.extend(ctx.events)
        self.height += 1
        return events

    def sale(
        self,
        seller: bytes,
        buyer: bytes,
        symbol: str,
        amount: int,
        program: bytes | None = None,
    ) -> list[Event]:
        """Settle a sale the way escrow release does: pay the seller, then notify."""
        child = self.state.child()
        ctx = self.context(child, buyer)
        coin.move(child, symbol, buyer, seller, amount)
        reference = ctx.tx_hash
        sale_completed(
            ctx, Sale("order", reference, seller, buyer, symbol, amount, None, None, program)
        )
        child.merge_into_parent()
        return ctx.events

    # --- setup shortcuts ---------------------------------------------------------------

    def platform_coin(self, symbol: str, holders: dict[bytes, int], cap: int = 10**15) -> None:
        asset = coin.create_asset(self.state, symbol, symbol, 2, cap, account(999), "platform")
        for holder, amount in sorted(holders.items()):
            asset = coin.mint_to(self.state, asset, holder, amount)

    def balance(self, who: bytes, symbol: str) -> int:
        return coin.balance(self.state, who, symbol)

    def supply(self, symbol: str) -> int:
        asset = coin.load_asset(self.state, symbol)
        if asset is None:
            raise KeyError(symbol)
        return asset.supply


def attributes(event: Event) -> dict[str, Any]:
    return dict(event.attributes)


def named(events: list[Event], name: str) -> list[dict[str, Any]]:
    return [attributes(event) for event in events if event.name == name]
