"""Escrow benchmark: orders, shipping, confirmations and automatic releases next to transfers.

Each workload is one block of signed transactions executed with `apply_block`
(signature checks included, two-thread executor) over a LevelDB store holding
funded buyers, sellers with listings and an arbiter with a published schedule:

- transfer        coin.transfer (the baseline)
- order.place     take stock, lock the payment in escrow, schedule the ship deadline
- escrow.ship     seller marks shipped: swap the deadline for the protection window
- escrow.confirm  buyer confirms: commission to the platform, seller paid, sale hook
- auto-release    an empty block whose end-of-block hook releases due escrows
                  (at most 256 per block: reported per released order)
- mixed escrow    a third each of place, ship and confirm in one block

Each prints transactions per second (median of the runs) and the cost relative
to a transfer (the target is at most 2x). A workload's block is executed on top
of the committed state without being committed, so every run starts the same.

Run from the repository root:  python bench/bench_escrow.py [--block N] [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contracts.registry import APPLICATION  # noqa: E402
from ledger.execution import (  # noqa: E402
    BlockInfo,
    BlockResult,
    account_nonce,
    apply_block,
    apply_genesis,
)
from ledger.genesis import Genesis  # noqa: E402
from ledger.keys import PrivateKey  # noqa: E402
from ledger.tx import SignedTransaction, Transaction  # noqa: E402
from node.storage import LevelDBStore  # noqa: E402

CHAIN_ID = "pasar-bench"
GENESIS_MS = 1_700_000_000_000
DAY_MS = 24 * 3600 * 1000
PRICE = 10_000
SELLERS = 50


def key(tag: int, index: int) -> PrivateKey:
    return PrivateKey.from_seed(tag.to_bytes(2, "big") + index.to_bytes(4, "big") + bytes(26))


class Bench:
    def __init__(self, path: Path, block_size: int) -> None:
        self.store = LevelDBStore(path)
        self.block_size = block_size
        self.executor = ThreadPoolExecutor(2)
        self.platform = key(1, 0)
        self.arbiter = key(2, 0)
        self.buyers = [key(3, i) for i in range(block_size)]
        self.sellers = [key(4, i) for i in range(SELLERS)]
        self.proposer = key(5, 0)
        self.height = 0
        self.time_ms = GENESIS_MS
        self.state_root = b""
        accounts = [self.platform, self.arbiter, *self.buyers]
        genesis = Genesis(
            CHAIN_ID,
            GENESIS_MS,
            ((self.proposer.public_key, "v0"),),
            [
                [
                    "coin",
                    [
                        [["IDR", "Rupiah", 2, self.platform.public_key, 10**18, "open"]],
                        [[k.public_key, "IDR", 10**12] for k in accounts],
                    ],
                ],
                [
                    "roles",
                    [
                        [self.platform.public_key, "mall", 250],
                        [self.arbiter.public_key, "court", 0],
                    ],
                ],
            ],
        )
        result = apply_genesis(APPLICATION, self.store, genesis)
        self.store.write(result.state_batch())
        self.state_root = result.state_root
        self.nonces: dict[bytes, int] = {}
        self.listings: list[bytes] = []
        self.commit([self.tx(self.arbiter, "arbiter.publish", 300, 3 * DAY_MS)])
        created = self.commit(
            [
                self.tx(
                    seller,
                    "listing.create",
                    "item",
                    "SKU",
                    PRICE,
                    "IDR",
                    1_000_000_000,
                    self.platform.public_key,
                    [self.arbiter.public_key],
                    2 * DAY_MS,
                    7 * DAY_MS,
                )
                for seller in self.sellers
            ]
        )
        self.listings = [r.events[0].get("listing") for r in created.receipts]

    def tx(self, sender: PrivateKey, method: str, *args: Any) -> SignedTransaction:
        account = sender.public_key
        nonce = self.nonces.get(account, account_nonce(self.store, account))
        self.nonces[account] = nonce + 1
        return Transaction(CHAIN_ID, account, nonce, method, tuple(args)).sign(sender)

    def execute(self, txs: Sequence[SignedTransaction], at_ms: int | None = None) -> BlockResult:
        time_ms = self.time_ms + 1_000 if at_ms is None else at_ms
        info = BlockInfo(CHAIN_ID, self.height + 1, time_ms, self.proposer.public_key)
        return apply_block(APPLICATION, self.store, info, txs, self.state_root, self.executor)

    def commit(self, txs: Sequence[SignedTransaction], at_ms: int | None = None) -> BlockResult:
        result = self.execute(txs, at_ms)
        failed = [r.code for r in result.receipts if not r.ok]
        if failed:
            raise RuntimeError(f"setup transaction rejected: {failed[:3]}")
        self.store.write(result.state_batch())
        self.state_root = result.state_root
        self.height += 1
        self.time_ms = self.time_ms + 1_000 if at_ms is None else at_ms
        self.nonces.clear()
        return result

    def fork_nonces(self) -> None:
        """Workload blocks are not committed: sign them from the committed nonces."""
        self.nonces.clear()

    # -- workloads ---------------------------------------------------------------------------

    def transfers(self, count: int) -> list[SignedTransaction]:
        self.fork_nonces()
        return [
            self.tx(b, "coin.transfer", "IDR", self.buyers[(i + 1) % count].public_key, 1)
            for i, b in enumerate(self.buyers[:count])
        ]

    def places(self, count: int, offset: int = 0) -> list[SignedTransaction]:
        return [
            self.tx(
                self.buyers[(offset + i) % len(self.buyers)],
                "order.place",
                self.listings[i % SELLERS],
                1,
                PRICE,
                self.arbiter.public_key,
            )
            for i in range(count)
        ]

    def ships(self, orders: Sequence[tuple[bytes, bytes]]) -> list[SignedTransaction]:
        by_key = {s.public_key: s for s in self.sellers}
        return [self.tx(by_key[seller], "escrow.ship", o, b"\x01" * 32) for o, seller in orders]

    def confirms(self, orders: Sequence[tuple[bytes, bytes]]) -> list[SignedTransaction]:
        by_key = {b.public_key: b for b in self.buyers}
        return [self.tx(by_key[buyer], "escrow.confirm", o) for o, buyer in orders]


def placed(result: BlockResult, party: str) -> list[tuple[bytes, bytes]]:
    return [
        (e.get("order"), e.get(party))
        for r in result.receipts
        for e in r.events
        if e.name == "order.placed"
    ]


def timed(
    bench: Bench, txs: Sequence[SignedTransaction], runs: int, at_ms: int | None = None
) -> float:
    rates = []
    for _ in range(runs):
        start = time.perf_counter()
        result = bench.execute(txs, at_ms)
        elapsed = time.perf_counter() - start
        failed = [r.code for r in result.receipts if not r.ok]
        if failed:
            raise RuntimeError(f"benchmark transaction rejected: {failed[:3]}")
        rates.append(len(txs) / elapsed)
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--block", type=int, default=1_500, help="transactions per block")
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    n = options.block
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(Path(tmp) / "db", n)
        rates: dict[str, float] = {}
        rates["transfer"] = timed(bench, bench.transfers(n), options.runs)
        bench.fork_nonces()
        rates["order.place"] = timed(bench, bench.places(n), options.runs)

        # Commit orders, then time shipping them; commit that, then time confirmations.
        bench.fork_nonces()
        first = bench.commit(bench.places(n))
        rates["escrow.ship"] = timed(bench, bench.ships(placed(first, "seller")), options.runs)
        bench.fork_nonces()
        bench.commit(bench.ships(placed(first, "seller")))
        bench.fork_nonces()
        rates["escrow.confirm"] = timed(bench, bench.confirms(placed(first, "buyer")), options.runs)

        # Auto-release: an empty block after the protection window settles up to 256 orders.
        release_at = bench.time_ms + 7 * DAY_MS + 1_000
        runs = []
        for _ in range(options.runs):
            start = time.perf_counter()
            result = bench.execute([], release_at)
            elapsed = time.perf_counter() - start
            released = sum(1 for e in result.block_events if e.name == "escrow.completed")
            runs.append(released / elapsed)
        rates["auto-release"] = statistics.median(runs)

        # Mixed: new orders, shipping funded orders, confirming shipped orders.
        bench.fork_nonces()
        third = n // 3
        funded = bench.commit(bench.places(third, offset=third))
        bench.fork_nonces()
        shipped_orders = placed(first, "buyer")[:third]
        mixed = (
            bench.places(third, offset=2 * third)
            + bench.ships(placed(funded, "seller"))
            + bench.confirms(shipped_orders)
        )
        rates["mixed escrow"] = timed(bench, mixed, options.runs)
        bench.store.close()
        bench.executor.shutdown()

    base = rates["transfer"]
    print(f"block of {n} transactions, LevelDB, 2 verify threads, median of {options.runs}")
    print(f"{'workload':<16} {'tx/s':>10} {'cost vs transfer':>18}")
    for name, rate in rates.items():
        print(f"{name:<16} {rate:>10,.0f} {base / rate:>17.2f}x")


if __name__ == "__main__":
    main()
