"""Dialers that stall their handshake cannot keep the validators out, and one
validator's key holds at most two inbound links.

A real listener (`PeerNetwork`, in this process, on a loopback port in
30500-30999) is flooded with websocket upgrades to `/p2p` that never say hello,
from addresses other than the configured peer's (127.0.0.2 and up: Linux routes
all of 127/8 to the loopback). An older node gave them every unauthenticated slot,
so a validator restarting then could not be reached; now strangers together leave
the configured peers' share of the slots free.
"""

from __future__ import annotations

import asyncio
import base64
import os
from typing import Any

import aiohttp
from aiohttp import web

from ledger.keys import PrivateKey
from node.home import PeerConfig, ServiceLimits
from node.peers import PeerNetwork, client_handshake
from tests.integration.harness import free_base_port

CHAIN_ID = "send-bounds-test"
UPGRADE = (
    "GET /p2p HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n"
)


async def silent_upgrade(
    port: int, source: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, int]:
    """Upgrade from `source` and then say nothing: (reader, writer, HTTP status)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(UPGRADE.format(key=key).encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    return reader, writer, int(head.split(b" ", 2)[1])


async def listening_network(
    server_key: PrivateKey, validator_key: PrivateKey, port: int, limits: ServiceLimits
) -> tuple[PeerNetwork, web.AppRunner]:
    """A real listener on `port` whose one configured peer is `validator_key`."""
    peer = PeerConfig("v1", validator_key.public_key, "http://127.0.0.1:30999")

    def ignore(link: Any, frame: list[Any]) -> None:
        pass

    network = PeerNetwork(
        CHAIN_ID,
        server_key,
        [peer],
        lambda: {server_key.public_key, validator_key.public_key},
        ignore,
        limits=limits,
    )
    app = web.Application()
    network.add_routes(app)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return network, runner


def test_stalled_handshakes_from_strangers_leave_room_for_a_validator() -> None:
    server_key, validator_key = PrivateKey.generate(), PrivateKey.generate()
    port = free_base_port(1)
    # long enough that no stalled connection is closed while the test runs
    limits = ServiceLimits(p2p_unauthenticated=16, handshake_timeout_ms=60_000)

    async def run() -> tuple[list[int], list[int], bytes]:
        network, runner = await listening_network(server_key, validator_key, port, limits)
        held: list[asyncio.StreamWriter] = []
        try:
            # one stranger, then many: each as many upgrades as there are slots
            one = [
                await silent_upgrade(port, "127.0.0.2") for _ in range(limits.p2p_unauthenticated)
            ]
            many = [
                await silent_upgrade(port, f"127.0.0.{3 + i // 2}")
                for i in range(2 * limits.p2p_unauthenticated)
            ]
            held = [writer for _, writer, _ in one + many]
            # the configured validator dials in from its own address, and gets in
            async with (
                aiohttp.ClientSession() as session,
                session.ws_connect(f"http://127.0.0.1:{port}/p2p") as ws,
            ):
                answered = await asyncio.wait_for(
                    client_handshake(ws, validator_key, CHAIN_ID, server_key.public_key), 30
                )
            return [s for _, _, s in one], [s for _, _, s in many], answered
        finally:
            for writer in held:
                writer.close()
            await network.stop()
            await runner.cleanup()

    one, many, answered = asyncio.run(run())
    strangers = one.count(101) + many.count(101)
    assert one.count(101) + one.count(503) == len(one), one
    assert strangers <= limits.p2p_unauthenticated - 2, (one, many)  # two kept for the peer
    assert answered == server_key.public_key


def test_one_key_holds_at_most_two_inbound_links_the_oldest_go() -> None:
    # A validator dials each peer once, and again after a restart; more links from one
    # key are not a validator's, and each could bring a 64 MiB frame at once.
    server_key, validator_key = PrivateKey.generate(), PrivateKey.generate()
    port = free_base_port(1)

    async def run() -> tuple[list[bool], int, bool]:
        network, runner = await listening_network(server_key, validator_key, port, ServiceLimits())
        try:
            async with aiohttp.ClientSession() as session:
                dials = []
                for _ in range(5):
                    ws = await session.ws_connect(f"http://127.0.0.1:{port}/p2p")
                    await asyncio.wait_for(
                        client_handshake(ws, validator_key, CHAIN_ID, server_key.public_key), 30
                    )
                    dials.append(ws)
                    await asyncio.sleep(0.2)  # the listener registers each in turn

                async def closed(ws: aiohttp.ClientWebSocketResponse) -> bool:
                    try:
                        message = await asyncio.wait_for(ws.receive(), 10)
                    except TimeoutError:
                        return False
                    return message.type in (
                        aiohttp.WSMsgType.CLOSE,
                        aiohttp.WSMsgType.CLOSING,
                        aiohttp.WSMsgType.CLOSED,
                    )

                # the three oldest were closed by the listener; the newest two stay
                ended = [await closed(ws) for ws in dials[:3]]
                held = len(network._links.get(validator_key.public_key, []))
                newest_open = not dials[-1].closed and not dials[-2].closed
                for ws in dials:
                    await ws.close()
                return ended, held, newest_open
        finally:
            await network.stop()
            await runner.cleanup()

    ended, held, newest_open = asyncio.run(run())
    assert ended == [True, True, True]
    assert held == 2
    assert newest_open
