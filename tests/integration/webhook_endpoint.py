"""A shop's webhook endpoint on loopback for tests and benches: an aiohttp server in
a thread that verifies every signature and records what arrived and when."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from cli.webhooks.signing import WebhookVerificationError, verify
from tests.integration.harness import free_base_port


class WebhookEndpoint:
    """POST /hooks; answers 500 to the first `refuse_first` calls, then verifies.

    `ids` holds the distinct event ids that arrived with a good signature."""

    def __init__(
        self, secret: str, refuse_first: int = 0, keep_bodies: bool = True, hold: bool = False
    ) -> None:
        self.secret = secret
        self.hold = hold  # True: every request waits, unanswered, until release()
        self.refuse_first = refuse_first
        self.keep_bodies = keep_bodies  # False: count distinct ids only (long benches)
        self.ids: set[str] = set()
        self.port = free_base_port(1)
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self.calls = 0
        # (event id, body, arrival in ms since the epoch), in arrival order
        self.received: list[tuple[str, dict[str, Any], float]] = []
        self.bad_signatures = 0
        self.lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        self.released = asyncio.Event()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.hold:
            with self.lock:
                self.calls += 1
            await self.released.wait()
            return web.Response(status=503, text="released")
        arrived_ms = time.time() * 1000
        with self.lock:
            self.calls += 1
            if self.calls <= self.refuse_first:
                return web.Response(status=500, text="not yet")
            try:
                event_id = verify(self.secret, dict(request.headers), body, int(time.time()))
            except WebhookVerificationError:
                self.bad_signatures += 1
                return web.Response(status=400, text="bad signature")
            self.ids.add(event_id)
            if self.keep_bodies:
                self.received.append((event_id, json.loads(body), arrived_ms))
        return web.Response(text="ok")

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_post("/hooks", self.handle)
        runner = web.AppRunner(app, access_log=None)
        self.loop.run_until_complete(runner.setup())
        self.loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self.ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(runner.cleanup())

    def start(self) -> None:
        self.thread.start()
        if not self.ready.wait(10):
            raise RuntimeError("the webhook endpoint did not start")

    def release(self) -> None:
        """Answer the held requests (503) and every later one at once."""
        self.loop.call_soon_threadsafe(self.released.set)

    def close(self) -> None:
        self.release()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def tx_hashes(self) -> set[str]:
        with self.lock:
            return {body["data"]["tx_hash"] for _, body, _ in self.received}


def relay_config(
    nodes: str | Sequence[str],
    endpoint: WebhookEndpoint,
    account: str,
    retry: str,
    kinds: Sequence[str] = ("payment.received",),
    top: str = "",
) -> str:
    """A relay configuration sending `kinds` for `account` to `endpoint`, reading one
    node (`node = ...`) or several (`nodes = [...]`); `top` adds top-level settings."""
    if isinstance(nodes, str):
        source = f'node = "{nodes}"\n'
    else:
        source = "nodes = [" + ", ".join(f'"{url}"' for url in nodes) + "]\n"
    return (
        source + 'database = "relay.sqlite"\n'
        'start = "0"\n'
        f"{top}\n"
        f"[retry]\n{retry}\n"
        "[[endpoints]]\n"
        'name = "shop"\n'
        f'url = "{endpoint.url}"\n'
        f'secrets = ["{endpoint.secret}"]\n'
        f'accounts = ["{account}"]\n'
        "kinds = [" + ", ".join(f'"{kind}"' for kind in kinds) + "]\n"
    )
