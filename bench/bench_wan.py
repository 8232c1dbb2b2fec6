"""WAN bench: 4 validators whose peer links pay a fixed round trip, under a fixed offered rate.

    python bench/bench_wan.py --rtt-ms 50 150 --rate 300 --duration 30

Every peer link goes through the loopback fault proxy (tests/faults/proxy.py) with
a one-way delay of rtt/2 (±10% jitter) on each direction, so a message and its
answer between two validators cost one round trip. Clients reach the nodes
directly. The load is `bench/loadgen.py`'s: pre-signed transfers in batches on a
fixed schedule, and a block watcher that matches committed transactions to their
submit times (a commit dates from the answer to its block's long-poll). The
proxies run in this process, next to the load generator, on a machine shared with
the validators: the load average is printed with each result. Nothing here is a
test: it prints numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from bench.loadgen import (  # noqa: E402
    CHAIN_ID,
    SYMBOL,
    Stats,
    account_key,
    percentile,
    presign,
    remove_workdir,
    start_nodes,
    stop_network,
    submitter,
    wait_ready,
    watcher,
)
from ledger.keys import address_to_text  # noqa: E402
from node.home import BlockLimits, MempoolLimits, create_testnet  # noqa: E402
from tests.faults.proxy import FaultNet  # noqa: E402
from tests.integration.harness import free_base_port, route_peers  # noqa: E402

VALIDATORS = 4


async def load(urls: list[str], args: argparse.Namespace, stats: Stats) -> float:
    """Offer the load, wait for commits; the seconds from first submit to last commit."""
    accounts = [account_key(i) for i in range(args.accounts)]
    total = int(args.rate * args.duration)
    batch_size = max(1, int(args.rate / (10 * VALIDATORS)))
    batches = presign(accounts, total, VALIDATORS, batch_size)
    sent: dict[bytes, float] = {}
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await wait_ready(session, urls, 60)
        start = time.monotonic()
        stop_at = start + args.duration + args.drain
        watch = asyncio.create_task(watcher(session, urls, sent, stats, total, stop_at))
        await submitter(session, urls, batches, args.rate, sent, stats)
        await watch
    return (stats.last_commit or start) - start


def run_one(rtt_ms: int, args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix=f"pasar-wan-{rtt_ms}-"))
    accounts = [account_key(i) for i in range(args.accounts)]
    issuer = address_to_text(accounts[0].public_key)
    nodes = create_testnet(
        workdir,
        [f"v{i}" for i in range(VALIDATORS)],
        base_port=free_base_port(2 * VALIDATORS),
        chain_id=CHAIN_ID,
        app_state={
            "coin": [
                [[SYMBOL, "Load coin", 0, issuer, 10**15, "open"]],
                [[address_to_text(key.public_key), SYMBOL, 10**9] for key in accounts],
            ]
        },
        insecure=True,
        block=BlockLimits(max_txs=2_000, interval_ms=args.block_interval_ms),
        mempool=MempoolLimits(max_txs=200_000, max_bytes=256 * 1024 * 1024, max_per_sender=5_000),
        view_timeout_ms=args.view_timeout_ms,
    )
    proxies = FaultNet([int(node.p2p_url.rsplit(":", 1)[1]) for node in nodes], seed=rtt_ms)
    proxies.set_latency(rtt_ms / 2, rtt_ms / 20)
    route_peers(nodes, proxies.url)
    stats = Stats()
    processes = start_nodes(workdir, nodes)
    try:
        span = asyncio.run(load([node.rpc_url for node in nodes], args, stats))
    finally:
        stop_network(processes)
        proxies.close()
        if not args.keep:
            remove_workdir(workdir)
    rate = stats.committed / span if span > 0 else 0.0
    load1, load5, _ = os.getloadavg()
    print(
        f"rtt_ms={rtt_ms} offered={args.rate:,.0f}/s duration={args.duration}s "
        f"submitted={stats.submitted:,} refused={stats.refused} committed={stats.committed:,} "
        f"blocks={stats.blocks} committed_tx_per_s={rate:,.0f} "
        f"latency_s p50={percentile(stats.latencies, 0.5):.3f} "
        f"p99={percentile(stats.latencies, 0.99):.3f} loadavg={load1:.1f}/{load5:.1f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rtt-ms", type=int, nargs="+", default=[50, 150])
    parser.add_argument("--rate", type=float, default=300.0, help="offered tx/s in total")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of submission")
    parser.add_argument("--drain", type=float, default=10.0, help="seconds to wait for commits")
    parser.add_argument("--accounts", type=int, default=400)
    parser.add_argument("--block-interval-ms", type=int, default=100)
    parser.add_argument("--view-timeout-ms", type=int, default=2_000)
    parser.add_argument("--keep", action="store_true", help="keep homes and logs")
    args = parser.parse_args()
    for rtt_ms in args.rtt_ms:
        run_one(rtt_ms, args)


if __name__ == "__main__":
    main()
