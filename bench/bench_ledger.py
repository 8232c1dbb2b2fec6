"""Ledger micro-benchmark: canonical codec, signature checks and apply_block on LevelDB.

Prints rates for this machine:
- encode + decode of a signed transfer (a fresh object each time, so no cached bytes),
- Ed25519 verification of transaction signatures on one thread and on two,
- `apply_block` for a block of 2,000 transfers against a LevelDB store holding
  100,000 funded accounts, signature checks included (two-thread executor), as
  transfers per second; then the same block with its signatures known good, its
  transactions alone (no state tree), and what building its commit batch
  (block, receipts, transaction index) costs;
- the same for transfers signed by one key (one-key accounts, version 1 envelope)
  against transfers co-signed by two keys (accounts with a 2-of-2 policy), run
  alternately on the same store, with the cost per transfer of each.

Run from the repository root:  python bench/bench_ledger.py [--accounts N] [--block N]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contracts import coin  # noqa: E402
from contracts.account import policy_key  # noqa: E402
from contracts.registry import APPLICATION  # noqa: E402
from ledger import codec  # noqa: E402
from ledger.block import Block, BlockHeader, CommitCertificate  # noqa: E402
from ledger.chainstore import commit_batch  # noqa: E402
from ledger.execution import (  # noqa: E402
    BlockInfo,
    BlockResult,
    apply_block,
    apply_genesis,
    apply_tx,
    receipt_leaves,
)
from ledger.genesis import Genesis  # noqa: E402
from ledger.keys import PrivateKey, verify, verify_many  # noqa: E402
from ledger.merkle import merkle_root  # noqa: E402
from ledger.state import StateView  # noqa: E402
from ledger.tx import SignedTransaction, Transaction  # noqa: E402
from node.storage import LevelDBStore  # noqa: E402

CHAIN_ID = "pasar-bench"
SYMBOL = "IDR"
BALANCE = 1_000_000


def sender_key(n: int) -> PrivateKey:
    return PrivateKey.from_seed(hashlib.sha256(b"bench-sender" + n.to_bytes(4, "big")).digest())


def plain_account(n: int) -> bytes:
    return hashlib.sha256(b"bench-account" + n.to_bytes(4, "big")).digest()


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:>12,.0f} /s"


def transfer(key: PrivateKey, public: bytes, to: bytes, nonce: int = 0) -> SignedTransaction:
    tx = Transaction(CHAIN_ID, public, nonce, "coin.transfer", (SYMBOL, to, 7), 0)
    return tx.sign(key)


def bench_codec(signed: list[SignedTransaction], rounds: int) -> None:
    lists = [stx.to_list() for stx in signed]
    start = time.perf_counter()
    for _ in range(rounds):
        for stx in signed:
            fresh = SignedTransaction.single(stx.tx, stx.signatures[0][1])
            SignedTransaction.decode(fresh.encode())
    elapsed = time.perf_counter() - start
    print(f"encode+decode signed tx      {rate(rounds * len(signed), elapsed)}")
    start = time.perf_counter()
    for _ in range(rounds):
        for value in lists:
            codec.decode(codec.encode(value))
    elapsed = time.perf_counter() - start
    print(f"  (codec only, no types)     {rate(rounds * len(lists), elapsed)}")


def bench_verify(signed: list[SignedTransaction], executor: ThreadPoolExecutor) -> None:
    checks = [check for stx in signed for check in stx.signature_checks()]
    start = time.perf_counter()
    results = [verify(*check) for check in checks]
    elapsed = time.perf_counter() - start
    if not all(results):
        raise SystemExit("a benchmark signature failed to verify")
    print(f"verify, 1 thread             {rate(len(checks), elapsed)}")
    start = time.perf_counter()
    results = verify_many(checks, executor)
    elapsed = time.perf_counter() - start
    if not all(results):
        raise SystemExit("a benchmark signature failed to verify")
    print(f"verify, 2 threads            {rate(len(checks), elapsed)}")


def fund_store(store: LevelDBStore, accounts: list[bytes]) -> bytes:
    """Genesis with one asset, then a balance for every account; returns the state root."""
    issuer = sender_key(10**9).public_key
    genesis = Genesis(
        CHAIN_ID,
        0,
        ((issuer, "v0"),),
        [["coin", [[[SYMBOL, "rupiah", 2, issuer, coin.MAX_AMOUNT, "open"]], []]]],
    )
    result = apply_genesis(APPLICATION, store, genesis)
    store.write(result.state_batch())
    batch: dict[bytes, bytes | None] = {}
    for account in accounts:
        batch[coin.balance_key(account, SYMBOL)] = codec.encode(BALANCE)
        if len(batch) >= 10_000:
            store.write(batch, sync=False)
            batch = {}
    asset = coin.load_asset(store, SYMBOL)
    if asset is None:
        raise SystemExit("genesis did not create the asset")
    supply = BALANCE * len(accounts)
    batch[coin.asset_key(SYMBOL)] = codec.encode(
        [asset.symbol, asset.name, asset.decimals, asset.issuer, asset.cap, supply, asset.policy]
    )
    store.write(batch, sync=True)
    return result.state_root


def recipient(accounts: list[bytes], sender: bytes, spread: int) -> bytes:
    """A funded account other than the sender, spread over the whole account set."""
    target = accounts[spread % len(accounts)]
    return target if target != sender else accounts[(spread + 1) % len(accounts)]


def bench_apply_block(
    store: LevelDBStore,
    state_root: bytes,
    senders: list[tuple[PrivateKey, bytes]],
    accounts: list[bytes],
    block_size: int,
    runs: int,
    executor: ThreadPoolExecutor,
) -> None:
    info = BlockInfo(CHAIN_ID, 1, 1_000, senders[0][1])
    timings, execution_only, transactions_only, batching = [], [], [], []
    for run in range(runs):
        # Each run uses a different slice of senders; bytes are decoded afresh, as a
        # replica receives them, so no hash or signature result is cached. Decoding
        # is measured above; the clock covers apply_block alone.
        chosen = [senders[(run * block_size + i) % len(senders)] for i in range(block_size)]
        raw = [
            transfer(key, public, recipient(accounts, public, run * 7919 + i * 104_729)).encode()
            for i, (key, public) in enumerate(chosen)
        ]
        transactions = [SignedTransaction.decode(item) for item in raw]
        start = time.perf_counter()
        result = apply_block(APPLICATION, store, info, transactions, state_root, executor)
        elapsed = time.perf_counter() - start
        failed = [r.code for r in result.receipts if not r.ok]
        if failed:
            raise SystemExit(f"benchmark transfers were rejected: {failed[:3]}")
        timings.append(elapsed)
        # The same block again with every signature already known to be good (as
        # when the mempool verified them): what execution alone costs.
        known = {stx.verification_key for stx in transactions}
        start = time.perf_counter()
        apply_block(APPLICATION, store, info, transactions, state_root, executor, known)
        execution_only.append(time.perf_counter() - start)
        # The transactions alone, without the state tree: what apply_block does
        # per transaction (state view, contracts, receipts and their root).
        start = time.perf_counter()
        view = StateView(store)
        receipts = [apply_tx(APPLICATION, view, stx, info, True) for stx in transactions]
        view.write_set()
        merkle_root(receipt_leaves(receipts, ()))
        transactions_only.append(time.perf_counter() - start)
        # What committing adds before the LevelDB write: the block, its receipts and
        # the transaction index as one batch (the block as a replica received it).
        block = Block.decode(Block(block_header(info, result), tuple(transactions), None).encode())
        certificate = CommitCertificate(1, 0, block.hash, ())
        start = time.perf_counter()
        commit_batch(block, certificate, result)
        batching.append(time.perf_counter() - start)
    best, median = min(timings), statistics.median(timings)
    print(
        f"apply_block {block_size} transfers   {rate(block_size, median)}"
        f"  (median of {runs}; best {block_size / best:,.0f} /s; signatures checked)"
    )
    print(
        f"  (signatures pre-verified)  {rate(block_size, statistics.median(execution_only))}"
        "  (execution, roots and write-set only)"
    )
    print(
        f"  (transactions alone)       {rate(block_size, statistics.median(transactions_only))}"
        "  (state view, contracts, receipts root; no state tree)"
    )
    print(
        f"  (commit batch)             {rate(block_size, statistics.median(batching))}"
        "  (block, receipts and tx index encoded for the store)"
    )


def block_header(info: BlockInfo, result: BlockResult) -> BlockHeader:
    """A header for the benchmark block (roots from its execution, the rest arbitrary)."""
    return BlockHeader(
        info.chain_id,
        info.height,
        bytes(32),
        info.timestamp_ms,
        info.proposer,
        len(result.receipts),
        result.tx_root,
        result.receipts_count,
        result.receipts_root,
        result.state_root,
        bytes(32),
        bytes(32),
    )


def cosigner_key(n: int) -> PrivateKey:
    return PrivateKey.from_seed(hashlib.sha256(b"bench-cosigner" + n.to_bytes(4, "big")).digest())


def bench_cosigned(
    store: LevelDBStore,
    state_root: bytes,
    senders: list[tuple[PrivateKey, bytes]],
    accounts: list[bytes],
    block_size: int,
    runs: int,
    executor: ThreadPoolExecutor,
) -> None:
    """One-signature transfers against two-signature transfers from 2-of-2 accounts."""
    if len(senders) < 2 * block_size:
        raise SystemExit("the co-signing comparison needs 2 x --block senders")
    single, double = senders[:block_size], senders[block_size : 2 * block_size]
    cosigners = [cosigner_key(n) for n in range(block_size)]
    policies: dict[bytes, bytes | None] = {}
    for (_, public), cosigner in zip(double, cosigners, strict=True):
        keys = sorted([[public, 1], [cosigner.public_key, 1]])
        policies[policy_key(public)] = codec.encode([keys, [1, 2, 2], 0, [], None])
    store.write(policies, sync=True)
    info = BlockInfo(CHAIN_ID, 1, 1_000, senders[0][1])

    def block(cosigned: bool, run: int) -> list[SignedTransaction]:
        group = double if cosigned else single
        raw = []
        for i, (key, public) in enumerate(group):
            to = recipient(accounts, public, run * 7919 + i * 104_729)
            tx = Transaction(CHAIN_ID, public, 0, "coin.transfer", (SYMBOL, to, 7), 0)
            signed = tx.sign(key, cosigners[i]) if cosigned else tx.sign(key)
            raw.append(signed.encode())
        return [SignedTransaction.decode(item) for item in raw]

    timings: dict[tuple[bool, bool], list[float]] = {}
    for run in range(runs):
        for cosigned in (False, True):
            transactions = block(cosigned, run)
            for preverified in (False, True):
                known = {stx.verification_key for stx in transactions} if preverified else set()
                start = time.perf_counter()
                result = apply_block(
                    APPLICATION, store, info, transactions, state_root, executor, known
                )
                timings.setdefault((cosigned, preverified), []).append(time.perf_counter() - start)
                failed = [r.code for r in result.receipts if not r.ok]
                if failed:
                    raise SystemExit(f"benchmark transfers were rejected: {failed[:3]}")
    for preverified in (False, True):
        one = statistics.median(timings[(False, preverified)]) / block_size * 1e6
        two = statistics.median(timings[(True, preverified)]) / block_size * 1e6
        what = "signatures pre-verified" if preverified else "signatures checked"
        print(
            f"transfer, 1 vs 2 signatures  {one:>8.1f} us vs {two:>6.1f} us"
            f"  (x{two / one:.2f}; {what}; median of {runs} blocks of {block_size})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--block", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=7)
    options = parser.parse_args()

    sender_count = min(options.accounts, options.block * options.runs)
    senders = [(k, k.public_key) for k in (sender_key(n) for n in range(sender_count))]
    accounts = [public for _, public in senders]
    accounts += [plain_account(n) for n in range(options.accounts - sender_count)]
    sample = [
        transfer(key, public, accounts[-1 - i]) for i, (key, public) in enumerate(senders[:2000])
    ]
    load = os.getloadavg()[0]
    print(f"# {os.cpu_count()} CPUs, load average {load:.1f} (numbers are only meaningful near 0)")
    with ThreadPoolExecutor(max_workers=2) as executor:
        bench_codec(sample, rounds=5)
        bench_verify(sample * 5, executor)
        with tempfile.TemporaryDirectory() as tmp, LevelDBStore(Path(tmp) / "db") as store:
            state_root = fund_store(store, accounts)
            bench_apply_block(
                store, state_root, senders, accounts, options.block, options.runs, executor
            )
            bench_cosigned(
                store, state_root, senders, accounts, options.block, options.runs, executor
            )


if __name__ == "__main__":
    main()
