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
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.benchchain import BenchChain, seeded_key  # noqa: E402
from contracts.exchange import PRICE_SCALE  # noqa: E402
from node.storage import LevelDBStore  # noqa: E402

CHAIN_ID = "pasar-bench"
GENESIS_MS = 1_700_000_000_000
DAY_MS = 24 * 3600 * 1000
INVOICE_AMOUNT = 25_000  # IDRX
EMAS_PRICE = 250 * PRICE_SCALE  # IDRX per EMAS


class Bench(BenchChain):
    def __init__(self, store: LevelDBStore, buyers: int, executor: ThreadPoolExecutor) -> None:
        self.platform = seeded_key("platform", 0)
        self.buyers = [seeded_key("buyer", n) for n in range(buyers)]
        self.merchants = [seeded_key("merchant", n) for n in range(64)]
        self.makers = [seeded_key("maker", n) for n in range(16)]
        self.invoices: list[bytes] = []
        platform = self.platform.public_key
        funded = self.buyers + self.makers
        app_state: list[Any] = [
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
        ]
        super().__init__(
            store, executor, CHAIN_ID, GENESIS_MS, app_state, seeded_key("validator", 0)
        )

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
