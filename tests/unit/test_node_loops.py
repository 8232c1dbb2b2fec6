"""A validator's periodic loops and its peer links.

- The event loop's lag probe samples every 50 ms while there is work and once a
  second while idle.
- The gossip loop sleeps until a client's transaction is admitted, then sends
  what came in frames.
- The pending pool is walked to every link that comes up, a peer's second link
  included: the older one may be dead and not noticed yet, the peer restarted
  behind it and holding nothing (node/pool_resend.py).
- Frames dropped on full send queues are counted, those of links that closed
  too, in `pasar_peer_frames_dropped_total`.
- Requests its RPC front refused, and its clients' requests refused for room,
  count toward sustained overload, with the pool at its limit on the node's beat:
  the retry time it publishes is then at least a second, and the front's refusals
  show in `pasar_rpc_front_refusals_total`.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

from ledger.keys import PrivateKey, address_to_text
from ledger.tx import Transaction
from node.front_state import StateReader, StateWriter
from node.home import Home, NodeConfig, genesis_from_json
from node.mempool import OVERLOAD_MIN_REQUESTS, OVERLOAD_RETRY_MS
from node.node import Node
from node.peers import Link

VALIDATOR = PrivateKey.from_seed(bytes([9]) * 32)
PEER = PrivateKey.from_seed(bytes([8]) * 32).public_key


class FakeLink:
    """What the node's connect listener touches of a link: its peer and `send`."""

    def __init__(self) -> None:
        self.peer = PEER
        self.sent: list[Any] = []

    def send(self, frame: Any) -> bool:
        self.sent.append(frame)
        return True


class Walks:
    def __init__(self) -> None:
        self.peers: list[bytes] = []

    def peer_connected(self, peer: bytes) -> None:
        self.peers.append(peer)


class ClosedSocket:
    """A websocket whose peer has gone: nothing to read, and a send that never ends."""

    def __aiter__(self) -> ClosedSocket:
        return self

    async def __anext__(self) -> Any:
        raise StopAsyncIteration

    async def send_bytes(self, data: bytes) -> None:
        await asyncio.sleep(3600)


def make_node(tmp_path: Path) -> Node:
    document = {
        "chain_id": "t",
        "genesis_time_ms": 1_000,
        "validators": [{"name": "v", "key": address_to_text(VALIDATOR.public_key)}],
    }
    home = Home(tmp_path / "node", NodeConfig("t", "v"), genesis_from_json(document))
    return Node(home, VALIDATOR)


def test_every_link_that_comes_up_gets_the_pool_and_the_height(tmp_path: Path) -> None:
    async def scenario() -> None:
        node = make_node(tmp_path)
        walks = Walks()
        node.resend = walks  # type: ignore[assignment]
        try:
            first, second = FakeLink(), FakeLink()
            node._on_peer_connect(first)  # type: ignore[arg-type]
            node._on_peer_connect(second)  # type: ignore[arg-type]
            assert walks.peers == [PEER, PEER]
            assert first.sent == second.sent == [["height", 0]]
        finally:
            await node.stop()

    asyncio.run(scenario())


def test_frames_dropped_on_full_queues_are_counted_also_after_their_link_closed(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        node = make_node(tmp_path)
        try:
            closing = Link(PEER, True, ClosedSocket(), asyncio.Queue(maxsize=1))  # type: ignore[arg-type]
            assert [closing.send([b"frame", n]) for n in range(3)] == [True, False, False]
            await node.peers._run_link(closing)  # its peer has gone: it closes at once
            assert node.peers.link(PEER) is None
            # the two above and the height the node sends on every connect
            assert node.peers.frames_dropped() == 3
            live = Link(PEER, False, ClosedSocket(), asyncio.Queue(maxsize=1))  # type: ignore[arg-type]
            node.peers._links[PEER] = [live]
            assert live.send([b"frame"]) and not live.send([b"frame"])
            assert node.peers.frames_dropped() == 4
            response = await node.metrics_handler(None)  # type: ignore[arg-type]
            assert b"pasar_peer_frames_dropped_total 4.0" in response.body  # type: ignore[operator]
        finally:
            await node.stop()

    asyncio.run(scenario())


def test_the_gossip_loop_waits_for_admitted_transactions_then_sends_them(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        node = make_node(tmp_path)
        sent: list[Any] = []
        node.peers.broadcast = sent.append  # type: ignore[method-assign]
        loop = asyncio.create_task(node._gossip_loop())
        try:
            await asyncio.sleep(0.1)  # five gossip intervals with nothing admitted
            assert sent == [] and node._gossip_waiting.is_set() is False
            sender = PrivateKey.from_seed(bytes([7]) * 32)
            transfer = Transaction("t", sender.public_key, 0, "coin.transfer", ("IDR", PEER, 1))
            stx = transfer.sign(sender)
            (admission,) = await node.submit([stx])
            assert admission.accepted, admission
            for _ in range(100):  # bounded: 100 x 10 ms
                if sent:
                    break
                await asyncio.sleep(0.01)
            assert sent == [["txs", [stx.encode()]]] and node._gossip == []
        finally:
            loop.cancel()
            await asyncio.gather(loop, return_exceptions=True)
            await node.stop()

    asyncio.run(scenario())


def lag_samples(node: Node) -> float:
    for metric in node.metrics.loop_lag.collect():
        for sample in metric.samples:
            if sample.name.endswith("_count"):
                return sample.value
    raise AssertionError("no count in pasar_event_loop_lag_seconds")


def test_the_lag_probe_samples_often_only_while_there_is_work(tmp_path: Path) -> None:
    async def scenario() -> None:
        node = make_node(tmp_path)
        probe = asyncio.create_task(node._lag_loop())
        try:
            await asyncio.sleep(0.3)  # idle: the first sample is a second away
            assert lag_samples(node) == 0
            await asyncio.sleep(1.0)
            assert lag_samples(node) >= 1
            sender = PrivateKey.from_seed(bytes([7]) * 32)
            transfer = Transaction("t", sender.public_key, 0, "coin.transfer", ("IDR", PEER, 1))
            (admission,) = await node.submit([transfer.sign(sender)])
            assert admission.accepted, admission
            await asyncio.sleep(1.0)  # one idle interval may still run out first
            before = lag_samples(node)
            await asyncio.sleep(0.5)  # with work: every 50 ms
            assert lag_samples(node) - before >= 3
        finally:
            probe.cancel()
            await asyncio.gather(probe, return_exceptions=True)
            await node.stop()

    asyncio.run(scenario())


def test_refusals_by_the_front_and_for_room_make_the_published_retry_time_a_second(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        node = make_node(tmp_path)
        writer = StateWriter(tmp_path / "admission")
        front = StateReader(tmp_path / "admission")
        node._front_state = writer
        probe = asyncio.create_task(node._lag_loop())
        try:
            # a pool at its limit: one pending of one admitted (nothing commits yet),
            # looked at by the node's beat for a while
            node.mempool.limits = replace(node.mempool.limits, floor_txs=1)
            sender = PrivateKey.from_seed(bytes([7]) * 32)
            transfer = Transaction("t", sender.public_key, 0, "coin.transfer", ("IDR", PEER, 1))
            (admission,) = await node.submit([transfer.sign(sender)])
            assert admission.accepted, admission
            await asyncio.sleep(1.2)  # an idle beat may run out first, then every 50 ms
            assert node.mempool.room() == 0 and node.mempool.full_percent() >= 90
            node._publish_room()
            assert not node.mempool.overloaded()
            assert node.retry_after_ms() < OVERLOAD_RETRY_MS  # nothing commits: the backlog
            # clients' requests that got in: a full window of them, none refused
            for _ in range(OVERLOAD_MIN_REQUESTS):
                node.mempool.note_requests(1, 0)
            for _ in range(OVERLOAD_MIN_REQUESTS // 4 - 1):
                front.count_refusal()  # the front answers 429s itself
            node._publish_room()
            assert not node.mempool.overloaded()  # 4 refused of 25 (the submission too): a peak
            node.note_refused_request()  # the node's own 429 before the body
            front.count_refusal()
            front.count_refusal()
            node._publish_room()
            assert node.mempool.overloaded()  # 7 of 28
            assert node.retry_after_ms() == OVERLOAD_RETRY_MS
            response = await node.metrics_handler(None)  # type: ignore[arg-type]
            assert b"pasar_rpc_front_refusals_total 6.0" in response.body  # type: ignore[operator]
            assert b"pasar_mempool_overloaded 1.0" in response.body  # type: ignore[operator]
            assert b"pasar_mempool_full_percent 100.0" in response.body  # type: ignore[operator]
            node._publish_room()  # nothing new from the front: nothing counted twice
            assert node.mempool._requests.second == 7
        finally:
            probe.cancel()
            await asyncio.gather(probe, return_exceptions=True)
            node._front_state = None
            front.close()
            writer.close()
            await node.stop()

    asyncio.run(scenario())
