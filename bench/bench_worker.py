"""What a validator's block worker spends per block and per transaction, offline.

The node's block worker (the consensus driver's `blocks_0` thread) checks each
proposal (`Chain.execute_check`: signatures already known, execution, the state
tree, the receipts and roots) and writes each commit (`Chain.write_commit`: the
commit batch and its synced LevelDB write). This replays that work on the load
generator's state and transfers (bench/loadgen.py: its accounts, its genesis, its
transfers of 1 to another account), without the network, the event loop or other
processes:

1. a primary chain builds and commits WARM + BLOCKS blocks of each size;
2. a replica on a fresh store, with an empty state tree memo (its own process's,
   as on a validator) and the garbage collector tuned as a validator tunes it,
   checks and commits the same blocks, each transaction's signature known good
   (as gossip admission left it), timing the last BLOCKS.

Thread CPU (`time.thread_time`) per part, per block and per transaction, and the
wall time of the synced write beside its CPU: the difference is the wait for
the disk, which py-spy counts as busy.

    python bench/bench_worker.py [--accounts 2000] [--sizes 190 620] [--blocks 20]

(190 and 620 transactions per block are what 1,500 and 3,000 tx/s offered to four
validators gave at the generator's 100 ms block interval.)
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import loadgen  # noqa: E402
from contracts.registry import APPLICATION  # noqa: E402
from ledger import chainstore, execution  # noqa: E402
from ledger.block import Block, CommitCertificate, sign_commit_vote  # noqa: E402
from ledger.genesis import Genesis  # noqa: E402
from ledger.keys import PrivateKey, address_to_text  # noqa: E402
from ledger.state_tree import clear_hash_memo  # noqa: E402
from ledger.tx import SignedTransaction, Transaction  # noqa: E402
from node import gc_tuning  # noqa: E402
from node.chain import Chain  # noqa: E402
from node.home import GcSettings, genesis_from_json  # noqa: E402
from node.storage import LevelDBStore  # noqa: E402

VALIDATORS = [PrivateKey.from_seed(bytes([200 + i]) * 32) for i in range(4)]
# (module, function): timed apart inside the check and the commit
PARTS = (
    (execution, "update_tree"),
    (execution, "receipt_leaves"),
    (execution, "merkle_root"),
    (chainstore, "commit_batch"),
    (chainstore, "prune"),
)


def genesis(accounts: list[PrivateKey]) -> Genesis:
    return genesis_from_json(
        {
            "chain_id": loadgen.CHAIN_ID,
            "genesis_time_ms": 1_000,
            "validators": [
                {"name": f"v{i}", "key": address_to_text(key.public_key)}
                for i, key in enumerate(VALIDATORS)
            ],
            "app_state": loadgen.transfer_app_state(accounts),
        }
    )


def certify(block: Block) -> CommitCertificate:
    votes = {
        key.public_key: sign_commit_vote(key, loadgen.CHAIN_ID, block.height, 0, block.hash)
        for key in VALIDATORS[:3]
    }
    return CommitCertificate.build(block.height, 0, block.hash, votes)


def transfers(accounts: list[PrivateKey], size: int, count: int) -> list[list[bytes]]:
    """`count` blocks of `size` encoded transfers, accounts in turn, each paying the
    account half the accounts away (plus its nonce). The generator's blocks at these
    rates hold no transfer to a sender of the same block either (its lanes interleave
    accounts far apart), so every balance a block writes changes: a block of
    consecutive accounts paying the next one would write half of them back as they
    were, which the state tree skips cheaply, and look cheaper than the network's."""
    step = len(accounts) // 2
    nonces = [0] * len(accounts)
    blocks = []
    cursor = 0
    for _ in range(count):
        block = []
        for offset in range(size):
            index = (cursor + offset) % len(accounts)
            nonce = nonces[index]
            nonces[index] += 1
            to = accounts[(index + step + nonce) % len(accounts)].public_key
            tx = Transaction(
                loadgen.CHAIN_ID,
                accounts[index].public_key,
                nonce,
                "coin.transfer",
                (loadgen.SYMBOL, to, 1),
            )
            block.append(tx.sign(accounts[index]).encode())
        cursor += size
        blocks.append(block)
    return blocks


@contextmanager
def timing(totals: dict[str, float], active: list[bool]) -> Iterator[None]:
    """Add each PARTS function's thread CPU to `totals` while `active[0]`."""
    saved: list[tuple[Any, str, Callable[..., Any]]] = []
    for module, name in PARTS:
        function = getattr(module, name)
        saved.append((module, name, function))

        def timed(*args: Any, _f: Callable[..., Any] = function, _n: str = name) -> Any:
            if not active[0]:
                return _f(*args)
            start = time.thread_time()
            try:
                return _f(*args)
            finally:
                totals[_n] = totals.get(_n, 0.0) + time.thread_time() - start

        setattr(module, name, timed)
    try:
        yield
    finally:
        for module, name, function in saved:
            setattr(module, name, function)


def run(accounts: list[PrivateKey], size: int, warm: int, blocks: int) -> dict[str, float]:
    chain_genesis = genesis(accounts)
    workdir = Path(tempfile.mkdtemp(prefix="pasar-bench-worker-"))
    primary = Chain(LevelDBStore(workdir / "primary"), APPLICATION, chain_genesis)
    built: list[tuple[bytes, CommitCertificate]] = []
    now_ms = 2_000
    for raw_txs in transfers(accounts, size, warm + blocks):
        txs = [SignedTransaction.decode(raw) for raw in raw_txs]
        for stx in txs:
            primary.verified.add(stx.verification_key)
        block = primary.propose(VALIDATORS[0].public_key, now_ms, txs)
        certificate = certify(block)
        primary.commit(block, certificate, certified=True)
        built.append((block.encode(), certificate))
        now_ms += 100
    primary.store.close()
    clear_hash_memo()  # the replica's process has its own

    store = LevelDBStore(workdir / "replica")
    replica = Chain(store, APPLICATION, chain_genesis)
    totals: dict[str, float] = {}
    active = [False]
    write = store.write

    def timed_write(batch: dict[bytes, bytes | None], sync: bool = True) -> None:
        start, start_wall = time.thread_time(), time.perf_counter()
        write(batch, sync)
        if active[0]:
            totals["store.write"] = totals.get("store.write", 0.0) + time.thread_time() - start
            wall = time.perf_counter() - start_wall
            totals["store.write wall"] = totals.get("store.write wall", 0.0) + wall

    store.write = timed_write  # type: ignore[method-assign]
    with timing(totals, active):
        for number, (raw, certificate) in enumerate(built):
            block = Block.decode(raw)
            for stx in block.transactions:  # admitted from gossip: checked already
                replica.verified.add(stx.verification_key)
            active[0] = number >= warm
            start = time.thread_time()
            result = replica.execute_check(block, None)
            replica.remember(block, result)
            checked = time.thread_time()
            head, result = replica.write_commit(block, certificate, True)
            written = time.thread_time()
            replica.committed(block, certificate, head, result)
            if active[0]:
                totals["check"] = totals.get("check", 0.0) + checked - start
                totals["commit"] = totals.get("commit", 0.0) + written - checked
            active[0] = False
    store.close()
    shutil.rmtree(workdir)
    return totals


def report(size: int, blocks: int, totals: dict[str, float]) -> None:
    txs = size * blocks

    def row(name: str, seconds: float) -> None:
        per_block, per_tx = seconds / blocks * 1e3, seconds / txs * 1e6
        print(f"  {name:44s} {per_block:7.2f} ms/block {per_tx:6.1f} µs/tx")

    print(f"blocks of {size} transfers, {blocks} timed (thread CPU unless said):")
    check, commit = totals.get("check", 0.0), totals.get("commit", 0.0)
    row("check + commit", check + commit)
    row("check (execute_check)", check)
    tree = totals.get("update_tree", 0.0)
    roots = totals.get("receipt_leaves", 0.0) + totals.get("merkle_root", 0.0)
    row("  state tree (update_tree)", tree)
    row("  receipts' encoding, tx and receipt roots", roots)
    row("  execution and the rest", check - tree - roots)
    row("commit (write_commit)", commit)
    batch = totals.get("commit_batch", 0.0) + totals.get("prune", 0.0)
    row("  commit batch and pruning", batch)
    row("  store.write (LevelDB, synced; read cache)", totals.get("store.write", 0.0))
    row("  store.write, wall time", totals.get("store.write wall", 0.0))
    row("  the rest", commit - batch - totals.get("store.write", 0.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[190, 620])
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument(
        "--warm",
        type=int,
        help="untimed blocks first (default: enough for every account to have sent, so "
        "that the timed blocks create no nonce, as on a chain that has run a while)",
    )
    args = parser.parse_args()
    accounts = [loadgen.account_key(index) for index in range(args.accounts)]
    gc_tuning.apply(GcSettings())  # the collector as a validator tunes it once started
    for size in args.sizes:
        warm = -(-args.accounts // size) + 2 if args.warm is None else args.warm
        report(size, args.blocks, run(accounts, size, warm, args.blocks))


if __name__ == "__main__":
    main()
