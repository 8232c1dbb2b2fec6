"""The RPC front (node/rpc_front.py) in front of a real aiohttp application on a Unix socket.

What a client sends through the front reaches the application unchanged but for
`Connection` and the client's address; what the application answers comes back
with the client's keep-alive; while the shared state says "full", submissions are
answered 429 by the front alone; anything it does not frame passes through.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

from ledger.keys import PrivateKey
from ledger.tx import MAX_TX_BYTES, Transaction
from node import rpc_front
from node.front_state import CLIENT_HEADER, STALE_MS, StateReader, StateWriter
from node.rpc.limits import TRUST_CLIENT_HEADER, client_of
from node.rpc.routes_txs import MAX_WAIT_SECONDS
from node.rpc_front import Front, parse_request_head, response_head


@dataclass
class Upstream:
    seen: list[dict[str, object]]
    writer: StateWriter
    port: int


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 answer with a Content-Length or a chunked body."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].decode().split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    else:
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
    return status, headers, body


def request(method: str, path: str, body: bytes = b"", extra: str = "") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    return head.encode() + body


async def serve_on_socket(app: web.Application, socket_path: Path) -> web.AppRunner:
    """`app` served on a Unix socket, as the node serves its RPC behind the front."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.UnixSite(runner, str(socket_path)).start()
    return runner


@pytest.fixture
async def upstream(tmp_path: Path) -> AsyncIterator[Upstream]:
    seen: list[dict[str, object]] = []

    async def echo(req: web.Request) -> web.Response:
        body = await req.read()
        seen.append(
            {
                "path": req.path_qs,
                "body": body,
                "client": client_of(req),
                "connection": req.headers.get("Connection"),
                "link": id(req.transport),
            }
        )
        return web.json_response({"path": req.path_qs, "size": len(body)})

    async def bad(req: web.Request) -> web.Response:
        # a submission the node refuses as bad input, after reading it whole
        await req.read()
        return web.json_response({"error": {"code": "malformed_tx"}}, status=400)

    async def small(req: web.Request) -> web.Response:
        # answers before reading a large body, as the node's 413 does
        return web.json_response({"too": "large"}, status=413)

    async def stream(req: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(req)
        for part in (b"one ", b"two"):
            await response.write(part)
        await response.write_eof()
        return response

    app = web.Application()
    app[TRUST_CLIENT_HEADER] = True
    app.router.add_route("*", "/v1/txs", echo)
    app.router.add_route("*", "/v1/txs/batch", echo)
    app.router.add_post("/v1/txs/batch/bad", bad)
    app.router.add_get("/v1/status", echo)
    app.router.add_post("/small", small)
    app.router.add_get("/stream", stream)
    socket_path = tmp_path / "rpc.sock"
    runner = await serve_on_socket(app, socket_path)
    writer = StateWriter(tmp_path / "admission")
    front = Front(str(socket_path), StateReader(tmp_path / "admission"), request_timeout=2.0)
    server = await asyncio.start_server(front.serve, "127.0.0.1", 0, limit=rpc_front.MAX_HEAD)
    port = server.sockets[0].getsockname()[1]
    try:
        yield Upstream(seen, writer, port)
    finally:
        server.close()
        await server.wait_closed()
        await runner.cleanup()
        writer.close()


async def test_requests_are_relayed_on_one_kept_alive_connection(upstream: Upstream) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", upstream.port)
    writer.write(request("GET", "/v1/status?x=1"))
    status, headers, body = await read_answer(reader)
    assert (status, json.loads(body)) == (200, {"path": "/v1/status?x=1", "size": 0})
    assert headers.get("connection") is None  # HTTP/1.1 default: kept alive
    payload = json.dumps({"txs": ["00" * 3000]}).encode()
    writer.write(request("POST", "/v1/txs/batch", payload))
    status, _, body = await read_answer(reader)
    assert (status, json.loads(body)["size"]) == (200, len(payload))
    assert upstream.seen[1]["body"] == payload
    # the application saw the client's address, and the front's own kept-alive connection
    assert [seen["connection"] for seen in upstream.seen] == [None, None]
    assert {seen["client"] for seen in upstream.seen} == {"127.0.0.1"}
    writer.close()
    # another client's request goes down the same connection to the node
    reader, writer = await asyncio.open_connection("127.0.0.1", upstream.port)
    writer.write(request("GET", "/v1/status", extra="Connection: close\r\n"))
    status, headers, _ = await read_answer(reader)
    assert (status, headers["connection"]) == (200, "close")
    assert len({seen["link"] for seen in upstream.seen}) == 1
    assert await reader.read() == b""
    writer.close()


async def test_a_client_cannot_name_its_own_address(upstream: Upstream) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", upstream.port)
    writer.write(request("GET", "/v1/status", extra=f"{CLIENT_HEADER}: 10.9.9.9\r\n"))
    status, _, _ = await read_answer(reader)
    assert status == 200
    assert upstream.seen[0]["client"] == "127.0.0.1"
    writer.close()


async def test_submissions_are_refused_by_the_front_while_the_node_is_full(
    upstream: Upstream,
) -> None:
    upstream.writer.publish(0, 6_200)  # the node's retry time, in ms
    reader, writer = await asyncio.open_connection("127.0.0.1", upstream.port)
    for path in ("/v1/txs", "/v1/txs/batch?x=1"):
        writer.write(request("POST", path, b'{"txs": ["00"]}'))
        status, headers, body = await read_answer(reader)
        assert status == 429
        # whole seconds, rounded up, for HTTP; the milliseconds for clients that read them
        assert (headers["retry-after"], headers["retry-after-ms"]) == ("7", "6200")
        assert json.loads(body)["error"]["code"] == "mempool_full"
    # reads are relayed; nothing of the refused submissions reached the node
    writer.write(request("GET", "/v1/status"))
    status, _, _ = await read_answer(reader)
    assert status == 200
    assert [seen["path"] for seen in upstream.seen] == ["/v1/status"]
    assert upstream.writer.refused_by_front() == 2
    upstream.writer.publish(0, 300)  # under a second: Retry-After says 1, the least it can
    writer.write(request("POST", "/v1/txs", b"{}"))
    status, headers, _ = await read_answer(reader)
    assert (status, headers["retry-after"], headers["retry-after-ms"]) == (429, "1", "300")
    upstream.writer.publish(10, 1)
    writer.write(request("POST", "/v1/txs", b"{}"))
    status, _, _ = await read_answer(reader)
    assert status == 200
    writer.close()


async def test_a_stale_node_state_is_not_trusted(tmp_path: Path) -> None:
    writer = StateWriter(tmp_path / "state")
    now = [1_000_000]
    reader = StateReader(tmp_path / "state", clock_ms=lambda: now[0])
    assert reader.refusing() is None  # nothing published yet: the node decides
    writer.publish(0, 3_000, now_ms=now[0])
    assert reader.refusing() == 3_000
    now[0] += STALE_MS + 1
    assert reader.refusing() is None
    writer.publish(5, 3_000, now_ms=now[0])
    assert reader.refusing() is None


def test_the_front_spends_the_room_until_the_node_publishes_again(tmp_path: Path) -> None:
    writer = StateWriter(tmp_path / "state")
    reader = StateReader(tmp_path / "state")
    writer.publish(5, 2_000)
    # a batch of about 4, then a single one: the room is spent, the next is refused
    for cost in (4, 1):
        assert reader.refusing() is None
        reader.spend(cost)
    assert reader.refusing() == 2_000
    writer.publish(1, 2_000)  # the node's own count again, whatever the front spent
    assert reader.refusing() is None  # one left: a larger batch still goes (the node splits it)
    reader.spend(3)
    assert reader.refusing() == 2_000
    writer.publish(0, 450)
    assert reader.refusing() == 450


def test_what_a_refused_submission_spent_goes_back_unless_the_node_wrote_since(
    tmp_path: Path,
) -> None:
    writer = StateWriter(tmp_path / "state")
    reader = StateReader(tmp_path / "state")
    writer.publish(5, 2_000)
    assert reader.refusing() is None
    spent = reader.spend(5)
    assert reader.refusing() == 2_000
    reader.give_back(5, spent)  # the node refused that submission as bad input
    assert reader.refusing() is None
    spent = reader.spend(5)
    writer.publish(2, 2_000)  # the node's own count again: nothing of it to give back
    assert reader.refusing() is None
    reader.give_back(5, spent)
    reader.spend(2)
    assert reader.refusing() == 2_000


@pytest.mark.parametrize("size", [2_000, 300_000])  # read whole, and streamed through
async def test_a_submission_the_node_refuses_as_bad_input_takes_no_room(
    upstream: Upstream, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    # the bad route stands for the batch route: the front counts it as a submission
    monkeypatch.setattr(rpc_front, "SUBMIT_PATHS", (b"/v1/txs", b"/v1/txs/batch/bad"))
    # less room than the three together take (200 bytes a transaction, 1,000 at most)
    upstream.writer.publish(min(rpc_front.MAX_BATCH, 3 * (size // 200) - 5), 3)
    reader, writer = await asyncio.open_connection("127.0.0.1", upstream.port)
    for _ in range(3):
        writer.write(request("POST", "/v1/txs/batch/bad", bytes(size)))
        status, _, _ = await read_answer(reader)
        assert status == 400
        if size > rpc_front.INLINE_BODY:  # the node answered a streamed body: reconnect
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", upstream.port)
    writer.write(request("POST", "/v1/txs", b"{}"))
    assert (await read_answer(reader))[0] == 200
    writer.close()


async def test_headers_alone_spend_no_room_and_a_batch_at_most_its_limit(
    upstream: Upstream,
) -> None:
    upstream.writer.publish(rpc_front.MAX_BATCH + 1, 3)
    reader, writer = await asyncio.open_connection("127.0.0.1", upstream.port)
    # a batch that says it is huge and sends nothing yet: the room is still there
    writer.write(b"POST /v1/txs/batch HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n")
    other_reader, other_writer = await asyncio.open_connection("127.0.0.1", upstream.port)
    other_writer.write(request("POST", "/v1/txs", b"{}"))
    status, _, _ = await read_answer(other_reader)
    assert status == 200
    # once its body arrives it counts at most a full batch: one transaction is left
    writer.write(bytes(200_000))
    status, _, _ = await read_answer(reader)
    assert status == 200
    other_writer.write(request("POST", "/v1/txs", b"{}"))
    assert (await read_answer(other_reader))[0] == 429
    writer.close()
    other_writer.close()


async def test_a_msgpack_submission_too_large_for_a_tx_goes_to_the_node(
    upstream: Upstream,
) -> None:
    upstream.writer.publish(0, 2)
    reader, writer = await asyncio.open_connection("127.0.0.1", upstream.port)
    body = bytes(MAX_TX_BYTES + 1)
    writer.write(request("POST", "/v1/txs", body, "Content-Type: application/msgpack\r\n"))
    status, _, _ = await read_answer(reader)
    assert status == 200  # the echo: the node's own 413 comes from the node
    writer.close()


async def test_an_early_answer_closes_the_connection(upstream: Upstream) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", upstream.port)
    writer.write(
        b"POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n" + bytes(1000)
    )
    status, headers, _ = await read_answer(reader)
    assert status == 413
    assert headers["connection"] == "close"
    assert await reader.read() == b""
    writer.close()


async def test_chunked_requests_and_streamed_answers_pass_through(upstream: Upstream) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", upstream.port)
    writer.write(
        b"POST /v1/txs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n"
    )
    status, _, body = await read_answer(reader)
    assert (status, json.loads(body)["size"]) == (200, 5)
    reader, writer = await asyncio.open_connection("127.0.0.1", upstream.port)
    for _ in range(2):  # the chunks' end is the answer's: the connection carries on
        writer.write(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body = await read_answer(reader)
        assert (status, body) == (200, b"one two")
        assert headers["transfer-encoding"] == "chunked"
    writer.close()


async def test_the_front_answers_503_while_the_node_is_down(tmp_path: Path) -> None:
    StateWriter(tmp_path / "admission").close()
    front = Front(str(tmp_path / "missing.sock"), StateReader(tmp_path / "admission"), 2.0)
    server = await asyncio.start_server(front.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request("GET", "/v1/status"))
    status, headers, body = await read_answer(reader)
    assert status == 503
    assert json.loads(body)["error"]["code"] == "node_unavailable"
    assert headers["retry-after"] == "1"
    writer.close()
    server.close()


async def test_headers_that_do_not_arrive_in_time_end_the_connection(
    upstream: Upstream,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", upstream.port)
    writer.write(b"GET /v1/status HTTP/1.1\r\nHost:")
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()


@pytest.mark.parametrize(
    ("head", "framed", "keep_alive"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", True, True),
        (b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", True, False),
        (b"GET / HTTP/1.0\r\n\r\n", True, False),
        (b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", True, True),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", False, True),
        (b"GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", False, True),
        (b"POST / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n", False, True),
    ],
)
def test_request_heads(head: bytes, framed: bool, keep_alive: bool) -> None:
    parsed = parse_request_head(head)
    assert parsed is not None
    assert (parsed.framed, parsed.keep_alive) == (framed, keep_alive)


@pytest.mark.parametrize(
    "head",
    [
        b"GET /\r\n\r\n",
        b"GET / HTTP/2\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
        b"GET / HTTP/1.1\r\nno colon\r\n\r\n",
    ],
)
def test_heads_the_front_does_not_read_are_refused(head: bytes) -> None:
    assert parse_request_head(head) is None


async def test_a_malformed_head_is_answered_400_and_never_reaches_the_node(
    upstream: Upstream,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", upstream.port)
    writer.write(
        b"GET /v1/status HTTP/1.1\r\nHost: x\r\n folded\r\n"
        + CLIENT_HEADER.encode()
        + b": 10.1.1.1\r\n\r\n"
    )
    status, headers, body = await read_answer(reader)
    assert (status, headers["connection"]) == (400, "close")
    assert json.loads(body)["error"]["code"] == "malformed_request"
    assert upstream.seen == []
    writer.close()


async def test_what_the_front_does_not_frame_is_the_last_request_of_its_connection(
    upstream: Upstream,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", upstream.port)
    # a request behind one passed through must not reach the node with its own address
    writer.write(
        b"GET /v1/status HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
        + request("GET", "/v1/status", extra=f"{CLIENT_HEADER}: 6.6.6.6\r\n")
    )
    # aiohttp refuses bytes after a request marked `Connection: close` (400); either way
    # the second request is never served, and the connection ends
    status, headers, _ = await read_answer(reader)
    assert status in (200, 400)
    assert await reader.read() == b""
    assert all(seen["client"] == "127.0.0.1" for seen in upstream.seen)
    assert len(upstream.seen) <= 1
    writer.close()
    # alone on its connection, such a request is served
    reader, writer = await asyncio.open_connection("127.0.0.1", upstream.port)
    writer.write(
        b"GET /v1/status HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
    )
    status, headers, _ = await read_answer(reader)
    assert (status, headers["connection"]) == (200, "close")
    assert upstream.seen[-1]["connection"] == "close"
    assert upstream.seen[-1]["client"] == "127.0.0.1"
    writer.close()


def test_an_answer_keeps_the_clients_connection_only_when_framed() -> None:
    framed = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n"
    answer = response_head(framed, True, b"HTTP/1.1", b"GET")
    assert answer.head == b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"
    assert (answer.stays, answer.length) == (True, 2)
    assert response_head(framed, True, b"HTTP/1.1", b"HEAD").length == 0
    unframed = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
    assert response_head(unframed, True, b"HTTP/1.1", b"GET").stays is False
    closing = response_head(framed, False, b"HTTP/1.1", b"GET")
    assert closing.head.endswith(b"Connection: close\r\n\r\n")


def test_the_front_knows_the_largest_transaction() -> None:
    assert rpc_front.MAX_TX_BYTES == MAX_TX_BYTES


def test_no_transaction_is_shorter_in_a_batch_than_the_fronts_estimate() -> None:
    key = PrivateKey.from_seed(bytes(32))
    shortest = Transaction("x", key.public_key, 0, "a", ()).sign(key)
    assert len(json.dumps(shortest.encode().hex())) > rpc_front.MIN_TX_JSON_BYTES


async def test_an_answer_that_does_not_begin_in_time_is_the_fronts_504(tmp_path: Path) -> None:
    links: list[int] = []

    async def slow(req: web.Request) -> web.Response:
        links.append(id(req.transport))
        await asyncio.sleep(float(req.query.get("sleep", "0")))
        return web.json_response({"path": req.path_qs})

    async def events(req: web.Request) -> web.StreamResponse:
        # an event stream's head comes at once; its events as they happen
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(req)
        await asyncio.sleep(0.6)
        await response.write(b"data: late\n\n")
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/v1/status", slow)
    app.router.add_get("/v1/txs/{hash}", slow)
    app.router.add_get("/v1/events", events)
    socket_path = tmp_path / "rpc.sock"
    runner = await serve_on_socket(app, socket_path)
    StateWriter(tmp_path / "admission").close()
    state = StateReader(tmp_path / "admission")
    front = Front(str(socket_path), state, request_timeout=2.0, answer_timeout=0.3)
    server = await asyncio.start_server(front.serve, "127.0.0.1", 0, limit=rpc_front.MAX_HEAD)
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request("GET", "/v1/status?sleep=5"))
        status, headers, body = await asyncio.wait_for(read_answer(reader), 3)
        assert status == 504
        assert json.loads(body)["error"]["code"] == "node_timeout"
        assert headers["retry-after"] == "1"
        assert headers.get("connection") is None  # the client's connection carries on
        # ... down a new connection to the node: the stuck one may still answer
        writer.write(request("GET", "/v1/status?sleep=0"))
        status, _, body = await asyncio.wait_for(read_answer(reader), 3)
        assert (status, json.loads(body)["path"]) == (200, "/v1/status?sleep=0")
        assert len(set(links)) == 2
        # a long-poll's wait= is added to the answer timeout
        writer.write(request("GET", "/v1/txs/ab?wait=1&sleep=0.6"))
        status, _, _ = await asyncio.wait_for(read_answer(reader), 3)
        assert status == 200
        writer.write(request("GET", "/v1/txs/ab?sleep=0.6"))
        status, _, _ = await asyncio.wait_for(read_answer(reader), 3)
        assert status == 504
        # an event stream is not cut when its events come later than the timeout
        writer.write(request("GET", "/v1/events"))
        status, _, body = await asyncio.wait_for(read_answer(reader), 3)
        assert (status, body) == (200, b"data: late\n\n")
        writer.close()
        # an answer timeout of 0 sets no limit
        patient = Front(str(socket_path), state, request_timeout=2.0, answer_timeout=0)
        other = await asyncio.start_server(patient.serve, "127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", other.sockets[0].getsockname()[1]
        )
        writer.write(request("GET", "/v1/status?sleep=0.6"))
        status, _, _ = await asyncio.wait_for(read_answer(reader), 3)
        assert status == 200
        writer.close()
        other.close()
        await other.wait_closed()
    finally:
        server.close()
        await server.wait_closed()
        await runner.cleanup()


@pytest.mark.parametrize(
    ("target", "wait"),
    [
        (b"/v1/txs/ab?wait=12.5", 12.5),
        (b"/v1/txs/ab?x=1&wait=3", 3.0),
        # the node reads the first: the front waits for the longest, never cutting it
        (b"/v1/txs/ab?wait=60&wait=0", 60.0),
        (b"/v1/txs/ab?wait=1&wait=2", 2.0),
        (b"/v1/txs/ab?w%61it=%34%35", 45.0),  # percent-decoded, as the node decodes it
        (b"/v1/txs/ab?wait=5&wait=soon", 5.0),
        (b"/v1/txs/ab", 0.0),
        (b"/v1/txs/ab?wait=soon", 0.0),
        (b"/v1/txs/ab?wait=nan", 0.0),
        (b"/v1/txs/ab?wait=-1", 0.0),
        (b"/v1/txs/ab?wait=600", 0.0),  # beyond the node's limit: its 400 comes at once
    ],
)
def test_a_long_polls_wait_is_read_from_the_query(target: bytes, wait: float) -> None:
    head = parse_request_head(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert head is not None
    assert head.wait == wait
    assert head.path == b"/v1/txs/ab"


def test_the_front_allows_the_nodes_longest_long_poll() -> None:
    assert rpc_front.MAX_WAIT_SECONDS == MAX_WAIT_SECONDS
