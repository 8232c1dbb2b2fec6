"""The node's HTTP application: the RPC routes plus operational endpoints.

    /metrics   Prometheus text format (node.metrics)
    /health    200 while the process serves requests (liveness)
    /ready     200 once started and not catching up; 503 otherwise (readiness)

The RPC routes come from `node.rpc.app.build_rpc_app`, written against the
NodeService seam; this module mounts them next to the operational routes and
applies the node's `[limits]`: the slots for streams and long-polls, and a
deadline for a request's body (a client that sends half a body is answered 408
`request_timeout` and disconnected; the deadline for the headers is the
runner's keep-alive timeout, see `Node.start`).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.typedefs import Middleware

from node.rpc import limits
from node.rpc.app import Handler, build_rpc_app
from node.rpc.errors import error_body

if TYPE_CHECKING:
    from node.node import Node


def build_http_app(node: Node) -> web.Application:
    app = build_rpc_app(node)
    limits.install(app, node.config.limits)
    app.middlewares.append(body_deadline(node.config.limits.request_timeout_ms / 1000))

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "height": node.chain.height})

    async def ready(request: web.Request) -> web.Response:
        ok = node.ready and not node.catching_up
        body = {"ready": ok, "catching_up": node.catching_up, "height": node.chain.height}
        return web.json_response(body, status=200 if ok else 503)

    app.router.add_get("/metrics", node.metrics_handler)
    app.router.add_get("/health", health)
    app.router.add_get("/ready", ready)
    return app


def body_deadline(seconds: float) -> Middleware:
    """Read a request's body within `seconds`, or answer 408 and close the connection."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.body_exists:
            try:
                # read() keeps the bytes: the handler's own read returns them at once;
                # a timeout scope, not wait_for, which wraps the read in a task of its own
                async with asyncio.timeout(seconds):
                    await request.read()
            except TimeoutError:
                response = web.json_response(
                    error_body("request_timeout", f"the body did not arrive within {seconds:g} s"),
                    status=408,
                )
                await response.prepare(request)
                await response.write_eof()
                # closed now, not after aiohttp's lingering read of the rest of the body
                request.protocol.force_close()
                return response
        return await handler(request)

    return middleware
