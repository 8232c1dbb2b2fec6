"""Commerce benchmark: the cost of commerce transactions next to plain transfers.

Every workload is a block of signed transactions executed with `apply_block`
(signature checks included, two-thread executor) over a LevelDB store that
holds the funded accounts, a deep EMAS/IDRX order book and open invoices:

- transfer          coin.transfer (the baseline)
- payment           payment.pay through a platform with 2.5 % commission
- invoice           invoice.pay in the settlement coin
- invoice+swap      invoice.pay in another coin, swapping on the exchange in the same tx
- limit order       exchange.order that rests on the book (funds locked)
- swap              exchange.swap against the book
- mixed commerce    40 % invoice+swap, 30 % payment, 30 % limit orders

For each it prints transactions per second (median of the runs) and the cost
relative to a transfer (target: at most 2x). Nothing is committed between runs,
so every run starts from the same state.

Run from the repository root:  python bench/bench_commerce.py [--block N] [--runs N]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contracts.exchange import PRICE_SCALE  # noqa: E402
from contracts.registry import APPLICATION  # noqa: E402
from ledger.execution import BlockInfo, account_nonce, apply_block, apply_genesis  # noqa: E402
from ledger.genesis import Genesis  # noqa: E402
from ledger.keys import PrivateKey  # noqa: E402
from ledger.tx import SignedTransaction, Transaction  # noqa: E402
from node.storage import LevelDBStore  # noqa: E402

CHAIN_ID = "pasar-bench"
GENESIS_MS = 1_700_000_000_000
DAY_MS = 24 * 3600 * 1000
INVOICE_AMOUNT = 25_000  # IDRX
EMAS_PRICE = 250 * PRICE_SCALE  # IDRX per EMAS


def make_key(label: str, n: int) -> PrivateKey:
    return PrivateKey.from_seed(hashlib.sha256(f"{label}-{n}".encode()).digest())


class Bench:
    def __init__(self, store: LevelDBStore, buyers: int, executor: ThreadPoolExecutor) -> None:
        self.store = store
        self.executor = executor
        self.platform = make_key("platform", 0)
        self.validator = make_key("validator", 0)
        self.buyers = [make_key("buyer", n) for n in range(buyers)]
        self.merchants = [make_key("merchant", n) for n in range(64)]
        self.makers = [make_key("maker", n) for n in range(16)]
        self.height = 0
        self.time_ms = GENESIS_MS
        self.invoices: list[bytes] = []
        platform = self.platform.public_key
        funded = self.buyers + self.makers
        genesis = Genesis(
            CHAIN_ID,
            GENESIS_MS,
            ((self.validator.public_key, "v0"),),
            [
                ["roles", [[platform, "Bench platform", 250]]],
                [
                    "coin",
                    [
                        [
                            ["IDRX", "Rupiah", 0, platform, 10**17, "platform"],
                            ["EMAS", "Gold", 0, platform, 10**17, "platform"],
                        ],
                        [[k.public_key, s, 10**11] for k in funded for s in ("IDRX", "EMAS")],
                    ],
                ],
            ],
        )
        result = apply_genesis(APPLICATION, store, genesis)
        store.write(dict(result.write_set))
        self.state_root = result.state_root

    def sign(self, key: PrivateKey, method: str, *args: Any, nonce: int | None = None) -> bytes:
        public = key.public_key
        if nonce is None:
            nonce = account_nonce(self.store, public)
        return Transaction(CHAIN_ID, public, nonce, method, tuple(args), 0).sign(key).encode()

    def info(self) -> BlockInfo:
        return BlockInfo(CHAIN_ID, self.height + 1, self.time_ms + 1_000, self.validator.public_key)

    def commit(self, raw: list[bytes]) -> list[Any]:
        transactions = [SignedTransaction.decode(item) for item in raw]
        info = self.info()
        result = apply_block(
            APPLICATION, self.store, info, transactions, self.state_root, self.executor
        )
        bad = [r.code for r in result.receipts if not r.ok]
        if bad:
            raise SystemExit(f"setup transactions were rejected: {bad[:3]}")
        self.store.write(dict(result.write_set))
        self.state_root = result.state_root
        self.height += 1
        self.time_ms = info.timestamp_ms
        return list(result.receipts)

    def setup(self, invoices: int) -> None:
        # Deep liquidity both ways: makers buy EMAS just under 250 and sell just over.
        raw = []
        for n, maker in enumerate(self.makers):
            for level in range(8):
                nonce = 2 * level
                bid = EMAS_PRICE - (n * 8 + level + 1) * PRICE_SCALE // 100
                ask = EMAS_PRICE + (n * 8 + level + 1) * PRICE_SCALE // 100
                raw.append(
                    self.sign(
                        maker, "exchange.order", "EMAS", "IDRX", "buy", bid, 10**6, nonce=nonce
                    )
                )
                raw.append(
                    self.sign(
                        maker, "exchange.order", "EMAS", "IDRX", "sell", ask, 10**6, nonce=nonce + 1
                    )
                )
        self.commit(raw)
        per_merchant = -(-invoices // len(self.merchants))
        raw = []
        expiry = self.time_ms + DAY_MS
        for merchant in self.merchants:
            for i in range(per_merchant):
                raw.append(
                    self.sign(
                        merchant,
                        "invoice.create",
                        "IDRX",
                        INVOICE_AMOUNT,
                        expiry,
                        f"order-{i}",
                        b"",
                        nonce=i,
                    )
                )
        receipts = self.commit(raw)
        self.invoices = [r.tx_hash for r in receipts]

    def run(self, name: str, build: Callable[[int], bytes], block: int, runs: int) -> float:
        info = self.info()
        timings = []
        for _ in range(runs):
            raw = [build(i) for i in range(block)]
            transactions = [SignedTransaction.decode(item) for item in raw]
            start = time.perf_counter()
            result = apply_block(
                APPLICATION, self.store, info, transactions, self.state_root, self.executor
            )
            elapsed = time.perf_counter() - start
            bad = [f"{r.code}: {r.message}" for r in result.receipts if not r.ok]
            if bad:
                raise SystemExit(f"{name}: transactions were rejected: {bad[:3]}")
            timings.append(elapsed)
        return block / statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--block", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    block = options.block
    with (
        ThreadPoolExecutor(max_workers=2) as executor,
        tempfile.TemporaryDirectory() as tmp,
        LevelDBStore(Path(tmp) / "db") as store,
    ):
        bench = Bench(store, block, executor)
        bench.setup(block)
        buyers, merchants, invoices = bench.buyers, bench.merchants, bench.invoices
        platform = bench.platform.public_key

        def merchant(i: int) -> bytes:
            return merchants[i % len(merchants)].public_key

        def transfer(i: int) -> bytes:
            return bench.sign(buyers[i], "coin.transfer", "IDRX", merchant(i), 25_000)

        def payment(i: int) -> bytes:
            return bench.sign(buyers[i], "payment.pay", platform, merchant(i), "IDRX", 25_000, "r")

        def invoice(i: int) -> bytes:
            return bench.sign(buyers[i], "invoice.pay", invoices[i], "IDRX", INVOICE_AMOUNT)

        def invoice_swap(i: int) -> bytes:
            return bench.sign(buyers[i], "invoice.pay", invoices[i], "EMAS", 200)

        def limit_order(i: int) -> bytes:
            side, offset = ("buy", -1) if i % 2 else ("sell", 1)
            price = EMAS_PRICE + offset * (50 + i % 50) * PRICE_SCALE
            return bench.sign(buyers[i], "exchange.order", "EMAS", "IDRX", side, price, 10 + i % 7)

        def swap(i: int) -> bytes:
            if i % 2:
                return bench.sign(buyers[i], "exchange.swap", "IDRX", "EMAS", 10, 5_000)
            return bench.sign(buyers[i], "exchange.swap", "EMAS", "IDRX", 2_500, 20)

        def mixed(i: int) -> bytes:
            kind = i % 10
            if kind < 4:
                return invoice_swap(i)
            if kind < 7:
                return payment(i)
            return limit_order(i)

        workloads: list[tuple[str, Callable[[int], bytes]]] = [
            ("transfer", transfer),
            ("payment", payment),
            ("invoice", invoice),
            ("invoice+swap", invoice_swap),
            ("limit order", limit_order),
            ("swap", swap),
            ("mixed commerce", mixed),
        ]
        print(f"apply_block on LevelDB, {block} txs per block, median of {options.runs} runs")
        baseline = 0.0
        for name, build in workloads:
            tps = bench.run(name, build, block, options.runs)
            baseline = baseline or tps
            print(f"{name:<16} {tps:>10,.0f} tx/s   cost {baseline / tps:4.2f}x a transfer")


if __name__ == "__main__":
    main()
