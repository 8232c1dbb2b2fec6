"""Giving the event loop back during long synchronous work on input from outside.

Decoding what a client or a peer sends runs on the event loop, which also runs
consensus, the peer links and every other request. A transaction's cost to decode
follows the values it holds more than its bytes (one within the ledger's limits,
1,024 empty arrays in 1.2 KB, takes 0.7 ms where a transfer takes 5 µs), so a batch
of a thousand such transactions, or a peer's frame of them, would hold the loop for
most of a second. Work that goes through its input in pieces awaits `LoopSlices.spent`
after each piece: every SLICE_BYTES of input it lets everything else waiting run.
"""

from __future__ import annotations

import asyncio

# About 10 ms of the worst input to decode (empty arrays, 0.6 µs a byte), 90 transfers
SLICE_BYTES = 16 * 1024


class LoopSlices:
    """Counts the bytes of input gone through and yields to the loop every `every`."""

    def __init__(self, every: int = SLICE_BYTES) -> None:
        self.every = every
        self._since = 0
        self.yields = 0

    async def spent(self, size: int) -> None:
        self._since += size
        if self._since >= self.every:
            self._since = 0
            self.yields += 1
            await asyncio.sleep(0)
