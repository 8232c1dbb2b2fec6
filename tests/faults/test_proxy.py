"""The fault proxy on loopback: forwarding, latency, slow and thin links, partitions, resets."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.faults.proxy import FaultNet, LinkRules


class GreetServer:
    """Listener side: greets each connection with b"hi" and echoes what it receives."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])
        self.received = bytearray()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.sendall(b"hi")
                while data := conn.recv(4096):
                    self.received += data
                    conn.sendall(data)
            except OSError:
                return

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def setup() -> Iterator[tuple[FaultNet, GreetServer]]:
    # Two "validators": 0 dials 1 through proxy (0, 1), whose target is the greet server.
    server = GreetServer()
    faults = FaultNet([server.port, server.port], seed=1)
    try:
        yield faults, server
    finally:
        faults.close()
        server.close()


def dial(faults: FaultNet) -> socket.socket:
    port = int(faults.url(0, 1).rsplit(":", 1)[1])
    return socket.create_connection(("127.0.0.1", port), timeout=2.0)


def read_exactly(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            break
        data += chunk
    return data


def closed(sock: socket.socket) -> bool:
    """The peer closed or reset the connection."""
    try:
        return sock.recv(10) == b""
    except ConnectionResetError:
        return True


def test_forwards_both_ways(setup: tuple[FaultNet, GreetServer]) -> None:
    faults, _server = setup
    with dial(faults) as sock:
        assert read_exactly(sock, 2) == b"hi"
        sock.sendall(b"ping")
        assert read_exactly(sock, 4) == b"ping"


def test_latency_delays_each_direction(setup: tuple[FaultNet, GreetServer]) -> None:
    faults, _server = setup
    faults.set_latency(150)
    with dial(faults) as sock:
        assert read_exactly(sock, 2) == b"hi"
        start = time.monotonic()
        sock.sendall(b"ping")
        assert read_exactly(sock, 4) == b"ping"
        # Two proxy hops of >= 150 ms each: a lower bound, never flaky on a busy machine.
        assert time.monotonic() - start >= 0.29


def test_jitter_stays_within_bounds_and_is_seeded() -> None:
    first = [LinkRules(latency_ms=50, jitter_ms=20) for _ in range(2)]
    delays = [[rules.delay() for _ in range(100)] for rules in first]
    assert delays[0] == delays[1]
    assert all(0.030 <= d <= 0.070 for d in delays[0])
    assert len(set(delays[0])) > 50


def test_one_way_partition_loses_one_direction_only(
    setup: tuple[FaultNet, GreetServer],
) -> None:
    faults, server = setup
    with dial(faults) as sock:
        assert read_exactly(sock, 2) == b"hi"
        faults.block(0, 1)  # bytes from the dialer (0) to the listener (1) are lost
        sock.sendall(b"lost")
        time.sleep(0.3)
        assert b"lost" not in server.received
    # A new dial from 0 to 1 is refused while blocked.
    with dial(faults) as sock:
        assert closed(sock)
    faults.heal()
    faults.block(1, 0)  # now the listener's bytes are lost: the greeting never arrives
    with dial(faults) as sock:
        sock.sendall(b"seen")
        deadline = time.monotonic() + 2
        while b"seen" not in server.received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert b"seen" in server.received
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(10)


def test_two_way_partition_resets_and_heals(setup: tuple[FaultNet, GreetServer]) -> None:
    faults, _server = setup
    with dial(faults) as sock:
        assert read_exactly(sock, 2) == b"hi"
        faults.partition([0])
        assert closed(sock)
    faults.heal()
    with dial(faults) as sock:
        assert read_exactly(sock, 2) == b"hi"


def test_drop_connections_resets_open_links(setup: tuple[FaultNet, GreetServer]) -> None:
    faults, _server = setup
    with dial(faults) as sock:
        assert read_exactly(sock, 2) == b"hi"
        faults.drop_connections()
        assert closed(sock)
    with dial(faults) as sock:  # the next dial goes through
        assert read_exactly(sock, 2) == b"hi"


def test_bandwidth_cap_paces_a_direction_and_heal_lifts_it(
    setup: tuple[FaultNet, GreetServer],
) -> None:
    faults, server = setup
    faults.cap_bandwidth(50_000, [(0, 1)])
    payload = bytes(range(256)) * 400  # 102,400 bytes: two seconds at 50 kB/s
    with dial(faults) as sock:
        sock.settimeout(10.0)
        assert read_exactly(sock, 2) == b"hi"
        start = time.monotonic()
        sock.sendall(payload)
        assert read_exactly(sock, len(payload)) == payload  # intact and in order
        # The last byte cannot leave the capped direction before 102,400 / 50,000 s.
        assert time.monotonic() - start >= 1.9
    assert faults.rules.caps == {(0, 1): 50_000}
    faults.heal()
    assert faults.rules.caps == {}


def test_a_thin_link_stops_reading_instead_of_buffering_without_bound(
    setup: tuple[FaultNet, GreetServer],
) -> None:
    faults, server = setup
    faults.cap_bandwidth(20_000, [(0, 1)])
    with dial(faults) as sock:
        assert read_exactly(sock, 2) == b"hi"
        sock.setblocking(False)
        offered = 0
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:  # push until TCP refuses more
            try:
                offered += sock.send(b"x" * 65536)
            except BlockingIOError:
                time.sleep(0.05)
        # With back-pressure only the kernel's socket buffers (a few MB on loopback)
        # and one second of the link's data wait; a proxy that kept reading would
        # take hundreds of MB in 3 s and hold them in memory.
        assert offered < 32 * 1024 * 1024
        assert len(server.received) < offered


def test_slow_link_delays_one_direction_only(setup: tuple[FaultNet, GreetServer]) -> None:
    faults, _server = setup
    faults.slow_link(0, 1, 250)
    assert faults.rules.delay(0, 1) == 0.25
    assert faults.rules.delay(1, 0) == 0.0
    with dial(faults) as sock:
        assert read_exactly(sock, 2) == b"hi"
        start = time.monotonic()
        sock.sendall(b"ping")
        assert read_exactly(sock, 4) == b"ping"
        assert time.monotonic() - start >= 0.24
    faults.heal()
    assert faults.rules.delay(0, 1) == 0.0


def test_close_finishes_the_tasks_of_open_connections() -> None:
    """Connections still open at `close` leave no task pending on the proxies' loop
    (one collected after the loop closed was reported as a warning in a later test)."""
    server = GreetServer()
    faults = FaultNet([server.port, server.port], seed=1)
    try:
        with dial(faults) as sock:
            assert read_exactly(sock, 2) == b"hi"
            assert faults.pending_tasks() >= 3  # the connection and its two pumps
            faults.close()
            assert faults.pending_tasks() == 0
            assert closed(sock)
    finally:
        faults.close()
        server.close()
