"""A validator walks its pending pool to every link that comes up, a peer's second
link included: the older one may be dead and not noticed yet, the peer restarted
behind it and holding nothing (node/pool_resend.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from ledger.keys import PrivateKey, address_to_text
from node.home import Home, NodeConfig, genesis_from_json
from node.node import Node

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


def test_every_link_that_comes_up_gets_the_pool_and_the_height(tmp_path: Path) -> None:
    document = {
        "chain_id": "t",
        "genesis_time_ms": 1_000,
        "validators": [{"name": "v", "key": address_to_text(VALIDATOR.public_key)}],
    }

    async def scenario() -> None:
        node = Node(
            Home(tmp_path / "node", NodeConfig("t", "v"), genesis_from_json(document)), VALIDATOR
        )
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
