"""A loopback TCP fault proxy between validators, controlled by the test.

One `LinkProxy` listens for each directed pair (dialer -> listener): validator
`i`'s home names validator `j` at the proxy's port instead of `j`'s P2P port, so
every byte of every peer link passes through a proxy. Validators dial each other
in both directions (node/peers.py), so the pair (i, j) is carried by proxy (i, j)
and proxy (j, i); a fault is stated per direction of data ("bytes from i to j")
and each proxy applies it to the half of its stream that flows that way.

Faults (all switchable while the validators run):
  - latency + jitter: each chunk is held `latency ± jitter` ms (order is kept);
  - blocked direction (one-way partition): bytes that way stop being forwarded
    and are dropped, and new connections in that direction are refused; a
    two-way partition blocks both directions and resets the open connections;
  - bandwidth cap: a capped direction carries at most `bytes_per_s`; a chunk leaves
    only once the link has had time to send the ones before it, and the proxy stops
    reading while more than a second of data waits, so TCP pushes back on the
    sender as a thin real link would;
  - slow link: extra one-way delay on chosen directions only (one slow peer);
  - `drop_connections()`: reset every open connection once (the peers redial).

`FaultNet` runs the proxies on an asyncio loop in a background thread, so
synchronous tests (LocalNet) can drive it. Everything binds to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

CHUNK = 64 * 1024


@dataclass
class LinkRules:
    """What the test asks of the network now (shared by all proxies of a FaultNet)."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    blocked: set[tuple[int, int]] = field(default_factory=set)  # (from, to) directions
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    # Per direction (from, to): bytes per second the link carries, and extra one-way delay.
    caps: dict[tuple[int, int], int] = field(default_factory=dict)
    slow_ms: dict[tuple[int, int], float] = field(default_factory=dict)

    def delay(self, source: int = -1, target: int = -1) -> float:
        extra = self.slow_ms.get((source, target), 0.0)
        if self.latency_ms <= 0 and self.jitter_ms <= 0:
            return extra / 1000.0
        jitter = self.rng.uniform(-self.jitter_ms, self.jitter_ms) if self.jitter_ms else 0.0
        return (max(0.0, self.latency_ms + jitter) + extra) / 1000.0


class LinkProxy:
    """Forwards connections from validator `dialer` to validator `listener`'s P2P port."""

    def __init__(self, dialer: int, listener: int, target_port: int, rules: LinkRules) -> None:
        self.dialer = dialer
        self.listener = listener
        self.target_port = target_port
        self.rules = rules
        self.port = 0
        self.accepted = 0
        self.refused = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self.reset()

    def reset(self) -> None:
        """Abort every open connection (both ends see a reset)."""
        for writer in list(self._writers):
            transport = writer.transport
            if not transport.is_closing():
                transport.abort()
        self._writers.clear()

    def _blocked(self, source: int, target: int) -> bool:
        return (source, target) in self.rules.blocked

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # A dial that cannot reach its listener fails, as it would behind a firewall.
        if self._blocked(self.dialer, self.listener):
            self.refused += 1
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self.accepted += 1
        self._writers.update((writer, up_writer))
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer, self.dialer, self.listener)),
            asyncio.create_task(self._pump(up_reader, writer, self.listener, self.dialer)),
        ]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pumps:
                task.cancel()
            for end in (writer, up_writer):
                self._writers.discard(end)
                end.transport.abort()

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, source: int, target: int
    ) -> None:
        """Copy one direction, applying the rules to each chunk as it arrives."""
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        sender = asyncio.create_task(self._deliver(queue, writer))
        link_free = 0.0  # when a capped link has sent everything queued so far
        try:
            while True:
                data = await reader.read(CHUNK)
                if not data or sender.done():
                    return
                if self._blocked(source, target):
                    continue  # lost on the wire
                now = time.monotonic()
                sent = now
                cap = self.rules.caps.get((source, target), 0)
                if cap > 0:
                    link_free = max(link_free, now) + len(data) / cap
                    sent = link_free
                # Keep order: a chunk is never due before the one queued before it.
                queue.put_nowait((sent + self.rules.delay(source, target), data))
                backlog = link_free - time.monotonic()
                if backlog > 1.0:  # a thin link's buffer is full: stop reading
                    await asyncio.sleep(backlog - 1.0)
        finally:
            sender.cancel()

    @staticmethod
    async def _deliver(
        queue: asyncio.Queue[tuple[float, bytes]], writer: asyncio.StreamWriter
    ) -> None:
        due_last = 0.0
        while True:
            due, data = await queue.get()
            due_last = max(due_last, due)
            wait = due_last - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()


class FaultNet:
    """Proxies for every directed pair of `len(p2p_ports)` validators, on a background loop."""

    def __init__(self, p2p_ports: list[int], seed: int = 0) -> None:
        self.count = len(p2p_ports)
        self.rules = LinkRules(rng=random.Random(seed))
        self.proxies: dict[tuple[int, int], LinkProxy] = {
            (i, j): LinkProxy(i, j, p2p_ports[j], self.rules)
            for i in range(self.count)
            for j in range(self.count)
            if i != j
        }
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._call(self._start())

    def _call(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)

    async def _start(self) -> None:
        for proxy in self.proxies.values():
            await proxy.start()

    async def _stop(self) -> None:
        for proxy in self.proxies.values():
            await proxy.stop()
        # Finish every connection's tasks here: a task still pending when the loop
        # closes is collected later, inside whatever test runs then, as a warning.
        this = asyncio.current_task()
        pending = [task for task in asyncio.all_tasks() if task is not this]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def pending_tasks(self) -> int:
        """Tasks not done on the proxies' loop (after `close`: none)."""
        return sum(1 for task in asyncio.all_tasks(self._loop) if not task.done())

    def _in_loop(self, action: Any) -> None:
        async def run() -> None:
            action()

        self._call(run())

    def url(self, dialer: int, listener: int) -> str:
        """The P2P URL validator `dialer` should use for validator `listener`."""
        return f"http://127.0.0.1:{self.proxies[(dialer, listener)].port}"

    # -- faults ----------------------------------------------------------------------

    def set_latency(self, latency_ms: float, jitter_ms: float = 0.0) -> None:
        """Delay every chunk by latency ± jitter ms (one way; a round trip pays it twice)."""

        def apply() -> None:
            self.rules.latency_ms = latency_ms
            self.rules.jitter_ms = jitter_ms

        self._in_loop(apply)

    def cap_bandwidth(self, bytes_per_s: int, links: list[tuple[int, int]] | None = None) -> None:
        """Carry at most `bytes_per_s` on each of `links` (directions; every one if None)."""
        chosen = list(self.proxies) if links is None else links

        def apply() -> None:
            for link in chosen:
                self.rules.caps[link] = bytes_per_s

        self._in_loop(apply)

    def slow_link(self, source: int, target: int, latency_ms: float) -> None:
        """Delay bytes from `source` to `target` by `latency_ms` more than other links."""
        self._in_loop(lambda: self.rules.slow_ms.__setitem__((source, target), latency_ms))

    def block(self, source: int, target: int) -> None:
        """One-way partition: bytes from `source` to `target` are lost."""
        self._in_loop(lambda: self.rules.blocked.add((source, target)))

    def partition(self, side: list[int], two_way: bool = True) -> None:
        """Cut `side` off from the rest (both ways, or only side -> rest when not two_way)."""
        rest = [i for i in range(self.count) if i not in side]

        def apply() -> None:
            for a in side:
                for b in rest:
                    self.rules.blocked.add((a, b))
                    if two_way:
                        self.rules.blocked.add((b, a))
            if two_way:  # a cut cable: open connections die too
                for (dialer, listener), proxy in self.proxies.items():
                    if (dialer in side) != (listener in side):
                        proxy.reset()

        self._in_loop(apply)

    def heal(self) -> None:
        """Remove every partition, bandwidth cap and all added latency."""

        def apply() -> None:
            self.rules.blocked.clear()
            self.rules.caps.clear()
            self.rules.slow_ms.clear()
            self.rules.latency_ms = 0.0
            self.rules.jitter_ms = 0.0

        self._in_loop(apply)

    def drop_connections(self) -> None:
        self._in_loop(lambda: [proxy.reset() for proxy in self.proxies.values()])

    def close(self) -> None:
        if self._loop.is_closed():
            return
        with contextlib.suppress(Exception):
            self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
