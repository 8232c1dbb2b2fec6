"""Send a peer that (re)connects the transactions pending here.

Gossip goes to the peers connected when a transaction is admitted. A validator
that was down, restarting or cut off meanwhile never receives those: when it
becomes primary it cannot propose them, and they wait for the censorship
timeout's view change. So when a link to a peer comes up (dialed or accepted),
this node walks its pool for that peer, oldest admitted first, in the gossip's
own `["txs", [tx, ...]]` frames and batch size. Not only on a peer's first link:
a pair shares up to two links, but an older one that still looks up may be dead
and not noticed yet (the peer restarted behind a partition, its connection's
close never arrived), and the restarted peer holds nothing.

The walk never holds the event loop for the whole pool (one batch, then the loop
again) nor buffers the pool for a slow peer: it puts a batch on the peer's link
only while that link's send queue holds less than `QUEUE_BYTES`, so a peer that
reads slowly gets the pool as fast as it reads, and the node holds at most about
that much for it (plus the list of hashes being walked). A batch goes to whichever
link is up; when the peer has none left, the walk ends (its next connect starts
a new one).

Bound: at most one walk per peer per `INTERVAL` seconds. A peer that reconnects
in a loop would otherwise have the whole pool (50,000 transactions, ~12 MB) sent
at each reconnect; this way it costs at most one pool per interval, however fast
it flaps. A connect within the interval (or during a walk) is not dropped: one
more walk runs when the interval ends, since the peer may have restarted and lost
its pool meanwhile. (Sending only what that peer was not sent before would miss
exactly that case: a restarted peer holds nothing it was sent.) The receiver
screens each transaction it already holds by its bytes, before decoding
(`Mempool.holds_encoded`), so a resend of what it has costs it one set lookup per
transaction.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from ledger.keys import address_to_text
from node.log import log
from node.mempool import Mempool
from node.peers import Link

# a batch goes on a peer's link only while its send queue holds less than this: a
# few gossip frames, so the pool never piles up in memory for a slow peer and
# consensus frames behind it wait for little
QUEUE_BYTES = 1 << 20
# A walk starts at most this often per peer: well under the censorship timeout (10 s),
# so a peer that restarts twice in a row still gets the pool before that fires, and a
# flapping peer costs at most one pool per interval
INTERVAL = 5.0
POLL = 0.02  # how often a walk waiting for a full link's queue to drain looks again


class PoolResend:
    """Walks of the pending pool to peers that connected, one at a time per peer."""

    def __init__(
        self,
        mempool: Mempool,
        link_of: Callable[[bytes], Link | None],
        spawn: Callable[[Coroutine[Any, Any, None]], None],
        batch: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        interval: float = INTERVAL,
        queue_bytes: int = QUEUE_BYTES,
    ) -> None:
        self.mempool = mempool
        self.link_of = link_of
        self.spawn = spawn
        self.clock = clock
        self.sleep = sleep  # waits for the interval and for a link's queue to drain
        self.interval = interval
        self.batch = batch
        self.queue_bytes = queue_bytes
        self._walking: set[bytes] = set()  # peers with a walk running or waiting to run
        self._again: set[bytes] = set()  # ...that connected anew once that walk started
        self._next_start: dict[bytes, float] = {}  # peer -> earliest start of its next walk
        self.walks = 0  # walks started (all peers)
        self.sent = 0  # transactions sent by them

    def peer_connected(self, peer: bytes) -> None:
        """The peer's first link came up: send it the pool, within the bound."""
        if peer in self._walking:
            self._again.add(peer)  # one more walk after this one, never more
            return
        self._walking.add(peer)
        self.spawn(self._run(peer))

    async def _run(self, peer: bytes) -> None:
        try:
            while True:
                wait = self._next_start.get(peer, 0.0) - self.clock()
                if wait > 0:
                    await self.sleep(wait)
                self._next_start[peer] = self.clock() + self.interval
                # a connect from now on may come after the walk's snapshot of the pool
                self._again.discard(peer)
                await self.walk(peer)
                if peer not in self._again:
                    return
        finally:
            self._walking.discard(peer)
            self._again.discard(peer)

    async def walk(self, peer: bytes) -> int:
        """Send `peer` every transaction pending now, oldest first, one batch per turn
        of the event loop; returns how many were sent."""
        self.walks += 1
        hashes = self.mempool.pending_in_order()
        sent = 0
        for start in range(0, len(hashes), self.batch):
            link = await self._room(peer)
            if link is None:
                break  # the peer went away: its next connect walks again
            raws = []
            for tx_hash in hashes[start : start + self.batch]:
                stx = self.mempool.get(tx_hash)
                if stx is not None:  # not committed or evicted since the walk began
                    raws.append(stx.encoded)
            if raws and link.send(["txs", raws]):
                sent += len(raws)
            await asyncio.sleep(0)  # votes, commits and the RPC between batches
        self.sent += sent
        if hashes:
            log("pool_resent", peer=address_to_text(peer)[:16], txs=sent, pending=len(hashes))
        return sent

    async def _room(self, peer: bytes) -> Link | None:
        """The peer's link once its send queue has room for a batch (None: no link)."""
        while True:
            link = self.link_of(peer)
            if link is None or link.queued_bytes < self.queue_bytes:
                return link
            await self.sleep(POLL)
