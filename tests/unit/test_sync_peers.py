"""Block sync judges peers by what they deliver, not by the height they claim."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from node.sync import BlockSync

LIAR, HONEST = b"\x01" * 32, b"\x02" * 32


def fake_node(height: int, peers: list[bytes]) -> Any:
    sent: list[tuple[bytes, list[Any]]] = []
    return SimpleNamespace(
        chain=SimpleNamespace(height=height),
        peers=SimpleNamespace(
            connected=lambda: peers, send=lambda peer, frame: sent.append((peer, frame)) or True
        ),
        catching_up=False,
        metrics=SimpleNamespace(catching_up=SimpleNamespace(set=lambda value: None)),
        sent=sent,
    )


def test_a_peer_that_brings_nothing_is_benched_and_others_are_asked() -> None:
    sync = BlockSync(fake_node(10, [LIAR, HONEST]))
    sync.peer_height(LIAR, 10**15)
    sync.peer_height(HONEST, 14)
    assert sync._target() == (LIAR, 10**15)  # the highest claim is tried first
    sync._strike(LIAR)
    assert sync._target() == (HONEST, 14)  # benched: the next one is asked
    sync._benched_until[LIAR] = 0.0  # the bench is over
    assert sync._target() == (HONEST, 14)  # still: peers without strikes come first


def test_only_a_liar_ahead_leaves_the_node_ready() -> None:
    node = fake_node(10, [LIAR])

    async def run() -> list[bool]:
        sync = BlockSync(node)
        sync.peer_height(LIAR, 10**15)
        seen: list[bool] = []

        async def fetch(peer: bytes) -> bool:
            seen.append(node.catching_up)
            return False  # the liar never delivers

        sync._fetch_and_apply = fetch  # type: ignore[method-assign]
        task = asyncio.create_task(sync.run())
        await asyncio.sleep(0.5)
        assert sync.strikes[LIAR] == 1
        seen.append(node.catching_up)  # benched: nobody credible is ahead
        sync._benched_until[LIAR] = 0.0
        await asyncio.sleep(0.6)  # probed again, without reporting catching_up
        task.cancel()
        return seen

    seen = asyncio.run(run())
    assert seen[0] is True  # an unjudged peer ahead: catching up while asking it
    assert seen[1:] and not any(seen[1:])


def test_a_delivered_block_clears_the_strikes() -> None:
    node = fake_node(10, [HONEST])

    async def run() -> BlockSync:
        sync = BlockSync(node)
        sync.peer_height(HONEST, 12)
        sync._strike(HONEST)
        sync._benched_until[HONEST] = 0.0

        async def fetch(peer: bytes) -> bool:
            node.chain.height = 12
            return True

        sync._fetch_and_apply = fetch  # type: ignore[method-assign]
        task = asyncio.create_task(sync.run())
        await asyncio.sleep(0.4)
        task.cancel()
        return sync

    sync = asyncio.run(run())
    assert HONEST not in sync.strikes and node.chain.height == 12
