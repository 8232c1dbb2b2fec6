"""The consensus driver: the one task that owns the replica and commits blocks.

Everything that can change consensus state or the chain arrives here as an
event on one queue: peer consensus messages, "transactions are pending",
blocks fetched by block sync, and the timer. The task hands each event to the
sans-IO replica with the current time and carries out the effects it returns,
in order: a Persist is written to LevelDB (synced) before any Send or Broadcast
that follows it, so a validator that crashes and restarts can never sign two
different votes for one (height, view, phase). One timer is armed at the
replica's next deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

from ledger.block import Block, CommitCertificate
from ledger.errors import InvalidBlock

if TYPE_CHECKING:
    from node.node import Node


class ConsensusDriver:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.queue: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self._pending_signalled = False

    # -- inputs (called from other tasks; they only enqueue) -------------------------------------

    def transactions_pending(self) -> None:
        if not self._pending_signalled:
            self._pending_signalled = True
            self.queue.put_nowait(("pending",))

    def on_peer_message(self, peer: bytes, raw: bytes) -> None:
        self.queue.put_nowait(("message", peer, raw))

    async def apply_synced(self, blocks: list[tuple[Block, CommitCertificate]]) -> int:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.queue.put_nowait(("synced", blocks, future))
        return await future

    # -- the owner task ---------------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            event = await self.queue.get()
            self._handle(event)

    def _handle(self, event: tuple[Any, ...]) -> None:
        kind = event[0]
        if kind == "pending":
            self._pending_signalled = False
        elif kind == "synced":
            blocks, future = event[1], event[2]
            try:
                result = self._commit_synced(blocks)
            except InvalidBlock as exc:
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(result)

    def _commit_synced(self, blocks: list[tuple[Block, CommitCertificate]]) -> int:
        chain = self.node.chain
        applied = 0
        for block, certificate in blocks:
            if block.height <= chain.height:
                continue  # consensus committed it meanwhile
            if block.height != chain.height + 1:
                break
            chain.commit(block, certificate)
            applied += 1
        return applied


def now() -> float:
    """The driver's clock for the replica: monotonic seconds."""
    return time.monotonic()


_ = contextlib
