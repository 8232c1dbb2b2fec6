"""Mempool: dedup, nonce order, caps, recheck after commit."""

from __future__ import annotations

import random
from dataclasses import replace

from ledger.keys import PrivateKey
from ledger.tx import SignedTransaction, Transaction
from node.home import MempoolLimits
from node.mempool import (
    ACCEPTED,
    DECODED_VALUE_BYTES,
    DUPLICATE,
    GAP_FULL,
    MAX_RETRY_AFTER_SECONDS,
    MEMPOOL_FULL,
    MIN_GAP_TXS,
    MIN_RETRY_AFTER_MS,
    NONCE_REUSED,
    NONCE_TAKEN,
    OVERLOAD_FULL_PERCENT,
    OVERLOAD_MIN_REQUESTS,
    OVERLOAD_RETRY_MS,
    OVERLOAD_SLOT_SECONDS,
    OVERLOAD_WINDOW_SECONDS,
    RATE_MEMORY_SECONDS,
    RATE_WINDOW_SECONDS,
    SENDER_FULL,
    Mempool,
    RecentSums,
    VerifiedCache,
    held_bytes,
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
    small = pool(max_bytes=held_bytes(tx(ALICE, 0)))
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
    assert mempool.size_bytes == sum(held_bytes(s) for s in (txs[2], txs[3], tx(BOB, 0)))


def test_verified_cache_is_bounded() -> None:
    cache = VerifiedCache(capacity=2)
    for value in (b"a", b"b", b"c"):
        cache.add(value)
    assert b"a" not in cache and b"c" in cache and len(cache) == 2
    cache.discard([b"c"])
    assert b"c" not in cache


def test_ready_means_a_gapless_run_from_the_committed_nonce() -> None:
    mempool = pool()
    first, second, third, fourth = (tx(ALICE, n) for n in range(4))
    for stx in (first, third, fourth):
        mempool.add(stx, 0)
    assert mempool.ready_run(ALICE.public_key, 0, 0) == [first.hash]
    # fourth follows a pending tx, but that one waits behind the missing nonce 1
    assert mempool.ready_run(ALICE.public_key, 3, 0) == []
    assert mempool.ready_run(ALICE.public_key, 2, 0) == []
    mempool.add(second, 0)  # fills the gap: the whole run behind it is ready
    assert mempool.ready_run(ALICE.public_key, 1, 0) == [second.hash, third.hash, fourth.hash]
    assert mempool.ready_run(BOB.public_key, 0, 0) == []


def test_blocks_take_the_oldest_admitted_first_each_sender_in_nonce_order() -> None:
    mempool = pool()
    carol = PrivateKey.from_seed(bytes([3]) * 32)
    for stx in (tx(ALICE, 0), tx(ALICE, 1), tx(BOB, 0), tx(ALICE, 3), tx(ALICE, 2), tx(carol, 0)):
        assert mempool.add(stx, 0) == ACCEPTED
    nonces = {ALICE.public_key: 0, BOB.public_key: 0, carol.public_key: 0}

    def order(count: int) -> list[tuple[bytes, int]]:
        reaped = mempool.reap(count, 1 << 20, nonces.__getitem__)
        return [(stx.tx.sender, stx.tx.nonce) for stx in reaped]

    a, b, c = ALICE.public_key, BOB.public_key, carol.public_key
    # alice's nonce 3 arrived before her nonce 2: it waits for it, and then both come
    # in nonce order before carol's, which arrived after both
    assert order(10) == [(a, 0), (a, 1), (b, 0), (a, 2), (a, 3), (c, 0)]
    assert order(2) == [(a, 0), (a, 1)]
    # a block took alice's first: her next one, which arrived before bob's, still
    # comes first (it was not sent to the back of the pool for being hers)
    nonces[a] = 1
    mempool.recheck([tx(ALICE, 0)], nonces.__getitem__)
    assert order(2) == [(a, 1), (b, 0)]
    # a busy sender's later transactions wait behind the earlier ones of others
    for nonce in range(4, 8):
        assert mempool.add(tx(ALICE, nonce), 0) == ACCEPTED
    assert order(10)[-5:] == [(c, 0), (a, 4), (a, 5), (a, 6), (a, 7)]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def rate_pool(clock: FakeClock, floor: int = 10, share: int = 50) -> Mempool:
    limits = MempoolLimits(
        max_txs=1_000,
        max_bytes=1 << 24,
        max_per_sender=1_000,
        floor_txs=floor,
        backlog_ms=4_000,
        sender_share_percent=share,
    )
    return Mempool(limits, clock)


def test_admit_limit_follows_the_measured_committed_rate_between_floor_and_cap() -> None:
    clock = FakeClock()
    mempool = rate_pool(clock)
    assert mempool.admit_limit() == 10  # nothing measured: the floor
    assert mempool.add(tx(ALICE, 5), 0) == ACCEPTED  # stays pending: the pool holds work
    for _ in range(10):  # 10 s at 50 tx/s
        clock.now += 1.0
        mempool.note_committed(50)
    assert mempool.committed_rate() == 50.0
    assert mempool.admit_limit() == 200  # 4 s of 50 tx/s
    for _ in range(10):  # 10 s at 1,000 tx/s: the hard cap holds
        clock.now += 1.0
        mempool.note_committed(1_000)
    assert mempool.admit_limit() == 1_000
    clock.now += RATE_MEMORY_SECONDS + 1  # idle again: back to the floor
    assert mempool.committed_rate() == 0.0 and mempool.admit_limit() == 10


def test_a_slow_moment_does_not_shrink_the_limit_into_a_spiral() -> None:
    # A lower rate made a smaller pool, smaller blocks and a lower rate again: the limit
    # follows the best rate of the last minute, and lets go of it only after that.
    clock = FakeClock()
    mempool = rate_pool(clock)
    assert mempool.add(tx(ALICE, 5), 0) == ACCEPTED  # the pool holds work throughout
    for _ in range(10):  # 10 s at 100 tx/s
        clock.now += 1.0
        mempool.note_committed(100)
    assert mempool.admit_limit() == 400  # 4 s of 100 tx/s
    for _ in range(20):  # then 20 s at 25 tx/s
        clock.now += 1.0
        mempool.note_committed(25)
    assert mempool.committed_rate() == 25.0
    assert mempool.admit_limit() == 400  # sized from the best rate of the last minute
    for _ in range(int(RATE_MEMORY_SECONDS)):
        clock.now += 1.0
        mempool.note_committed(25)
    assert mempool.admit_limit() == 100  # a minute later, the lower rate is the best one


def limit_from_scratch(mempool: Mempool) -> int:
    """What admit_limit gives, computed from the public rates with nothing kept."""
    limits = mempool.limits
    rate = max(mempool.committed_rate(), mempool.best_recent_rate())
    return min(limits.max_txs, max(limits.floor_txs, int(rate * limits.backlog_ms / 1000)))


def test_the_kept_admit_limit_is_the_one_computed_afresh_at_every_moment() -> None:
    # admit_limit keeps its answer between commits until a window entry expires: at
    # every moment here, including the very instants entries expire, just before and
    # just after, it must equal a fresh computation (asked after it, at the same time).
    clock = FakeClock()
    mempool = rate_pool(clock)
    assert mempool.add(tx(ALICE, 5), 0) == ACCEPTED  # the pool holds work throughout
    commits: list[tuple[float, int]] = []
    at = clock.now
    # a slow block then fast ones: when the slow one leaves the window, the measured
    # rate rises with no commit at all
    pattern = [(8.0, 10), (0.5, 100), (0.5, 100), (0.5, 100), (12.0, 5), (0.25, 300)]
    for step, count in pattern * 4:
        at += step
        commits.append((at, count))
    probes = {at + 0.01 for at, _ in commits}
    for committed_at, _ in commits:
        for window in (RATE_WINDOW_SECONDS, RATE_MEMORY_SECONDS):
            expiry = committed_at + window
            probes |= {expiry - 1e-6, expiry, expiry + 1e-6}
    # (time, 0, count) commits before (time, 1, 0) probes of the same instant
    events = sorted([(t, 0, count) for t, count in commits] + [(t, 1, 0) for t in probes])
    seen = set()
    for moment, kind, count in events:
        clock.now = moment
        if kind == 0:
            mempool.note_committed(count)
            continue
        first, again = mempool.admit_limit(), mempool.admit_limit()
        assert first == again == limit_from_scratch(mempool), moment
        seen.add(first)
    assert mempool.admit_limit() == 10  # a minute after the last commit: the floor
    assert len(seen) >= 4  # the limit rose and fell throughout


def test_a_new_limits_object_is_obeyed_at_once() -> None:
    clock = FakeClock()
    mempool = rate_pool(clock)
    assert mempool.admit_limit() == 10
    mempool.limits = MempoolLimits(max_txs=1_000, floor_txs=25)
    assert mempool.admit_limit() == 25


def test_the_rate_counts_only_the_time_the_pool_held_work() -> None:
    # Clients waiting out a 429 (or no traffic at all) leave the pool empty: that
    # time is not throughput the chain lacked, and counting it would shrink the
    # limit just when the pool runs dry.
    clock = FakeClock()
    mempool = rate_pool(clock)
    assert mempool.add(tx(ALICE, 0), 0) == ACCEPTED
    clock.now += 2.0
    mempool.remove([tx(ALICE, 0).hash])  # as the node's recheck does before noting
    mempool.note_committed(100)  # 100 in 2 busy seconds
    clock.now += 5.0  # empty pool, nothing arrives
    assert mempool.add(tx(BOB, 0), 0) == ACCEPTED
    clock.now += 1.0
    mempool.note_committed(50)  # 50 in the one second since Bob's arrived
    assert mempool.committed_rate() == 50.0  # 150 / 3 busy seconds, not 150 / 8
    assert mempool.admit_limit() == 200


def test_a_full_pool_is_refused_before_verification_with_a_retry_time_from_the_backlog() -> None:
    clock = FakeClock()
    mempool = rate_pool(clock, floor=8, share=100)
    assert mempool.retry_after_ms() == 4_000  # no rate yet: the configured backlog
    for nonce in range(8):
        assert mempool.check(tx(ALICE, nonce)) is None
        assert mempool.add(tx(ALICE, nonce), 0) == ACCEPTED
    assert mempool.check(tx(BOB, 0)) == MEMPOOL_FULL
    assert mempool.add(tx(BOB, 0), 0) == MEMPOOL_FULL
    clock.now += 1.0
    mempool.note_committed(1)  # 1 tx/s measured, 8 pending: half of them drain in 4 s
    assert mempool.retry_after_ms() == 4_000
    clock.now += 1.0
    mempool.note_committed(7)  # 4 tx/s: one second until there is room again
    assert mempool.retry_after_ms() == 1_000
    clock.now += 1.0
    mempool.note_committed(16)  # 24 in 3 s: 4 of the 8 drain in 500 ms, not a whole second
    assert mempool.retry_after_ms() == 500
    clock.now += 1.0
    mempool.note_committed(376)  # 100 tx/s: 40 ms, but never sooner than the floor
    assert mempool.retry_after_ms() == MIN_RETRY_AFTER_MS


def holding(clock: FakeClock, pending: int) -> Mempool:
    """A pool at its limit of `pending` transactions (Alice's), none committed yet."""
    mempool = rate_pool(clock, floor=pending, share=100)
    for nonce in range(pending):
        assert mempool.add(tx(ALICE, nonce), 0) == ACCEPTED
    return mempool


def at_its_limit(clock: FakeClock) -> Mempool:
    """A pool at its limit: 8 pending, 16 tx/s committed and 500 ms of it admitted, so
    half of it drains in 250 ms."""
    mempool = holding(clock, 8)
    mempool.limits = replace(mempool.limits, backlog_ms=500)
    clock.now += 1.0
    mempool.note_committed(16)
    assert mempool.admit_limit() == 8 and mempool.room() == 0
    return mempool


def look(mempool: Mempool, clock: FakeClock, seconds: float) -> None:
    """The node's beat: `observe_room` every 50 ms for `seconds`."""
    for _ in range(round(seconds / 0.05)):
        clock.now += 0.05
        mempool.observe_room()


def test_sustained_overload_asks_for_at_least_a_second_and_a_peak_does_not() -> None:
    clock = FakeClock()
    mempool = at_its_limit(clock)
    assert mempool.retry_after_ms() == 250
    look(mempool, clock, 1.0)
    assert mempool.full_percent() == 100
    # a peak: 40 requests, 9 refused for room (under a quarter)
    mempool.note_requests(31, 0)
    mempool.note_requests(9, 9)
    assert not mempool.overloaded() and mempool.retry_after_ms() == 250
    mempool.note_requests(2, 2)  # 11 of 42: sustained overload
    assert mempool.overloaded()
    assert mempool.retry_after_ms() == OVERLOAD_RETRY_MS
    # the window moves on, the pool still full: older requests no longer count
    look(mempool, clock, OVERLOAD_WINDOW_SECONDS + 0.1)
    mempool.note_requests(1, 1)
    assert mempool.full_percent() == 100
    assert not mempool.overloaded()  # 1 of 1, under the least count that can tell
    assert mempool.retry_after_ms() == 250
    mempool.note_requests(OVERLOAD_MIN_REQUESTS - 1, 0)
    assert not mempool.overloaded()
    mempool.note_requests(0, 0)  # nothing seen: nothing noted
    assert mempool._requests.first == OVERLOAD_MIN_REQUESTS


def test_refusals_in_waves_while_the_pool_has_room_are_not_overload() -> None:
    """Retries that come back together are refused in a crowd, though the pool has
    room between the crowds: that must not hold the floor of a second on."""
    clock = FakeClock()
    mempool = at_its_limit(clock)
    assert mempool.full_percent() == 0  # not looked at yet
    newest = mempool.pending_in_order()[-1]
    mempool.remove([newest])
    look(mempool, clock, 3.0)  # room for 2.95 s (the first look starts the count)
    mempool.add(tx(ALICE, 7), 0)
    mempool.note_requests(10, 10)
    mempool.note_requests(10, 0)  # half of the requests refused...
    look(mempool, clock, 1.95)  # ...but the pool was full for 1.95 s of 4.9
    assert mempool.full_percent() == 39
    assert not mempool.overloaded()
    assert mempool.retry_after_ms() == 250
    look(mempool, clock, 0.6)  # the oldest looks leave the window: full 2.55 s of 5
    assert mempool.full_percent() >= OVERLOAD_FULL_PERCENT
    assert mempool.overloaded() and mempool.retry_after_ms() == OVERLOAD_RETRY_MS
    look(mempool, clock, OVERLOAD_WINDOW_SECONDS)  # no requests in the window
    assert mempool.full_percent() == 100 and not mempool.overloaded()


def test_a_long_gap_between_looks_counts_at_most_the_window() -> None:
    clock = FakeClock()
    mempool = at_its_limit(clock)
    mempool.observe_room()
    mempool.remove(mempool.pending_in_order()[-1:])
    clock.now += 60.0
    assert mempool.observe_room() == 1  # a minute with room: the window's 5 s of it
    assert mempool._looks.first == 5_000 and mempool.full_percent() == 0


def test_the_retry_time_is_at_most_the_ceiling_however_slow_the_chain() -> None:
    clock = FakeClock()
    mempool = holding(clock, 900)
    clock.now += 100.0
    mempool.note_committed(1)  # 0.01 tx/s: 450 would take 45,000 s
    assert mempool.retry_after_ms() == MAX_RETRY_AFTER_SECONDS * 1000


def test_one_sender_holds_only_its_share_and_others_still_get_in() -> None:
    clock = FakeClock()
    mempool = rate_pool(clock, floor=20, share=25)
    assert mempool.sender_limit() == 5
    for nonce in range(5):
        assert mempool.add(tx(ALICE, nonce), 0) == ACCEPTED
    assert mempool.check(tx(ALICE, 5)) == SENDER_FULL
    assert mempool.add(tx(ALICE, 5), 0) == SENDER_FULL
    assert mempool.check(tx(ALICE, 4, "clash")) is None  # reported by add as nonce_taken
    assert mempool.check(tx(BOB, 0)) is None
    assert mempool.add(tx(BOB, 0), 0) == ACCEPTED
    # the share grows with the measured rate (and the limit it sets)
    for _ in range(5):
        clock.now += 1.0
        mempool.note_committed(10)
    assert mempool.admit_limit() == 40 and mempool.sender_limit() == 10
    assert mempool.add(tx(ALICE, 5), 0) == ACCEPTED


def test_a_batch_counts_its_own_earlier_transactions_against_the_room() -> None:
    clock = FakeClock()
    mempool = rate_pool(clock, floor=20, share=25)  # 20 in all, 5 per sender
    mempool.add(tx(ALICE, 0), 0)
    # four more of Alice's from the same batch fit, the fifth would be refused by add
    assert mempool.check(tx(ALICE, 4), batch_total=3, batch_from_sender=3) is None
    assert mempool.check(tx(ALICE, 5), batch_total=4, batch_from_sender=4) == SENDER_FULL
    assert mempool.check(tx(BOB, 0), batch_total=4, batch_from_sender=0) is None
    assert mempool.check(tx(BOB, 0), batch_total=19, batch_from_sender=0) == MEMPOOL_FULL


def test_what_a_peer_already_admitted_meets_only_the_hard_caps() -> None:
    # A peer's gossip refused for the measured limit left nonce gaps here, so this
    # node, as primary, could not propose what the other validators waited for.
    clock = FakeClock()
    mempool = rate_pool(clock, floor=2, share=50)  # clients: 2 in all, 1 per sender
    assert mempool.add(tx(ALICE, 0), 0) == ACCEPTED
    assert mempool.add(tx(ALICE, 1), 0) == SENDER_FULL
    assert mempool.check(tx(ALICE, 1), from_peer=True) is None
    assert mempool.add(tx(ALICE, 1), 0, from_peer=True) == ACCEPTED
    assert mempool.add(tx(BOB, 0), 0) == MEMPOOL_FULL
    assert mempool.check(tx(BOB, 0)) == MEMPOOL_FULL
    assert mempool.add(tx(BOB, 0), 0, from_peer=True) == ACCEPTED
    assert mempool.is_full()  # and the node's own clients are still refused
    hard = Mempool(MempoolLimits(max_txs=1, floor_txs=1))
    assert hard.add(tx(ALICE, 0), 0, from_peer=True) == ACCEPTED
    assert hard.add(tx(BOB, 0), 0, from_peer=True) == MEMPOOL_FULL


def keys(count: int, first: int = 10) -> list[PrivateKey]:
    return [PrivateKey.from_seed(bytes([first + i]) * 32) for i in range(count)]


def test_each_validator_holds_its_clients_to_its_share_of_the_limit() -> None:
    # Every validator admits its own clients and gossips to the others: with each
    # filling the whole limit after a commit, the pools held N times the limit.
    clock = FakeClock()
    mempool = rate_pool(clock, floor=100, share=100)
    mempool.validators = 4
    assert mempool.local_limit() == 100  # nothing admitted yet: no share measured
    peers, ours = [tx(key, 0) for key in keys(3)], tx(ALICE, 0)
    for _ in range(300):  # three from peers for each of ours, each block committed
        for stx in peers:
            assert mempool.add(stx, 0, from_peer=True) == ACCEPTED
        assert mempool.add(ours, 0) == ACCEPTED
        mempool.remove([stx.hash for stx in [*peers, ours]])
    # a quarter of the recent admissions came through here: a quarter of the limit,
    # and a quarter more to let the share grow
    assert mempool.local_limit() == 31 and len(mempool) == 0
    admitted = 0
    while mempool.check(tx(BOB, admitted)) is None:
        assert mempool.add(tx(BOB, admitted), 0) == ACCEPTED
        admitted += 1
    # its own admissions raised the share a little (333 of 1,233): then no more
    assert admitted == mempool.local_count == 33 and len(mempool) == 33
    assert mempool.is_full() and mempool.add(tx(BOB, 33), 0) == MEMPOOL_FULL
    # what peers admitted still comes in, and a batch counts its earlier items
    assert mempool.add(tx(BOB, 33), 0, from_peer=True) == ACCEPTED
    mempool.remove([tx(BOB, 32).hash])
    assert mempool.check(tx(BOB, 32)) is None
    assert mempool.check(tx(BOB, 34), batch_total=1, batch_from_sender=1) == MEMPOOL_FULL
    # one validator alone holds the whole limit
    mempool.validators = 1
    assert mempool.local_limit() == 100 and not mempool.is_full()


def test_transactions_peers_sent_take_room_before_the_clients_next_ones() -> None:
    clock = FakeClock()
    mempool = rate_pool(clock, floor=10, share=100)
    mempool.validators = 4
    assert mempool.add(tx(ALICE, 0), 0) == ACCEPTED
    mempool.incoming = 9  # gossip waiting to be admitted: the pool is full with it
    assert mempool.is_full()
    assert mempool.check(tx(BOB, 0)) == MEMPOOL_FULL
    assert mempool.check(tx(BOB, 0), from_peer=True) is None
    assert mempool.add(tx(BOB, 0), 0, from_peer=True) == ACCEPTED
    mempool.incoming = 0
    assert mempool.check(tx(ALICE, 1)) is None and not mempool.is_full()


def test_transactions_stuck_behind_a_nonce_gap_are_evicted_after_the_timeout() -> None:
    clock = FakeClock()
    mempool = rate_pool(clock)
    nonces = {ALICE.public_key: 0, BOB.public_key: 0}
    assert mempool.add(tx(ALICE, 0), 0) == ACCEPTED  # ready: stays however long it waits
    assert mempool.add(tx(BOB, 2), 0) == ACCEPTED  # nonces 0 and 1 missing
    clock.now += 20.0
    assert mempool.add(tx(BOB, 3), 0) == ACCEPTED
    assert mempool.behind_gap(nonces.__getitem__) == [tx(BOB, 2).hash, tx(BOB, 3).hash]
    assert mempool.evict_stuck(nonces.__getitem__, timeout=30.0) == []
    clock.now += 15.0  # Bob's nonce 2 has waited 35 s, nonce 3 15 s
    assert mempool.evict_stuck(nonces.__getitem__, timeout=30.0) == [tx(BOB, 2).hash]
    assert tx(BOB, 2).hash not in mempool  # the node counts it: pasar_mempool_evicted_total
    assert tx(ALICE, 0).hash in mempool and tx(BOB, 3).hash in mempool
    assert mempool.oldest_age() == 35.0  # Alice's, ready, waits on
    # the missing nonces arrive: the run is whole again, nothing is stuck
    assert mempool.add(tx(BOB, 0), 0) == ACCEPTED
    assert mempool.add(tx(BOB, 1), 0) == ACCEPTED
    assert mempool.add(tx(BOB, 2), 0) == ACCEPTED
    assert mempool.behind_gap(nonces.__getitem__) == []


def test_behind_a_front_the_door_stays_open_a_tenth_beyond_the_limits() -> None:
    """The front hands out the room up to the limits; a request it relayed on the
    node's last word still passes the door (`is_full`) until the pool is a tenth
    beyond them, and its transactions are refused one by one past the limits."""
    clock = FakeClock()
    mempool = rate_pool(clock, floor=100, share=100)
    mempool.validators = 1
    mempool.door_headroom_percent = 10
    assert (mempool.room(), mempool.room(-10)) == (100, 110)
    for nonce in range(95):
        assert mempool.add(tx(ALICE, nonce), 0) == ACCEPTED
    mempool.incoming = 5  # gossip waiting takes room too
    assert mempool.room() == 0 and mempool.room(-10) == 10 and not mempool.is_full()
    assert mempool.add(tx(ALICE, 95), 0) == MEMPOOL_FULL  # the clients' limit holds
    # what peers admitted goes on to the hard cap, and then the door is shut
    mempool.incoming = 0
    for nonce in range(95, 110):
        assert mempool.add(tx(ALICE, nonce), 0, from_peer=True) == ACCEPTED
    assert mempool.is_full()
    # the clients' share counts beyond itself the same way
    mempool = rate_pool(clock, floor=1_000, share=100)
    mempool.validators = 4
    mempool.door_headroom_percent = 10
    peers = [tx(ALICE, nonce) for nonce in range(300)]
    for stx in peers:
        assert mempool.add(stx, 0, from_peer=True) == ACCEPTED
    mempool.remove([stx.hash for stx in peers])
    assert mempool.local_limit() == 312  # a quarter of 1,000, and a quarter more to grow
    assert mempool.room() == 312 and mempool.room(-10) == 343
    # without a front the door is the limits themselves
    mempool.door_headroom_percent = 0
    for nonce in range(312):
        assert mempool.check(tx(BOB, nonce), batch_total=nonce) is None
    assert mempool.check(tx(BOB, 312), batch_total=312) == MEMPOOL_FULL


def test_the_overload_window_stays_small_however_many_requests_feed_it() -> None:
    """A client chooses how often it is refused: the window gathers what comes within
    a slot into one entry, so it holds at most window / slot entries."""
    clock = FakeClock()
    sums = RecentSums(OVERLOAD_WINDOW_SECONDS, OVERLOAD_SLOT_SECONDS)
    for _ in range(100_000):  # 20,000 requests a second for 5 s, half of them refused
        clock.now += 0.00005
        sums.add(clock.now, 1, 0)
        sums.add(clock.now, 1, 1)
    assert sums.first == 200_000 and sums.second == 100_000
    assert len(sums) <= OVERLOAD_WINDOW_SECONDS / OVERLOAD_SLOT_SECONDS + 1
    clock.now += 2.5  # the older half leaves the window, a slot at a time
    sums.expire(clock.now)
    assert 99_000 <= sums.first <= 101_000 and sums.second * 2 == sums.first
    clock.now += OVERLOAD_WINDOW_SECONDS
    sums.expire(clock.now)
    assert (sums.first, sums.second, len(sums)) == (0, 0, 0)


def gap_pool() -> Mempool:
    """A pool whose limit is its floor (no commits measured): 100 transactions, of
    which clients may put 10% (at least MIN_GAP_TXS) behind nonce gaps."""
    return rate_pool(FakeClock(), floor=100)


def test_transactions_behind_a_gap_take_no_room_and_only_their_own_share() -> None:
    mempool = gap_pool()
    assert mempool.gap_limit() == max(MIN_GAP_TXS, 10)
    flooders = [PrivateKey.from_seed(bytes([10 + i]) * 32) for i in range(4)]
    # fresh keys sending nonces 1.. (never 0): each would wait for ever
    taken = 0
    for key in flooders:
        for nonce in range(1, 26):
            code = mempool.add(tx(key, nonce), 0)
            assert code in (ACCEPTED, GAP_FULL)
            taken += code == ACCEPTED
    assert taken == mempool.gap_limit() == mempool.gapped_count
    assert mempool.ready_count == 0
    # the honest clients' room is whole: the gapped ones are not in it
    assert mempool.room() == 100
    assert not mempool.is_full()
    for nonce in range(50):
        assert mempool.add(tx(ALICE, nonce), 0) == ACCEPTED
    assert mempool.room() == 50
    # once the gap share is full, a gapped transaction is refused before its signature
    # is checked, a ready one is not
    assert mempool.check(tx(BOB, 5), gapped=True) == GAP_FULL
    assert mempool.check(tx(BOB, 0)) is None
    # a peer's gapped transaction (its client was let in by that node) meets the hard caps only
    assert mempool.add(tx(BOB, 5), 0, from_peer=True) == ACCEPTED
    assert mempool.gapped_count == mempool.gap_limit() + 1


def test_a_gap_filled_makes_the_run_behind_it_ready_and_a_commit_finds_runs_again() -> None:
    mempool = gap_pool()
    for nonce in (2, 3, 5):
        assert mempool.add(tx(ALICE, nonce), 0) == ACCEPTED
    assert (mempool.gapped_count, mempool.ready_count) == (3, 0)
    assert mempool.ready_end(ALICE.public_key, 0) == 0
    assert mempool.add(tx(ALICE, 0), 0) == ACCEPTED
    assert (mempool.gapped_count, mempool.ready_count) == (3, 1)
    assert mempool.add(tx(ALICE, 1), 0) == ACCEPTED  # 1 fills the gap before 2 and 3
    assert (mempool.gapped_count, mempool.ready_count) == (1, 4)  # 5 still waits for 4
    assert mempool.ready_end(ALICE.public_key, 0) == 4
    # a block commits nonces 0 and 1 and its transaction with nonce 2 failed without
    # using its nonce (the committed nonce is 2): 3 now waits behind the missing 2
    block = [tx(ALICE, 0), tx(ALICE, 1), tx(ALICE, 2)]
    dropped, ready = mempool.recheck(block, {ALICE.public_key: 2}.__getitem__)
    assert (dropped, ready) == ([], [])
    assert (mempool.gapped_count, mempool.ready_count) == (2, 0)
    assert mempool.ready_end(ALICE.public_key, 2) == 2
    assert mempool.add(tx(ALICE, 2, "again"), 2) == ACCEPTED
    assert (mempool.gapped_count, mempool.ready_count) == (1, 2)
    # the commit of 2 and 3: 4 is missing, 5 stays behind it; eviction clears the rest
    dropped, ready = mempool.recheck(
        [tx(ALICE, 2, "again"), tx(ALICE, 3)], {ALICE.public_key: 4}.__getitem__
    )
    assert (mempool.gapped_count, mempool.ready_count) == (1, 0)
    assert mempool.add(tx(ALICE, 4), 4) == ACCEPTED
    assert (mempool.gapped_count, mempool.ready_count) == (0, 2)
    mempool.recheck([tx(ALICE, 4), tx(ALICE, 5)], {ALICE.public_key: 6}.__getitem__)
    assert (len(mempool), mempool.gapped_count, mempool.ready_count) == (0, 0, 0)


def test_the_clients_gapped_transactions_leave_their_share_of_the_pool_alone() -> None:
    mempool = gap_pool()
    mempool.validators = 4  # each node's clients hold at most their share of the limit
    for nonce in range(1, 11):
        assert mempool.add(tx(BOB, nonce), 0) == ACCEPTED  # all behind Bob's nonce 0
    assert mempool.local_count == 10 and mempool.local_ready_count == 0
    before = mempool.room()
    assert mempool.add(tx(BOB, 0), 0) == ACCEPTED  # the run is whole: all 11 ready
    assert mempool.local_ready_count == 11 and mempool.gapped_count == 0
    assert mempool.room() == before - 11
    evicted = mempool.evict_stuck({BOB.public_key: 0}.__getitem__, timeout=-1.0)
    assert evicted == []  # nothing waits behind a gap any more


# -- the kept gap state against its definition, through random traffic ------------------------

GAP_KEYS = [PrivateKey.from_seed(bytes([40 + i]) * 32) for i in range(5)]
_signed: dict[tuple[int, int, str], SignedTransaction] = {}


def gap_tx(sender: int, nonce: int, memo: str = "") -> SignedTransaction:
    """A transaction of GAP_KEYS[sender], signed once per run (signing would dominate)."""
    key = (sender, nonce, memo)
    stx = _signed.get(key)
    if stx is None:
        stx = _signed[key] = tx(GAP_KEYS[sender], nonce, memo)
    return stx


def pending_by_sender(mempool: Mempool) -> dict[bytes, dict[int, bytes]]:
    """sender -> {nonce: hash} of the pool's pending transactions, read through its
    public answers only."""
    by_sender: dict[bytes, dict[int, bytes]] = {}
    for tx_hash in mempool.pending_in_order():
        stx = mempool.get(tx_hash)
        assert stx is not None
        by_sender.setdefault(stx.tx.sender, {})[stx.tx.nonce] = tx_hash
    return by_sender


def gapped_by_definition(mempool: Mempool, committed: dict[bytes, int]) -> set[bytes]:
    """Pending transactions with an earlier nonce of their sender, at or above its
    committed one, that is not pending: the definition, not the pool's bookkeeping."""
    return {
        tx_hash
        for sender, pending in pending_by_sender(mempool).items()
        for nonce, tx_hash in pending.items()
        if any(earlier not in pending for earlier in range(committed[sender], nonce))
    }


def assert_gap_state(
    mempool: Mempool, committed: dict[bytes, int], local: set[bytes], gapped: set[bytes]
) -> None:
    """The pool's kept gap state, and every answer read from it, against `gapped`
    (what the definition says) and `local` (what came from clients)."""
    assert mempool._gapped == gapped
    assert mempool.gapped_count == len(gapped)
    assert mempool.ready_count == len(mempool) - len(gapped)
    assert mempool.local_count == len(local)
    assert mempool.local_ready_count == len(local - gapped)
    stuck = mempool.behind_gap(committed.__getitem__)
    assert len(stuck) == len(set(stuck)) and set(stuck) == gapped
    by_sender = pending_by_sender(mempool)
    # A kept run end was found from the sender's committed nonce: the first of its
    # nonces from there on that is not pending. None is kept for a sender with nothing
    # pending; one whose only transaction came behind a gap may have none kept yet.
    ends: dict[bytes, tuple[int, int]] = {}
    for sender, pending in by_sender.items():
        end = committed[sender]
        while end in pending:
            end += 1
        ends[sender] = (committed[sender], end)
    for sender, kept in mempool._run_end.items():
        assert kept == ends[sender]
    for key in GAP_KEYS:
        sender = key.public_key
        next_nonce = committed[sender]
        pending = by_sender.get(sender, {})
        ready = [(nonce, pending[nonce]) for nonce in sorted(pending)]
        ready = [(nonce, tx_hash) for nonce, tx_hash in ready if tx_hash not in gapped]
        for from_nonce in range(max(0, next_nonce - 2), next_nonce + 8):
            # what the next block could take from `from_nonce` on: the sender's ready
            # ones (no pending one is below its committed nonce)
            expected = [tx_hash for nonce, tx_hash in ready if nonce >= from_nonce]
            assert mempool.ready_run(sender, from_nonce, next_nonce) == expected
        assert mempool.ready_end(sender, next_nonce) == ends.get(sender, (0, next_nonce))[1]


def test_the_kept_gap_state_is_what_the_definition_says_through_random_traffic() -> None:
    """Adds (gaps, duplicates, taken and used nonces, from clients and peers), commits
    (some transactions fail without using their nonce, some were never pending here),
    removals and evictions, in a seeded random order: after every step the pool's kept
    gap set, its counts and its answers are what the definition gives from the pending
    transactions and the committed nonces."""
    rng = random.Random(1729)
    clock = FakeClock()
    limits = MempoolLimits(
        max_txs=400,
        max_bytes=1 << 24,
        max_per_sender=40,
        floor_txs=120,  # clients may put MIN_GAP_TXS behind gaps
        backlog_ms=600,
        sender_share_percent=25,
        gap_share_percent=10,
    )
    mempool = Mempool(limits, clock)
    mempool.validators = 2
    committed = {key.public_key: 0 for key in GAP_KEYS}  # the chain's next nonces
    local: set[bytes] = set()
    admitted_at: dict[bytes, float] = {}
    seen = dict.fromkeys(("accepted", "gap_full", "taken", "failed", "foreign", "evicted"), 0)
    gapped: set[bytes] = set()  # by the definition, as the previous step left the pool
    for _ in range(3_000):
        clock.now += rng.uniform(0.0, 0.5)
        step = rng.random()
        if step < 0.65:  # an add: often behind a gap, sometimes a clash or a used nonce
            sender = rng.randrange(len(GAP_KEYS))
            next_nonce = committed[GAP_KEYS[sender].public_key]
            nonce = max(0, next_nonce + rng.choice((0, 0, 1, 1, 2, 3, 5, 8, 13, -1)))
            stx = gap_tx(sender, nonce, rng.choice(("", "", "", "clash")))
            from_peer = rng.random() < 0.4
            code = mempool.add(stx, next_nonce, from_peer)
            if code == ACCEPTED:
                admitted_at[stx.hash] = clock.now
                if not from_peer:
                    local.add(stx.hash)
            seen["accepted"] += code == ACCEPTED
            seen["gap_full"] += code == GAP_FULL
            seen["taken"] += code == NONCE_TAKEN
        elif step < 0.8:  # a block commits, executed as the chain does
            block = mempool.reap(rng.randrange(0, 8), 1 << 20, committed.__getitem__)
            if rng.random() < 0.3:  # another validator's transaction, never pending here
                sender = rng.randrange(len(GAP_KEYS))
                stx = gap_tx(sender, committed[GAP_KEYS[sender].public_key], "there")
                block.insert(rng.randrange(len(block) + 1), stx)
                seen["foreign"] += 1
            for stx in block:
                # one whose nonce is not the next, or that fails its checks (policy,
                # expiry), is recorded in the block and does not use up its nonce
                if stx.tx.nonce == committed[stx.tx.sender] and rng.random() < 0.85:
                    committed[stx.tx.sender] += 1
                else:
                    seen["failed"] += 1
            dropped, ready = mempool.recheck(block, committed.__getitem__)
            gone = {stx.hash for stx in block} | set(dropped)
            assert not any(tx_hash in mempool for tx_hash in gone)
            local -= gone
            for tx_hash in gone:
                admitted_at.pop(tx_hash, None)
            # what became ready: the block's senders' ready runs, first seen first
            now_gapped = gapped_by_definition(mempool, committed)
            by_sender = pending_by_sender(mempool)
            expected: list[bytes] = []
            for sender_key in dict.fromkeys(stx.tx.sender for stx in block):
                pending = by_sender.get(sender_key, {})
                expected += [pending[n] for n in sorted(pending) if pending[n] not in now_gapped]
            assert ready == expected
        elif step < 0.88:  # a removal, of pending transactions and of one that is not
            pending_hashes = mempool.pending_in_order()
            chosen = rng.sample(pending_hashes, min(len(pending_hashes), rng.randrange(1, 4)))
            mempool.remove([*chosen, gap_tx(0, 10_000).hash])
            local -= set(chosen)
            for tx_hash in chosen:
                del admitted_at[tx_hash]
        else:  # the eviction walk, with timeouts the ages straddle
            timeout = rng.choice((5.0, 15.0, 30.0, 60.0))
            horizon = clock.now - timeout
            evicted = mempool.evict_stuck(committed.__getitem__, timeout)
            assert len(evicted) == len(set(evicted))
            assert set(evicted) == {h for h in gapped if admitted_at[h] < horizon}
            assert not any(tx_hash in mempool for tx_hash in evicted)
            seen["evicted"] += len(evicted)
            local -= set(evicted)
            for tx_hash in evicted:
                del admitted_at[tx_hash]
        assert set(admitted_at) == set(mempool.pending_in_order())
        gapped = gapped_by_definition(mempool, committed)
        assert_gap_state(mempool, committed, local, gapped)
    # the run went through every case it is there for
    assert all(count > 0 for count in seen.values()), seen


def test_gaps_are_judged_from_the_nonces_asked_with_even_ones_no_commit_brought() -> None:
    """`behind_gap` and `evict_stuck` answer for the committed nonces they are given:
    a nonce past the one the pool last heard of (a commit it was not told of) leaves
    fewer transactions behind a gap, never more, and those are the ones it names."""
    clock = FakeClock()
    mempool = rate_pool(clock)
    for nonce in (0, 1, 3, 6):
        assert mempool.add(tx(ALICE, nonce), 0) == ACCEPTED
    assert mempool.add(tx(BOB, 2), 0) == ACCEPTED
    told = {ALICE.public_key: 0, BOB.public_key: 0}
    hashes = [tx(ALICE, 3).hash, tx(ALICE, 6).hash, tx(BOB, 2).hash]
    assert mempool.behind_gap(told.__getitem__) == hashes  # the oldest admitted first
    moved = {ALICE.public_key: 2, BOB.public_key: 2}  # 2 is missing: 3 and 6 still wait
    assert mempool.behind_gap(moved.__getitem__) == [tx(ALICE, 3).hash, tx(ALICE, 6).hash]
    moved = {ALICE.public_key: 3, BOB.public_key: 1}  # Alice's run is 3 now: 6 waits for 4
    assert mempool.behind_gap(moved.__getitem__) == [tx(ALICE, 6).hash, tx(BOB, 2).hash]
    assert mempool.ready_run(ALICE.public_key, 0, 3) == [tx(ALICE, 3).hash]
    clock.now += 31.0
    assert mempool.evict_stuck(moved.__getitem__) == [tx(ALICE, 6).hash, tx(BOB, 2).hash]
    # what the pool keeps is as it was told: it learns the nonces from `recheck`
    assert mempool.gapped_count == 1 and tx(ALICE, 3).hash in mempool


def test_a_transaction_counts_what_it_holds_decoded_not_only_its_bytes() -> None:
    """A transaction at the ledger's value limit is 1.2 KB of bytes and 66 KB decoded:
    counted by its bytes alone, a pool of 64 MiB of them would hold 3.5 GB."""
    heavy_args = ("IDR", BOB.public_key, 1, [[]] * 1_020)
    heavy = Transaction("t", ALICE.public_key, 0, "coin.transfer", heavy_args).sign(ALICE)
    light = tx(BOB, 0)
    assert held_bytes(heavy) == len(heavy.encoded) + DECODED_VALUE_BYTES * 1_024
    assert held_bytes(light) < 2 * len(light.encoded) + DECODED_VALUE_BYTES * 4
    mempool = pool(max_bytes=held_bytes(heavy) + held_bytes(light) - 1)
    assert mempool.add(light, 0) == ACCEPTED
    # the pool has room for 40 such transactions by their bytes, not for one decoded
    assert len(heavy.encoded) * 40 < mempool.limits.max_bytes
    assert mempool.add(heavy, 0) == ACCEPTED  # below the cap when it came
    assert mempool.size_bytes == held_bytes(heavy) + held_bytes(light)
    assert mempool.add(tx(BOB, 1), 0) == MEMPOOL_FULL
    mempool.remove([heavy.hash])
    assert mempool.size_bytes == held_bytes(light)
