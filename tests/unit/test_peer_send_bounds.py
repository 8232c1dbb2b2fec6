"""No sequence of frames from a peer makes one link hold more than its bounds.

A peer that stops reading its socket used to make a node queue 20,000 frames for it,
each up to a 24 MiB block sync reply, in answer to `get_blocks` requests of a few
bytes. Now a link holds at most `SEND_QUEUE_BYTES` (counting the frame being
written), and a peer's block requests are answered one at a time, so such a peer
holds at most one reply while an honest peer that reads is still answered.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

from ledger import codec
from node.peers import SEND_QUEUE_BYTES, Link
from node.sync import BlockSync

PEER = b"\x03" * 32
MB = 1024 * 1024
SERVE_WAIT = 0.02  # a few of these let a waiting request's timer fire


class StuckSocket:
    """A websocket whose peer never reads: a send is taken and never completes until
    `release` is called; `sent` lists what got out."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.sent: list[bytes] = []

    async def send_bytes(self, data: bytes) -> None:
        await self.open.wait()
        self.sent.append(data)

    def release(self) -> None:
        self.open.set()


def chain_of(height: int, block_bytes: int) -> Any:
    block = b"\x00" * block_bytes
    return SimpleNamespace(
        height=height,
        block_with_certificate=lambda h: (block, b"c" * 100) if 1 <= h <= height else None,
    )


async def settle(condition: Any, rounds: int = 2_000) -> bool:
    """Let the loop run (timers included) until `condition()` holds, in bounded steps."""
    for _ in range(rounds):
        if condition():
            return True
        await asyncio.sleep(0.01)
    return bool(condition())


def test_a_link_queue_is_bounded_in_bytes_not_only_in_frames() -> None:
    link = Link(PEER, True, cast(Any, None))  # no writer: nothing leaves the queue
    frame = b"\x00" * MB
    accepted = sum(link.send(frame) for _ in range(100))
    assert link.held_bytes() <= SEND_QUEUE_BYTES
    assert accepted == SEND_QUEUE_BYTES // MB and link.dropped == 100 - accepted
    # a frame larger than the bound still goes out on a link that holds nothing
    idle = Link(PEER, True, cast(Any, None))
    assert idle.send(b"\x00" * (SEND_QUEUE_BYTES + 1))
    assert not idle.send(b"\x00")


def test_the_frame_being_written_counts_against_the_bound() -> None:
    async def run() -> tuple[bool, int]:
        ws = StuckSocket()
        link = Link(PEER, True, cast(Any, ws))
        writer = asyncio.create_task(link.writer())
        assert link.send(b"\x00" * (20 * MB))
        assert await settle(lambda: link.writing == 20 * MB)  # taken off the queue
        second = link.send(b"\x00" * (20 * MB))
        held = link.held_bytes()
        writer.cancel()
        return second, held

    second, held = asyncio.run(run())
    assert not second  # the peer has not read the first: 40 MiB would exceed the bound
    assert held == 20 * MB


def test_a_peer_that_stops_reading_holds_one_block_reply_whatever_it_asks() -> None:
    height, block_bytes = 435, 4096
    node = SimpleNamespace(chain=chain_of(height, block_bytes))

    async def run() -> tuple[int, int, int, int, list[list[Any]]]:
        sync = BlockSync(cast(Any, node))
        ws = StuckSocket()
        link = Link(PEER, False, cast(Any, ws))
        writer = asyncio.create_task(link.writer())
        # the attack as seen: 20 requests at a time, 320 in all, never reading
        for _ in range(16):
            for _ in range(20):
                sync.on_frame(link, ["get_blocks", 403, 64])
            await asyncio.sleep(0.01)
        held_frames = link.queue.qsize() + (1 if link.writing else 0)
        held = link.held_bytes()
        dropped = sync.requests_dropped
        # the peer reads again: its newest request is answered, once
        ws.release()
        await settle(lambda: len(ws.sent) >= 2 and not link.queue.qsize() and not link.writing)
        for _ in range(20):  # anything still waiting would be answered by now
            await asyncio.sleep(SERVE_WAIT)
        writer.cancel()
        return held_frames, held, dropped, len(ws.sent), [codec.decode(d) for d in ws.sent]

    held_frames, held, dropped, sent, replies = asyncio.run(run())
    reply_bytes = (height - 403 + 1) * (block_bytes + 100)
    assert held_frames == 1, held_frames  # the first reply, stuck in the socket
    assert reply_bytes <= held < 2 * reply_bytes
    assert dropped == 318  # the first was answered, the last waits, the rest were dropped
    assert sent == 2
    assert all(reply[0] == "blocks" and reply[1] == 403 for reply in replies)
    assert all(len(reply[2]) == height - 403 + 1 for reply in replies)


def test_an_honest_peer_that_reads_gets_every_request_answered() -> None:
    node = SimpleNamespace(chain=chain_of(300, 512))

    async def run() -> list[int]:
        sync = BlockSync(cast(Any, node))
        ws = StuckSocket()
        ws.release()  # this peer reads
        link = Link(PEER, True, cast(Any, ws))
        writer = asyncio.create_task(link.writer())
        starts: list[int] = []
        # more requests than the burst, each sent once the previous reply arrived,
        # as the sync client does: the rate limit delays them, never drops them
        for start in range(1, 300, 20):
            sync.on_frame(link, ["get_blocks", start, 20])
            assert await settle(lambda: len(ws.sent) > len(starts)), start
            starts.append(codec.decode(ws.sent[-1])[1])
        writer.cancel()
        return starts

    starts = asyncio.run(run())
    assert starts == list(range(1, 300, 20))
    assert len(starts) > 8  # past SERVE_BURST
