"""A small in-memory chain for contract tests: real signed txs, real blocks, no network.

`Chain` applies genesis into a `MemoryStore`, then runs blocks through
`ledger.execution.apply_block` with the real contract registry, so a test
exercises exactly the code a validator runs, signatures included.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from contracts.coin import balance
from contracts.registry import APPLICATION
from ledger.execution import BlockInfo, account_nonce, apply_block, apply_genesis
from ledger.genesis import Genesis
from ledger.keys import PrivateKey
from ledger.kv import MemoryStore
from ledger.receipt import Event, Receipt
from ledger.state_tree import TREE_PREFIX
from ledger.tx import SignedTransaction, Transaction

CHAIN_ID = "pasar-test"
GENESIS_TIME_MS = 1_700_000_000_000
BLOCK_INTERVAL_MS = 1_000


def key(name: str) -> PrivateKey:
    """A deterministic key per name, so failures are reproducible."""
    seed = name.encode().ljust(32, b".")[:32]
    return PrivateKey.from_seed(seed)


class Chain:
    """Genesis plus a growing sequence of applied blocks over one MemoryStore."""

    def __init__(
        self,
        validators: Sequence[PrivateKey] = (),
        app_state: list[Any] | None = None,
    ) -> None:
        self.validators = list(validators) or [key("validator-0")]
        self.store = MemoryStore()
        genesis = Genesis(
            CHAIN_ID,
            GENESIS_TIME_MS,
            tuple((v.public_key, f"v{i}") for i, v in enumerate(self.validators)),
            app_state if app_state is not None else [],
        )
        result = apply_genesis(APPLICATION, self.store, genesis)
        self.store.write(result.state_batch())
        self.state_root = result.state_root
        self.height = 0
        self.time_ms = GENESIS_TIME_MS
        self.events: list[Event] = list(result.block_events)
        self.block_events: list[Event] = []
        self._pending_nonce: dict[bytes, int] = {}

    def tx(
        self, signer: PrivateKey, method: str, *args: Any, expiry_ms: int = 0
    ) -> SignedTransaction:
        sender = signer.public_key
        nonce = self._pending_nonce.get(sender, account_nonce(self.store, sender))
        self._pending_nonce[sender] = nonce + 1
        return Transaction(CHAIN_ID, sender, nonce, method, tuple(args), expiry_ms).sign(signer)

    def block(self, *txs: SignedTransaction, advance_ms: int = BLOCK_INTERVAL_MS) -> list[Receipt]:
        self.height += 1
        self.time_ms += advance_ms
        info = BlockInfo(CHAIN_ID, self.height, self.time_ms, self.validators[0].public_key)
        result = apply_block(APPLICATION, self.store, info, txs, self.state_root)
        self.store.write(result.state_batch())
        self.state_root = result.state_root
        self._pending_nonce.clear()
        self.block_events = list(result.block_events)
        return result.receipts

    def run(
        self, signer: PrivateKey, method: str, *args: Any, advance_ms: int = BLOCK_INTERVAL_MS
    ) -> Receipt:
        return self.block(self.tx(signer, method, *args), advance_ms=advance_ms)[0]

    def ok(self, signer: PrivateKey, method: str, *args: Any) -> Receipt:
        receipt = self.run(signer, method, *args)
        assert receipt.ok, f"{method} rejected: {receipt.code}: {receipt.message}"
        return receipt

    def fails(self, code: str, signer: PrivateKey, method: str, *args: Any) -> Receipt:
        before = self.snapshot()
        receipt = self.run(signer, method, *args)
        assert not receipt.ok, f"{method} unexpectedly succeeded"
        assert receipt.code == code, f"expected {code}, got {receipt.code}: {receipt.message}"
        after = self.snapshot()
        # A rejected transaction changes nothing but its sender's nonce.
        nonce_prefix = b"acct/nonce/"
        assert {k: v for k, v in before.items() if not k.startswith(nonce_prefix)} == {
            k: v for k, v in after.items() if not k.startswith(nonce_prefix)
        }
        return receipt

    def snapshot(self) -> dict[bytes, bytes]:
        """The state (the tree's own nodes left out: they change with every block)."""
        return {k: v for k, v in self.store.iterate(b"") if not k.startswith(TREE_PREFIX)}

    def balance(self, account: PrivateKey | bytes, symbol: str) -> int:
        raw = account.public_key if isinstance(account, PrivateKey) else account
        return balance(self.store, raw, symbol)


def event(receipt: Receipt, name: str) -> Event:
    """The first event called `name` in a receipt."""
    for item in receipt.events:
        if item.name == name:
            return item
    raise AssertionError(f"no {name} event in {[e.name for e in receipt.events]}")


def events(receipt: Receipt, name: str) -> list[Event]:
    return [item for item in receipt.events if item.name == name]
