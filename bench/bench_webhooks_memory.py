"""Webhook relay memory and database size while its delivery log grows to 100,000.

The relay (`pasar webhooks run`, its own process) follows a stand-in event stream:
an aiohttp server in this process that serves `GET /v1/events` and `/v1/status`
in the node's format, one committed `coin.transfer` per transaction frame and
100 per block, each receipt rendered by node/rpc/render.py. Events are thus
synthesized (a chain committing 100,000 transfers would take many minutes on a
shared machine); everything after the stream is real: the relay's outbox and
log in SQLite, signed POSTs to a loopback endpoint that verifies every signature.
Every `--every` deliveries it prints the relay's resident memory (VmRSS), its
peak (VmHWM), the database size (file plus WAL) and the delivery rate.

Run from the repository root:  python bench/bench_webhooks_memory.py [--events N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cli.webhooks.signing import new_secret  # noqa: E402
from ledger.keys import PrivateKey, address_to_text  # noqa: E402
from ledger.receipt import Event, Receipt  # noqa: E402
from node.rpc.render import receipt_json  # noqa: E402
from node.rpc.routes_events import parse_cursor, sse  # noqa: E402
from tests.integration.harness import ROOT, free_base_port, wait_until  # noqa: E402
from tests.integration.webhook_endpoint import WebhookEndpoint, relay_config  # noqa: E402

PER_BLOCK = 100
PAYER = PrivateKey.from_seed(b"\x01" * 32).public_key
MERCHANT = PrivateKey.from_seed(b"\x02" * 32).public_key
GENESIS_MS = 1_764_000_000_000


def block_frames(height: int, start: int, events: int) -> bytes:
    """The frames of block `height` from tx `start` on (-1: with the block frame)."""
    count = min(PER_BLOCK, events - (height - 1) * PER_BLOCK)
    frames: list[bytes] = []
    if start < 0:
        data = {"height": height, "timestamp_ms": GENESIS_MS + height * 100, "tx_count": count}
        frames.append(sse("block", str(height), {**data, "end_block_events": []}))
        start = 0
    for index in range(start, count):
        tx_hash = (height * PER_BLOCK + index).to_bytes(32, "big")
        transfer = Event(
            "coin.transfer",
            (("symbol", "IDR"), ("from", PAYER), ("to", MERCHANT), ("amount", 1 + index)),
        )
        receipt = Receipt(tx_hash, True, "ok", "", (transfer,))
        data = {
            "height": height,
            "index": index,
            "hash": tx_hash.hex(),
            "sender": address_to_text(PAYER),
            "method": "coin.transfer",
            "status": "committed",
            "receipt": receipt_json(receipt),
        }
        frames.append(sse("tx", f"{height}/{index}", data))
    return b"".join(frames)


class StandInStream:
    """`GET /v1/events` over `events` synthetic transfers, resumable by cursor."""

    def __init__(self, events: int) -> None:
        self.events = events
        self.blocks = -(-events // PER_BLOCK)
        self.port = free_base_port(1)
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()

    async def events_route(self, request: web.Request) -> web.StreamResponse:
        cursor = request.query.get("cursor", "0")
        height, index = parse_cursor(cursor)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        while height <= self.blocks:
            await response.write(block_frames(height, index, self.events))
            height, index = height + 1, -1
        while True:  # a chain that went idle
            await asyncio.sleep(15)
            await response.write(b": keepalive\n\n")

    async def status_route(self, request: web.Request) -> web.Response:
        return web.json_response({"height": self.blocks})

    def serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_get("/v1/events", self.events_route)
        app.router.add_get("/v1/status", self.status_route)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        self.loop.run_until_complete(runner.setup())
        self.loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self.ready.set()
        self.loop.run_forever()

    def start(self) -> None:
        threading.Thread(target=self.serve, daemon=True).start()
        if not self.ready.wait(10):
            raise RuntimeError("the stand-in stream did not start")


def proc_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for pid {pid}")


def db_mib(database: Path) -> tuple[float, float]:
    """Sizes in MiB of the database file and of its write-ahead log."""
    paths = [database, database.with_name(database.name + "-wal")]
    sizes = [path.stat().st_size / 2**20 if path.exists() else 0.0 for path in paths]
    return sizes[0], sizes[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--every", type=int, default=10_000, help="print a line this often")
    parser.add_argument("--limit-s", type=float, default=600, help="give up after this long")
    args = parser.parse_args()
    stream = StandInStream(args.events)
    stream.start()
    endpoint = WebhookEndpoint(new_secret(), keep_bodies=False)
    endpoint.start()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "webhooks.toml"
        config.write_text(
            relay_config(stream.url, endpoint, address_to_text(MERCHANT), "first_delay_s = 0.2")
        )
        relay = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "webhooks", "run", "--config", str(config)],
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            stderr=subprocess.DEVNULL,
        )
        database = Path(tmp) / "relay.sqlite"
        started = time.monotonic()
        try:
            print("deliveries  relay RSS  peak RSS  database  + WAL      events/s")
            last_count, last_at = 0, started
            for mark in range(args.every, args.events + 1, args.every):
                remaining = args.limit_s - (time.monotonic() - started)
                wait_until(lambda m=mark: len(endpoint.ids) >= m, remaining, f"{mark}", step=0.2)  # type: ignore[misc]
                now, count = time.monotonic(), len(endpoint.ids)
                rate = (count - last_count) / max(now - last_at, 1e-3)
                main_mib, wal_mib = db_mib(database)
                print(
                    f"{count:>10}  {proc_kib(relay.pid, 'VmRSS') / 1024:>6.1f} MB"
                    f"  {proc_kib(relay.pid, 'VmHWM') / 1024:>5.1f} MB"
                    f"  {main_mib:>5.1f} MB  {wal_mib:>5.1f} MB  {rate:>8.0f}",
                    flush=True,
                )
                last_count, last_at = count, now
        finally:
            relay.kill()
            relay.wait(10)
            endpoint.close()
        total_s = time.monotonic() - started
        print(
            f"{len(endpoint.ids)} events delivered in {total_s:.0f} s"
            f" ({len(endpoint.ids) / total_s:.0f}/s), bad signatures: {endpoint.bad_signatures}"
        )
        logged = subprocess.run(
            [sys.executable, "-m", "cli.main", "webhooks", "log", "--config", str(config)]
            + ["--limit", "1", "--json"],
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            capture_output=True,
            text=True,
            check=True,
        )
        print("newest log entry:", json.loads(logged.stdout)[0]["event_id"])


if __name__ == "__main__":
    main()
