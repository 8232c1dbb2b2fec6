"""Attacks from outside on real validator processes: the chain keeps committing.

Each test runs an attack seen against an earlier version (bounded in count and
time, loopback only) and checks the node's answer: clear refusals with a code,
bounded memory (the process' RSS from /proc) and blocks that keep committing.
The figures (RSS, heights) are printed for `pytest -s`.
"""

from __future__ import annotations

import asyncio
import base64
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ledger.tx import Transaction
from node.home import MempoolLimits, ServiceLimits, load_home
from node.peers import client_handshake, encode_frame
from tests.integration.harness import SYMBOL, LocalNet, http, own_file_limit, wait_until

MB = 1024 * 1024


def commit_transfer(net: LocalNet, index: int, sender: int, timeout: float = 30.0) -> int:
    """Submit one transfer to validator `index`; return its height once committed."""
    stx = net.transfer(sender, (sender + 1) % len(net.accounts))
    [answer] = net.submit(index, [stx])
    assert answer["accepted"], answer
    url = net.url(index, f"/v1/txs/{stx.hash.hex()}?wait=5")

    def committed() -> int:
        code, body = http("GET", url, timeout=10)
        return int(body["height"]) if code == 200 and body["status"] == "committed" else 0

    return int(wait_until(committed, timeout, "the transfer to commit", step=0.05))


class PeakRss:
    """Samples a process' RSS on a thread until stopped; `peak` is the maximum seen."""

    def __init__(self, net: LocalNet, index: int) -> None:
        self.net, self.index = net, index
        self.peak = net.rss_bytes(index)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self.net.rss_bytes(self.index))

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture
def net_factory(tmp_path: Path) -> Iterator[Any]:
    nets: list[LocalNet] = []

    def make(**kwargs: Any) -> LocalNet:
        net = LocalNet(tmp_path / f"net{len(nets)}", **kwargs)
        nets.append(net)
        return net

    try:
        yield make
    finally:
        for net in nets:
            net.close()


# -- 1. event streams ------------------------------------------------------------------------


def build_history(net: LocalNet, per_sender: int) -> None:
    """per_sender transfers from every account, committed (the history to replay)."""
    txs = [net.transfer(s, (s + 1) % len(net.accounts)) for s in range(len(net.accounts))]
    txs += [
        net.transfer(s, (s + 1) % len(net.accounts))
        for _ in range(per_sender - 1)
        for s in range(len(net.accounts))
    ]
    for start in range(0, len(txs), 1000):
        results = net.submit(0, txs[start : start + 1000])
        assert all(r["accepted"] for r in results), results[:3]
    last = txs[-1].hash.hex()
    wait_until(
        lambda: (
            http("GET", net.url(0, f"/v1/txs/{last}?wait=5"), timeout=10)[1]["status"]
            == "committed"
        ),
        90,
        "the history to commit",
    )


async def wait_answered(answers: Counter[Any], count: int) -> None:
    while sum(answers.values()) < count:
        await asyncio.sleep(0.05)


async def open_streams(
    url: str,
    streams: int,
    addresses: int,
    crowd_size: int,
    stop: asyncio.Event,
    answers: Counter[Any],
    received: list[int],
) -> None:
    """`streams` replays of all history: `crowd_size` from one loopback address,
    then the rest spread over `addresses` others.

    Odd streams read as fast as they can, even ones never read (a stalled client).
    """
    sessions = [
        aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, local_addr=(f"127.0.9.{1 + i}", 0)),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=20),
        )
        for i in range(addresses)
    ]

    async def one(i: int) -> None:
        try:
            async with sessions[i % addresses].get(url + "/v1/events?cursor=0") as response:
                if response.status != 200:
                    body = await response.json()
                    answers[(response.status, body["error"]["code"])] += 1
                    return
                answers[200] += 1
                if i % 2:
                    while not stop.is_set() and (chunk := await response.content.read(1 << 16)):
                        received[0] += len(chunk)
                await stop.wait()
        except (aiohttp.ClientError, OSError) as exc:
            answers[type(exc).__name__] += 1

    # first a crowd from one address (over its share), then from many
    crowd = [asyncio.create_task(one(0)) for _ in range(crowd_size)]
    await asyncio.wait_for(wait_answered(answers, crowd_size), 30)
    tasks = crowd + [asyncio.create_task(one(i)) for i in range(streams - crowd_size)]
    try:
        await stop.wait()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for session in sessions:
            await session.close()


def test_a_thousand_replaying_event_streams_do_not_stall_the_chain(net_factory: Any) -> None:
    # the history goes in as fast as it is accepted: room for all of it at once
    net: LocalNet = net_factory(count=4, mempool=MempoolLimits(floor_txs=4_000))
    net.start_all()
    build_history(net, per_sender=500)  # 4,000 committed transfers to replay
    limits = ServiceLimits()
    start_height, start_rss = net.height(0), net.rss_bytes(0)
    answers: Counter[Any] = Counter()
    received = [0]  # bytes the reading streams got

    async def attack() -> int:
        stop = asyncio.Event()
        streams = asyncio.create_task(
            open_streams(net.url(0, ""), 1000, 100, 20, stop, answers, received)
        )
        try:
            await asyncio.to_thread(
                wait_until, lambda: sum(answers.values()) >= 1000, 60, "all 1,000 answers"
            )
            # while the admitted streams replay and stall: heights advance, a transfer commits
            height = await asyncio.to_thread(commit_transfer, net, 0, 0)
            # and the admitted streams do replay (they take turns on one reader thread)
            await asyncio.to_thread(wait_until, lambda: received[0] > 0, 60, "replayed bytes")
            return height
        finally:
            stop.set()
            await streams

    with PeakRss(net, 0) as rss:
        committed_at = asyncio.run(attack())
    # The node is still closing the admitted streams here, so the figures printed are
    # the ones already gathered rather than a fresh status request on a short timeout.
    print(
        f"\nevent streams: {dict(answers)}, {received[0] // MB} MiB replayed; "
        f"height {start_height} -> {committed_at}, "
        f"transfer committed at {committed_at}; "
        f"RSS {start_rss // MB} MB -> peak {rss.peak // MB} MB"
    )
    assert committed_at > start_height
    assert 0 < answers[200] <= limits.event_streams and received[0] > 0
    assert answers[(503, "event_streams_full")] > 0
    # the crowd from one address got its share and then 429
    assert answers[(429, "too_many_event_streams")] >= 20 - limits.event_streams_per_client
    assert sum(answers.values()) == 1000, answers
    # the node answers the next stream once these are gone
    wait_until(lambda: stream_opens(net.url(0, "")), 20, "a stream slot to free up")


def stream_opens(base: str) -> bool:
    async def probe() -> int:
        async with (
            aiohttp.ClientSession() as session,
            session.get(base + "/v1/events?cursor=1") as response,
        ):
            return response.status

    return asyncio.run(probe()) == 200


# -- 2. the peer port before the handshake, half-sent HTTP requests ---------------------------

UPGRADE = (
    "GET /p2p HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n"
)


async def upgrade(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, int]:
    reader, writer = await asyncio.open_connection(host, port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(UPGRADE.format(key=key).encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    return reader, writer, int(head.split(b" ", 2)[1])


async def big_frame_sender(host: str, port: int, size: int) -> int:
    """Upgrade without authenticating, then push one `size`-byte binary frame.

    Returns how many payload bytes went out before the node closed the socket."""
    reader, writer, status = await upgrade(host, port)
    assert status == 101
    mask = os.urandom(4)
    writer.write(bytes([0x82, 0x80 | 127]) + size.to_bytes(8, "big") + mask)
    chunk = bytes(MB)  # masked zeros are the mask repeated: content does not matter
    sent = 0
    try:
        while sent < size:
            writer.write(chunk[: size - sent])
            await asyncio.wait_for(writer.drain(), 10)
            sent += len(chunk)
    except (ConnectionError, TimeoutError):
        pass
    finally:
        writer.close()
    return sent


async def closed_by_peer(reader: asyncio.StreamReader, timeout: float) -> bool:
    """True when the other side closes the connection within `timeout` seconds."""
    try:
        while await asyncio.wait_for(reader.read(65536), timeout):
            pass
    except TimeoutError:
        return False
    except ConnectionError:
        pass
    return True


def test_peer_port_floods_and_half_sent_requests_leave_the_node_bounded(net_factory: Any) -> None:
    limits = ServiceLimits(request_timeout_ms=2_000, handshake_timeout_ms=2_000)
    net: LocalNet = net_factory(count=1, limits=limits)
    net.start_all()
    commit_transfer(net, 0, 0)  # warm: the node has committed before we measure
    node = load_home(net.nodes[0].home).config
    start_rss = net.rss_bytes(0)
    start_height = net.height(0)

    async def flood() -> list[int]:
        return await asyncio.gather(
            # just under the authenticated limit (64 MiB), which an older node applied to all
            *(big_frame_sender(node.p2p_host, node.p2p_port, 64 * MB - 1024) for _ in range(16))
        )

    with PeakRss(net, 0) as rss:
        sent = asyncio.run(flood())
        committed_at = commit_transfer(net, 0, 1)
    print(
        f"\npeer flood: 16 x 64 MiB frames, bytes each got out before the node closed it "
        f"{sorted(sent)}; "
        f"RSS {start_rss // MB} MB -> peak {rss.peak // MB} MB; "
        f"height {start_height} -> transfer committed at {committed_at}"
    )
    assert rss.peak - start_rss < 50 * MB
    assert committed_at > start_height

    async def silent_dialers() -> tuple[Counter[int], list[bool]]:
        # connections that upgrade and never say hello: capped, and closed at the deadline
        opened = await asyncio.gather(
            *(upgrade(node.p2p_host, node.p2p_port) for _ in range(limits.p2p_unauthenticated + 8))
        )
        statuses = Counter(status for _, _, status in opened)
        held = [reader for reader, _, status in opened if status == 101]
        closed = await asyncio.gather(*(closed_by_peer(r, 10) for r in held))
        for _, writer, _ in opened:
            writer.close()
        return statuses, list(closed)

    statuses, closed = asyncio.run(silent_dialers())
    assert statuses[101] <= limits.p2p_unauthenticated and statuses[503] >= 8, statuses
    assert closed and all(closed)

    async def half_sent() -> tuple[list[bool], list[bytes]]:
        # 300 requests whose headers never end, 20 whose body never ends
        heads = [await asyncio.open_connection(node.rpc_host, node.rpc_port) for _ in range(300)]
        for _, writer in heads:
            writer.write(b"GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        bodies = [await asyncio.open_connection(node.rpc_host, node.rpc_port) for _ in range(20)]
        for _, writer in bodies:
            writer.write(
                b"POST /v1/txs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b'Content-Length: 1000\r\n\r\n{"tx": "'
            )
        # the node still answers others meanwhile
        status, _ = await asyncio.to_thread(http, "GET", net.url(0, "/v1/status"))
        assert status == 200
        closed = await asyncio.gather(*(closed_by_peer(r, 10) for r, _ in heads))
        answers = [await asyncio.wait_for(r.read(), 10) for r, _ in bodies]
        for _, writer in heads + bodies:
            writer.close()
        return list(closed), answers

    closed, answers = asyncio.run(half_sent())
    assert all(closed), f"{closed.count(False)} half-sent requests still open"
    assert all(b" 408 " in a.split(b"\r\n", 1)[0] and b"request_timeout" in a for a in answers)
    assert commit_transfer(net, 0, 2) > committed_at


# -- 3. a validator that lies about its height ---------------------------------------------------


async def lie_about_height(
    net: LocalNet, liar: int, victim: int, seconds: float, ready: list[int]
) -> None:
    """Authenticate to `victim` with validator `liar`'s key and claim height 10^15,
    answering nothing; meanwhile record the victim's /ready status each 0.25 s."""
    key = load_home(net.nodes[liar].home).load_key(None)
    url = net.nodes[victim].p2p_url + "/p2p"
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url, max_msg_size=64 * MB) as ws,
    ):
        await client_handshake(ws, key, net.chain_id, net.nodes[victim].key)

        async def drain() -> None:
            async for _ in ws:  # get_blocks requests: never answered
                pass

        reader = asyncio.create_task(drain())
        try:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                await ws.send_bytes(encode_frame(["height", 10**15]))
                code, _ = await asyncio.to_thread(http, "GET", net.url(victim, "/ready"), None, 2)
                ready.append(code)
                await asyncio.sleep(0.25)
        finally:
            reader.cancel()


def test_a_validator_lying_about_its_height_does_not_hold_readiness(net_factory: Any) -> None:
    net: LocalNet = net_factory(count=4)
    for index in range(3):  # validator 3's key is the liar's
        net.start(index)
    for index in range(3):
        net.wait_up(index)
    start_height = commit_transfer(net, 0, 0)
    ready: list[int] = []

    async def attack() -> int:
        liar = asyncio.create_task(lie_about_height(net, 3, 0, 20.0, ready))
        await asyncio.sleep(1.0)
        height = await asyncio.to_thread(commit_transfer, net, 0, 1)
        await liar
        return height

    committed_at = asyncio.run(attack())
    tail = ready[len(ready) // 2 :]  # the second half of the lie: the liar is benched by then
    print(
        f"\nheight liar: /ready over 20 s {Counter(ready)}, second half {Counter(tail)}; "
        f"transfer committed at {committed_at} (from {start_height})"
    )
    assert committed_at > start_height
    assert tail and all(code == 200 for code in tail), ready
    assert "event=sync_peer_benched" in net.log_text(0)


# -- 4. long-polls -----------------------------------------------------------------------------


def test_two_thousand_long_polls_are_served_and_the_next_is_refused(net_factory: Any) -> None:
    limits = ServiceLimits(long_polls=2_000)
    # The node gives long-polls at most half its descriptors (it raises its soft
    # limit to the hard one it inherits), and this process opens the clients' sockets.
    with own_file_limit(2 * limits.long_polls + 512):
        run_two_thousand_long_polls(net_factory, limits)


def run_two_thousand_long_polls(net_factory: Any, limits: ServiceLimits) -> None:
    net: LocalNet = net_factory(count=1, limits=limits)
    net.start_all()
    base = net.url(0, "")

    async def polls() -> tuple[Counter[Any], tuple[int, Any], int]:
        connector = aiohttp.TCPConnector(limit=0)
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

            async def wait_for(tx_hash: str, seconds: float) -> tuple[int, Any]:
                async with session.get(f"{base}/v1/txs/{tx_hash}?wait={seconds}") as response:
                    return response.status, await response.json()

            stx = net.transfer(0, 1)
            waits = [
                asyncio.create_task(wait_for(stx.hash.hex() if i == 0 else f"{i:064x}", 12))
                for i in range(limits.long_polls)
            ]
            await asyncio.to_thread(
                wait_until,
                lambda: slots_in_use(base, "long_polls") >= limits.long_polls,
                30,
                "2,000 polls to be in flight",
            )
            extra = await wait_for(f"{limits.long_polls:064x}", 8)
            await asyncio.to_thread(net.submit, 0, [stx])
            done = await asyncio.gather(*waits)
            answers: Counter[Any] = Counter((s, body.get("status")) for s, body in done)
            return answers, extra, int(done[0][1].get("height", 0))

    answers, extra, height = asyncio.run(polls())
    print(f"\nlong-polls: {dict(answers)}; poll 2,001 answered {extra}")
    assert extra[0] == 503 and extra[1]["error"]["code"] == "long_polls_full", extra
    assert answers[(200, "committed")] == 1 and height > 0
    assert answers[(200, "unknown")] == limits.long_polls - 1, answers


def slots_in_use(base: str, kind: str) -> int:
    code, text = http("GET", base + "/metrics")
    line = f'pasar_rpc_slots_in_use{{kind="{kind}"}} '
    found = [row for row in str(text).splitlines() if row.startswith(line)]
    return int(float(found[0].split()[-1])) if code == 200 and found else 0


# -- 4. transactions made of empty arrays ------------------------------------------------------


def test_batches_of_empty_array_transactions_leave_the_chain_committing(net_factory: Any) -> None:
    """One client's batches of transactions holding tens of thousands of empty arrays
    each had held a validator's event loop for two seconds a batch. They are refused
    from their headers now, and batches at the value limit are decoded in slices: the
    attacked validator keeps committing, and its clients' transfers with it."""
    net: LocalNet = net_factory(count=4)
    net.start_all()
    key = net.accounts[-1]  # the attacker's own account; the transfer uses another

    def attacking_tx(nonce: int, arrays: int) -> str:
        memo: list[Any] = [[]] * arrays
        args = (SYMBOL, net.accounts[0].public_key, 1, memo)
        tx = Transaction(net.chain_id, key.public_key, nonce, "coin.transfer", args)
        return tx.sign(key).encode().hex()

    over = {"txs": [attacking_tx(0, 60_000)] * 65}  # 7.8 MB of JSON
    at_limit = {"txs": [attacking_tx(nonce, 1_020) for nonce in range(500)]}
    answers: list[tuple[int, Any]] = []
    stop = threading.Event()

    def attack() -> None:
        deadline = time.monotonic() + 90  # bounded: stopped once the transfer commits
        round_ = 0
        while not stop.is_set() and time.monotonic() < deadline:
            body = at_limit if round_ % 4 == 3 else over
            round_ += 1
            try:
                answers.append(http("POST", net.url(0, "/v1/txs/batch"), body, timeout=60))
            except OSError:  # refused at the door (429) before the body was all sent
                answers.append((0, None))

    def transfer_commits() -> int:
        """A client's transfer to the attacked validator, sent again if refused for
        room (as clients do after a 429), until it commits."""
        stx = net.transfer(0, 1)
        body = {"txs": [stx.encode().hex()]}

        def admitted() -> bool:
            code, answer = http("POST", net.url(0, "/v1/txs/batch"), body)
            return code == 200 and bool(answer["results"][0]["accepted"])

        wait_until(admitted, 30, "the transfer to be admitted", step=0.05)
        url = net.url(0, f"/v1/txs/{stx.hash.hex()}?wait=5")

        def committed() -> int:
            code, found = http("GET", url, timeout=10)
            return int(found["height"]) if code == 200 and found["status"] == "committed" else 0

        return int(wait_until(committed, 30, "the transfer to commit", step=0.05))

    start = net.height(0)
    attacker = threading.Thread(target=attack)
    attacker.start()
    try:
        wait_until(lambda: len(answers) >= 2, 60, "the attack to be under way")
        committed_at = transfer_commits()
        during = len(answers)
    finally:
        stop.set()
        attacker.join(120)
    codes = Counter(code for code, _ in answers)
    print(f"\nempty arrays: batches answered {dict(codes)}; height {start} -> {committed_at}")
    assert committed_at > start and during >= 2  # committed while the attack went on
    assert len(answers) > during
    refused = [body for code, body in answers if code == 400]
    assert refused and all(
        body["error"]["code"] == "malformed_tx" and "1024 values" in body["error"]["message"]
        for body in refused
    )
    # within the limit a transaction is valid: its batch is admitted (or found pending)
    taken = [body for code, body in answers if code == 200]
    assert all(item["accepted"] for body in taken for item in body["results"])
    assert set(codes) <= {400, 200, 429, 0}
