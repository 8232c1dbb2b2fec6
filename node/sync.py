"""Block sync: how a validator that fell behind gets back to the head.

Every node tells its peers its committed height (frame ["height", h]) each
second and on connect. When a peer stays ahead of us (two blocks, or one block
for more than `LAG_GRACE` seconds, so the normal commit race is not mistaken for
lag) we ask it for blocks with their certificates:

    ["get_blocks", from_height, count]  ->  ["blocks", from_height, [[block, cert], ...]]

Each block is committed through the consensus driver (the only committer): the
certificate must carry a quorum of `validators_at(height)` and the block must
re-execute to the roots in its header (the same `check_block` a replica runs), so
a lying peer can waste our time but never change our chain. While this runs the
node reports `catching_up`; when it is done the replica rejoins at the new height.

A claimed height is only a hint; peers are judged by what they deliver. A request
that brings no valid certified block (timeout, empty or bad reply) is a strike:
the peer is benched for `BENCH_START` seconds, doubling per consecutive strike up
to `BENCH_CAP`, and other peers are asked meanwhile. A peer with strikes is still
probed when nobody better is ahead, but while probing it the node does not report
`catching_up`: one peer that lies about its height cannot hold readiness hostage.
One delivered block clears its strikes.

Serving is bounded per peer, since a request of a few bytes can cost a reply of
`MAX_REPLY_BYTES`: a peer's requests are answered one at a time (the next only
once the last reply has been written to its socket, so a peer that stops reading
holds at most one reply) and at most `SERVE_BURST` at once then
`SERVE_PER_SECOND` (a token bucket, as for `get_txs`). A request that cannot be
answered yet waits, one per peer: a newer one replaces it (the older is dropped).
An honest node has one request out at a time, so it is only ever delayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

from ledger.block import Block, CommitCertificate
from ledger.errors import CodecError, InvalidBlock
from ledger.keys import address_to_text
from node.log import log
from node.peers import Link
from node.token_bucket import TokenBucket

if TYPE_CHECKING:
    from node.node import Node

BATCH_BLOCKS = 64
MAX_REPLY_BYTES = 24 * 1024 * 1024
REQUEST_TIMEOUT = 5.0
LAG_GRACE = 1.5
POLL_INTERVAL = 0.25
BENCH_START = 1.0  # a busy honest peer may miss one deadline: retry it soon
BENCH_CAP = 30.0
# Requests answered per peer. An honest client asks again only once it has applied
# the last reply (up to 64 blocks), so the bucket may delay it but never drops it.
SERVE_BURST = 8
SERVE_PER_SECOND = 8.0
# How soon a request waiting on its peer's last reply to be written is looked at again.
SERVE_RETRY = 0.05


class BlockSync:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.peer_heights: dict[bytes, int] = {}
        self._wake = asyncio.Event()
        self._pending: tuple[bytes, int, asyncio.Future[list[Any]]] | None = None
        self._behind_since: float | None = None
        self.failures = 0
        self._forced = False
        self.strikes: dict[bytes, int] = {}  # consecutive requests that brought nothing
        self._benched_until: dict[bytes, float] = {}
        # serving: the one request per peer waiting its turn, where the peer's last
        # reply ends in its link's running byte total, the peers' buckets and timers
        self._asked: dict[bytes, tuple[Link, int, int]] = {}
        self._last_reply: dict[bytes, tuple[Link, int]] = {}
        self._serve_buckets: dict[bytes, TokenBucket] = {}
        self._serve_timers: dict[bytes, asyncio.TimerHandle] = {}
        self.requests_dropped = 0  # requests replaced by a newer one before their turn

    # -- inputs from the peer network ----------------------------------------------------------

    def peer_height(self, peer: bytes, height: int) -> None:
        self.peer_heights[peer] = height
        if height > self.node.chain.height:
            self._wake.set()

    def catch_up(self, peer: bytes, from_height: int) -> None:
        """Consensus says we are behind and `peer` is ahead: sync now, without grace."""
        known = self.peer_heights.get(peer, 0)
        self.peer_heights[peer] = max(known, from_height)
        self._forced = True
        self._wake.set()

    def on_frame(self, link: Link, frame: list[Any]) -> None:
        if frame[0] == "get_blocks" and len(frame) == 3:
            self._request(link, frame[1], frame[2])
        elif frame[0] == "blocks" and len(frame) == 3 and self._pending is not None:
            peer, start, future = self._pending
            if link.peer == peer and frame[1] == start and not future.done():
                future.set_result(frame[2] if isinstance(frame[2], list) else [])

    def _request(self, link: Link, start: Any, count: Any) -> None:
        """Take a peer's request for blocks: answered now if its turn, else kept waiting."""
        if not isinstance(start, int) or not isinstance(count, int) or start < 1:
            return
        if link.peer in self._asked:
            self.requests_dropped += 1  # the peer asks again: only its newest counts
        self._asked[link.peer] = (link, start, count)
        self._serve_next(link.peer)

    def _serve_next(self, peer: bytes) -> None:
        """Answer `peer`'s waiting request if its last reply is out and its bucket allows;
        otherwise look again later (one timer per peer)."""
        timer = self._serve_timers.pop(peer, None)
        if timer is not None:
            timer.cancel()
        request = self._asked.get(peer)
        if request is None:
            return
        link, start, count = request
        if link.closed:
            del self._asked[peer]  # nowhere to answer: an honest peer asks again
            return
        last = self._last_reply.get(peer)
        if last is not None:
            if last[0].closed or last[0].sent_total >= last[1]:
                del self._last_reply[peer]
            else:
                self._retry_later(peer, SERVE_RETRY)
                return
        now = time.monotonic()
        bucket = self._serve_buckets.get(peer)
        if bucket is None:
            bucket = self._serve_buckets[peer] = TokenBucket(SERVE_PER_SECOND, SERVE_BURST, now)
        if not bucket.take(now):
            self._retry_later(peer, max(SERVE_RETRY, (1.0 - bucket.tokens) / bucket.rate))
            return
        del self._asked[peer]
        before = link.enqueued_total
        self._serve(link, start, count)
        if link.enqueued_total != before:  # a reply was queued: the next waits for it
            self._last_reply[peer] = (link, link.enqueued_total)

    def _retry_later(self, peer: bytes, delay: float) -> None:
        loop = asyncio.get_running_loop()
        self._serve_timers[peer] = loop.call_later(delay, self._serve_next, peer)

    def _serve(self, link: Link, start: Any, count: Any) -> None:
        if not isinstance(start, int) or not isinstance(count, int) or start < 1:
            return
        chain = self.node.chain
        pairs: list[list[bytes]] = []
        size = 0
        for height in range(start, min(chain.height, start + min(count, BATCH_BLOCKS) - 1) + 1):
            item = chain.block_with_certificate(height)
            if item is None:
                break
            size += len(item[0]) + len(item[1])
            if pairs and size > MAX_REPLY_BYTES:
                break
            pairs.append([item[0], item[1]])
        link.send(["blocks", start, pairs])

    # -- the sync loop -----------------------------------------------------------------------------

    def _target(self) -> tuple[bytes, int] | None:
        """The peer to sync from, if we are behind for real.

        Among connected peers that claim to be ahead and are not benched, the one
        with the fewest strikes, then the highest claim.
        """
        ours = self.node.chain.height
        now = time.monotonic()
        connected = set(self.node.peers.connected())
        best = min(
            (
                (self.strikes.get(peer, 0), -height, peer)
                for peer, height in self.peer_heights.items()
                if peer in connected and height > ours and self._benched_until.get(peer, 0.0) <= now
            ),
            default=None,
        )
        if best is None:
            self._behind_since = None
            return None
        height, peer = -best[1], best[2]
        if self._behind_since is None:
            self._behind_since = now
        if self._forced or height >= ours + 2 or now - self._behind_since >= LAG_GRACE:
            self._forced = False
            return peer, height
        return None

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_INTERVAL)
            self._wake.clear()
            target = self._target()
            if target is None:
                self._set_catching_up(False)
                continue
            peer, _ = target
            # behind only by the word of peers that deliver (or are not yet judged)
            self._set_catching_up(self.strikes.get(peer, 0) == 0)
            progressed = await self._fetch_and_apply(peer)
            if not progressed:
                if progressed is not None:
                    self._strike(peer)
                self.failures += 1
                await asyncio.sleep(min(2.0, 0.2 * self.failures))
            else:
                self.strikes.pop(peer, None)
                self._benched_until.pop(peer, None)
                self.failures = 0
                self._wake.set()  # keep going without waiting for the next poll

    def _strike(self, peer: bytes) -> None:
        strikes = self.strikes.get(peer, 0) + 1
        self.strikes[peer] = strikes
        bench = min(BENCH_CAP, BENCH_START * 2 ** min(strikes - 1, 16))
        self._benched_until[peer] = time.monotonic() + bench
        log(
            "sync_peer_benched",
            peer=address_to_text(peer)[:16],
            claimed=self.peer_heights.get(peer, 0),
            strikes=strikes,
            seconds=bench,
        )

    def _set_catching_up(self, value: bool) -> None:
        if self.node.catching_up != value:
            self.node.catching_up = value
            self.node.metrics.catching_up.set(1 if value else 0)
            log("catching_up" if value else "caught_up", height=self.node.chain.height)

    async def _fetch_and_apply(self, peer: bytes) -> bool | None:
        """Ask `peer` for the blocks after our head and commit them: True when some
        were applied, False when the peer brought none, None when we could not ask."""
        start = self.node.chain.height + 1
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._pending = (peer, start, future)
        try:
            if not self.node.peers.send(peer, ["get_blocks", start, BATCH_BLOCKS]):
                return None  # no link (or its queue is full): not the peer's fault
            try:
                pairs = await asyncio.wait_for(future, REQUEST_TIMEOUT)
            except TimeoutError:
                return False
        finally:
            self._pending = None
        blocks: list[tuple[Block, CommitCertificate]] = []
        try:
            for item in pairs:
                if not isinstance(item, list) or len(item) != 2:
                    raise CodecError("bad_shape", "a synced block is [block, certificate]")
                blocks.append((Block.decode(item[0]), CommitCertificate.decode(item[1])))
        except CodecError as exc:
            log("sync_bad_reply", peer=address_to_text(peer)[:16], error=exc.message)
            return False
        if not blocks:
            return False
        try:
            applied = await self.node.consensus.apply_synced(blocks)
        except InvalidBlock as exc:
            log("sync_block_refused", peer=address_to_text(peer)[:16], code=exc.code)
            return False
        self.node.metrics.blocks_synced.inc(applied)
        return bool(applied > 0)
