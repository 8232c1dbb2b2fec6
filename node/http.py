"""The node's HTTP application: the RPC routes plus operational endpoints.

    /metrics   Prometheus text format (node.metrics)
    /health    200 while the process serves requests (liveness)
    /ready     200 once started and not catching up; 503 otherwise (readiness)

The RPC routes come from `node.rpc.app.build_rpc_app`, written against the
NodeService seam; this module mounts them next to the operational routes and
applies the node's `[limits]`: the slots for streams and long-polls, and a
deadline for a request's body (a client that sends half a body is answered 408
`request_timeout` and disconnected; the deadline for the headers is the
runner's keep-alive timeout, see `Node.start`). What a route refuses whatever its
body says (a submission while the pool is full) is refused before the body is read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.typedefs import Middleware

from node import http_errors
from node.rpc import limits, routes_txs
from node.rpc.app import Handler, build_rpc_app, close_after, log_refusal
from node.rpc.errors import ApiError, error_body, error_response

if TYPE_CHECKING:
    from node.node import Node


def build_http_app(node: Node) -> web.Application:
    http_errors.install()  # what aiohttp's parser refuses is answered in JSON too
    app = build_rpc_app(node)
    limits.install(app, node.config.limits)
    app.middlewares.append(
        body_deadline(node.config.limits.request_timeout_ms / 1000, routes_txs.refuse_before_body)
    )

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


def body_deadline(
    seconds: float, before_body: Callable[[web.Request], None] | None = None
) -> Middleware:
    """Read a request's body within `seconds`, or answer 408 and close the connection.

    `before_body` runs first and may raise an `ApiError`: a refusal that does not
    depend on the body comes at once, not after it (or after the 408 of a body that
    never ends)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.body_exists:
            if before_body is not None:
                try:
                    before_body(request)
                except ApiError as exc:
                    log_refusal(request, exc.status, exc.code, exc.field)
                    response = error_response(exc)
                    if not request.content.is_eof():
                        # the rest of the body is not waited for (a chunked one may never
                        # end): the connection closes with the answer
                        await close_after(request, response)
                    return response
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
                await close_after(request, response)
                return response
        return await handler(request)

    return middleware
