"""Compact proposals at the node: completing a PRE-PREPARE from the transactions
this node holds, fetching the ones it lacks from peers, and serving such requests.

A primary sends its PRE-PREPARE in compact form (consensus.messages.CompactPrePrepare):
the header, the parent certificate and the transactions by hash, since the
replicas hold nearly all of them from gossip. The driver completes it from the
mempool and the blocks kept here; the replica sees only complete proposals, or
the compact one while its missing transactions are being fetched (it then emits
FetchProposal and does not vote). Fetching asks the proposer first, then every
other connected peer in turn, one request at a time:

    ["get_txs", block_hash, [tx_hash, ...]]  ->  ["txs_for", block_hash, [tx bytes, ...]]

A fetched transaction is used only if it is one of those asked for, in the
single-signer envelope the listed hash stands for, and its signature verifies
(checked here on the signature pool and noted as verified, so the block check does
not check it again): a peer that sends other or forged transactions cannot make
this node refuse an honest block. The whole fetch is bounded by the view timeout;
a proposal still incomplete then is abandoned and the replica's timer runs out
into the normal view change.

A request is untrusted input from an authenticated validator: at most
MAX_REQUEST_HASHES distinct 32-byte hashes (anything else is refused whole),
at most REQUEST_BURST requests per peer and then REQUESTS_PER_SECOND (a token
bucket; the excess is dropped), answered only from the proposals kept for the
next height and the mempool (never from the committed store), each transaction
once, within one block's byte limit, and a request gets one reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from consensus.messages import CompactPrePrepare, PrePrepare
from ledger.block import Block
from ledger.errors import CodecError
from ledger.hashing import HASH_SIZE
from ledger.keys import address_to_text
from ledger.tx import SignedTransaction
from node.log import log, log_doubling
from node.peers import Link
from node.token_bucket import TokenBucket

if TYPE_CHECKING:
    from node.node import Node

MAX_REQUEST_HASHES = 4096  # twice the default block's transactions
REQUESTS_PER_SECOND = 8.0
REQUEST_BURST = 8
KEPT_BLOCKS = 4  # proposals (own and completed) kept to complete and serve from
MIN_REQUEST_TIMEOUT = 0.1
REQUESTS_PER_TIMEOUT = 4  # each peer asked gets this share of the fetch's time

Deliver = Callable[[bytes, PrePrepare], None]
VerifyAll = Callable[[list[SignedTransaction]], Awaitable[list[bool]]]


def parse_request(frame: list[Any]) -> tuple[bytes, list[bytes]] | None:
    """(block_hash, tx hashes) of a well-formed ["get_txs", ...] frame, else None."""
    if len(frame) != 3 or not isinstance(frame[1], bytes) or len(frame[1]) != HASH_SIZE:
        return None
    hashes = frame[2]
    if not isinstance(hashes, list) or not 0 < len(hashes) <= MAX_REQUEST_HASHES:
        return None
    if not all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in hashes):
        return None
    if len(set(hashes)) != len(hashes):
        return None
    return frame[1], hashes


class ProposalTransactions:
    """Completes compact proposals for the driver and answers peers' requests."""

    def __init__(
        self,
        node: Node,
        deliver: Deliver,
        verify_all: VerifyAll,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.node = node
        self.deliver = deliver
        self.verify_all = verify_all
        self.clock = clock
        # block hash -> (height, {tx hash: tx}) of proposals this node sent or completed
        self._blocks: OrderedDict[bytes, tuple[int, dict[bytes, SignedTransaction]]] = OrderedDict()
        self._buckets: dict[bytes, TokenBucket] = {}
        self.malformed = 0  # malformed requests, logged at the 1st, 2nd, 4th...
        self._waiting: dict[tuple[bytes, bytes], asyncio.Future[list[Any]]] = {}
        self._fetching: dict[bytes, asyncio.Task[None]] = {}
        self.served = 0
        self.refused = 0

    # -- what this node holds ------------------------------------------------------------------

    def remember(self, block: Block) -> None:
        """Keep a proposal's transactions: to complete a later announcement of it and to
        serve peers that lack some."""
        if block.hash in self._blocks or not block.transactions:
            return
        self._blocks[block.hash] = (block.height, {stx.hash: stx for stx in block.transactions})
        while len(self._blocks) > KEPT_BLOCKS:
            self._blocks.popitem(last=False)

    def lookup(self, tx_hash: bytes) -> SignedTransaction | None:
        """A transaction this node holds for the next block: pending, or in a kept proposal."""
        stx = self.node.mempool.get(tx_hash)
        if stx is not None:
            return stx
        floor = self.node.chain.height
        for height, txs in reversed(self._blocks.values()):
            if height > floor:
                stx = txs.get(tx_hash)
                if stx is not None:
                    return stx
        return None

    def gather(self, compact: CompactPrePrepare) -> list[SignedTransaction | None]:
        """Per entry, the transaction this node can put there, or None."""
        found: list[SignedTransaction | None] = []
        append, pending = found.append, self.node.mempool.get
        for index, entry in enumerate(compact.entries):
            if isinstance(entry, SignedTransaction):
                append(entry)
                continue
            # nearly every entry: a hash this node holds pending from gossip
            stx = pending(entry)
            if stx is None:
                stx = self.lookup(entry)
            append(stx if stx is not None and compact.fits(index, stx) else None)
        return found

    def rebuild(self, compact: CompactPrePrepare) -> PrePrepare | None:
        """The full proposal from what this node holds, or None if something is missing."""
        found = self.gather(compact)
        if any(stx is None for stx in found):
            return None
        full = compact.complete([stx for stx in found if stx is not None])
        self.remember(full.block)
        return full

    # -- fetching --------------------------------------------------------------------------------

    def fetch(self, compact: CompactPrePrepare, timeout: float) -> None:
        """Complete `compact` (fetching what is missing) and deliver it, within `timeout`."""
        full = self.rebuild(compact)
        if full is not None:
            self.deliver(compact.sender, full)
            return
        running = self._fetching.get(compact.block_hash)
        if running is not None and not running.done():
            return
        task = asyncio.get_running_loop().create_task(self._fetch(compact, timeout))
        self._fetching[compact.block_hash] = task
        task.add_done_callback(lambda _: self._fetching.pop(compact.block_hash, None))

    async def _fetch(self, compact: CompactPrePrepare, timeout: float) -> None:
        node = self.node
        started = self.clock()
        deadline = started + timeout
        per_request = max(MIN_REQUEST_TIMEOUT, timeout / REQUESTS_PER_TIMEOUT)
        found = self.gather(compact)
        wanted = {compact.tx_hashes[i]: i for i, stx in enumerate(found) if stx is None}
        asked = len(wanted)
        attempt = 0
        while wanted and node.chain.height < compact.height:
            now = self.clock()
            if now >= deadline:
                break
            others = [peer for peer in node.peers.connected() if peer != compact.sender]
            peers = [compact.sender, *others]
            peer = peers[attempt % len(peers)]
            attempt += 1
            wait = min(per_request, deadline - now)
            reply = await self._ask(peer, compact.block_hash, list(wanted), wait)
            for index, stx in await self._usable(compact, wanted, reply):
                found[index] = stx
                del wanted[stx.hash]
        fetched = asked - len(wanted)
        node.metrics.proposal_txs_fetched.inc(fetched)
        if wanted:
            node.metrics.proposal_fetches.labels("failed").inc()
            log(
                "proposal_fetch_failed",
                level="warning",
                height=compact.height,
                missing=len(wanted),
                asked=asked,
                requests=attempt,
            )
            return
        node.metrics.proposal_fetches.labels("complete").inc()
        full = compact.complete([stx for stx in found if stx is not None])
        self.remember(full.block)
        log(
            "proposal_fetched",
            height=compact.height,
            txs=fetched,
            requests=attempt,
            ms=int((self.clock() - started) * 1000),
        )
        self.deliver(compact.sender, full)

    async def _ask(
        self, peer: bytes, block_hash: bytes, hashes: list[bytes], timeout: float
    ) -> list[Any]:
        """Send one request and wait for its reply (an empty list if none came in time)."""
        key = (peer, block_hash)
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._waiting[key] = future
        try:
            # one request in flight; what does not fit is asked in the next round
            request = ["get_txs", block_hash, hashes[:MAX_REQUEST_HASHES]]
            if not self.node.peers.send(peer, request):
                await asyncio.sleep(min(MIN_REQUEST_TIMEOUT, max(0.0, timeout)))  # no link
                return []
            with contextlib.suppress(TimeoutError):
                return await asyncio.wait_for(future, max(0.0, timeout))
            return []
        finally:
            if self._waiting.get(key) is future:
                del self._waiting[key]

    async def _usable(
        self, compact: CompactPrePrepare, wanted: dict[bytes, int], reply: list[Any]
    ) -> list[tuple[int, SignedTransaction]]:
        """The transactions of a reply that fill a missing place: asked for, of the right
        envelope, once each, and with valid signatures."""
        candidates: list[tuple[int, SignedTransaction]] = []
        taken: set[bytes] = set()
        for raw in reply:
            if not isinstance(raw, bytes):
                continue
            try:
                stx = SignedTransaction.decode(raw)
            except CodecError:
                continue
            index = wanted.get(stx.hash)
            if index is None or stx.hash in taken or not compact.fits(index, stx):
                continue
            taken.add(stx.hash)
            candidates.append((index, stx))
        if not candidates:
            return []
        verified = self.node.verified
        unchecked = [stx for _, stx in candidates if stx.verification_key not in verified]
        results = dict(
            zip(
                (stx.verification_key for stx in unchecked),
                await self.verify_all(unchecked),
                strict=True,
            )
        )
        usable = []
        for index, stx in candidates:
            if results.get(stx.verification_key, True):
                verified.add(stx.verification_key)
                usable.append((index, stx))
        return usable

    # -- frames from peers -----------------------------------------------------------------------

    def on_frame(self, link: Link, frame: list[Any]) -> None:
        if frame[0] == "get_txs":
            self.serve(link, frame)
        elif frame[0] == "txs_for" and len(frame) == 3 and isinstance(frame[1], bytes):
            future = self._waiting.get((link.peer, frame[1]))
            if future is not None and not future.done():
                future.set_result(frame[2] if isinstance(frame[2], list) else [])

    def serve(self, link: Link, frame: list[Any]) -> None:
        """Answer a peer's request for transactions of a proposal (see the module docstring)."""
        request = parse_request(frame)
        if request is None:
            self.refused += 1
            self.node.metrics.proposal_requests.labels("malformed").inc()
            self.malformed += 1
            log_doubling(
                self.malformed,
                "peer_bad_request",
                "info",
                peer=address_to_text(link.peer)[:16],
                kind="get_txs",
                count=self.malformed,
            )
            return
        now = self.clock()
        bucket = self._buckets.get(link.peer)
        if bucket is None:
            bucket = self._buckets[link.peer] = TokenBucket(REQUESTS_PER_SECOND, REQUEST_BURST, now)
        if not bucket.take(now):
            self.refused += 1
            self.node.metrics.proposal_requests.labels("rate_limited").inc()
            return
        block_hash, hashes = request
        limit = self.node.config.block.max_bytes
        raws: list[bytes] = []
        size = 0
        for tx_hash in hashes:
            stx = self.lookup(tx_hash)
            if stx is None:
                continue
            size += len(stx.encoded)
            if size > limit:
                break
            raws.append(stx.encoded)
        self.served += 1
        self.node.metrics.proposal_requests.labels("served").inc()
        link.send(["txs_for", block_hash, raws])

    def close(self) -> None:
        for task in list(self._fetching.values()):
            task.cancel()
