"""Loyalty benchmark: what exclusive coins and franchising add to a transaction.

Each workload is one block of signed transactions run through `apply_block`
(signature checks on a two-thread executor) over a LevelDB store set up with a
32-seller group whose coin KOPI rewards IDRX sales, a validator bound to a member
(block reward), and a franchise program with a sub-franchise whose franchisees
have listings with shipped orders waiting:

- transfer            coin.transfer of IDRX (baseline)
- payment, outsider   payment.pay to a seller outside the group (listeners find nothing)
- payment, member     payment.pay to a member: the buyer earns KOPI (a capped mint)
- KOPI transfer       a member pays KOPI out (the exclusive transfer rule)
- franchise confirm   escrow.confirm of a sub-franchisee's order: release, commission,
                      royalties to the sub-franchisor and the franchisor
- franchise listing   listing.create under the sub-program (threshold and chain check)

It prints transactions per second (median of the runs) and the cost relative to
a transfer, then the cost of the end-of-block mining-reward hook per block.
Nothing is committed between runs, so every run starts from the same state.

Run from the repository root:  python bench/bench_loyalty.py [--block N] [--runs N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.benchchain import BenchChain, seeded_key  # noqa: E402
from contracts import loyalty  # noqa: E402
from ledger.execution import (  # noqa: E402
    Context,
    account_nonce,
)
from ledger.hashing import ZERO_HASH  # noqa: E402
from ledger.keys import PrivateKey  # noqa: E402
from ledger.state import StateView  # noqa: E402
from node.storage import LevelDBStore  # noqa: E402

CHAIN_ID = "pasar-bench-loyalty"
START_MS = 1_700_000_000_000
DAY_MS = 24 * 3600 * 1000
GROUP_SIZE = 32
PRICE = 20_000


class LoyaltyBench(BenchChain):
    def __init__(self, store: LevelDBStore, block: int, executor: ThreadPoolExecutor) -> None:
        self.platform = seeded_key("platform", 0)
        self.buyers = [seeded_key("buyer", n) for n in range(block)]
        self.members = [seeded_key("member", n) for n in range(GROUP_SIZE)]
        self.outsiders = [seeded_key("outsider", n) for n in range(GROUP_SIZE)]
        self.franchisees = [seeded_key("franchisee", n) for n in range(GROUP_SIZE)]
        self.orders: list[tuple[PrivateKey, bytes]] = []
        self.sub_program = b""
        platform = self.platform.public_key
        funded = [*self.buyers, *self.members]
        app_state: list[Any] = [
            ["roles", [[platform, "Bench platform", 250]]],
            [
                "coin",
                [
                    [["IDRX", "Rupiah", 0, platform, 10**17, "platform"]],
                    [[k.public_key, "IDRX", 10**11] for k in funded],
                ],
            ],
        ]
        super().__init__(store, executor, CHAIN_ID, START_MS, app_state, seeded_key("validator", 0))

    @staticmethod
    def attribute(receipt: Any, event: str, name: str) -> Any:
        return next(e.get(name) for e in receipt.events if e.name == event)

    def setup(self) -> None:
        founder, platform = self.members[0], self.platform.public_key
        others = [m.public_key for m in self.members[1:]]
        self.commit(
            [
                self.sign(
                    founder,
                    "loyalty.create",
                    "KOPI",
                    "Kopi",
                    0,
                    10**15,
                    others,
                    [],
                    [["IDRX", 100]],
                    5,
                    "members",
                ),  # fmt: skip
                self.sign(self.platform, "arbiter.publish", 100, DAY_MS),
            ]
        )
        self.commit([self.sign(self.validator, "loyalty.bind_validator", "KOPI", others[0])])
        # KOPI for the franchisees (and plenty for the members to pay out)
        first = account_nonce(self.store, founder.public_key)
        self.commit(
            [
                self.sign(founder, "coin.mint", "KOPI", k.public_key, 10**6, nonce=first + n)
                for n, k in enumerate([*self.franchisees, *self.members])
            ]
        )
        opened = self.commit(
            [self.sign(founder, "franchise.open_program", "KOPI", ["LATTE"], 100, 1_000, 300)]
        )
        root = self.attribute(opened[0], "franchise.opened", "program")
        sub_owner, *rest = self.franchisees
        self.commit([self.sign(sub_owner, "franchise.join", root)])
        opened = self.commit(
            [self.sign(sub_owner, "franchise.open_sub", root, [], 100, 1_000, 200)]
        )
        self.sub_program = self.attribute(opened[0], "franchise.opened", "program")
        self.commit([self.sign(k, "franchise.join", self.sub_program) for k in rest])
        created = self.commit([self.listing(k) for k in rest])
        listings = [self.attribute(r, "listing.created", "listing") for r in created]
        placed = self.commit(
            [
                self.sign(buyer, "order.place", listings[i % len(rest)], 1, PRICE, platform)
                for i, buyer in enumerate(self.buyers)
            ]
        )
        orders = [self.attribute(r, "order.placed", "order") for r in placed]
        sellers = [rest[i % len(rest)] for i in range(len(orders))]
        nonces: dict[bytes, int] = {}
        raw = []
        for seller, order in zip(sellers, orders, strict=True):
            nonce = nonces.get(seller.public_key, account_nonce(self.store, seller.public_key))
            nonces[seller.public_key] = nonce + 1
            raw.append(self.sign(seller, "escrow.ship", order, b"\x01" * 32, nonce=nonce))
        self.commit(raw)
        self.orders = list(zip(self.buyers, orders, strict=True))

    def listing(self, seller: PrivateKey, nonce: int | None = None) -> bytes:
        return self.sign(
            seller, "listing.create", "latte", "LATTE", PRICE, "IDRX", 10**6,
            self.platform.public_key, [self.platform.public_key], DAY_MS, DAY_MS,
            self.sub_program, nonce=nonce,
        )  # fmt: skip

    def hook_cost_us(self, repeats: int = 2_000) -> float:
        """Microseconds for the mining-reward hook when the proposer is bound."""
        info = self.info()
        start = time.perf_counter()
        for _ in range(repeats):
            ctx = Context(StateView(self.store), info, info.proposer, ZERO_HASH)
            loyalty.mining_reward(ctx)
        return (time.perf_counter() - start) / repeats * 1e6


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
        bench = LoyaltyBench(store, block, executor)
        bench.setup()
        platform = bench.platform.public_key
        buyers, members, outsiders = bench.buyers, bench.members, bench.outsiders

        def transfer(i: int) -> bytes:
            return bench.sign(
                buyers[i], "coin.transfer", "IDRX", members[i % GROUP_SIZE].public_key, 5
            )

        def pay_outsider(i: int) -> bytes:
            seller = outsiders[i % GROUP_SIZE].public_key
            return bench.sign(buyers[i], "payment.pay", platform, seller, "IDRX", PRICE, "r")

        def pay_member(i: int) -> bytes:
            seller = members[i % GROUP_SIZE].public_key
            return bench.sign(buyers[i], "payment.pay", platform, seller, "IDRX", PRICE, "r")

        def kopi_transfer(i: int) -> bytes:
            member = members[i % GROUP_SIZE]
            nonce = account_nonce(bench.store, member.public_key) + i // GROUP_SIZE
            return bench.sign(member, "coin.transfer", "KOPI", buyers[i].public_key, 3, nonce=nonce)

        def franchise_confirm(i: int) -> bytes:
            buyer, order = bench.orders[i]
            return bench.sign(buyer, "escrow.confirm", order)

        sellers = bench.franchisees[1:]

        def franchise_listing(i: int) -> bytes:
            seller = sellers[i % len(sellers)]
            nonce = account_nonce(bench.store, seller.public_key) + i // len(sellers)
            return bench.listing(seller, nonce)

        workloads: list[tuple[str, Callable[[int], bytes]]] = [
            ("transfer", transfer),
            ("payment, outsider", pay_outsider),
            ("payment, member", pay_member),
            ("KOPI transfer", kopi_transfer),
            ("franchise confirm", franchise_confirm),
            ("franchise listing", franchise_listing),
        ]
        print(f"apply_block on LevelDB, {block} txs per block, median of {options.runs} runs")
        baseline = 0.0
        for name, build in workloads:
            tps = bench.run(name, build, block, options.runs)
            baseline = baseline or tps
            print(f"{name:<18} {tps:>10,.0f} tx/s   cost {baseline / tps:4.2f}x a transfer")
        print(f"mining-reward hook {bench.hook_cost_us():10.1f} us per block (bound proposer)")


if __name__ == "__main__":
    main()
