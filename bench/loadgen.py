"""Load generator: a local network of real validators under a fixed offered rate.

    python bench/loadgen.py --validators 4 --rate 3000 --duration 60
    python bench/loadgen.py --validators 1 --rate 12000 --duration 30

What it does:
  1. measures this machine's Ed25519 verification rate (1 and 2 threads), so the
     result can be read as a fraction of what the CPU allows;
  2. writes a testnet (node.home.create_testnet) whose genesis funds --accounts
     accounts, and starts each validator as its own process (`cli.main node`);
  3. pre-signs every transfer and pre-encodes every request body, so the
     generator spends its time sending, not signing;
  4. submits batches to all nodes (POST /v1/txs/batch, each account always to the
     same node) on a fixed schedule that adds up to --rate tx/s;
  5. watches heights, reads each new block once, and matches its transactions to
     their submit times: committed tx/s and submit->commit latency p50/p99;
  6. reads each validator's CPU time and peak RSS from /proc/<pid>.

Latency includes the poll interval (--poll-ms) of the block watcher. Nothing here
is a test: it prints numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from ledger.hashing import TX  # noqa: E402
from ledger.keys import PrivateKey, address_to_text, verify  # noqa: E402
from ledger.tx import Transaction  # noqa: E402
from node.home import BlockLimits, MempoolLimits, create_testnet  # noqa: E402

SYMBOL = "LOAD"
CHAIN_ID = "pasar-bench"


def verify_rate(samples: int = 20_000) -> tuple[float, float]:
    """Ed25519 verifications per second with one thread and with two."""
    key = PrivateKey.from_seed(bytes(32))
    digest = hashlib.sha256(b"bench").digest()
    signature = key.sign(TX, CHAIN_ID, digest)
    check = (key.public_key, TX, CHAIN_ID, digest, signature)

    def run(count: int) -> int:
        for _ in range(count):
            verify(*check)
        return count

    start = time.perf_counter()
    run(samples)
    one = samples / (time.perf_counter() - start)
    with ThreadPoolExecutor(2) as pool:
        start = time.perf_counter()
        list(pool.map(run, [samples // 2, samples // 2]))
        two = samples / (time.perf_counter() - start)
    return one, two


def account_key(index: int) -> PrivateKey:
    return PrivateKey.from_seed(hashlib.sha256(b"loadgen-account-%d" % index).digest())


@dataclass
class Batch:
    node: int
    body: bytes
    hashes: list[bytes]
    sent_at: float = 0.0


@dataclass
class Stats:
    submitted: int = 0
    refused: int = 0
    throttled: int = 0
    errors: int = 0
    committed: int = 0
    latencies: list[float] = field(default_factory=list)
    first_commit: float | None = None
    last_commit: float | None = None
    blocks: int = 0


def presign(accounts: list[PrivateKey], total: int, nodes: int, batch_size: int) -> list[Batch]:
    """Every transfer, signed, grouped into request bodies, in send order."""
    per_node: list[list[tuple[bytes, str]]] = [[] for _ in range(nodes)]
    count = len(accounts)
    rounds = -(-total // count)
    made = 0
    for nonce in range(rounds):
        for index, key in enumerate(accounts):
            if made >= total:
                break
            to = accounts[(index + 1 + nonce) % count].public_key
            tx = Transaction(CHAIN_ID, key.public_key, nonce, "coin.transfer", (SYMBOL, to, 1))
            stx = tx.sign(key)
            per_node[index % nodes].append((stx.hash, stx.encode().hex()))
            made += 1
    batches: list[Batch] = []
    cursors = [0] * nodes
    node = 0
    while any(cursors[n] < len(per_node[n]) for n in range(nodes)):
        stream = per_node[node]
        chunk = stream[cursors[node] : cursors[node] + batch_size]
        cursors[node] += len(chunk)
        if chunk:
            body = json.dumps({"txs": [item[1] for item in chunk]}).encode()
            batches.append(Batch(node, body, [item[0] for item in chunk]))
        node = (node + 1) % nodes
    return batches


def proc_cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def proc_peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def wait_ready(session: aiohttp.ClientSession, urls: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for url in urls:
        while True:
            try:
                async with session.get(url + "/v1/status") as response:
                    status = await response.json()
                    if response.status == 200 and status["peers_connected"] >= len(urls) - 1:
                        break
            except (aiohttp.ClientError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up")
            await asyncio.sleep(0.2)


async def submitter(
    session: aiohttp.ClientSession,
    urls: list[str],
    batches: list[Batch],
    rate: float,
    sent: dict[bytes, float],
    stats: Stats,
) -> None:
    start = time.monotonic()
    offered = 0
    in_flight: set[asyncio.Task[None]] = set()

    async def post(batch: Batch) -> None:
        headers = {"Content-Type": "application/json"}
        for _attempt in range(50):
            batch.sent_at = time.monotonic()
            for tx_hash in batch.hashes:
                sent[tx_hash] = batch.sent_at
            try:
                async with session.post(
                    urls[batch.node] + "/v1/txs/batch", data=batch.body, headers=headers
                ) as response:
                    if response.status == 429:
                        stats.throttled += 1
                        await asyncio.sleep(0.2)
                        continue
                    answer = await response.json()
            except (aiohttp.ClientError, OSError):
                stats.errors += 1
                return
            results = answer.get("results", [])
            stats.submitted += sum(1 for r in results if r.get("accepted"))
            stats.refused += sum(1 for r in results if not r.get("accepted"))
            return

    for batch in batches:
        due = start + offered / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(post(batch))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
        offered += len(batch.hashes)
    await asyncio.gather(*in_flight)


async def watcher(
    session: aiohttp.ClientSession,
    urls: list[str],
    sent: dict[bytes, float],
    stats: Stats,
    expected: int,
    stop_at: float,
    poll: float,
) -> None:
    height = None
    while time.monotonic() < stop_at and stats.committed < expected:
        try:
            async with session.get(urls[0] + "/v1/status") as response:
                current = (await response.json())["height"]
        except (aiohttp.ClientError, OSError):
            await asyncio.sleep(poll)
            continue
        seen = time.monotonic()
        if height is None:
            height = current
        for next_height in range(height + 1, current + 1):
            url = urls[next_height % len(urls)] + f"/v1/blocks/{next_height}"
            async with session.get(url) as response:
                block = await response.json()
            stats.blocks += 1
            for item in block.get("transactions", []):
                submitted_at = sent.get(bytes.fromhex(item["hash"]))
                if submitted_at is None:
                    continue
                stats.committed += 1
                stats.latencies.append(seen - submitted_at)
                if stats.first_commit is None:
                    stats.first_commit = seen
                stats.last_commit = seen
        height = current
        await asyncio.sleep(poll)


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def run(args: argparse.Namespace) -> None:
    one, two = verify_rate()
    print(f"ed25519_verify_per_s 1_thread={one:,.0f} 2_threads={two:,.0f}")
    accounts = [account_key(i) for i in range(args.accounts)]
    total = int(args.rate * args.duration)
    batch_size = max(1, min(1000, int(args.rate / (10 * args.validators)) or 1))
    t0 = time.perf_counter()
    batches = presign(accounts, total, args.validators, batch_size)
    print(f"presigned {total:,} transfers in {time.perf_counter() - t0:.1f}s (batch={batch_size})")
    workdir = Path(tempfile.mkdtemp(prefix="pasar-loadgen-"))
    issuer = address_to_text(accounts[0].public_key)
    app_state = {
        "coin": [
            [[SYMBOL, "Load coin", 0, issuer, 10**15, "open"]],
            [[address_to_text(key.public_key), SYMBOL, 10**9] for key in accounts],
        ]
    }
    nodes = create_testnet(
        workdir,
        [f"v{i}" for i in range(args.validators)],
        base_port=args.base_port,
        chain_id=CHAIN_ID,
        app_state=app_state,
        insecure=True,
        block=BlockLimits(max_txs=args.max_block_txs, interval_ms=args.block_interval_ms),
        mempool=MempoolLimits(max_txs=200_000, max_bytes=256 * 1024 * 1024, max_per_sender=5_000),
    )
    processes = []
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for node in nodes:
        log = open(workdir / f"{node.name}.log", "wb")  # noqa: SIM115 - lives with the process
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "cli.main", "node", "--home", str(node.home)],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    urls = [node.rpc_url for node in nodes]
    stats = Stats()
    sent: dict[bytes, float] = {}
    try:
        connector = aiohttp.TCPConnector(limit=64)
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            await wait_ready(session, urls, 30)
            cpu_start = [proc_cpu_seconds(p.pid) for p in processes]
            start = time.monotonic()
            stop_at = start + args.duration + args.drain
            watch = asyncio.create_task(
                watcher(session, urls, sent, stats, total, stop_at, args.poll_ms / 1000)
            )
            await submitter(session, urls, batches, args.rate, sent, stats)
            submit_end = time.monotonic()
            await watch
            wall = time.monotonic() - start
            cpu = [
                (proc_cpu_seconds(p.pid) - c) / wall
                for p, c in zip(processes, cpu_start, strict=True)
            ]
            rss = [proc_peak_rss_mb(p.pid) for p in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    span = (stats.last_commit or start) - start
    committed_rate = stats.committed / span if span > 0 else 0.0
    print(
        f"validators={args.validators} offered_rate={args.rate:,.0f}/s duration={args.duration}s "
        f"submit_time={submit_end - start:.1f}s"
    )
    print(
        f"submitted={stats.submitted:,} refused={stats.refused:,} throttled_batches="
        f"{stats.throttled} errors={stats.errors} committed={stats.committed:,} "
        f"blocks={stats.blocks}"
    )
    print(f"committed_tx_per_s={committed_rate:,.0f} (first submit to last commit: {span:.1f}s)")
    print(
        f"latency_s p50={percentile(stats.latencies, 0.5):.3f} "
        f"p99={percentile(stats.latencies, 0.99):.3f} max={max(stats.latencies, default=0):.3f}"
    )
    for node, share, peak in zip(nodes, cpu, rss, strict=True):
        print(f"node={node.name} cpu={share * 100:.0f}% peak_rss_mb={peak:.0f}")
    fraction = committed_rate * args.validators / two
    print(f"verify_budget_fraction={fraction:.2f} (committed tx/s x nodes / 2-thread verify rate)")
    if args.keep:
        print(f"homes and logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--validators", type=int, default=4)
    parser.add_argument("--rate", type=float, default=3000.0, help="offered tx/s in total")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of submission")
    parser.add_argument("--drain", type=float, default=15.0, help="seconds to wait for commits")
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--base-port", type=int, default=27600)
    parser.add_argument("--block-interval-ms", type=int, default=100)
    parser.add_argument("--max-block-txs", type=int, default=2000)
    parser.add_argument("--poll-ms", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep homes and logs")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
