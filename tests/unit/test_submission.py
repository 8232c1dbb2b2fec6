"""Signing and submitting (cli/submission.py): stepping past pending nonces, and riding
out a busy node (429) within a deadline, with jittered waits, for a transaction signed
here or already signed; plus NodeClient reading a 429's Retry-After from a real HTTP
answer."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from cli.client import NodeClient, NodeReplyError
from cli.common import CliError
from cli.submission import MAX_NONCE_STEPS, RETRY_JITTER, sign_and_submit, submit_signed
from ledger.keys import PrivateKey
from ledger.tx import SignedTransaction, Transaction

KEY = PrivateKey.from_seed(bytes([5]) * 32)
TX = Transaction("pasar-test", KEY.public_key, 3, "coin.transfer", ("PSR", bytes(32), 1))


def busy(code: str = "mempool_full", retry_after: float | None = 1.0) -> NodeReplyError:
    return NodeReplyError(f"busy ({code}, HTTP 429)", code, 429, None, retry_after)


class ScriptedNode:
    """Answers each submit with the next scripted item: an error to raise, or an answer."""

    def __init__(self, script: list[NodeReplyError | dict[str, Any]]) -> None:
        self.script = script
        self.submitted: list[bytes] = []

    def submit(self, signed_tx: bytes) -> Any:
        self.submitted.append(signed_tx)
        item = self.script.pop(0)
        if isinstance(item, NodeReplyError):
            raise item
        return item


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def submit(
    node: ScriptedNode, time: FakeTime, budget: float | None, seed: int = 0
) -> tuple[SignedTransaction, Any]:
    """sign_and_submit TX on `node` with a deadline `budget` seconds away (None: none)."""
    return sign_and_submit(
        node,  # type: ignore[arg-type]
        TX,
        [KEY],
        busy_until=None if budget is None else time.now + budget,
        clock=time.clock,
        sleep=time.sleep,
        rng=random.Random(seed),
    )


def test_a_busy_node_is_retried_with_the_same_bytes_after_a_jittered_retry_after() -> None:
    node = ScriptedNode([busy(retry_after=2), busy("sender_backlog_full", 1), {"ok": 1}])
    time = FakeTime()
    stx, answer = submit(node, time, 30, seed=7)
    assert answer == {"ok": 1}
    assert node.submitted == [stx.encode()] * 3  # one signature, sent again as it was
    assert SignedTransaction.decode(node.submitted[0]).tx.nonce == TX.nonce
    assert len(time.slept) == 2
    assert 2 <= time.slept[0] < 2 * (1 + RETRY_JITTER)
    assert 1 <= time.slept[1] < 1 + RETRY_JITTER


def test_the_waits_are_spread_so_refused_clients_do_not_return_together() -> None:
    waits = []
    for seed in range(20):
        node = ScriptedNode([busy(retry_after=1), {"ok": 1}])
        time = FakeTime()
        submit(node, time, 30, seed)
        waits.extend(time.slept)
    assert all(1 <= wait < 1 + RETRY_JITTER for wait in waits)
    assert max(waits) - min(waits) > RETRY_JITTER / 2  # not one instant for all


def test_a_429_is_raised_when_the_wait_would_pass_the_deadline() -> None:
    node = ScriptedNode([busy(retry_after=5), {"ok": 1}])
    time = FakeTime()
    with pytest.raises(NodeReplyError) as refused:
        submit(node, time, 4)
    assert refused.value.code == "mempool_full" and time.slept == []
    assert len(node.submitted) == 1


def test_without_a_deadline_a_429_is_raised_at_once() -> None:
    node = ScriptedNode([busy(), {"ok": 1}])
    time = FakeTime()
    with pytest.raises(NodeReplyError):
        submit(node, time, None)
    assert time.slept == [] and len(node.submitted) == 1


class LowestDraw(random.Random):
    """A jitter factor of exactly 1: each wait is the node's Retry-After itself."""

    def uniform(self, a: float, b: float) -> float:
        return a


# Retry-After 1 s: with 2 s of budget the retry at 1 s is made, the one that would start
# at 2 s (the deadline itself) is not; a moment more of budget allows it
@pytest.mark.parametrize(("budget", "retries"), [(2.0, 1), (2.001, 2)])
def test_the_last_retry_starts_before_the_deadline_and_none_at_it(
    budget: float, retries: int
) -> None:
    node = ScriptedNode([busy(retry_after=1)] * 3 + [{"ok": 1}])
    time = FakeTime()
    told: list[tuple[str, float]] = []
    stx = TX.sign(KEY)
    with pytest.raises(NodeReplyError) as refused:
        submit_signed(
            node,  # type: ignore[arg-type]
            stx,
            time.now + budget,
            clock=time.clock,
            sleep=time.sleep,
            rng=LowestDraw(),
            on_wait=lambda exc, wait: told.append((exc.code, wait)),
        )
    assert refused.value.code == "mempool_full"
    assert time.slept == [1.0] * retries and told == [("mempool_full", 1.0)] * retries
    assert node.submitted == [stx.encode()] * (retries + 1)  # signed once, sent as it was


def test_a_signed_transaction_is_sent_again_unchanged_once_the_node_has_room() -> None:
    signed = TX.sign(KEY)
    node = ScriptedNode([busy("sender_backlog_full", 3), busy(retry_after=None), {"ok": 1}])
    time = FakeTime()
    told: list[float] = []
    answer = submit_signed(
        node,  # type: ignore[arg-type]
        signed,
        time.now + 30,
        clock=time.clock,
        sleep=time.sleep,
        rng=random.Random(3),
        on_wait=lambda exc, wait: told.append(wait),
    )
    assert answer == {"ok": 1} and node.submitted == [signed.encode()] * 3
    assert told == time.slept  # each wait told before it is slept
    assert 3 <= time.slept[0] < 3 * (1 + RETRY_JITTER)
    assert 1 <= time.slept[1] < 1 + RETRY_JITTER  # no Retry-After header: a second


def test_one_deadline_covers_the_busy_waits_of_every_nonce_tried() -> None:
    taken = NodeReplyError("taken", "nonce_taken", 422)
    node = ScriptedNode([busy(retry_after=1), taken, busy(retry_after=1), {"ok": 1}])
    time = FakeTime()
    with pytest.raises(NodeReplyError) as refused:
        sign_and_submit(
            node,  # type: ignore[arg-type]
            TX,
            [KEY],
            busy_until=time.now + 1.5,
            clock=time.clock,
            sleep=time.sleep,
            rng=LowestDraw(),
        )
    assert refused.value.code == "mempool_full" and time.slept == [1.0]
    first, second, third = (SignedTransaction.decode(raw) for raw in node.submitted)
    assert first == second and third.tx.nonce == TX.nonce + 1


def test_other_refusals_are_not_retried() -> None:
    for error in (
        NodeReplyError("bad", "bad_signature", 422),
        NodeReplyError("streams", "too_many_event_streams", 429, None, 1.0),
    ):
        node = ScriptedNode([error, {"ok": 1}])
        time = FakeTime()
        with pytest.raises(NodeReplyError) as raised:
            submit(node, time, 30)
        assert raised.value is error and time.slept == []


def test_a_pending_nonce_moves_to_the_next_one_a_bounded_number_of_times() -> None:
    taken = NodeReplyError("taken", "nonce_taken", 422)
    node = ScriptedNode([taken, taken, {"ok": 1}])
    stx, _ = sign_and_submit(node, TX, [KEY])  # type: ignore[arg-type]
    assert stx.tx.nonce == TX.nonce + 2
    endless = ScriptedNode([taken] * MAX_NONCE_STEPS)
    with pytest.raises(CliError, match="pending transactions already use the next nonces"):
        sign_and_submit(endless, TX, [KEY])  # type: ignore[arg-type]
    assert len(endless.submitted) == MAX_NONCE_STEPS
    fixed = ScriptedNode([taken])
    with pytest.raises(NodeReplyError):
        sign_and_submit(fixed, TX, [KEY], nonce_fixed=True)  # type: ignore[arg-type]


@pytest.fixture
def busy_server(request: pytest.FixtureRequest) -> Iterator[str]:
    """A loopback HTTP server that answers every POST with the node's 429, its
    Retry-After 2 and, when the test is parametrized with one, that Retry-After-Ms."""
    retry_after_ms = getattr(request, "param", None)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            body = json.dumps(
                {"error": {"code": "mempool_full", "message": "the node's mempool is full"}}
            ).encode()
            self.send_response(429)
            self.send_header("Content-Type", "application/json")
            self.send_header("Retry-After", "2")
            if retry_after_ms is not None:
                self.send_header("Retry-After-Ms", retry_after_ms)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_node_client_reads_the_retry_after_of_a_429(busy_server: str) -> None:
    with pytest.raises(NodeReplyError) as refused:
        NodeClient(busy_server).submit(b"\x00")
    error = refused.value
    assert (error.status, error.code, error.retry_after) == (429, "mempool_full", 2.0)
    assert "retry after 2 s" in str(error)


@pytest.mark.parametrize(
    ("busy_server", "seconds"),
    [("250", 0.25), ("1500", 1.5), ("soon", 2.0), ("-5", 2.0), ("nan", 2.0)],
    indirect=["busy_server"],
)
def test_node_client_prefers_the_milliseconds_of_a_429(busy_server: str, seconds: float) -> None:
    """Retry-After-Ms when it is a usable number; otherwise the whole-second Retry-After."""
    with pytest.raises(NodeReplyError) as refused:
        NodeClient(busy_server).submit(b"\x00")
    assert refused.value.retry_after == seconds
    assert f"retry after {seconds:g} s" in str(refused.value)
