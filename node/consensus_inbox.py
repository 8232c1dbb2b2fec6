"""Consensus messages from peers, waiting for the consensus driver: fair, bounded, and
deaf for a while to a peer that sends forgeries.

Each peer's undecoded messages wait in arrival order in a queue of their own, and the
driver takes them one peer after another (round robin over the peers with something
waiting). One queue for all, as before, let a peer that sends fast bury everyone
else's messages: a validator sending forged PREPARE votes, 25,000 a second to each
peer, put tens of thousands of them ahead of every honest vote, and its three honest
peers committed one block in ten seconds instead of seventy-five. Taken in turn, an
honest peer's next message waits behind at most one of the flooder's per turn.

A peer may have at most `peer_bytes` waiting (PEER_QUEUE_BYTES in node/driver.py),
and may send `rate` messages a second, in bursts of up to `burst`, and `byte_rate`
bytes a second, in bursts of up to `byte_burst` (token buckets);
beyond either its messages are dropped as they arrive, undecoded, and consensus
retransmission repairs the loss. An honest validator sends a few messages a height
(its proposal, its votes, a resend when stuck), well under a hundred a second at
the shortest block intervals; a validator sending PREPARE votes it really signed,
each for another made-up block, as fast as it could, had cut its honest peers to
0.9 heights a second at half a core each (each vote decoded and its signature
checked: a valid signature is no strike).

A message whose signature turns out false is the sending peer's fault: honest
validators send only what they signed, and what they relay (view changes inside a
NEW-VIEW, a decision's certificate) they checked first. After `mute_after` such
strikes within `mute_seconds`, the peer's consensus messages are dropped on arrival,
and those it has waiting dropped with them, for `mute_seconds`. Consensus needs no
more than a quorum, so a muted faulty validator costs the others nothing, while each
of its forgeries had cost a decoding and a signature check.

Deterministic in everything but the clock it is given; no I/O.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from node.token_bucket import TokenBucket

QUEUED = "queued"
FULL = "full"  # the peer holds its share of the bytes: dropped
OVER_RATE = "over_rate"  # the peer sent more than its rate allows: dropped
MUTED = "muted"  # the peer is muted: dropped


class ConsensusInbox:
    """Per-peer queues of wire bytes, taken in turn across peers."""

    def __init__(
        self,
        peer_bytes: int,
        mute_after: int,
        mute_seconds: float,
        rate: float,
        burst: int,
        byte_rate: float = float("inf"),
        byte_burst: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.peer_bytes = peer_bytes
        self.rate = rate
        self.burst = burst
        self.byte_rate = byte_rate
        self.byte_burst = byte_burst
        # peer -> its buckets: messages, bytes
        self._buckets: dict[bytes, tuple[TokenBucket, TokenBucket]] = {}
        self.mute_after = mute_after
        self.mute_seconds = mute_seconds
        self._clock = clock
        self._queues: dict[bytes, deque[bytes]] = {}
        self._bytes: dict[bytes, int] = {}
        self._turns: deque[bytes] = deque()  # peers with something waiting, next first
        self._count = 0
        self._strikes: dict[bytes, tuple[float, int]] = {}  # peer -> (first strike, count)
        self._muted: dict[bytes, float] = {}  # peer -> muted until

    def __len__(self) -> int:
        return self._count

    def put(self, peer: bytes, raw: bytes) -> str:
        """Queue one message of `peer`'s; QUEUED, or why it was dropped (MUTED, FULL,
        OVER_RATE)."""
        if self._muted and self.is_muted(peer):
            return MUTED
        held = self._bytes.get(peer, 0) + len(raw)
        if held > self.peer_bytes:
            return FULL
        now = self._clock()
        buckets = self._buckets.get(peer)
        if buckets is None:
            buckets = self._buckets[peer] = (
                TokenBucket(self.rate, self.burst, now),
                TokenBucket(self.byte_rate, self.byte_burst, now),
            )
        messages, size = buckets
        # a message over the byte rate still spends its message token: it was sent
        if not messages.take(now) or (
            self.byte_rate != float("inf") and not size.take(now, len(raw))
        ):
            return OVER_RATE
        queue = self._queues.get(peer)
        if queue is None:
            queue = self._queues[peer] = deque()
        if not queue:
            self._turns.append(peer)
        queue.append(raw)
        self._bytes[peer] = held
        self._count += 1
        return QUEUED

    def take(self) -> tuple[bytes, bytes] | None:
        """The next (peer, message), the peers taking turns; None when nothing waits."""
        while self._turns:
            peer = self._turns.popleft()
            queue = self._queues.get(peer)
            if not queue:
                continue
            raw = queue.popleft()
            self._count -= 1
            left = self._bytes[peer] - len(raw)
            if queue:
                self._bytes[peer] = left
                self._turns.append(peer)
            else:
                del self._bytes[peer]
                del self._queues[peer]
            return peer, raw
        return None

    def waiting_bytes(self, peer: bytes) -> int:
        return self._bytes.get(peer, 0)

    def is_muted(self, peer: bytes) -> bool:
        until = self._muted.get(peer)
        if until is None:
            return False
        if self._clock() < until:
            return True
        del self._muted[peer]
        return False

    def strike(self, peer: bytes) -> bool:
        """Count a false signature against `peer`; True when this strike mutes it (and
        drops what it has waiting)."""
        now = self._clock()
        first, count = self._strikes.get(peer, (now, 0))
        if now - first > self.mute_seconds:
            first, count = now, 0  # an old strike has lapsed: start counting again
        count += 1
        if count < self.mute_after:
            self._strikes[peer] = (first, count)
            return False
        self._strikes.pop(peer, None)
        self._muted[peer] = now + self.mute_seconds
        dropped = self._queues.pop(peer, None)
        if dropped:
            self._count -= len(dropped)
            del self._bytes[peer]
            self._turns.remove(peer)
        return True
