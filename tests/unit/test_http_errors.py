"""Requests aiohttp's parser refuses get the RPC's JSON error shape (node.http_errors)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from node import http_errors


@asynccontextmanager
async def served() -> AsyncIterator[int]:
    """A bare aiohttp server on a loopback port, with the JSON answers installed."""
    http_errors.install()

    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("a bug")

    app = web.Application()
    app.router.add_get("/", ok)
    app.router.add_get("/boom", boom)
    app.router.add_post("/", ok)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


async def exchange(port: int, data: bytes) -> tuple[bytes, dict[str, str]]:
    """Send `data` and read the answer to the end: (head, the JSON error in it)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return head, json.loads(body)["error"]


async def test_a_request_without_host_is_a_json_400_naming_what_is_missing() -> None:
    async with served() as port:
        head, error = await exchange(port, b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
    # (read to its end: the server closed the connection after the answer)
    assert head.startswith(b"HTTP/1.") and b" 400 " in head[:16]
    assert b"content-type: application/json" in head.lower()
    assert error == {"code": "malformed_request", "message": "Missing 'Host' header in request."}


async def test_a_bad_chunk_size_is_one_printable_line() -> None:
    data = (
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\nzz\xff\r\nabc\r\n0\r\n\r\n"
    )
    async with served() as port:
        head, error = await exchange(port, data)
    assert b" 400 " in head[:16] and error["code"] == "malformed_request"
    message = error["message"]
    assert message.startswith("Invalid character in chunk size")
    assert "\n" not in message and message.isascii() and message.isprintable()


async def test_a_well_formed_request_is_served_as_before() -> None:
    async with served() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b'{"ok": true}')


async def test_install_twice_keeps_aiohttp_s_handling_underneath() -> None:
    http_errors.install()
    http_errors.install()
    async with served() as port:
        head, error = await exchange(port, b"GET / HTTP/1.1\r\n\r\n")
    assert b" 400 " in head[:16] and error["code"] == "malformed_request"


async def test_a_failure_no_middleware_caught_is_a_json_500_that_says_nothing_more() -> None:
    async with served() as port:
        head, error = await exchange(port, b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b" 500 " in head[:16]
    assert error == {"code": "internal_error", "message": "the node could not answer this request"}
