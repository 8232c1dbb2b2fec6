"""A peer that (re)connects is sent the pending pool: oldest first, in gossip batches,
never more than a bounded number of bytes queued on its link, and at most one walk per
peer per interval however often it reconnects."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, cast

from ledger import codec
from ledger.keys import PrivateKey
from ledger.tx import SignedTransaction, Transaction
from node.home import MempoolLimits
from node.mempool import Mempool
from node.peers import Link
from node.pool_resend import POLL, PoolResend

PEER = b"p" * 32
SENDERS = [PrivateKey.from_seed(bytes([i + 1]) * 32) for i in range(3)]


def transfer(key: PrivateKey, nonce: int) -> SignedTransaction:
    args = ("IDR", bytes(32), 1, "")
    return Transaction("t", key.public_key, nonce, "coin.transfer", args).sign(key)


def filled_pool(count: int) -> tuple[Mempool, list[SignedTransaction]]:
    """`count` transactions admitted in an order that is not by sender or nonce."""
    mempool = Mempool(MempoolLimits(max_txs=1_000))
    admitted = []
    for index in range(count):
        stx = transfer(SENDERS[index % len(SENDERS)], index // len(SENDERS))
        assert mempool.add(stx, 0) == "accepted"
        admitted.append(stx)
    return mempool, admitted


class FakeTime:
    """A clock that moves only when the resend sleeps (each sleep yields to the loop)."""

    def __init__(self) -> None:
        self.now = 100.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


class Peer:
    """The peer's link, as PeerNetwork.link hands it out, and what the peer reads."""

    def __init__(self) -> None:
        self.link: Link | None = Link(PEER, True, cast(Any, None))
        self.frames: list[list[Any]] = []

    def link_of(self, peer: bytes) -> Link | None:
        return self.link if peer == PEER else None

    async def read_one(self) -> None:
        assert self.link is not None
        self.frames.append(codec.decode(await self.link.next_frame()))

    def read_all(self) -> None:
        assert self.link is not None
        while not self.link.queue.empty():
            self.frames.append(codec.decode(self.link.queue.get_nowait()))
        self.link.queued_bytes = 0


def resender(
    mempool: Mempool, peer: Peer, time: FakeTime, tasks: list[asyncio.Task[None]], **options: Any
) -> PoolResend:
    def spawn(coroutine: Coroutine[Any, Any, None]) -> None:
        tasks.append(asyncio.ensure_future(coroutine))

    return PoolResend(
        mempool, peer.link_of, spawn, 2, clock=time.clock, sleep=time.sleep, **options
    )


async def settle(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        await asyncio.wait_for(task, 10)


def test_the_pool_goes_oldest_first_in_batches_without_what_left_it() -> None:
    async def scenario() -> None:
        mempool, admitted = filled_pool(7)
        mempool.remove([admitted[2].hash])  # committed while pending: not sent
        peer, tasks = Peer(), []
        resend = resender(mempool, peer, FakeTime(), tasks)
        walk = asyncio.ensure_future(resend.walk(PEER))
        await asyncio.sleep(0)
        # one batch per turn of the event loop, not the whole pool at once
        assert peer.link is not None and peer.link.queue.qsize() == 1
        assert await walk == 6
        peer.read_all()
        expected = [stx.encoded for stx in admitted if stx is not admitted[2]]
        assert peer.frames == [["txs", expected[i : i + 2]] for i in range(0, 6, 2)]
        assert resend.sent == 6

    asyncio.run(scenario())


def test_a_slow_peer_never_has_more_than_the_byte_bound_queued_for_it() -> None:
    async def scenario() -> None:
        mempool, admitted = filled_pool(8)
        peer, time, tasks = Peer(), FakeTime(), []
        one_batch = len(codec.encode(["txs", [admitted[0].encoded, admitted[1].encoded]]))
        resend = resender(mempool, peer, time, tasks, queue_bytes=one_batch)
        walk = asyncio.ensure_future(resend.walk(PEER))
        assert peer.link is not None
        for _ in range(4):
            for _ in range(20):  # the walk waits for the peer to read: it never queues more
                await asyncio.sleep(0)
                assert peer.link.queue.qsize() <= 1
            await peer.read_one()
        assert await walk == 8
        assert [stx for frame in peer.frames for stx in frame[1]] == [s.encoded for s in admitted]
        assert time.now >= 100.0 + 3 * POLL  # it waited for each read, once per batch

    asyncio.run(scenario())


def test_a_walk_ends_when_the_peer_goes_away() -> None:
    async def scenario() -> None:
        mempool, _ = filled_pool(6)
        peer, tasks = Peer(), []
        resend = resender(mempool, peer, FakeTime(), tasks, queue_bytes=1)
        walk = asyncio.ensure_future(resend.walk(PEER))
        await asyncio.sleep(0)
        peer.link = None  # its links closed while the walk waited for room
        assert await walk == 2  # the first batch only

    asyncio.run(scenario())


def test_a_peer_reconnecting_in_a_loop_gets_one_walk_per_interval() -> None:
    async def scenario() -> None:
        mempool, _ = filled_pool(4)
        peer, time, tasks = Peer(), FakeTime(), []
        resend = resender(mempool, peer, time, tasks, interval=5.0)
        starts: list[float] = []
        walk = resend.walk

        async def timed_walk(key: bytes) -> int:
            starts.append(time.now)
            peer.read_all()
            sent = await walk(key)
            if len(starts) == 1:
                for _ in range(10):  # ten reconnects while the first walk ran
                    resend.peer_connected(PEER)
            return sent

        resend.walk = timed_walk  # type: ignore[method-assign]
        for _ in range(10):  # ten reconnects before the first walk took the pool: it covers them
            resend.peer_connected(PEER)
        await settle(tasks)
        # the first at once; the ten during it are one more walk, when the interval ends
        assert starts == [100.0, 105.0] and len(tasks) == 1
        resend.peer_connected(PEER)  # back soon after: deferred to the interval's end
        await settle(tasks)
        assert starts == [100.0, 105.0, 110.0] and len(tasks) == 2
        time.now = 200.0  # a reconnect long after the last walk is sent the pool at once
        resend.peer_connected(PEER)
        await settle(tasks)
        assert starts == [100.0, 105.0, 110.0, 200.0]
        assert resend.walks == 4 and resend.sent == 16

    asyncio.run(scenario())
