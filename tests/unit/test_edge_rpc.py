"""The RPC edge's own pieces: slots fitted to the open-file limit, one log line per
descriptor-exhaustion episode and per malformed request, a client's hang-up that is
no 500, and a full pool refused before the body is read.

The HTTP tests serve the RPC application with the node's body deadline
(node/http.py) on a real loopback socket and speak raw HTTP to it.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong
from rpc_fake_node import FakeNode

from node import log as node_log
from node.home import ServiceLimits
from node.http import body_deadline
from node.rpc.app import build_rpc_app
from node.rpc.limits import Gates, fit_to_open_files
from node.rpc.routes_txs import refuse_before_body

# -- A. open files --------------------------------------------------------------------------


def test_slots_fit_in_half_the_open_file_limit() -> None:
    fitted = fit_to_open_files(ServiceLimits(), 1_024)
    assert fitted.event_streams == 128
    assert fitted.long_polls == 512 - 128
    assert fit_to_open_files(ServiceLimits(), 100_000) == ServiceLimits()
    assert fit_to_open_files(ServiceLimits(), None) == ServiceLimits()
    tiny = fit_to_open_files(ServiceLimits(), 16)
    assert (tiny.event_streams, tiny.long_polls) == (2, 6)
    gates = Gates(ServiceLimits(), open_files=1_024)
    try:
        assert gates.long_polls.total == 384 and gates.event_streams.total == 128
    finally:
        gates.close()


def test_a_descriptor_exhaustion_episode_logs_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="pasar")
    loop = asyncio.new_event_loop()
    try:
        node_log.quiet_accept_failures(loop)
        with socket.socket() as listener:
            # what asyncio's accept loop reports, once per backlog slot, every second
            for _ in range(5_000):
                loop.call_exception_handler(
                    {
                        "message": "socket.accept() out of system resource",
                        "exception": OSError(errno.EMFILE, "Too many open files"),
                        "socket": listener,
                    }
                )
        lines = [r.getMessage() for r in caplog.records if "accept_failed" in r.getMessage()]
        assert len(lines) == 1, lines
        assert "level=warning" in lines[0] and "open_files_limit=" in lines[0]
        assert not any(r.exc_info for r in caplog.records)
        # anything else still reaches asyncio's own handler, with its traceback
        caplog.clear()
        loop.call_exception_handler({"message": "boom", "exception": RuntimeError("x")})
        assert [r.name for r in caplog.records] == ["asyncio"]
    finally:
        loop.close()


# -- B. malformed requests and hang-ups -----------------------------------------------------------


def server_record(error: BaseException) -> logging.LogRecord:
    """The record aiohttp's server logs for a request it could not parse."""
    return logging.LogRecord(
        "aiohttp.server",
        logging.ERROR,
        __file__,
        1,
        "Error handling request from %s",
        ("127.0.0.9",),
        (type(error), error, None),
    )


def test_aiohttp_parse_errors_become_one_line() -> None:
    one_line = node_log.ClientErrorsOnOneLine()
    node_log.LOGGER.setLevel(logging.INFO)
    record = server_record(LineTooLong("a" * 9_000, "8190"))
    assert one_line.filter(record)
    assert record.exc_info is None and record.levelno == logging.INFO
    message = record.getMessage()
    assert "\n" not in message and "event=http_malformed" in message
    assert "client=127.0.0.9" in message and "status=400" in message
    bad = server_record(BadHttpMessage("Invalid character in chunk size:\n\n  b'zz'\n    ^"))
    assert one_line.filter(bad)
    assert 'error="Invalid character in chunk size:"' in bad.getMessage()
    # the node's own failures keep their traceback
    bug = server_record(RuntimeError("a bug"))
    assert one_line.filter(bug) and bug.exc_info is not None and bug.levelno == logging.ERROR


@asynccontextmanager
async def served(node: FakeNode, deadline: float = 30.0) -> AsyncIterator[int]:
    """The RPC for `node` with the node's body deadline and door, served as the node
    serves it (an AppRunner: a handler is not cancelled when its client leaves, unlike
    under aiohttp's TestServer); yields its loopback port."""
    app = build_rpc_app(node)
    app.middlewares.append(body_deadline(deadline, refuse_before_body))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        (address,) = runner.addresses
        yield int(address[1])
    finally:
        await runner.cleanup()


async def exchange(
    port: int, data: bytes, timeout: float = 10.0, then: bytes | None = None
) -> bytes:
    """Send `data` (and `then`, after the first answer bytes), read until closed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        if then is not None:
            first = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
            writer.write(then)
            return first + await asyncio.wait_for(reader.read(), timeout)
        return await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()


def error_of(answer: bytes) -> dict[str, Any]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"application/json" in head.lower(), answer[:300]
    parsed = json.loads(body)
    assert isinstance(parsed, dict)
    return dict(parsed["error"])


async def test_a_client_hanging_up_mid_body_is_no_internal_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    node = FakeNode()
    async with served(node) as port:
        for _ in range(3):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                b"POST /v1/txs/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 307200\r\n\r\n" + b"a" * 204_800
            )
            await writer.drain()
            await asyncio.sleep(0.2)  # the middleware is reading the body
            writer.close()
        for _ in range(200):  # bounded: the server notices within a few loop turns
            if sum("rpc_client_gone" in r.getMessage() for r in caplog.records) >= 3:
                break
            await asyncio.sleep(0.05)
    messages = [r.getMessage() for r in caplog.records]
    assert sum("event=rpc_client_gone" in m for m in messages) == 3, messages
    assert not any("rpc handler failed" in m for m in messages), messages
    assert not any(r.exc_info for r in caplog.records if r.levelno >= logging.WARNING)
    assert node.submitted == []


# -- C. a full pool's door ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/txs", "/v1/txs/batch"])
async def test_a_full_pool_refuses_an_unfinished_chunked_body_at_once(path: str) -> None:
    node = FakeNode(mempool_limit=0)  # full
    # a body deadline of 30 s: an answer within the 10 s read is not its 408
    async with served(node, deadline=30.0) as port:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            'Transfer-Encoding: chunked\r\n\r\n5\r\n{"tx"\r\n'
        ).encode()  # and never the rest
        answer = await exchange(port, head, timeout=10.0)
    assert answer.startswith(b"HTTP/1.1 429 "), answer[:300]
    assert error_of(answer)["code"] == "mempool_full"
    assert b"\r\nRetry-After: " in answer and b"\r\nRetry-After-Ms: 1500" in answer
    assert node.refused_requests == 1 and node.submitted == []


@pytest.mark.parametrize("path", ["/v1/txs", "/v1/txs/batch"])
async def test_a_full_pool_answers_expect_continue_with_429(
    path: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pasar")
    node = FakeNode(mempool_limit=0)
    async with served(node) as port:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 100\r\nExpect: 100-continue\r\n\r\n"
        ).encode()  # the body only after 100 Continue
        answer = await exchange(port, head, timeout=10.0)
    assert answer.startswith(b"HTTP/1.1 429 "), answer[:300]
    assert b"100 Continue" not in answer
    assert error_of(answer)["code"] == "mempool_full"
    assert b"\r\nRetry-After: " in answer
    assert node.refused_requests == 1 and node.submitted == []
    refusals = [r.getMessage() for r in caplog.records if "rpc_refused" in r.getMessage()]
    assert len(refusals) == 1 and "code=mempool_full" in refusals[0]


async def test_an_unknown_expectation_on_a_submission_gets_417_and_nothing_is_read() -> None:
    node = FakeNode()
    async with served(node) as port:
        head = (
            b"POST /v1/txs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\nExpect: 200-ok\r\n\r\n"
        )
        answer = await exchange(port, head, timeout=10.0)
    assert answer.startswith(b"HTTP/1.1 417 "), answer[:300]
    assert b"100 Continue" not in answer
    assert error_of(answer)["code"] == "expectation_failed"
    assert node.submitted == []


async def test_an_http_1_0_client_expecting_continue_gets_no_interim_answer() -> None:
    node = FakeNode()
    async with served(node) as port:
        body = json.dumps({"tx": "00"}).encode()
        head = (
            "POST /v1/txs HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n"
        ).encode()
        answer = await exchange(port, head + body, timeout=10.0)  # it sends at once
    assert answer.startswith(b"HTTP/1.0 400 "), answer[:300]  # no 100 Continue first
    assert error_of(answer)["code"] == "malformed_tx"


async def test_with_room_expect_continue_still_gets_100_continue() -> None:
    node = FakeNode()
    async with served(node) as port:
        body = json.dumps({"tx": "00"}).encode()
        head = (
            "POST /v1/txs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
        ).encode()
        answer = await exchange(port, head, timeout=10.0, then=body)
    assert answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), answer[:300]
    rest = answer.split(b"\r\n\r\n", 1)[1]
    assert rest.startswith(b"HTTP/1.1 400 "), rest[:300]  # "00" is no transaction
    assert error_of(rest)["code"] == "malformed_tx"
