"""A lying node for the browser tests: the real pages, the real node's API behind them,
except that every proof bundle (of a transaction or of an account's state) has one
byte flipped.

It runs in a thread of the test process on a loopback port, so the page's same-origin
requests reach it and the explorer must catch the lie itself.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import aiohttp
from aiohttp import web

from node.rpc import routes_web


def flip_bundle_byte(answer: dict[str, Any]) -> dict[str, Any]:
    bundle = bytearray(bytes.fromhex(answer["bundle"]))
    bundle[len(bundle) // 2] ^= 0x01
    return {**answer, "bundle": bundle.hex()}


def build_app(upstream: str) -> web.Application:
    app = web.Application()
    routes_web.register(app)

    async def forward(request: web.Request) -> web.Response:
        if request.path == "/v1/events":
            # Not relayed (a stream never ends); the pages retry and show what they have.
            return web.json_response(
                {"error": {"code": "unavailable", "message": "no event stream here"}}, status=503
            )
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{upstream}{request.path_qs}") as response,
        ):
            body = await response.read()
            status = response.status
        proven = "/v1/txs/" in request.path or "/v1/accounts/" in request.path
        if request.query.get("prove") == "true" and status == 200 and proven:
            answer = json.loads(body)
            if "bundle" in answer:
                body = json.dumps(flip_bundle_byte(answer)).encode()
        return web.Response(body=body, status=status, content_type="application/json")

    app.router.add_get("/v1/{tail:.*}", forward)
    return app


class FakeNode:
    """Serve `build_app(upstream)` on 127.0.0.1 in a thread; `url` once started."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.loop = asyncio.new_event_loop()
        self.runner: web.AppRunner | None = None
        self.url = ""
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> FakeNode:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=10)
        return self

    async def _start(self) -> None:
        self.runner = web.AppRunner(build_app(self.upstream))
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        if self.runner is not None:
            asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
