"""The chain on real LevelDB: persistence across reopen, and atomic commits under failure.

A commit writes block, certificate, receipts, state and head in one batch, so a
failure at any moment leaves either all of a height or none of it. These tests
break a batch with an exception half-way, and kill a writing process with SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from contracts import coin
from ledger import codec
from ledger.chainstore import (
    commit_block,
    init_genesis,
    read_block,
    read_certificate,
    read_genesis,
    read_head,
    read_receipts,
)
from ledger.execution import account_nonce, apply_genesis, check_block
from ledger.kv import MemoryStore
from ledger.tx import SignedTransaction
from node.storage import LevelDBStore
from tests.ledgerkit import Chain, certify, key, make_genesis, signed

ROOT = Path(__file__).resolve().parents[2]
ACCOUNTS = [key(i) for i in range(1, 21)]
GENESIS = make_genesis(
    balances=[(k.public_key, "IDR", 1_000_000) for k in ACCOUNTS],
    assets=[("IDR", ACCOUNTS[0].public_key, 10**12)],
)


def transfers(chain: Chain, count: int, round_: int) -> list[SignedTransaction]:
    """`count` transfers in a ring, with the nonces the chain expects next."""
    txs: list[SignedTransaction] = []
    for i in range(count):
        sender = ACCOUNTS[(round_ + i) % len(ACCOUNTS)]
        target = ACCOUNTS[(round_ + i + 1) % len(ACCOUNTS)]
        nonce = account_nonce(chain.store, sender.public_key) + sum(
            1 for stx in txs if stx.tx.sender == sender.public_key
        )
        txs.append(signed(sender, nonce, "coin.transfer", ["IDR", target.public_key, 1 + i]))
    return txs


def dump(store: LevelDBStore | MemoryStore) -> list[tuple[bytes, bytes]]:
    return list(store.iterate(b""))


def replay(store: LevelDBStore) -> MemoryStore:
    """Re-execute every stored block on a fresh in-memory store, checking each one."""
    genesis = read_genesis(store)
    head = read_head(store)
    assert genesis is not None and head is not None
    fresh = MemoryStore()
    app = Chain.reopen(store).app
    init_genesis(fresh, genesis, apply_genesis(app, fresh, genesis))
    parent = None
    parent_hash, state_root = genesis.hash, read_head(fresh).state_root  # type: ignore[union-attr]
    for height in range(1, head.height + 1):
        block = read_block(store, height)
        certificate = read_certificate(store, height)
        assert block is not None and certificate is not None
        result = check_block(app, fresh, block, parent, parent_hash, state_root, genesis.chain_id)
        commit_block(fresh, block, certificate, result)
        parent, parent_hash, state_root = block.header, block.hash, block.header.state_root
    return fresh


def test_chain_survives_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "db"
    with LevelDBStore(path) as store:
        chain = Chain(store, GENESIS)
        for round_ in range(5):
            chain.commit(transfers(chain, 10, round_))
        head, state = chain.head, dump(store)
        receipts = read_receipts(store, 5)
    with LevelDBStore(path) as store:
        assert read_head(store) == head and head.height == 5
        assert dump(store) == state
        assert read_receipts(store, 5) == receipts
        assert read_genesis(store) == GENESIS
        assert dump(replay(store)) == state
        # ...and the chain continues where it stopped.
        chain = Chain.reopen(store)
        chain.commit(transfers(chain, 10, 5))
        assert read_head(store).height == 6  # type: ignore[union-attr]


def test_leveldb_and_memory_stores_agree(tmp_path: Path) -> None:
    with LevelDBStore(tmp_path / "db") as store:
        on_disk = Chain(store, GENESIS)
        in_memory = Chain(MemoryStore(), GENESIS)
        for round_ in range(3):
            txs = transfers(on_disk, 8, round_)
            disk_block, disk_result = on_disk.commit(txs)
            memory_block, memory_result = in_memory.commit(txs)
            assert disk_block == memory_block and disk_result == memory_result
        assert dump(store) == dump(in_memory.store)


class FailingBatch(Mapping[bytes, bytes | None]):
    """A write batch that raises after handing out `fail_after` values."""

    def __init__(self, batch: Mapping[bytes, bytes | None], fail_after: int) -> None:
        self._batch = dict(batch)
        self._left = fail_after

    def __getitem__(self, key: bytes) -> bytes | None:
        if self._left == 0:
            raise OSError("disk went away mid-batch")
        self._left -= 1
        return self._batch[key]

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._batch)

    def __len__(self) -> int:
        return len(self._batch)


@pytest.mark.parametrize("fail_after", [0, 1, 7, 30])
def test_batch_interrupted_before_commit_leaves_the_previous_height(
    tmp_path: Path, fail_after: int
) -> None:
    path = tmp_path / "db"
    with LevelDBStore(path) as store:
        chain = Chain(store, GENESIS)
        chain.commit(transfers(chain, 10, 0))
        before_head, before_state = chain.head, dump(store)

        class Interrupting:
            """The store, but its next write fails part-way through the batch."""

            def __getattr__(self, name: str) -> object:
                return getattr(store, name)

            def write(self, batch: Mapping[bytes, bytes | None], sync: bool = True) -> None:
                store.write(FailingBatch(batch, fail_after), sync)

        block, result = chain.next_block(transfers(chain, 10, 1))
        with pytest.raises(OSError):
            commit_block(Interrupting(), block, certify(block), result)  # type: ignore[arg-type]
        assert read_head(store) == before_head
        assert dump(store) == before_state
    with LevelDBStore(path) as store:
        assert read_head(store) == before_head and dump(store) == before_state
        chain = Chain.reopen(store)
        chain.commit(transfers(chain, 10, 1))  # the same height commits fine afterwards
        assert chain.head.height == 2


WRITER = """
import sys
from ledger.chainstore import read_head
from node.storage import LevelDBStore
from tests.integration.test_leveldb_chain import GENESIS, transfers
from tests.ledgerkit import Chain

store = LevelDBStore(sys.argv[1])
chain = Chain(store, GENESIS) if read_head(store) is None else Chain.reopen(store)
for _ in range(int(sys.argv[2])):
    chain.commit(transfers(chain, 40, chain.head.height))
    print(chain.head.height, flush=True)
"""


def write_until_killed(path: Path, blocks_first: int, delay_s: float) -> int:
    """Run a writer, kill it with SIGKILL `delay_s` after it reported `blocks_first`
    more blocks; return the last height it reported as committed."""
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), "1000"],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    reported, lines = 0, 0
    try:
        assert child.stdout is not None
        deadline = time.monotonic() + 60
        while lines < blocks_first and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            reported, lines = int(line), lines + 1
        assert lines == blocks_first, child.stderr.read() if child.stderr else "writer stopped"
        time.sleep(delay_s)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    return reported


def check_consistent(path: Path, at_least: int) -> int:
    with LevelDBStore(path) as store:
        head = read_head(store)
        assert head is not None and head.height >= at_least
        block = read_block(store, head.height)
        assert block is not None and block.hash == head.block_hash
        assert block.header.state_root == head.state_root
        assert read_certificate(store, head.height) is not None
        assert read_block(store, head.height + 1) is None
        # Every stored block re-executes to exactly the state on disk.
        assert dump(replay(store)) == dump(store)
        asset = coin.load_asset(store, "IDR")
        assert asset is not None
        total = sum(codec.decode(v) for _, v in store.iterate(coin.BALANCE_PREFIX))
        assert total == asset.supply
        return head.height


def test_sigkill_while_committing_leaves_a_consistent_last_height(tmp_path: Path) -> None:
    path = tmp_path / "db"
    height = 0
    # Kill at different moments of the build/commit cycle, restarting on the same store.
    for delay_s in (0.0, 0.004, 0.011):
        reported = write_until_killed(path, 3, delay_s)
        assert reported > height
        height = check_consistent(path, reported)
