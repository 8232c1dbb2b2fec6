"""What the state tree and proof bundles cost: block execution and commit, proofs, disk.

    python bench/bench_proofs.py --accounts 10000 1000000 --blocks 1000

For each account count the state is built on LevelDB with every account holding
a balance *in the tree* (funding batches of 50,000 accounts written as tree
versions without executing transfers: the bounded way to reach 1M accounts in
minutes; the resulting tree is the one execution would build). Then `--warm`
full blocks run untimed, so the node's caches hold what a running node's would,
and per measured run a fresh 2,000-transfer block is

- executed with the previous chained write-set hash in place of the tree, and
  with the tree (`apply_block`, as validators do; `update_tree` is timed inside
  that run), each after an untimed pass that reads the block's accounts, so
  neither pays for reading state the other already read;
- committed as one synced LevelDB batch: the write-set alone (what the chained
  hash needed) and the write-set plus the tree's nodes and stale index (now).

Senders are reused round-robin with their next nonce, so the tree keeps its size.
The warm blocks are also reported as wall and process CPU time per block (all
threads: LevelDB compacts in the background, in proportion to the bytes written;
the store is compacted once after the build so that they do not pay for it).
Timings are wall clock on whatever else the machine runs; `update_tree` is also
given in CPU time of the thread that ran it, which other processes disturb less.
It also reports the size and offline verification time of a tx bundle and of a
balance proof, and (with --blocks) the LevelDB growth over that many small
blocks with pruning on, once the versions the state was built with are pruned,
after a full compaction (LevelDB frees deleted nodes only when it compacts).
Numbers only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contracts import coin  # noqa: E402
from contracts.registry import APPLICATION  # noqa: E402
from ledger import codec, execution  # noqa: E402
from ledger.block import (  # noqa: E402
    Block,
    BlockHeader,
    CommitCertificate,
    sign_commit_vote,
)
from ledger.block import validator_set_hash as set_hash  # noqa: E402
from ledger.bundle import (  # noqa: E402
    StateBundle,
    TrustAnchor,
    TxBundle,
    decode_bundle,
    verify_state_bundle,
    verify_tx_bundle,
)
from ledger.execution import BlockInfo, BlockResult, apply_block, apply_genesis  # noqa: E402
from ledger.genesis import Genesis  # noqa: E402
from ledger.hashing import ZERO_HASH, tagged_hash  # noqa: E402
from ledger.inclusion import receipt_inclusion, tx_inclusion  # noqa: E402
from ledger.keys import PrivateKey  # noqa: E402
from ledger.state_tree import (  # noqa: E402
    HASH_MEMO_ENTRY_BYTES,
    TREE_PREFIX,
    hash_memo_size,
    prove,
    prune,
    update_tree,
)
from ledger.tx import SignedTransaction, Transaction  # noqa: E402
from node.storage import LevelDBStore  # noqa: E402

CHAIN_ID = "pasar-bench"
SYMBOL = "IDR"
BALANCE = 1_000_000
FUNDING_BATCH = 50_000
KEEP_VERSIONS = 128
VALIDATORS = [PrivateKey.from_seed(bytes([0x40 + i]) * 32) for i in range(4)]


def key_of(n: int) -> PrivateKey:
    return PrivateKey.from_seed(hashlib.sha256(b"bench-proofs" + n.to_bytes(4, "big")).digest())


def account_of(n: int) -> bytes:
    return hashlib.sha256(b"bench-proofs-account" + n.to_bytes(4, "big")).digest()


def chained_root(
    reader: object, version: int, prev_root: bytes, write_set: Sequence[tuple[bytes, bytes | None]]
) -> tuple[bytes, dict[bytes, bytes | None]]:
    """The state commitment before the tree: H(prev ‖ H(write-set)), nothing stored."""
    digest = tagged_hash(b"pasar/writeset", codec.encode([[k, v] for k, v in write_set]))
    return tagged_hash(b"pasar/state", prev_root + digest), {}


@contextmanager
def chained_hash_instead_of_tree() -> Iterator[None]:
    saved = execution.update_tree
    execution.update_tree = chained_root  # type: ignore[assignment]
    try:
        yield
    finally:
        execution.update_tree = saved


class Ledger:
    """A LevelDB state with `accounts` funded balances, all in the state tree."""

    def __init__(self, store: LevelDBStore, accounts: int, senders: int) -> None:
        self.store = store
        issuer = VALIDATORS[0].public_key
        genesis = Genesis(
            CHAIN_ID,
            0,
            tuple((v.public_key, f"v{i}") for i, v in enumerate(VALIDATORS)),
            [["coin", [[[SYMBOL, "rupiah", 2, issuer, coin.MAX_AMOUNT, "open"]], []]]],
        )
        result = apply_genesis(APPLICATION, store, genesis)
        store.write(result.state_batch())
        self.root, self.version = result.state_root, 0
        self.senders = [key_of(n) for n in range(senders)]
        publics = [k.public_key for k in self.senders]
        self.accounts = publics + [account_of(n) for n in range(accounts - senders)]
        asset = coin.load_asset(store, SYMBOL)
        if asset is None:
            raise SystemExit("genesis did not create the asset")
        start = time.perf_counter()
        for low in range(0, accounts, FUNDING_BATCH):
            chunk = self.accounts[low : low + FUNDING_BATCH]
            writes = [(coin.balance_key(a, SYMBOL), codec.encode(BALANCE)) for a in chunk]
            if low + FUNDING_BATCH >= accounts:
                supply = BALANCE * accounts
                fields = [asset.symbol, asset.name, asset.decimals, asset.issuer, asset.cap]
                writes.append(
                    (coin.asset_key(SYMBOL), codec.encode([*fields, supply, asset.policy]))
                )
            self.commit_writes(sorted(writes))
        self.funding_seconds = time.perf_counter() - start
        self.next_sender = 0
        self.nonces = [0] * len(self.senders)

    def commit_writes(self, write_set: list[tuple[bytes, bytes | None]]) -> None:
        self.version += 1
        self.root, tree_writes = update_tree(self.store, self.version, self.root, write_set)
        batch: dict[bytes, bytes | None] = dict(write_set)
        batch.update(tree_writes)
        batch.update(prune(self.store, self.version, KEEP_VERSIONS))
        self.store.write(batch, sync=False)

    def block(self, size: int) -> list[SignedTransaction]:
        """`size` transfers, each from another sender (round-robin, with its next nonce),
        spread over all accounts."""
        if size > len(self.senders):
            raise SystemExit("more transfers per block than accounts")
        txs = []
        for i in range(size):
            index = (self.next_sender + i) % len(self.senders)
            sender, nonce = self.senders[index], self.nonces[index]
            self.nonces[index] += 1
            spread = (self.next_sender * 7919 + i * 104_729) % len(self.accounts)
            to = self.accounts[spread]
            if to == sender.public_key:
                to = self.accounts[(spread + 1) % len(self.accounts)]
            tx = Transaction(
                CHAIN_ID, sender.public_key, nonce, "coin.transfer", (SYMBOL, to, 7), 0
            )
            txs.append(tx.sign(sender))
        self.next_sender = (self.next_sender + size) % len(self.senders)
        return [SignedTransaction.decode(stx.encode()) for stx in txs]  # as a replica gets them

    def info(self) -> BlockInfo:
        return BlockInfo(
            CHAIN_ID, self.version + 1, 1_000 * (self.version + 1), VALIDATORS[0].public_key
        )


def timed(function, *args, **kwargs):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = function(*args, **kwargs)
    return value, time.perf_counter() - start


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


@contextmanager
def timing_update_tree(seconds: list[float], cpu: list[float]) -> Iterator[None]:
    """Time each `update_tree` call apply_block makes (wall and this thread's CPU)."""
    saved = execution.update_tree

    def timed_update(*args, **kwargs):  # type: ignore[no-untyped-def]
        start, start_cpu = time.perf_counter(), time.thread_time()
        value = saved(*args, **kwargs)
        seconds.append(time.perf_counter() - start)
        cpu.append(time.thread_time() - start_cpu)
        return value

    execution.update_tree = timed_update
    try:
        yield
    finally:
        execution.update_tree = saved


def commit_tree_block(ledger: Ledger, info: BlockInfo, result: BlockResult, sync: bool) -> float:
    """Write a block's state, tree nodes and pruning in one batch; the seconds it took."""
    batch = result.state_batch()
    batch.update(prune(ledger.store, info.height, KEEP_VERSIONS))
    _, seconds = timed(ledger.store.write, batch, sync)
    ledger.version, ledger.root = info.height, result.state_root
    return seconds


def bench_block(
    ledger: Ledger, size: int, runs: int, warm: int, executor: ThreadPoolExecutor
) -> dict[str, float]:
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    for _ in range(warm):
        transactions = ledger.block(size)
        known = {stx.verification_key for stx in transactions}
        info = ledger.info()
        result = apply_block(
            APPLICATION, ledger.store, info, transactions, ledger.root, executor, known
        )
        commit_tree_block(ledger, info, result, False)
    # All threads: execution, the tree, the commit and LevelDB's own compactions, which
    # run in the background and grow with the bytes each block writes.
    warm_cpu = (time.process_time() - cpu_start) / max(warm, 1)
    warm_wall = (time.perf_counter() - wall_start) / max(warm, 1)
    names = ("tree", "chained", "chained_pre", "update_tree", "update_tree_cpu")
    extra = ("commit_old", "commit_tree", "tree_entries", "tree_bytes")
    rows: dict[str, list[float]] = {name: [] for name in (*names, *extra)}
    last: tuple[list[SignedTransaction], BlockResult] | None = None
    for _ in range(runs):
        transactions = ledger.block(size)
        info = ledger.info()
        known = {stx.verification_key for stx in transactions}
        with chained_hash_instead_of_tree():
            # Untimed: read the block's accounts into the caches both runs use.
            apply_block(APPLICATION, ledger.store, info, transactions, ledger.root, executor, known)
            fresh = [SignedTransaction.decode(stx.encode()) for stx in transactions]
            _, seconds = timed(
                apply_block, APPLICATION, ledger.store, info, fresh, ledger.root, executor
            )
            rows["chained"].append(seconds)
            _, seconds = timed(
                apply_block,
                APPLICATION,
                ledger.store,
                info,
                transactions,
                ledger.root,
                executor,
                known,
            )
            rows["chained_pre"].append(seconds)
        # Fresh decoded transactions: signatures are checked as in the chained run.
        fresh = [SignedTransaction.decode(stx.encode()) for stx in transactions]
        with timing_update_tree(rows["update_tree"], rows["update_tree_cpu"]):
            result, seconds = timed(
                apply_block, APPLICATION, ledger.store, info, fresh, ledger.root, executor
            )
        rows["tree"].append(seconds)
        failed = [f"{r.code}: {r.message}" for r in result.receipts if not r.ok]
        if failed:
            raise SystemExit(f"benchmark transfers were rejected: {failed[:3]}")
        _, seconds = timed(ledger.store.write, dict(result.write_set), True)
        rows["commit_old"].append(seconds)
        rows["commit_tree"].append(commit_tree_block(ledger, info, result, True))
        tree = [v for k, v in result.tree_writes.items() if k.startswith(TREE_PREFIX) and v]
        rows["tree_entries"].append(len(tree))
        rows["tree_bytes"].append(sum(len(v) for v in tree))
        last = (transactions, result)
    medians = {name: statistics.median(values) for name, values in rows.items()}
    medians["warm_cpu"], medians["warm_wall"] = warm_cpu, warm_wall
    assert last is not None
    ledger.last_block = last  # type: ignore[attr-defined]
    return medians


def certified(header: BlockHeader) -> CommitCertificate:
    votes = {
        v.public_key: sign_commit_vote(v, CHAIN_ID, header.height, 0, header.hash)
        for v in VALIDATORS[:3]
    }
    return CommitCertificate.build(header.height, 0, header.hash, votes)


def bench_bundles(ledger: Ledger) -> dict[str, float]:
    transactions, result = ledger.last_block  # type: ignore[attr-defined]
    header = BlockHeader(
        CHAIN_ID,
        ledger.version,
        ZERO_HASH,
        1_000 * ledger.version,
        VALIDATORS[0].public_key,
        len(transactions),
        result.tx_root,
        result.receipts_count,
        result.receipts_root,
        result.state_root,
        set_hash([v.public_key for v in VALIDATORS]),
        ZERO_HASH,
    )
    certificate = certified(header)
    block = Block(header, tuple(transactions), None)
    index = len(transactions) // 2
    bundle = TxBundle(
        transactions[index].tx,
        result.receipts[index],
        tx_inclusion(block, index),
        receipt_inclusion(result.receipts, index),
        header,
        certificate,
        (),
    )
    anchor = TrustAnchor(CHAIN_ID, tuple(v.public_key for v in VALIDATORS))
    raw = bundle.encode()
    rounds = 200
    _, seconds = timed(
        lambda: [verify_tx_bundle(decode_bundle(raw), anchor) for _ in range(rounds)]
    )  # type: ignore[arg-type]
    account = transactions[index].tx.sender
    key = coin.balance_key(account, SYMBOL)
    proof = prove(ledger.store, ledger.version, ledger.root, key, ledger.store.get(key))
    state = StateBundle((proof,), header, certificate, ())
    state_raw = state.encode()
    _, state_seconds = timed(
        lambda: [verify_state_bundle(decode_bundle(state_raw), anchor) for _ in range(rounds)]
    )  # type: ignore[arg-type]
    _, proof_seconds = timed(lambda: [proof.verify(ledger.root) for _ in range(rounds)])
    return {
        "tx_bundle_bytes": len(raw),
        "tx_bundle_verify": seconds / rounds,
        "balance_bundle_bytes": len(state_raw),
        "balance_bundle_verify": state_seconds / rounds,
        "state_proof_bytes": len(proof.encode()),
        "state_proof_siblings": sum(len(siblings) for _, siblings in proof.levels),
        "state_proof_levels": len(proof.levels),
        "state_proof_verify": proof_seconds / rounds,
    }


def directory_bytes(path: Path) -> int:
    return sum(item.stat().st_size for item in path.iterdir() if item.is_file())


def small_blocks(ledger: Ledger, blocks: int, per_block: int) -> tuple[float, int]:
    """Commit `blocks` blocks of `per_block` transfers (pruning on); the seconds taken and
    the bytes a node would also keep for them forever (transactions, receipts, tx index;
    not written here: no real headers or certificates are made)."""
    start = time.perf_counter()
    kept = 0
    for _ in range(blocks):
        transactions = ledger.block(per_block)
        known = {stx.verification_key for stx in transactions}
        info = ledger.info()
        result = apply_block(
            APPLICATION, ledger.store, info, transactions, ledger.root, None, known
        )
        commit_tree_block(ledger, info, result, False)
        kept += sum(len(stx.encode()) + 32 + 16 for stx in transactions)
        kept += sum(len(receipt.encode()) for receipt in result.receipts)
    return time.perf_counter() - start, kept


def bench_growth(ledger: Ledger, path: Path, blocks: int, per_block: int) -> dict[str, float]:
    """LevelDB bytes over `blocks` small blocks, in steady state: first KEEP_VERSIONS
    blocks so that every version the state was built with is pruned, then the measured
    ones; sizes raw and after a full compaction (what pruning really frees)."""
    small_blocks(ledger, KEEP_VERSIONS, per_block)
    ledger.store.compact()
    before, tree_before = directory_bytes(path), tree_bytes(ledger.store)
    seconds, kept = small_blocks(ledger, blocks, per_block)
    raw = directory_bytes(path)
    ledger.store.compact()
    return {
        "before": before,
        "raw": raw,
        "after": directory_bytes(path),
        "tree_before": tree_before,
        "tree_after": tree_bytes(ledger.store),
        "seconds": seconds,
        "chain_bytes": kept,
    }


def tree_bytes(store: LevelDBStore) -> int:
    """Bytes of the live state tree entries (keys and values): what pruning bounds."""
    return sum(len(key) + len(value) for key, value in store.iterate(TREE_PREFIX))


def report(
    accounts: int, ledger: Ledger, path: Path, options: argparse.Namespace, row: dict[str, float]
) -> None:
    size = options.block
    built = f"state built in {ledger.funding_seconds:.0f} s, {directory_bytes(path) / 1e6:.0f} MB"
    print(f"\n## {accounts:,} accounts ({built})")
    added = 100 * (row["tree"] / row["chained"] - 1)
    print(f"apply_block {size} transfers, tree            {ms(row['tree'])}")
    print(
        f"apply_block {size} transfers, chained hash    {ms(row['chained'])}  (tree +{added:.0f}%)"
    )
    print(f"  of which update_tree                          {ms(row['update_tree'])}", end="")
    print(f"  ({ms(row['update_tree_cpu']).strip()} thread CPU)")
    print(f"  chained, signatures pre-verified            {ms(row['chained_pre'])}")
    print(f"commit (one synced batch), write-set only     {ms(row['commit_old'])}")
    print(f"commit (one synced batch), write-set + tree   {ms(row['commit_tree'])}")
    entries, written = row["tree_entries"], row["tree_bytes"]
    print(
        f"  tree entries written per block {entries:,.0f}, {written / 1e6:.2f} MB "
        f"({written / max(entries, 1):,.0f} bytes each, values only); update_tree "
        f"{row['update_tree_cpu'] * 1e6 / max(entries, 1):.1f} us of thread CPU per entry"
    )
    old, new = row["chained"] + row["commit_old"], row["tree"] + row["commit_tree"]
    print(f"apply + commit: chained {ms(old)}, tree {ms(new)} (+{100 * (new / old - 1):.0f}%)")
    memo = hash_memo_size()
    print(
        f"  memo of node hashes: {memo:,} nodes, about {memo * HASH_MEMO_ENTRY_BYTES / 1e6:.0f} MB"
    )
    print(
        f"untimed warm blocks: {ms(row['warm_wall']).strip()} each, "
        f"{ms(row['warm_cpu']).strip()} process CPU (all threads, LevelDB compactions too)"
    )
    proofs = bench_bundles(ledger)
    print(
        f"tx bundle: {proofs['tx_bundle_bytes']:.0f} bytes, "
        f"verified offline in {ms(proofs['tx_bundle_verify'])}"
    )
    print(
        f"balance bundle: {proofs['balance_bundle_bytes']:.0f} bytes, verified in "
        f"{ms(proofs['balance_bundle_verify'])}; its state proof {proofs['state_proof_bytes']:.0f}"
        f" bytes ({proofs['state_proof_levels']:.0f} levels, "
        f"{proofs['state_proof_siblings']:.0f} siblings), "
        f"{proofs['state_proof_verify'] * 1e6:.0f} us to verify"
    )
    if options.blocks:
        sizes = bench_growth(ledger, path, options.blocks, options.per_block)
        before, after = sizes["before"], sizes["after"]
        print(
            f"LevelDB growth over {options.blocks} blocks of {options.per_block} transfers "
            f"(state and tree only, pruning beyond {KEEP_VERSIONS} versions, compacted): "
            f"{(after - before) / 1e6:.1f} MB ({before / 1e6:.0f} -> {after / 1e6:.0f} MB; "
            f"{(sizes['raw'] - before) / 1e6:.0f} MB before compaction; {sizes['seconds']:.0f} s)"
        )
        print(
            f"  live state tree entries {sizes['tree_before'] / 1e6:.1f} -> "
            f"{sizes['tree_after'] / 1e6:.1f} MB (all versions kept: the newest {KEEP_VERSIONS})"
        )
        print(
            f"  plus what a node keeps forever for those blocks (transactions, receipts, tx "
            f"index; headers and certificates not counted): {sizes['chain_bytes'] / 1e6:.1f} MB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--block", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warm", type=int, default=5, help="untimed blocks first")
    parser.add_argument("--blocks", type=int, default=0, help="growth run: this many blocks")
    parser.add_argument("--per-block", type=int, default=5, help="growth run: transfers per block")
    options = parser.parse_args()
    load = os.getloadavg()[0]
    print(f"# {os.cpu_count()} CPUs, load average {load:.1f}; medians of {options.runs} runs")
    summary: dict[int, dict[str, float]] = {}
    with ThreadPoolExecutor(max_workers=2) as executor:
        for accounts in options.accounts:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "db"
                with LevelDBStore(path) as store:
                    ledger = Ledger(store, accounts, min(options.block, accounts))
                    # Pay LevelDB's compaction debt of the build now, so that the blocks
                    # measured next pay only for their own writes.
                    store.compact()
                    summary[accounts] = bench_block(
                        ledger, options.block, options.runs, options.warm, executor
                    )
                    report(accounts, ledger, path, options, summary[accounts])
    if len(summary) >= 2:
        small, large = min(summary), max(summary)
        ratios = {
            "update_tree (thread CPU)": lambda row: row["update_tree_cpu"],
            "update_tree + commit": lambda row: row["update_tree"] + row["commit_tree"],
            "apply_block + commit, with the tree": lambda row: row["tree"] + row["commit_tree"],
            "apply_block + commit, chained hash": lambda row: row["chained"] + row["commit_old"],
        }
        print(f"\nat {large:,} / at {small:,} accounts:")
        for name, cost in ratios.items():
            print(f"  {name:38} {cost(summary[large]) / cost(summary[small]):.2f}")


if __name__ == "__main__":
    main()
