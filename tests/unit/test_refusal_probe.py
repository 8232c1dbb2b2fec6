"""The refusal probe (bench/refusal_probe.py) against HTTP servers on loopback: it
counts and times answers per status, survives a server that closes every
connection, and counts requests nobody answered."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bench.refusal_probe import percentile, probe, summary

ROOT = Path(__file__).resolve().parents[2]


def serve(
    status: int, close: bool = False, named: bool = True
) -> tuple[ThreadingHTTPServer, list[bytes]]:
    """A server answering every POST with `status` (and `Connection: close` if asked),
    naming itself in a `Server` header unless not `named` (as an RPC front)."""
    bodies: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def send_response(self, code: int, message: str | None = None) -> None:
            if named:
                super().send_response(code, message)
            else:
                self.send_response_only(code, message)

        def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
            if self.path != "/v1/txs/batch":
                self.send_error(404)
                return
            length = int(self.headers["Content-Length"])
            bodies.append(self.rfile.read(length))
            payload = b'{"error": {"code": "x", "message": "y"}}'
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, bodies


@pytest.fixture
def servers() -> Iterator[list[tuple[ThreadingHTTPServer, list[bytes]]]]:
    made = [serve(429), serve(400, close=True)]
    yield made
    for server, _ in made:
        server.shutdown()
        server.server_close()


def url(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_answers_are_counted_per_status_in_turn_over_the_nodes(
    servers: list[tuple[ThreadingHTTPServer, list[bytes]]],
) -> None:
    (full, full_bodies), (roomy, roomy_bodies) = servers
    found = probe([url(full), url(roomy)], hz=200, seconds=0.1)
    answers = found["answers"]
    assert isinstance(answers, dict)
    assert set(answers) == {"400", "429"}
    assert answers["429"]["count"] == answers["400"]["count"] == 10
    assert found["errors"] == 0
    # the body is never a transaction: the probe adds no load
    assert {json.loads(body)["txs"][0] for body in full_bodies + roomy_bodies} == {"00"}
    assert len(full_bodies) == len(roomy_bodies) == 10
    for figures in answers.values():
        assert 0 <= figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"]


def test_answers_naming_no_server_are_counted_again_as_the_fronts() -> None:
    front, _ = serve(429, named=False)
    node, _ = serve(429)
    try:
        found = probe([url(front), url(node)], hz=200, seconds=0.1)
    finally:
        for server in (front, node):
            server.shutdown()
            server.server_close()
    answers = found["answers"]
    assert isinstance(answers, dict)
    assert set(answers) == {"429", "429_front"}
    assert answers["429"]["count"] == 20 and answers["429_front"]["count"] == 10


def test_a_node_that_is_down_counts_as_errors() -> None:
    server, _ = serve(429)
    address = url(server)
    server.shutdown()
    server.server_close()
    found = probe([address], hz=100, seconds=0.05)
    assert found == {"answers": {}, "errors": 5}


def test_percentiles_and_summary() -> None:
    times = [n / 1000 for n in range(1, 101)]  # 1..100 ms
    assert percentile(times, 0.5) * 1000 == pytest.approx(51)
    assert percentile(times, 0.99) * 1000 == pytest.approx(100)
    assert percentile([], 0.5) != percentile([], 0.5)  # nan
    assert summary({"429": times}, 2) == {
        "answers": {"429": {"count": 100, "p50_ms": 51.0, "p99_ms": 100.0, "max_ms": 100.0}},
        "errors": 2,
    }


def test_the_command_refuses_a_bad_rate() -> None:
    script = str(ROOT / "bench" / "refusal_probe.py")
    args = [sys.executable, script, "--url", "http://127.0.0.1:9", "--hz", "0", "--seconds", "1"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert "--hz and --seconds must be positive" in done.stderr
