"""A single-validator chain on LevelDB for the contract benchmarks.

Benchmarks build their state by committing real signed transactions through
`apply_block`, then time one block of a workload on top of that state without
committing it, so every run starts from the same state.
"""

from __future__ import annotations

import hashlib
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contracts.registry import APPLICATION  # noqa: E402
from ledger.execution import BlockInfo, account_nonce, apply_block, apply_genesis  # noqa: E402
from ledger.genesis import Genesis  # noqa: E402
from ledger.keys import PrivateKey  # noqa: E402
from ledger.receipt import Receipt  # noqa: E402
from ledger.tx import SignedTransaction, Transaction  # noqa: E402
from node.storage import LevelDBStore  # noqa: E402


def seeded_key(label: str, number: int) -> PrivateKey:
    """A reproducible key, so runs are comparable."""
    return PrivateKey.from_seed(hashlib.sha256(f"{label}/{number}".encode()).digest())


class BenchChain:
    """Genesis, signing and block execution for one validator's chain."""

    def __init__(
        self,
        store: LevelDBStore,
        executor: ThreadPoolExecutor,
        chain_id: str,
        start_ms: int,
        app_state: list[Any],
        validator: PrivateKey,
    ) -> None:
        self.store = store
        self.executor = executor
        self.chain_id = chain_id
        self.validator = validator
        self.height = 0
        self.time_ms = start_ms
        genesis = Genesis(chain_id, start_ms, ((validator.public_key, "v0"),), app_state)
        result = apply_genesis(APPLICATION, store, genesis)
        store.write(result.state_batch())
        self.state_root = result.state_root

    def sign(self, key: PrivateKey, method: str, *args: Any, nonce: int | None = None) -> bytes:
        public = key.public_key
        if nonce is None:
            nonce = account_nonce(self.store, public)
        return Transaction(self.chain_id, public, nonce, method, tuple(args), 0).sign(key).encode()

    def info(self) -> BlockInfo:
        return BlockInfo(
            self.chain_id, self.height + 1, self.time_ms + 1_000, self.validator.public_key
        )

    def commit(self, raw: list[bytes]) -> list[Receipt]:
        """Execute and persist a setup block; every transaction must succeed."""
        transactions = [SignedTransaction.decode(item) for item in raw]
        info = self.info()
        result = apply_block(
            APPLICATION, self.store, info, transactions, self.state_root, self.executor
        )
        bad = [f"{r.code}: {r.message}" for r in result.receipts if not r.ok]
        if bad:
            raise SystemExit(f"setup transactions were rejected: {bad[:3]}")
        self.store.write(result.state_batch())
        self.state_root = result.state_root
        self.height += 1
        self.time_ms = info.timestamp_ms
        return list(result.receipts)

    def run(self, name: str, build: Callable[[int], bytes], block: int, runs: int) -> float:
        """Transactions per second (median of `runs`) of one uncommitted block."""
        info = self.info()
        timings = []
        for _ in range(runs):
            transactions = [SignedTransaction.decode(build(i)) for i in range(block)]
            start = time.perf_counter()
            result = apply_block(
                APPLICATION, self.store, info, transactions, self.state_root, self.executor
            )
            timings.append(time.perf_counter() - start)
            bad = [f"{r.code}: {r.message}" for r in result.receipts if not r.ok]
            if bad:
                raise SystemExit(f"{name}: transactions were rejected: {bad[:3]}")
        return block / statistics.median(timings)
