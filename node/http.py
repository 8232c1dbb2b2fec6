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

if TYPE_CHECKING:
    from node.node import Node


def build_http_app(node: Node) -> web.Application:
    try:
        from node.rpc.app import build_rpc_app
    except ImportError:  # the RPC package has not landed yet: serve the minimum
        app = _interim_rpc(node)
    else:
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


def _interim_rpc(node: Node) -> web.Application:
    """Status and batch submission only, until node.rpc is available."""

    async def status(request: web.Request) -> web.Response:
        current = node.status()
        return web.json_response(
            {
                "chain_id": current.chain_id,
                "height": current.height,
                "last_block_hash": current.last_block_hash.hex(),
                "state_root": current.state_root.hex(),
                "view": current.view,
                "peers_connected": current.peers_connected,
                "catching_up": current.catching_up,
                "mempool_size": current.mempool_size,
            }
        )

    async def batch(request: web.Request) -> web.Response:
        body = await request.json()
        raws = [bytes.fromhex(item) for item in body["txs"]]
        if node.mempool_full():
            return web.json_response({"error": {"code": "mempool_full"}}, status=429)
        answers = await node.submit(raws)
        return web.json_response(
            {
                "results": [
                    {
                        "hash": None if a.tx_hash is None else a.tx_hash.hex(),
                        "accepted": a.accepted,
                        "code": a.code,
                    }
                    for a in answers
                ]
            }
        )

    app = web.Application(client_max_size=8 * 1024 * 1024)
    app.router.add_get("/v1/status", status)
    app.router.add_post("/v1/txs/batch", batch)
    return app
