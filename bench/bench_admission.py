"""What a validator's event loop spends per transaction it admits and sees committed, offline.

Under load most of a validator's event-loop time goes to transactions: admitting
the ones peers gossip (decode, hash, room and nonce checks, the hand-off of their
signature checks, the pool) and, once a block holding them commits, the commit's
listener (the pool's removals and re-checks, metrics). This replays that on a real
`Node` (its LevelDB store, mempool, signature threads and chain; no network, no
consensus task) with the load generator's accounts and transfers
(bench/loadgen.py):

1. every round, one batch of `--batch` transfers arrives as gossip from a peer
   (`Node._admit(..., from_peer=True)`, as the gossip intake hands them over), or
   with `--clients` as a submission of this node's clients (`from_peer=False`, as
   the RPC hands it over: the pool's admit, sender and local limits apply);
2. after `--per-block` of them, a block of exactly those is built, certified by
   three of four validators and committed (`Chain.commit`, whose listener is
   `Node._on_commit`).

It prints the event loop's thread CPU (`time.thread_time`) per transaction for
each part, and the signature threads' beside it. Numbers only; nothing asserted.

    python bench/bench_admission.py [--accounts 2000] [--batch 37] [--per-block 300]
        [--blocks 20] [--clients]

(37 transactions a request and 300 a block are what 1,500 tx/s offered to four
validators at a 200 ms block interval gives.)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import loadgen  # noqa: E402
from bench.bench_worker import VALIDATORS, certify, transfers  # noqa: E402
from bench.cpu_breakdown import thread_cpu  # noqa: E402
from ledger.keys import PrivateKey  # noqa: E402
from node import log  # noqa: E402
from node.home import create_testnet, load_home  # noqa: E402
from node.node import Node  # noqa: E402

WARM_BLOCKS = 3


def verify_threads_cpu() -> float:
    """CPU seconds used so far by this process's signature threads (`verify_N`)."""
    ids = {thread.native_id for thread in threading.enumerate() if thread.name.startswith("verify")}
    return sum(
        user + system for tid, (user, system) in thread_cpu(os.getpid()).items() if tid in ids
    )


async def replay(
    node: Node, blocks: list[list[bytes]], batch: int, from_peer: bool = True
) -> dict[str, float]:
    """Admit and commit every block; thread CPU of each part over the blocks after
    the first WARM_BLOCKS, and how many transactions and blocks those were."""
    totals = {"admit": 0.0, "commit listener": 0.0, "verify threads": 0.0, "txs": 0.0}
    for number, raws in enumerate(blocks):
        timed = number >= WARM_BLOCKS
        verify_before = verify_threads_cpu()
        for start in range(0, len(raws), batch):
            began = time.thread_time()
            admissions, _ = await node._admit(raws[start : start + batch], from_peer)
            if timed:
                totals["admit"] += time.thread_time() - began
            refused = [a for a in admissions if not a.accepted]
            if refused:
                raise SystemExit(f"refused: {refused[0].code} {refused[0].message}")
        if timed:
            totals["verify threads"] += verify_threads_cpu() - verify_before
            totals["txs"] += len(raws)
        chain = node.chain
        txs = node.mempool.reap(len(raws), 1 << 30, chain.next_nonce)
        if len(txs) != len(raws):
            raise SystemExit(f"the pool offered {len(txs)} of {len(raws)} transactions")
        block, result = chain.build(VALIDATORS[0].public_key, 2_000 + number, txs)
        chain.remember(block, result)
        certificate = certify(block)
        head, result = chain.write_commit(block, certificate, certified=True)
        began = time.thread_time()
        chain.committed(block, certificate, head, result)
        if timed:
            totals["commit listener"] += time.thread_time() - began
    if len(node.mempool):
        raise SystemExit(f"{len(node.mempool)} transactions left in the pool")
    totals["blocks"] = node.chain.height - WARM_BLOCKS
    totals["signatures"] = node.metrics.signatures_verified._value.get()
    return totals


async def run(
    accounts: list[PrivateKey], batch: int, per_block: int, count: int, from_peer: bool = True
) -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix="pasar-bench-admission-"))
    try:
        create_testnet(
            workdir,
            [f"v{i}" for i in range(len(VALIDATORS))],
            chain_id=loadgen.CHAIN_ID,
            genesis_time_ms=1_000,
            app_state=loadgen.transfer_app_state(accounts),
            keys=VALIDATORS,
            insecure=True,
        )
        node = Node(load_home(workdir / "v1"), VALIDATORS[1])
        try:
            blocks = transfers(accounts, per_block, count + WARM_BLOCKS)
            return await replay(node, blocks, batch, from_peer)
        finally:
            node.consensus.close()
            node.executor.shutdown(wait=True)
            node._store.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=37)
    parser.add_argument("--per-block", type=int, default=300)
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument(
        "--clients",
        action="store_true",
        help="admit as this node's clients' submissions (the RPC's path, where the pool's "
        "admit, sender and local limits apply) instead of as gossip from a peer",
    )
    args = parser.parse_args()
    log.configure("bench", "warning")  # the node's per-block lines would drown the figures
    accounts = [loadgen.account_key(index) for index in range(args.accounts)]
    totals = asyncio.run(
        run(accounts, args.batch, args.per_block, args.blocks, from_peer=not args.clients)
    )
    txs = totals.pop("txs")
    del totals["blocks"], totals["signatures"]
    source = "clients' transfers" if args.clients else "gossiped transfers"
    print(
        f"{int(txs):,} {source} in batches of {args.batch}, blocks of "
        f"{args.per_block} (thread CPU per transaction):"
    )
    for part, seconds in totals.items():
        where = "signature threads" if part == "verify threads" else "event loop"
        print(f"  {part:<18} {seconds / txs * 1e6:7.1f} µs  ({where})")


if __name__ == "__main__":
    main()
