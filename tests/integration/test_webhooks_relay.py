"""The webhook relay end to end: a real validator, the `pasar webhooks run` process,
and a loopback aiohttp endpoint that checks every signature.

The endpoint refuses its first three deliveries and still gets the event; the
relay is killed with SIGKILL while transfers keep committing and restarted on the
same database; every transfer's event arrives at least once, and every copy of
an event carries the same id and the same body.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from cli.webhooks.signing import new_secret, verify
from ledger.keys import address_to_text
from tests.integration.harness import ROOT, LocalNet, free_base_port, http, wait_until

REFUSE_FIRST = 3


class Endpoint:
    """A shop's webhook endpoint on loopback, in a thread of the test process."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.port = free_base_port(1)
        self.calls = 0
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.bad_signatures = 0
        self.lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        with self.lock:
            self.calls += 1
            if self.calls <= REFUSE_FIRST:
                return web.Response(status=500, text="not yet")
            try:
                event_id = verify(self.secret, dict(request.headers), body, int(time.time()))
            except ValueError:
                self.bad_signatures += 1
                return web.Response(status=400, text="bad signature")
            self.received.append((event_id, json.loads(body)))
        return web.Response(text="ok")

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_post("/hooks", self.handle)
        runner = web.AppRunner(app)
        self.loop.run_until_complete(runner.setup())
        self.loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self.ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(runner.cleanup())

    def start(self) -> None:
        self.thread.start()
        self.ready.wait(10)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def tx_hashes(self) -> set[str]:
        with self.lock:
            return {body["data"]["tx_hash"] for _, body in self.received}


@pytest.fixture()
def net(tmp_path: Path) -> Iterator[LocalNet]:
    network = LocalNet(tmp_path / "net", count=1, accounts=3)
    try:
        network.start_all()
        yield network
    finally:
        network.close()


def start_relay(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "cli.main", "webhooks", "run", "--config", str(config)],
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def send_transfers(net: LocalNet, count: int) -> list[str]:
    txs = [net.transfer(0, 1, amount=1 + i) for i in range(count)]
    results = net.submit(0, txs)
    assert all(r["accepted"] for r in results), results
    return [stx.hash.hex() for stx in txs]


def test_signed_delivery_retries_and_survives_kill(net: LocalNet, tmp_path: Path) -> None:
    secret = new_secret()
    endpoint = Endpoint(secret)
    endpoint.start()
    merchant = address_to_text(net.accounts[1].public_key)
    config = tmp_path / "webhooks.toml"
    config.write_text(
        f'node = "{net.nodes[0].rpc_url}"\n'
        'database = "relay.sqlite"\n'
        'start = "0"\n'
        "[retry]\nfirst_delay_s = 0.2\nmax_delay_s = 0.4\ndisable_after = 1000\n"
        "[[endpoints]]\n"
        'name = "shop"\n'
        f'url = "http://127.0.0.1:{endpoint.port}/hooks"\n'
        f'secrets = ["{secret}"]\n'
        f'accounts = ["{merchant}"]\n'
        'kinds = ["payment.received"]\n'
    )
    log = tmp_path / "relay.log"
    relay = start_relay(config, log)
    try:
        first = send_transfers(net, 1)
        wait_until(lambda: first[0] in endpoint.tx_hashes(), 30, "the first delivery")
        assert endpoint.calls > REFUSE_FIRST  # refused three times, then delivered
        event_id, body = endpoint.received[0]
        assert body["type"] == "payment.received"
        assert body["data"]["id"] == event_id
        code, tx = http("GET", net.url(0, f"/v1/txs/{first[0]}"))
        assert code == 200
        assert event_id.startswith(f"evt_{tx['height']}_{tx['index']}_")
        assert body["data"]["bundle_url"].endswith(f"/v1/txs/{first[0]}?prove=true")
        assert body["data"]["attributes"]["to"] == {"hex": net.accounts[1].public_key.hex()}

        # Transfers keep committing while the relay is killed and restarted.
        sent = list(first)
        for round_index in range(3):
            sent += send_transfers(net, 5)
            time.sleep(0.3)
            if round_index == 1:
                relay.send_signal(signal.SIGKILL)
                relay.wait(10)
                sent += send_transfers(net, 5)
                relay = start_relay(config, log)
        wait_until(lambda: set(sent) <= endpoint.tx_hashes(), 40, "every transfer delivered")
        assert endpoint.bad_signatures == 0
        by_id: dict[str, str] = {}
        for received_id, received_body in endpoint.received:
            text = json.dumps(received_body, sort_keys=True)
            assert by_id.setdefault(received_id, text) == text  # a duplicate is the same event
        assert len(by_id) == len(sent)

        shown = subprocess.run(
            [
                sys.executable,
                "-m",
                "cli.main",
                "webhooks",
                "log",
                "--config",
                str(config),
                "--event",
                event_id,
                "--json",
            ],
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert shown.returncode == 0, shown.stderr
        attempts = sorted(json.loads(shown.stdout), key=lambda row: row["attempt"])
        assert [row["status"] for row in attempts][:4] == [500, 500, 500, 200]
        assert attempts[0]["excerpt"] == "not yet"
    finally:
        relay.kill()
        relay.wait(10)
        endpoint.close()
