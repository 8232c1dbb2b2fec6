"""The load generator's submission lane (bench/loadgen.py): a lane that fell behind
its schedule sends its whole backlog, in order, instead of one batch per answer."""

from __future__ import annotations

import time

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from bench.loadgen import LANE_REQUEST_MAX, Lane, Point, run_lane


async def test_a_lane_behind_its_schedule_sends_its_backlog_in_order() -> None:
    bodies: list[list[str]] = []

    async def batch(request: web.Request) -> web.Response:
        txs = (await request.json())["txs"]
        bodies.append(txs)
        return web.json_response({"results": [{"accepted": True, "code": "accepted"}] * len(txs)})

    app = web.Application()
    app.router.add_post("/v1/txs/batch", batch)
    server = TestServer(app)
    await server.start_server()
    try:
        stream = [(bytes([i % 256, i // 256]), f"{i:04x}") for i in range(LANE_REQUEST_MAX + 100)]
        lane = Lane(str(server.make_url("")).rstrip("/"), stream)
        lane.offer(len(stream))  # e.g. what piled up while the lane waited out a 429
        sent: dict[bytes, float] = {}
        point = Point()
        async with aiohttp.ClientSession() as session:
            await run_lane(session, lane, sent, point, time.monotonic() + 1.5)
    finally:
        await server.close()
    # two requests (not one per scheduled batch), everything once, nonce order kept
    assert [len(body) for body in bodies] == [LANE_REQUEST_MAX, 100]
    assert [tx for body in bodies for tx in body] == [item[1] for item in stream]
    assert point.admitted == len(stream) and point.requests == 2 and not lane.outbox
    assert set(sent) == {item[0] for item in stream}
