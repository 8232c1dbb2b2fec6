"""Idle validators: how much CPU each uses a second with nothing to do.

    python bench/idle_cpu.py [--validators 4] [--seconds 10] [--settle 5] [--no-front]

Starts a fresh local network the way bench/loadgen.py does (its genesis, its
ports), waits until every validator is up and linked to the others, lets them
settle, then reads each node process's CPU time, and its RPC front's, from /proc
over `--seconds` with no transaction sent. An idle chain makes no blocks; what is
left is the node's periodic work (the event loop's lag probe, which also tells the
front the room, the height told to peers every second, timers), and it is paid
however long the chain waits. Prints one line per validator and the mean, in
milliseconds of CPU per second. Numbers only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from bench.loadgen import (  # noqa: E402
    account_key,
    front_cpu_seconds,
    proc_cpu_seconds,
    remove_workdir,
    start_network,
    stop_network,
    transfer_app_state,
    wait_ready,
)


async def ready(urls: list[str]) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        await wait_ready(session, urls, 60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--validators", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0, help="how long CPU is read")
    parser.add_argument("--settle", type=float, default=5.0, help="wait this long first")
    parser.add_argument("--base-port", type=int, default=27600)
    parser.add_argument("--no-front", action="store_true", help="[rpc] front = false")
    args = parser.parse_args()
    if args.validators < 1 or args.seconds <= 0 or args.settle < 0:
        sys.exit("--validators must be at least 1, --seconds positive, --settle not negative")
    network = SimpleNamespace(
        validators=args.validators,
        base_port=args.base_port,
        max_block_txs=2_000,
        block_interval_ms=200,
        no_front=args.no_front,
    )
    accounts = [account_key(i) for i in range(8)]
    workdir, nodes, processes = start_network(network, transfer_app_state(accounts), None)  # type: ignore[arg-type]
    try:
        asyncio.run(ready([node.rpc_url for node in nodes]))
        time.sleep(args.settle)
        pids = [process.pid for process in processes]
        before = [(proc_cpu_seconds(pid), front_cpu_seconds(pid)) for pid in pids]
        started = time.monotonic()
        time.sleep(args.seconds)
        after = [(proc_cpu_seconds(pid), front_cpu_seconds(pid)) for pid in pids]
        elapsed = time.monotonic() - started
    finally:
        stop_network(processes)
        remove_workdir(workdir)
    node_ms = []
    for node, (node_a, front_a), (node_b, front_b) in zip(nodes, before, after, strict=True):
        node_ms.append((node_b - node_a) / elapsed * 1000)
        front = (front_b - front_a) / elapsed * 1000
        print(f"{node.name}: node {node_ms[-1]:.1f} ms/s, front {front:.1f} ms/s")
    print(f"mean node CPU while idle: {sum(node_ms) / len(node_ms):.1f} ms/s per validator")


if __name__ == "__main__":
    main()
