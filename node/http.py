"""The node's HTTP application: the RPC routes plus operational endpoints.

    /metrics   Prometheus text format (node.metrics)
    /health    200 while the process serves requests (liveness)
    /ready     200 once started and not catching up; 503 otherwise (readiness)

The RPC routes come from `node.rpc.app.build_rpc_app`, written against the
NodeService seam; this module only mounts them next to the operational routes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from node.rpc.app import build_rpc_app

if TYPE_CHECKING:
    from node.node import Node


def build_http_app(node: Node) -> web.Application:
    app = build_rpc_app(node)

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
