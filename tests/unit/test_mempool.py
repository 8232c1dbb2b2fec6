"""Mempool: dedup, nonce order, caps, recheck after commit."""

from __future__ import annotations

from ledger.keys import PrivateKey
from ledger.tx import SignedTransaction, Transaction
from node.home import MempoolLimits
from node.mempool import (
    ACCEPTED,
    DUPLICATE,
    MEMPOOL_FULL,
    NONCE_REUSED,
    NONCE_TAKEN,
    SENDER_FULL,
    Mempool,
    VerifiedCache,
)

ALICE = PrivateKey.from_seed(bytes([1]) * 32)
BOB = PrivateKey.from_seed(bytes([2]) * 32)


def tx(key: PrivateKey, nonce: int, memo: str = "") -> SignedTransaction:
    args = ("IDR", bytes(32), 1, memo)
    return Transaction("t", key.public_key, nonce, "coin.transfer", args).sign(key)


def pool(max_txs: int = 100, max_bytes: int = 1 << 20, per_sender: int = 10) -> Mempool:
    return Mempool(MempoolLimits(max_txs, max_bytes, per_sender))


def test_duplicates_and_stale_nonces_are_refused() -> None:
    mempool = pool()
    first = tx(ALICE, 3)
    assert mempool.add(first, 0) == ACCEPTED
    assert mempool.add(first, 0) == DUPLICATE
    assert mempool.add(tx(ALICE, 3, "other"), 0) == NONCE_TAKEN
    assert mempool.add(tx(ALICE, 1), 2) == NONCE_REUSED
    assert len(mempool) == 1 and first.hash in mempool


def test_reap_takes_gapless_nonce_runs_per_sender() -> None:
    mempool = pool()
    for nonce in (2, 0, 1, 4):
        mempool.add(tx(ALICE, nonce), 0)
    mempool.add(tx(BOB, 5), 5)
    nonces = {ALICE.public_key: 0, BOB.public_key: 5}
    reaped = mempool.reap(100, 1 << 20, nonces.__getitem__)
    assert [(s.tx.sender, s.tx.nonce) for s in reaped] == [
        (ALICE.public_key, 0),
        (ALICE.public_key, 1),
        (ALICE.public_key, 2),
        (BOB.public_key, 5),
    ]
    assert len(mempool.reap(2, 1 << 20, nonces.__getitem__)) == 2
    one = len(tx(ALICE, 0).encoded)
    assert len(mempool.reap(100, one, nonces.__getitem__)) == 1


def test_caps_on_count_bytes_and_sender() -> None:
    mempool = pool(max_txs=2, per_sender=1)
    assert mempool.add(tx(ALICE, 0), 0) == ACCEPTED
    assert mempool.add(tx(ALICE, 1), 0) == SENDER_FULL
    assert mempool.add(tx(BOB, 0), 0) == ACCEPTED
    assert mempool.is_full()
    assert mempool.add(tx(BOB, 1), 0) == MEMPOOL_FULL
    small = pool(max_bytes=len(tx(ALICE, 0).encoded))
    assert small.add(tx(ALICE, 0), 0) == ACCEPTED
    assert small.add(tx(BOB, 0), 0) == MEMPOOL_FULL


def test_recheck_drops_committed_and_stale() -> None:
    mempool = pool()
    txs = [tx(ALICE, n) for n in range(4)]
    for stx in txs:
        mempool.add(stx, 0)
    other = tx(ALICE, 1, "replaced elsewhere")
    mempool.add(tx(BOB, 0), 0)
    # block committed alice 0 and a different tx with alice's nonce 1
    dropped, ready = mempool.recheck([txs[0], other], {ALICE.public_key: 2}.__getitem__)
    assert dropped == [txs[1].hash]
    assert ready == [txs[2].hash, txs[3].hash]  # alice's run from her new nonce; bob unchanged
    assert txs[2].hash in mempool and txs[1].hash not in mempool and len(mempool) == 3
    assert mempool.size_bytes == sum(len(s.encoded) for s in (txs[2], txs[3], tx(BOB, 0)))


def test_verified_cache_is_bounded() -> None:
    cache = VerifiedCache(capacity=2)
    for value in (b"a", b"b", b"c"):
        cache.add(value)
    assert b"a" not in cache and b"c" in cache and len(cache) == 2
    cache.discard([b"c"])
    assert b"c" not in cache


def test_ready_means_next_nonce_or_right_after_a_pending_one() -> None:
    mempool = pool()
    first, third = tx(ALICE, 0), tx(ALICE, 2)
    mempool.add(first, 0)
    mempool.add(third, 0)
    assert mempool.is_ready(first, 0)
    assert not mempool.is_ready(third, 0)
    second = tx(ALICE, 1)
    mempool.add(second, 0)
    assert mempool.is_ready(second, 0)
