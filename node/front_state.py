"""The admission state a node shares with its RPC front process, in 32 bytes of a file.

The node (node/node.py) owns the mempool and decides whether its clients are
refused right now; the front (node/rpc_front.py) answers those refusals without
waiting for the node's busy event loop. They share one small file mapped into
both processes:

    offset  size  written by  what
    0       1     node        layout version (3)
    2       2     node        when to retry, in ms (Retry-After-Ms)
    4       4     node        room: transactions this node's clients may still add (0: full)
    8       8     node        CLOCK_MONOTONIC in ms when the node last wrote (its heartbeat)
    16      8     front       submissions the front refused
    24      4     node        publications so far
    (little-endian; the rest is reserved)

The node writes after every admission, gossip intake and commit, and every 50 ms
(its limit follows a rate measured over time). Its event loop runs late under
load, so between two publications the front spends the room itself: each
submission it relays takes an estimate of its transactions out of it (at least
the true count), and once none is left it refuses until the node publishes again.
Without that, the requests it let through in the moment after a commit filled
the pool, and a tenth of the refusals still came from the node, as slowly as
before. A reader may see parts of two writes (the fields are copied, not swapped);
the next submission reads them again. The front trusts the room only while the
heartbeat is fresh: a node that stopped writing has its submissions relayed, and
answers them itself.

This module is standard library only: the front process imports it, and starts
in a fraction of the node's import time.
"""

from __future__ import annotations

import mmap
import os
import struct
import time
from collections.abc import Callable
from pathlib import Path

SIZE = 32
VERSION = 3  # 3: the retry time in ms (2 had whole seconds)
_HEAD = struct.Struct("<BxHIQ")  # version, retry_after_ms, room, heartbeat_ms
_COUNT = struct.Struct("<Q")
_REFUSED_AT = 16
_SERIAL = struct.Struct("<I")
_SERIAL_AT = 24
MAX_ROOM = 0xFFFFFFFF
# the front forwards submissions when the node has not written for this long
STALE_MS = 2_000
MAX_RETRY_AFTER_MS = 0xFFFF

# The answer to a submission while the mempool is full, the same from the node
# (node/rpc/routes_txs.py) and from the front.
MEMPOOL_FULL = "mempool_full"
MEMPOOL_FULL_MESSAGE = "the node's mempool is full; retry later"
# A 429 for room carries both: `Retry-After` in the whole seconds HTTP allows (at
# least 1), and this header with the node's estimate in milliseconds, which the
# project's clients prefer (the pool holds well under a second of work).
RETRY_AFTER_MS_HEADER = "Retry-After-Ms"


def retry_after_seconds(retry_after_ms: int) -> int:
    """The `Retry-After` for a wait of `retry_after_ms`: whole seconds, rounded up, at
    least 1."""
    return max(1, -(-retry_after_ms // 1000))


# The header in which the front names the client to the node (node/rpc/limits.py).
CLIENT_HEADER = "Pasar-Client-Address"
# Connections waiting to be accepted, on the front's port and the node's socket
# (the kernel may cap it lower): every request in flight through the front is a
# connection of its own to the node, and a burst of long-polls must find room.
LISTEN_BACKLOG = 4096


def monotonic_ms() -> int:
    """CLOCK_MONOTONIC in ms: one clock for every process of the machine."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1_000_000


def _mapped(path: Path, create: bool) -> tuple[mmap.mmap, int]:
    flags = os.O_RDWR | (os.O_CREAT if create else 0)
    fd = os.open(path, flags, 0o600)
    try:
        if create:
            os.ftruncate(fd, SIZE)
        return mmap.mmap(fd, SIZE), fd
    except BaseException:
        os.close(fd)
        raise


class StateWriter:
    """The node's side: publish the room its clients have, and read the front's count."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._map, self._fd = _mapped(path, create=True)
        self._map[:] = bytes(SIZE)
        self._serial = 0
        self.publish(0, 1000, now_ms=0)  # stale until the node's first real publication

    def publish(self, room: int, retry_after_ms: int, now_ms: int | None = None) -> None:
        stamp = monotonic_ms() if now_ms is None else now_ms
        retry = max(0, min(MAX_RETRY_AFTER_MS, retry_after_ms))
        _HEAD.pack_into(self._map, 0, VERSION, retry, max(0, min(MAX_ROOM, room)), stamp)
        self._serial = (self._serial + 1) & 0xFFFFFFFF
        _SERIAL.pack_into(self._map, _SERIAL_AT, self._serial)

    def refused_by_front(self) -> int:
        return int(_COUNT.unpack_from(self._map, _REFUSED_AT)[0])

    def close(self) -> None:
        self._map.close()
        os.close(self._fd)


class StateReader:
    """The front's side: whether to refuse a submission now, and with which Retry-After."""

    def __init__(self, path: Path, clock_ms: Callable[[], int] = monotonic_ms) -> None:
        self._map, self._fd = _mapped(path, create=False)
        self._clock = clock_ms
        self.refused = int(_COUNT.unpack_from(self._map, _REFUSED_AT)[0])
        self._serial: int | None = None
        self._room = 0

    def refusing(self) -> int | None:
        """The retry time (ms) to refuse a submission with now, or None to relay it."""
        version, retry, room, stamp = _HEAD.unpack_from(self._map, 0)
        if version != VERSION or self._clock() - stamp > STALE_MS:
            self._room = 0
            return None
        serial = _SERIAL.unpack_from(self._map, _SERIAL_AT)[0]
        if serial != self._serial:
            self._serial, self._room = serial, int(room)
        if self._room <= 0:
            return max(1, int(retry))  # ms
        return None

    def spend(self, cost: int) -> int | None:
        """Take a relayed submission's `cost` out of the room until the node writes
        again; returns the node's publication it was taken from (see `give_back`)."""
        self._room -= cost
        return self._serial

    def give_back(self, cost: int, serial: int | None) -> None:
        """Put back what `spend` took for a submission the node then refused as bad
        input, which took no room: unless the node has written since, when the room
        was read afresh (the refusal already in it)."""
        if serial is not None and serial == self._serial:
            self._room += cost

    def count_refusal(self) -> None:
        self.refused += 1
        _COUNT.pack_into(self._map, _REFUSED_AT, self.refused)

    def close(self) -> None:
        self._map.close()
        os.close(self._fd)
