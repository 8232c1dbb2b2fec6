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
  5. watches heights, reads each new block once (`?transactions=summary`:
     hashes and results, not whole blocks), and matches its transactions to
     their submit times: committed tx/s and submit->commit latency p50/p99;
  6. reads each validator's CPU time and peak RSS from /proc/<pid>.

A commit's time is when the node answered the generator's long-poll for that
block (`GET /v1/blocks/{height}?wait=`): nothing polls. Nothing here is a test: it
prints numbers.

Overload mode (`--ladder`): one network, a ladder of offered rates, each held for
--duration seconds, with the node's own admission limits (not the raised caps of
the single-rate mode):

    python bench/loadgen.py --validators 4 --ladder 500,1500,3000 --duration 30

The client behaves like a polite one: accounts are split into lanes (8 per
node, `--lanes`; each always sending to the same node, one request in flight, carrying
all the lane has been offered up to LANE_REQUEST_MAX transactions); a 429
(whole request, or single items refused as `mempool_full` /
`sender_backlog_full`) holds the lane back for the time the node gave (its
`Retry-After-Ms`, or the batch answer's `retry_after_ms` for refused items; the
whole-second `Retry-After` from a node without them) times a factor drawn from [1, 1.5) for each
refusal (`--retry-jitter`), as clients that back off with jitter do (lanes that
waited exactly the whole second the node gave all came back at the same instant,
one burst every second), and then the refused transaction and
everything after it are sent again in order, so an account's nonces reach the
node gapless. Per rate it
prints committed/offered, p50/p99 submit->commit of admitted transactions (from
their admitted attempt), the number of 429s, view changes (sum over validators,
from /metrics), CPU microseconds per committed transaction per validator and RSS
(from /proc of the node processes; also split into the nodes' own memory and
mapped files), the time the validators spent in garbage collections per second
of the rate (mean over validators) and the longest collection of each generation
any of them had since it started serving (`pasar_gc_*`), then waits
for the backlog to drain and reports whether the chain stays idle (no new
height, no view change) for 10 s.
A separate process (bench/refusal_probe.py, `--probe-hz`) times the nodes'
answers to submissions that add no load, without the generator's own lag.
It also says where the offered load went (admitted, refused, still unsent in the
lanes, time spent waiting out Retry-After) and the generator's own CPU per
transaction offered.

Commerce mix (`--mix`, ladder mode): the ladder with plain transfers, then on a
fresh network with payments, invoices paid with a swap, escrowed orders (order,
ship, confirm) and multi-key transfers (bench/loadmix.py); the same columns for
each, plus the count of committed transactions whose result failed.

    python bench/loadgen.py --validators 4 --ladder 500,1500,3000 --duration 30 --mix

(`--commerce-only`: the commerce ladder alone.)

`--gc interpreter` runs the validators with the interpreter's garbage collector
settings instead of config.toml's default tuning (node/gc_tuning.py), to compare.

The single-rate mode also prints the generator's own CPU per transaction sent and
the rate one generator process could offer at that cost.

Profile (`--profile`, ladder mode): py-spy (`pip install py-spy`) records one
validator (`--profile-node`, default v1: v0 also serves the generator's block
reads) during each rate, and the samples are sorted into a CPU breakdown per
transaction (signature, decode, execution, consensus, storage, network, RPC;
bench/cpu_breakdown.py). py-spy needs ptrace rights over the node (root, or
kernel.yama.ptrace_scope=0).

    python bench/loadgen.py --validators 4 --ladder 1500 --duration 20 --profile

`--perf` (ladder mode) records the same validator with Linux perf (`perf record`,
Debian's `linux-perf`; kernel.perf_event_paranoid at 2 or below lets root or the
node's owner record it) and prints its CPU per transaction by native library:
the interpreter, libsodium, the kernel, the C library, LevelDB, OpenSSL, msgpack.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from bench import loop_account  # noqa: E402
from bench.cpu_breakdown import (  # noqa: E402
    IDLE,
    breakdown,
    perf_report,
    read_perf_dso,
    read_raw,
    render,
    render_libraries,
    render_threads,
    thread_cpu,
    thread_names,
)
from bench.loadmix import CommerceMix  # noqa: E402
from bench.refusal_probe import percentile  # noqa: E402
from cli.client import retry_after_of  # noqa: E402
from cli.submission import RETRY_JITTER  # noqa: E402
from ledger.hashing import TX  # noqa: E402
from ledger.keys import PrivateKey, address_to_text, verify  # noqa: E402
from ledger.tx import Transaction  # noqa: E402
from node.home import (  # noqa: E402
    CONFIG_FILE,
    BlockLimits,
    GcSettings,
    MempoolLimits,
    config_to_toml,
    create_testnet,
    load_home,
)
from node.memory_metrics import read_status  # noqa: E402

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
    per_node = presign_streams(accounts, total, nodes)
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


def child_pids(pid: int) -> list[int]:
    """The processes `pid` started that still run (a validator's RPC front)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.extend(int(part) for part in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def front_cpu_seconds(pid: int) -> float:
    """CPU time of the validator's RPC front process (node/rpc_front.py), 0 without one."""
    total = 0.0
    for child in child_pids(pid):
        with contextlib.suppress(OSError):
            total += proc_cpu_seconds(child)
    return total


def validator_cpu_seconds(pid: int) -> float:
    """A validator's CPU time: the node process and its RPC front."""
    return proc_cpu_seconds(pid) + front_cpu_seconds(pid)


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
) -> None:
    """Follow the blocks of the first node until `expected` of ours committed or
    `stop_at`: per committed transaction of ours, its latency from its submission."""
    stop = asyncio.Event()

    def on_block(block: dict[str, Any], seen: float) -> None:
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
        if stats.committed >= expected:
            stop.set()

    first = (await heights(session, urls[:1]))[0][0]
    follower = asyncio.create_task(follow_blocks(session, urls[0], first, stop, on_block))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), max(0.0, stop_at - time.monotonic()))
    stop.set()
    await follower


# Each transaction as hash, sender, nonce, method and result only: what matching
# submissions to commits needs, without making the node render whole blocks.
SUMMARY = "?transactions=summary"
# How long one request for the next block waits at the node (GET /v1/blocks/{h}?wait=)
# before it is asked again; also how long the follower may take to notice its stop.
FOLLOW_WAIT_S = 1.0


async def follow_blocks(
    session: aiohttp.ClientSession,
    url: str,
    after: int,
    stop: asyncio.Event,
    on_block: Callable[[dict[str, Any], float], None],
) -> None:
    """Call `on_block(summary, seen)` for every block after height `after`, in height
    order, until `stop` is set. Each height is long-polled (the node answers as the
    block commits), and `seen` is when that answer began: the next height is asked
    for at once, while the previous block's body is still being read, so a slow read
    of a large block does not delay the next commit's time. Nothing is polled."""
    height = after + 1
    previous: asyncio.Task[None] | None = None

    async def deliver(
        response: aiohttp.ClientResponse, seen: float, before: asyncio.Task[None] | None
    ) -> None:
        async with response:
            block = await response.json()
        if before is not None:
            await before
        on_block(block, seen)

    while not stop.is_set():
        try:
            response = await session.get(f"{url}/v1/blocks/{height}{SUMMARY}&wait={FOLLOW_WAIT_S}")
        except (aiohttp.ClientError, OSError):
            await asyncio.sleep(0.05)
            continue
        seen = time.monotonic()
        if response.status != 200:  # 404: not committed within the wait; ask again
            response.release()
            if response.status != 404:
                await asyncio.sleep(0.05)
            continue
        previous = asyncio.create_task(deliver(response, seen, previous))
        height += 1
    if previous is not None:
        await previous


def proc_rss_mb(pid: int, field: str = "VmRSS") -> float:
    """A memory line of /proc/PID/status in MB: `VmRSS` (all resident memory), `VmHWM`
    (its peak), `RssAnon` (the process's own memory) or `RssFile` (mapped files:
    LevelDB's table pages, clean page cache the kernel takes back under pressure;
    docs/node.md, Performance); 0 when the line is absent."""
    return read_status(Path(f"/proc/{pid}/status")).get(field, 0) / (1024 * 1024)


BACKPRESSURE = ("mempool_full", "sender_backlog_full")


@dataclass
class Point:
    """What one rung of the ladder measured."""

    offered: int = 0
    admitted: int = 0
    throttled: int = 0  # 429 answers and items refused for backpressure
    refused: int = 0  # refused for good (other codes)
    errors: int = 0
    committed: int = 0
    rejected: int = 0  # committed with a failed result (e.g. a shipment before its order)
    unsent: int = 0  # offered, still in a lane's outbox when the rate ended
    requests: int = 0  # batch requests sent
    request_s: float = 0.0  # summed over requests: time to the node's answer
    # each request's answer time: refused whole (429), and answered item by item
    refused_answers: list[float] = field(default_factory=list)
    item_answers: list[float] = field(default_factory=list)
    answered_at: dict[bytes, float] = field(default_factory=dict)  # admitted: answer's arrival
    after_answer: list[float] = field(default_factory=list)  # admitted: answer -> commit
    backoff_s: float = 0.0  # summed over lanes: time spent waiting out Retry-After
    # how late the generator's own event loop ran a timer due every LAG_PROBE_S: its
    # timings (answers, commits) are late by as much when it waits for a core
    lags: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)


LANES_PER_NODE = 8


@dataclass
class Lane:
    """One ordered submission lane: a fixed set of accounts, all sent to one node.

    A lane has one request in flight and retries what the node refused for
    backpressure before anything newer, so each account's nonces reach the node in
    order, as a client that waits for its 429 would send them. (Concurrent batches
    for the same accounts let a later nonce in while an earlier one waited for its
    retry: the node then held transactions no block could take.)"""

    url: str
    stream: list[tuple[bytes, str]]
    cursor: int = 0
    outbox: list[tuple[bytes, str]] = field(default_factory=list)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    followups: bool = False  # fed by commits (escrow steps), not by the schedule
    # a refused lane waits Retry-After × (1 + up to this fraction), drawn per refusal:
    # clients that all came back at the same instant would arrive as one burst
    retry_jitter: float = 0.0
    rng: random.Random = field(default_factory=random.Random)

    def send(self, item: tuple[bytes, str]) -> None:
        self.outbox.append(item)
        self.wake.set()

    def offer(self, count: int) -> int:
        chunk = self.stream[self.cursor : self.cursor + count]
        self.cursor += len(chunk)
        self.outbox.extend(chunk)
        self.wake.set()
        return len(chunk)


# The most one lane request carries. A lane sends all it has been offered up to this
# (not one scheduled batch): after a Retry-After, or an answer slower than the
# schedule, its outbox holds more than one batch, and sending one batch per round
# trip would leave it behind for good, its load offered but never sent (the node
# then sees less than the schedule, without refusing anything).
LANE_REQUEST_MAX = 500


async def run_lane(
    session: aiohttp.ClientSession,
    lane: Lane,
    sent: dict[bytes, float],
    point: Point,
    give_up_at: float,
) -> None:
    """Send the lane's outbox in order until `give_up_at`; what is left is not admitted."""
    headers = {"Content-Type": "application/json"}
    while time.monotonic() < give_up_at:
        if not lane.outbox:
            lane.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lane.wake.wait(), max(0.0, give_up_at - time.monotonic()))
            continue
        items = lane.outbox[:LANE_REQUEST_MAX]
        body = json.dumps({"txs": [item[1] for item in items]}).encode()
        at = time.monotonic()
        retry = 0.0
        try:
            async with session.post(
                lane.url + "/v1/txs/batch", data=body, headers=headers
            ) as response:
                if response.status == 429:
                    point.throttled += 1
                    found = retry_after_of(response.headers)
                    retry = 1.0 if found is None else found
                    answer = None
                else:
                    answer = await response.json()
        except (aiohttp.ClientError, OSError, ValueError):
            point.errors += 1
            await asyncio.sleep(0.2)
            continue
        point.requests += 1
        answered = time.monotonic() - at
        point.request_s += answered
        (point.item_answers if answer is not None else point.refused_answers).append(answered)
        if answer is not None:
            done = 0
            for item, result in zip(items, answer.get("results", []), strict=False):
                if result.get("code") in BACKPRESSURE:
                    point.throttled += 1
                    # the answer says when, as a 429's Retry-After-Ms would
                    retry = max(retry, answer.get("retry_after_ms", 1000) / 1000)
                    break  # this one and everything after it wait, in order
                done += 1
                if result.get("code") == "accepted":
                    sent.setdefault(item[0], at)
                    point.answered_at.setdefault(item[0], at + answered)
                    point.admitted += 1
                elif not result.get("accepted"):
                    point.refused += 1
            del lane.outbox[:done]
        if retry:
            spread = lane.rng.uniform(1.0, 1.0 + lane.retry_jitter)
            wait = min(retry * spread, max(0.0, give_up_at - time.monotonic()))
            point.backoff_s += wait
            await asyncio.sleep(wait)


async def metrics_texts(session: aiohttp.ClientSession, urls: list[str]) -> list[str]:
    """Each reachable node's /metrics page (a node that does not answer is left out)."""
    texts = []
    for url in urls:
        try:
            async with session.get(url + "/metrics") as response:
                texts.append(await response.text())
        except (aiohttp.ClientError, OSError):
            continue
    return texts


async def metric_sum(session: aiohttp.ClientSession, urls: list[str], name: str) -> float:
    """The sum over nodes of one Prometheus sample (e.g. pasar_view_changes_total)."""
    total = 0.0
    for text in await metrics_texts(session, urls):
        for line in text.splitlines():
            if line.startswith(name + " "):
                total += float(line.split()[1])
    return total


async def view_change_causes(session: aiohttp.ClientSession, urls: list[str]) -> dict[str, float]:
    """Per cause, the sum over nodes of pasar_view_change_causes_total."""
    found: dict[str, float] = {}
    prefix = 'pasar_view_change_causes_total{cause="'
    for text in await metrics_texts(session, urls):
        for line in text.splitlines():
            if line.startswith(prefix):
                cause = line[len(prefix) :].split('"', 1)[0]
                found[cause] = found.get(cause, 0.0) + float(line.split()[-1])
    return found


async def gc_figures(
    session: aiohttp.ClientSession, urls: list[str]
) -> tuple[float, list[float], list[float]]:
    """Seconds inside garbage collections (sum over nodes and generations), the
    longest collection of each generation any node has had since it started, and
    the collections of each generation (sum over nodes) (pasar_gc_*)."""
    seconds, longest, counts = 0.0, [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]
    for text in await metrics_texts(session, urls):
        for line in text.splitlines():
            if line.startswith("pasar_gc_seconds_total{"):
                seconds += float(line.split()[-1])
            elif line.startswith("pasar_gc_pause_max_seconds{"):
                generation = int(line.split('generation="', 1)[1][0])
                longest[generation] = max(longest[generation], float(line.split()[-1]))
            elif line.startswith("pasar_gc_collections_total{"):
                generation = int(line.split('generation="', 1)[1][0])
                counts[generation] += float(line.split()[-1])
    return seconds, longest, counts


async def heights(session: aiohttp.ClientSession, urls: list[str]) -> list[tuple[int, int]]:
    """(height, mempool size) per node."""
    found = []
    for url in urls:
        async with session.get(url + "/v1/status") as response:
            status = await response.json()
        found.append((int(status["height"]), int(status["mempool_size"])))
    return found


async def run_point(
    session: aiohttp.ClientSession,
    urls: list[str],
    lanes: list[Lane],
    rate: float,
    duration: float,
    batch_size: int,
    mix: CommerceMix | None = None,
    report_every: float = 0.0,
) -> tuple[Point, float]:
    """Offer `rate` tx/s for `duration` s, spread over the lanes in turn; returns the
    point and the seconds it ran (submission plus the commit watch). With a commerce
    mix, what a commit calls for (a shipment, a confirm) is offered too and counts."""
    point = Point()
    scheduled = [lane for lane in lanes if not lane.followups]
    followup_lanes = [lane for lane in lanes if lane.followups]
    sent: dict[bytes, float] = {}
    start = time.monotonic()
    give_up_at = start + duration
    stop_watch = asyncio.Event()

    def on_block(block: dict[str, Any], seen: float) -> None:
        for item in block.get("transactions", []):
            tx_hash = bytes.fromhex(item["hash"])
            admitted_at = sent.get(tx_hash)
            if admitted_at is not None:
                point.committed += 1
                point.latencies.append(seen - admitted_at)
                answered_at = point.answered_at.get(tx_hash, admitted_at)
                point.after_answer.append(seen - answered_at)
                if not item.get("ok", True):
                    point.rejected += 1
            if mix is not None:
                follow = mix.committed(tx_hash)
                if follow is not None:
                    followup_lanes[follow[0] % len(followup_lanes)].send(follow[1])
                    point.offered += 1

    first_height = (await heights(session, urls[:1]))[0][0]
    watcher_task = asyncio.create_task(
        follow_blocks(session, urls[0], first_height, stop_watch, on_block)
    )
    lag_probe = asyncio.create_task(probe_lag(point, stop_watch))
    reporter = (
        asyncio.create_task(report_intervals(session, urls, lanes, point, report_every, stop_watch))
        if report_every > 0
        else None
    )
    senders = [
        asyncio.create_task(run_lane(session, lane, sent, point, give_up_at)) for lane in lanes
    ]
    turn = 0
    while time.monotonic() < give_up_at:
        due = start + point.offered / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        offered = scheduled[turn].offer(batch_size)
        turn = (turn + 1) % len(scheduled)
        if not offered and all(lane.cursor >= len(lane.stream) for lane in scheduled):
            break
        point.offered += offered
    await asyncio.gather(*senders)
    point.unsent = sum(len(lane.outbox) for lane in lanes)
    for lane in scheduled:
        # offered, never sent: the next rate sends them first (skipping them would
        # leave later nonces of these accounts behind a gap for good); follow-up
        # lanes simply keep their outbox for the next rate
        lane.cursor -= len(lane.outbox)
        lane.outbox.clear()
    # Everything admitted gets until twice the duration to commit (p99 counts it).
    deadline = start + 2 * duration
    while point.committed < point.admitted and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    stop_watch.set()
    await lag_probe
    if reporter is not None:
        await reporter
    await watcher_task
    return point, time.monotonic() - start


LAG_PROBE_S = 0.05


async def probe_lag(point: Point, stop: asyncio.Event) -> None:
    """Sample the generator's own event loop lag into `point.lags` until `stop`."""
    while not stop.is_set():
        due = time.monotonic() + LAG_PROBE_S
        await asyncio.sleep(LAG_PROBE_S)
        point.lags.append(max(0.0, time.monotonic() - due))


# What the interval report shows per validator: (column, metric) from /metrics
NODE_COLUMNS = (
    ("pool", "pasar_mempool_size"),
    ("limit", "pasar_mempool_admit_limit"),
    ("local", "pasar_mempool_local"),
    ("local_limit", "pasar_mempool_local_limit"),
    ("rate", "pasar_mempool_committed_rate"),
    ("full_pct", "pasar_mempool_full_percent"),
    ("overloaded", "pasar_mempool_overloaded"),
    ("intake", "pasar_gossip_intake"),
    ("dropped", "pasar_gossip_dropped_total"),
    ("oldest_s", "pasar_mempool_oldest_seconds"),
    ("gap", "pasar_mempool_behind_gap"),
    ("evicted", "pasar_mempool_evicted_total"),
    ("lag_max_s", "pasar_event_loop_lag_max_seconds"),
    ("views", "pasar_view_changes_total"),
)


def unlabelled_samples(text: str) -> dict[str, float]:
    """name -> value of the samples without labels on one /metrics page."""
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, _, value = line.partition(" ")
            with contextlib.suppress(ValueError):
                found[name] = float(value)
    return found


async def report_intervals(
    session: aiohttp.ClientSession,
    urls: list[str],
    lanes: list[Lane],
    point: Point,
    every: float,
    stop: asyncio.Event,
) -> None:
    """Every `every` seconds until `stop`: one row for the generator (what it offered,
    got admitted, saw committed and was refused in the interval, what waits in its
    lanes, the p99 answer time of 429s) and one per validator (its mempool, admit
    limit, local share, measured rate, how long the pool was full and whether the
    overload floor applies, gossip intake and drops, oldest pending
    transaction, transactions behind a nonce gap, evictions, view changes); a metric
    the node does not export shows as '-'."""
    start = time.monotonic()
    last = (point.offered, point.admitted, point.committed, point.throttled)
    refused_seen = 0
    lags_seen = 0
    print(
        "  interval: t_s offered/s admitted/s committed/s 429s/s unsent 429_p99_ms "
        "generator_lag_max_ms | per node: " + " ".join(column for column, _ in NODE_COLUMNS),
        flush=True,
    )
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
        now = (point.offered, point.admitted, point.committed, point.throttled)
        rates = " ".join(f"{(b - a) / every:,.0f}" for a, b in zip(last, now, strict=True))
        last = now
        refused = point.refused_answers[refused_seen:]
        refused_seen += len(refused)
        lags = point.lags[lags_seen:]
        lags_seen += len(lags)
        unsent = sum(len(lane.outbox) for lane in lanes)
        rows = []
        for index, text in enumerate(await metrics_texts(session, urls)):
            samples = unlabelled_samples(text)
            values = []
            for _, name in NODE_COLUMNS:
                value = samples.get(name)
                values.append("-" if value is None else f"{value:g}")
            rows.append(f"v{index} " + " ".join(values))
        print(
            f"  interval: {time.monotonic() - start:.0f} {rates} {unsent:,} "
            f"{percentile(refused, 0.99) * 1000:.0f} {max(lags, default=0) * 1000:.0f} | "
            + " | ".join(rows),
            flush=True,
        )


async def stays_idle(
    session: aiohttp.ClientSession, urls: list[str], seconds: float
) -> tuple[bool, str]:
    """After a drain (mempools empty, bounded): no new height, no view change."""
    drain_until = time.monotonic() + 60
    while time.monotonic() < drain_until:
        if all(size == 0 for _, size in await heights(session, urls)):
            break
        await asyncio.sleep(0.5)
    before = [h for h, _ in await heights(session, urls)]
    changes = await metric_sum(session, urls, "pasar_view_changes_total")
    await asyncio.sleep(seconds)
    after = [h for h, _ in await heights(session, urls)]
    changes_after = await metric_sum(session, urls, "pasar_view_changes_total")
    idle = before == after and changes_after == changes
    return idle, f"heights {before}->{after} view_changes +{changes_after - changes:.0f}"


def transfer_app_state(accounts: list[PrivateKey]) -> dict[str, Any]:
    issuer = address_to_text(accounts[0].public_key)
    return {
        "coin": [
            [[SYMBOL, "Load coin", 0, issuer, 10**15, "open"]],
            [[address_to_text(key.public_key), SYMBOL, 10**9] for key in accounts],
        ]
    }


def start_network(
    args: argparse.Namespace, app_state: dict[str, Any], mempool: MempoolLimits | None
) -> tuple[Path, list[Any], list[subprocess.Popen[bytes]]]:
    workdir = Path(tempfile.mkdtemp(prefix="pasar-loadgen-"))
    nodes = create_testnet(
        workdir,
        [f"v{i}" for i in range(args.validators)],
        base_port=args.base_port,
        chain_id=CHAIN_ID,
        app_state=app_state,
        insecure=True,
        block=BlockLimits(max_txs=args.max_block_txs, interval_ms=args.block_interval_ms),
        mempool=mempool,
    )
    interpreter_gc = getattr(args, "gc", "config") == "interpreter"
    no_front = getattr(args, "no_front", False)
    if interpreter_gc or no_front:
        for node in nodes:
            config = load_home(node.home).config
            if interpreter_gc:  # the interpreter's collector settings (config.toml [gc])
                config = replace(config, gc=GcSettings(gen0_threshold=0, freeze=False))
            if no_front:  # the node answers its RPC port itself ([rpc] front = false)
                config = replace(config, rpc_front=False)
            (node.home / CONFIG_FILE).write_text(config_to_toml(config))
    accounted = args.profile_node if getattr(args, "loop_account", False) else None
    return workdir, nodes, start_nodes(workdir, nodes, getattr(args, "node_nice", 0), accounted)


def loop_account_file(workdir: Path, index: int) -> Path:
    """Where the validator `index` run under bench/loop_account.py writes its totals."""
    return workdir / f"loop-v{index}.json"


def start_nodes(
    workdir: Path, nodes: list[Any], nice: int = 0, accounted: int | None = None
) -> list[subprocess.Popen[bytes]]:
    """One `pasar node` process per home, each logging to `<workdir>/<name>.log`;
    `nice` > 0 runs them at that much lower CPU priority than the generator, and the
    node at index `accounted` runs with its event loop's CPU counted per task
    (bench/loop_account.py, into `loop_account_file`)."""
    processes = []
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for index, node in enumerate(nodes):
        log = open(workdir / f"{node.name}.log", "wb")  # noqa: SIM115 - lives with the process
        wrapper = (
            ["-m", "bench.loop_account", str(loop_account_file(workdir, index))]
            if index == accounted
            else []
        )
        processes.append(
            subprocess.Popen(
                [*(["nice", "-n", str(nice)] if nice > 0 else [])]
                + [sys.executable, *wrapper, "-m", "cli.main", "node", "--home", str(node.home)],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    return processes


def start_profile(
    args: argparse.Namespace, workdir: Path, processes: list[subprocess.Popen[bytes]], rate: float
) -> tuple[subprocess.Popen[bytes], Path] | None:
    """py-spy sampling one validator for this rate's submission time (or None)."""
    if not args.profile:
        return None
    spy = shutil.which("py-spy")
    if spy is None:
        sys.exit("--profile needs py-spy on PATH (pip install py-spy)")
    out = workdir / f"profile-{rate:.0f}.txt"
    command = [spy, "record", "--format", "raw", "--nonblocking", "--rate", "100"]
    command += ["--duration", str(int(args.duration)), "--output", str(out)]
    command += ["--pid", str(processes[args.profile_node].pid)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return process, out


def finish_profile(spy: tuple[subprocess.Popen[bytes], Path], cpu_us_per_tx: float) -> None:
    process, out = spy
    try:
        _, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    if not out.exists():
        print(f"py-spy wrote no profile: {err.decode(errors='replace').strip()[-300:]}")
        return
    counts = read_raw(out)
    busy = sum(count for bucket, count in counts.items() if bucket != IDLE)
    print(render(breakdown(counts, cpu_us_per_tx), busy), flush=True)
    print(f"(raw stacks: {out}; --keep keeps them)")


# perf follows the threads a process has when it attaches, not the ones started
# after: the node starts its signature threads on first use, so perf attaches a few
# seconds into the rate, once they run.
PERF_DELAY_S = 5.0


class PerfRecording:
    """Linux perf recording one process for most of a rate's submission time."""

    def __init__(self, pid: int, out: Path, seconds: float) -> None:
        self.out = out
        self.process: subprocess.Popen[bytes] | None = None
        delay = min(PERF_DELAY_S, seconds / 4)
        command = ["perf", "record", "-F", "499", "-o", str(out), "-p", str(pid)]
        command += ["--", "sleep", f"{max(1.0, seconds - delay):.0f}"]
        self.timer = threading.Timer(delay, self._start, (command,))
        self.timer.start()

    def _start(self, command: list[str]) -> None:
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def finish(self, cpu_us_per_tx: float) -> None:
        self.timer.join()
        err = b""
        if self.process is not None:
            try:
                _, err = self.process.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                _, err = self.process.communicate()
        report = perf_report(self.out) if self.out.exists() else ""
        if not report:
            print(f"perf recorded nothing: {err.decode(errors='replace').strip()[-300:]}")
            return
        print(render_libraries(read_perf_dso(report), cpu_us_per_tx), flush=True)


def start_perf(
    args: argparse.Namespace, workdir: Path, processes: list[subprocess.Popen[bytes]], rate: float
) -> PerfRecording | None:
    """Linux perf sampling one validator during this rate (or None without --perf)."""
    if not args.perf:
        return None
    if shutil.which("perf") is None:
        sys.exit("--perf needs Linux perf on PATH (apt-get install linux-perf)")
    pid = processes[args.profile_node].pid
    return PerfRecording(pid, workdir / f"perf-{rate:.0f}.data", args.duration)


# A process of the run may still be writing in its directory as `rmtree` walks it
# (a validator's RPC front finishing after its node, say), and the directory is then
# left behind with what was written: remove it again after a pause, a few times.
WORKDIR_REMOVE_ATTEMPTS = 5
WORKDIR_REMOVE_PAUSE_S = 0.5


def remove_workdir(
    workdir: Path,
    attempts: int = WORKDIR_REMOVE_ATTEMPTS,
    pause_s: float = WORKDIR_REMOVE_PAUSE_S,
) -> bool:
    """Remove the run's homes and logs; if they outlast every attempt, say where they
    are (False) rather than leave them in the temporary directory unmentioned."""
    for attempt in range(attempts):
        if attempt:
            time.sleep(pause_s)
        shutil.rmtree(workdir, ignore_errors=True)
        if not workdir.exists():
            return True
    print(f"could not remove {workdir} (something still writes there)", file=sys.stderr)
    return False


def stop_network(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def presign_streams(
    accounts: list[PrivateKey], total: int, nodes: int
) -> list[list[tuple[bytes, str]]]:
    """Per node, (hash, hex) of transfers in nonce order; each account uses one node."""
    streams: list[list[tuple[bytes, str]]] = [[] for _ in range(nodes)]
    count = len(accounts)
    made = 0
    for nonce in range(-(-total // count)):
        for index, key in enumerate(accounts):
            if made >= total:
                return streams
            to = accounts[(index + 1 + nonce) % count].public_key
            tx = Transaction(CHAIN_ID, key.public_key, nonce, "coin.transfer", (SYMBOL, to, 1))
            stx = tx.sign(key)
            streams[index % nodes].append((stx.hash, stx.encode().hex()))
            made += 1
    return streams


async def submit_setup(
    session: aiohttp.ClientSession, urls: list[str], rounds: list[list[tuple[bytes, str]]]
) -> None:
    """Send each round of setup transactions to one node in order (retrying what is
    refused for room), wait for every mempool to drain, and check that they committed."""
    headers = {"Content-Type": "application/json"}
    for items in rounds:
        cursor = 0
        while cursor < len(items):
            chunk = items[cursor : cursor + 200]
            body = json.dumps({"txs": [item[1] for item in chunk]}).encode()
            async with session.post(urls[0] + "/v1/txs/batch", data=body, headers=headers) as r:
                answer = None if r.status == 429 else await r.json()
            done = 0
            for result in [] if answer is None else answer.get("results", []):
                if result.get("code") in BACKPRESSURE:
                    break
                if not result.get("accepted"):
                    sys.exit(f"setup transaction refused: {result}")
                done += 1
            cursor += done
            if done < len(chunk):
                await asyncio.sleep(0.5)
        while any(size for _, size in await heights(session, urls)):
            await asyncio.sleep(0.5)
        for tx_hash, _ in items[:: max(1, len(items) // 20)]:
            async with session.get(urls[0] + f"/v1/txs/{tx_hash.hex()}?wait=30") as r:
                outcome = await r.json()
            if outcome.get("status") != "committed":
                sys.exit(f"setup transaction {tx_hash.hex()} did not commit: {outcome}")


def machine_line(when: str, samples: int = 5_000, rates: tuple[float, float] | None = None) -> str:
    """The machine's load and Ed25519 rate (measured now unless `rates` already were),
    and the interpreter the validators run on (this one: they start with
    `sys.executable`): this machine's speed drifts by two to three times from hour to
    hour, and two builds of the same Python version differ by a third (docs/node.md,
    "The interpreter")."""
    one, two = verify_rate(samples) if rates is None else rates
    loads = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"load_average={loads} (1, 5, 15 min) "
        f"ed25519_verify_per_s 1_thread={one:,.0f} 2_threads={two:,.0f} "
        f"python={platform.python_version()} {when}"
    )


async def run_ladder(args: argparse.Namespace) -> None:
    rates = [float(part) for part in args.ladder.split(",") if part.strip()]
    print(machine_line("at the start"), flush=True)
    # each rate at most doubles the offered count with retries; presign what is offered
    total = int(sum(rates) * args.duration * 1.05) + args.accounts
    mixes = ("transfer", "commerce") if args.mix else ("transfer",)
    if args.commerce_only:
        mixes = ("commerce",)
    for mix_name in mixes:
        if args.mix:
            print(f"mix={mix_name}", flush=True)
        await run_mix(args, rates, total, mix_name)
    print(machine_line("at the end"))


async def run_mix(args: argparse.Namespace, rates: list[float], total: int, name: str) -> None:
    """One network, the ladder of rates with one kind of traffic."""
    t0 = time.perf_counter()
    lane_count = args.validators * args.lanes
    mix = None
    if name == "commerce":
        mix = CommerceMix(CHAIN_ID, args.accounts, total)
        app_state = mix.app_state()
        setup = mix.setup(int(time.time() * 1000))
        streams = mix.streams(lane_count)
    else:
        accounts = [account_key(i) for i in range(args.accounts)]
        app_state = transfer_app_state(accounts)
        streams = presign_streams(accounts, total, lane_count)
    print(f"presigned {total:,} transactions in {time.perf_counter() - t0:.1f}s")
    mempool = None
    if args.backlog_ms is not None or args.floor_txs is not None:
        # the pool's window and floor instead of config.toml's defaults
        defaults = MempoolLimits()
        mempool = replace(
            defaults,
            backlog_ms=defaults.backlog_ms if args.backlog_ms is None else args.backlog_ms,
            floor_txs=defaults.floor_txs if args.floor_txs is None else args.floor_txs,
        )
    workdir, nodes, processes = start_network(args, app_state, mempool)
    urls = [node.rpc_url for node in nodes]
    try:
        connector = aiohttp.TCPConnector(limit=128)
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            await wait_ready(session, urls, 60)
            if mix is not None:
                t0 = time.perf_counter()
                await submit_setup(session, urls, setup)
                count = sum(len(items) for items in setup)
                print(f"setup: {count:,} transactions committed in {time.perf_counter() - t0:.1f}s")
            print(
                "rate_offered committed/offered p50_s p99_s 429s view_changes "
                "cpu_us_per_tx_per_validator rss_mb_max idle_10s_after"
            )
            # each account always goes through one lane, each lane to one node
            lanes = [
                Lane(urls[index % len(urls)], stream, retry_jitter=args.retry_jitter)
                for index, stream in enumerate(streams)
            ]
            if mix is not None:
                lanes += [
                    Lane(url, [], followups=True, retry_jitter=args.retry_jitter) for url in urls
                ]
            for rate in rates:
                await run_rate(args, session, urls, lanes, processes, workdir, rate, mix)
    finally:
        stop_network(processes)
    if args.keep:
        print(f"homes and logs kept in {workdir}")
    else:
        remove_workdir(workdir)


async def run_rate(
    args: argparse.Namespace,
    session: aiohttp.ClientSession,
    urls: list[str],
    lanes: list[Lane],
    processes: list[subprocess.Popen[bytes]],
    workdir: Path,
    rate: float,
    mix: CommerceMix | None,
) -> None:
    """One rung of the ladder: offer `rate`, then print its row."""
    batch_size = max(1, min(500, int(rate / (10 * args.validators)) or 1))
    changes = await metric_sum(session, urls, "pasar_view_changes_total")
    causes = await view_change_causes(session, urls)
    gc_before, _, gc_counts_before = await gc_figures(session, urls)
    cpu = [validator_cpu_seconds(p.pid) for p in processes]
    front_cpu = [front_cpu_seconds(p.pid) for p in processes]
    spy = start_profile(args, workdir, processes, rate)
    recording = start_perf(args, workdir, processes, rate)
    profiled = processes[args.profile_node].pid
    threads = thread_cpu(profiled) if spy is not None or args.loop_account else {}
    loop_file = loop_account_file(workdir, args.profile_node)
    loop_before = loop_account.read(loop_file) if args.loop_account else {}
    own_cpu = time.process_time()
    probe = await start_probe(urls, args.probe_hz, args.duration)
    point, took = await run_point(
        session,
        urls,
        lanes,
        rate,
        args.duration,
        batch_size,
        mix,
        args.interval_report,
    )
    own_cpu = time.process_time() - own_cpu
    probed = await finish_probe(probe)
    cpu_used = [validator_cpu_seconds(p.pid) - c for p, c in zip(processes, cpu, strict=True)]
    front_used = [front_cpu_seconds(p.pid) - c for p, c in zip(processes, front_cpu, strict=True)]
    front_rss = max(
        (proc_rss_mb(child) for p in processes for child in child_pids(p.pid)), default=0.0
    )
    if args.loop_account:
        await asyncio.sleep(loop_account.DUMP_INTERVAL * 2)  # the totals up to this moment
        loop_after = loop_account.read(loop_file)
    threads_after = thread_cpu(profiled) if spy is not None or args.loop_account else {}
    rss = max(proc_rss_mb(p.pid) for p in processes)
    rss_anon = max(proc_rss_mb(p.pid, "RssAnon") for p in processes)
    rss_file = max(proc_rss_mb(p.pid, "RssFile") for p in processes)
    gc_after, gc_longest, gc_counts_after = await gc_figures(session, urls)
    gc_counts = list(zip(gc_counts_after, gc_counts_before, strict=True))
    gc_ms_per_s = (gc_after - gc_before) / len(urls) / max(took, 1e-9) * 1000
    view_changes = await metric_sum(session, urls, "pasar_view_changes_total")
    causes_after = await view_change_causes(session, urls)
    why = ",".join(
        f"{cause}={count - causes.get(cause, 0):.0f}"
        for cause, count in sorted(causes_after.items())
        if count > causes.get(cause, 0)
    )
    idle, detail = await stays_idle(session, urls, 10.0)
    per_tx = (
        sum(cpu_used) / len(cpu_used) / point.committed * 1e6 if point.committed else float("nan")
    )
    front_per_tx = (
        sum(front_used) / len(front_used) / point.committed * 1e6
        if point.committed
        else float("nan")
    )
    offered_rate = point.offered / args.duration
    print(
        f"{offered_rate:,.0f} {point.committed:,}/{point.offered:,} "
        f"({point.committed / max(1, point.offered):.0%}) "
        f"{percentile(point.latencies, 0.5):.2f} "
        f"{percentile(point.latencies, 0.99):.2f} {point.throttled:,} "
        f"{view_changes - changes:.0f} {per_tx:,.0f} {rss:.0f} "
        f"{'yes' if idle else 'NO'} ({detail}; admitted={point.admitted:,} "
        f"refused={point.refused} errors={point.errors} rejected={point.rejected} "
        f"unsent={point.unsent:,} requests={point.requests:,} "
        f"answer_ms_mean={point.request_s / max(1, point.requests) * 1000:.0f} "
        f"answer_ms_429_p50/p99={ms_percentiles(point.refused_answers)} "
        f"answer_ms_items_p50/p99={ms_percentiles(point.item_answers)} "
        f"answer_to_commit_ms_p50/p99={ms_percentiles(point.after_answer)} "
        f"backoff_lane_s={point.backoff_s:.0f} "
        f"generator_lag_ms_p50/p99/max={ms_percentiles(point.lags)}/"
        f"{max(point.lags, default=0) * 1000:.0f} "
        f"generator_cpu_us_per_tx={own_cpu / max(1, point.offered) * 1e6:.0f} "
        f"rss_anon_mb_max={rss_anon:.0f} rss_file_mb_max={rss_file:.0f} "
        f"front_cpu_us_per_tx={front_per_tx:.1f} front_rss_mb_max={front_rss:.0f} "
        f"gc_ms_per_s={gc_ms_per_s:.1f} gc_pause_max_ms_by_generation="
        f"{'/'.join(f'{longest * 1000:.1f}' for longest in gc_longest)} "
        f"gc_collections_by_generation="
        f"{'/'.join(f'{a - b:.0f}' for a, b in gc_counts)}"
        f"{probed}"
        f"{'; view changes started by ' + why if why else ''})",
        flush=True,
    )
    if spy is not None:
        node_cpu = cpu_used[args.profile_node]
        finish_profile(spy, node_cpu / point.committed * 1e6 if point.committed else 0)
        names = thread_names(profiled)
        print(render_threads(threads, threads_after, names, max(1, point.committed)), flush=True)
    if recording is not None:
        node_cpu = cpu_used[args.profile_node]
        recording.finish(node_cpu / point.committed * 1e6 if point.committed else 0)
    if args.loop_account:
        # the loop is the process's first thread: its id is the process id
        user, system = threads_after.get(profiled, (0.0, 0.0))
        user0, system0 = threads.get(profiled, (0.0, 0.0))
        spent = loop_account.delta(loop_before, loop_after)
        loop_cpu = user + system - user0 - system0
        print(f"v{args.profile_node}: " + loop_account.render(spent, point.committed, loop_cpu))


async def start_probe(
    urls: list[str], hz: float, seconds: float
) -> asyncio.subprocess.Process | None:
    """Start bench/refusal_probe.py on the nodes for the rate's submission period."""
    if hz <= 0:
        return None
    targets = [part for url in urls for part in ("--url", url)]
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "bench" / "refusal_probe.py"),
        *targets,
        "--hz",
        str(hz),
        "--seconds",
        str(seconds),
        stdout=asyncio.subprocess.PIPE,
    )


async def finish_probe(probe: asyncio.subprocess.Process | None) -> str:
    """The probe's answer times as ' probe_ms_<status>_p50/p99/max=a/b/c(n)' fields."""
    if probe is None:
        return ""
    out, _ = await probe.communicate()
    try:
        found = json.loads(out)
    except ValueError:
        return f" probe_failed={probe.returncode}"
    fields = [
        f" probe_ms_{status}_p50/p99/max={a['p50_ms']:.0f}/{a['p99_ms']:.0f}/{a['max_ms']:.0f}"
        f"({a['count']})"
        for status, a in found["answers"].items()
    ]
    return "".join(fields) + (f" probe_errors={found['errors']}" if found["errors"] else "")


def ms_percentiles(values: list[float]) -> str:
    """'p50/p99' of durations in seconds, as whole milliseconds."""
    return f"{percentile(values, 0.5) * 1000:.0f}/{percentile(values, 0.99) * 1000:.0f}"


async def run(args: argparse.Namespace) -> None:
    one, two = verify_rate()
    print(machine_line("at the start", rates=(one, two)), flush=True)
    accounts = [account_key(i) for i in range(args.accounts)]
    total = int(args.rate * args.duration)
    batch_size = max(1, min(1000, int(args.rate / (10 * args.validators)) or 1))
    t0 = time.perf_counter()
    batches = presign(accounts, total, args.validators, batch_size)
    print(f"presigned {total:,} transfers in {time.perf_counter() - t0:.1f}s (batch={batch_size})")
    # the admission caps raised: this mode measures what the network commits, not refusals
    mempool = MempoolLimits(
        max_txs=200_000, max_bytes=256 * 1024 * 1024, max_per_sender=5_000, floor_txs=200_000
    )
    workdir, nodes, processes = start_network(args, transfer_app_state(accounts), mempool)
    urls = [node.rpc_url for node in nodes]
    stats = Stats()
    sent: dict[bytes, float] = {}
    try:
        connector = aiohttp.TCPConnector(limit=64)
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            await wait_ready(session, urls, 30)
            cpu_start = [validator_cpu_seconds(p.pid) for p in processes]
            own_cpu_start = time.process_time()
            start = time.monotonic()
            stop_at = start + args.duration + args.drain
            watch = asyncio.create_task(watcher(session, urls, sent, stats, total, stop_at))
            await submitter(session, urls, batches, args.rate, sent, stats)
            submit_end = time.monotonic()
            submit_cpu = time.process_time() - own_cpu_start
            await watch
            wall = time.monotonic() - start
            cpu = [
                (validator_cpu_seconds(p.pid) - c) / wall
                for p, c in zip(processes, cpu_start, strict=True)
            ]
            rss = [proc_rss_mb(p.pid, "VmHWM") for p in processes]
    finally:
        stop_network(processes)
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
    # What this one generator process could offer: its CPU while submitting (the block
    # watcher included) per transaction sent; one asyncio process uses one core.
    generator_us = submit_cpu / max(1, total) * 1e6
    print(
        f"generator cpu_us_per_tx_sent={generator_us:.0f} "
        f"ceiling_tx_per_s={1e6 / max(generator_us, 1e-9):,.0f} (one core, nothing else running) "
        f"achieved_offer_tx_per_s={total / max(submit_end - start, 1e-9):,.0f}"
    )
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
        remove_workdir(workdir)


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
    parser.add_argument("--keep", action="store_true", help="keep homes and logs")
    parser.add_argument(
        "--ladder", help="overload mode: comma-separated offered rates, --duration s each"
    )
    parser.add_argument(
        "--mix",
        action="store_true",
        help="ladder mode: the ladder with plain transfers, then with the commerce mix",
    )
    parser.add_argument(
        "--commerce-only",
        action="store_true",
        help="ladder mode: only the commerce mix (no transfer ladder first)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="ladder mode: py-spy CPU breakdown of one node"
    )
    parser.add_argument(
        "--perf",
        action="store_true",
        help="ladder mode: Linux perf's CPU per transaction by native library for one node",
    )
    parser.add_argument(
        "--profile-node",
        type=int,
        default=1,
        help="validator --profile, --perf and --loop-account watch",
    )
    parser.add_argument(
        "--loop-account",
        action="store_true",
        help="ladder mode: one validator's event-loop CPU per task, counted exactly "
        "(bench/loop_account.py)",
    )
    parser.add_argument(
        "--node-nice",
        type=int,
        default=0,
        metavar="N",
        help="run the validators N steps of CPU priority below the generator, which on a "
        "real network has machines of its own (its timings are then not late for want of "
        "a core)",
    )
    parser.add_argument(
        "--backlog-ms",
        type=int,
        help="ladder mode: the validators' [mempool] backlog_ms instead of the default",
    )
    parser.add_argument(
        "--no-front",
        action="store_true",
        help="run the validators with [rpc] front = false: each node process answers its "
        "RPC port itself, without the RPC front process (node/rpc_front.py)",
    )
    parser.add_argument(
        "--floor-txs",
        type=int,
        help="ladder mode: the validators' [mempool] floor_txs instead of the default",
    )
    parser.add_argument(
        "--lanes",
        type=int,
        default=LANES_PER_NODE,
        metavar="N",
        help="ladder mode: submission lanes per validator, each with one request in flight "
        f"(so at most N x {LANE_REQUEST_MAX} transactions wait on a node's answers; one "
        "validator alone can admit more than the default keeps in flight)",
    )
    parser.add_argument(
        "--retry-jitter",
        type=float,
        default=RETRY_JITTER,  # what the project's client library does
        metavar="FRACTION",
        help="ladder mode: a lane refused with a 429 waits Retry-After times a factor drawn "
        "from [1, 1 + FRACTION), as clients that back off with jitter do (0: exactly "
        "Retry-After, every refused lane back at the same instant)",
    )
    parser.add_argument(
        "--probe-hz",
        type=float,
        default=20.0,
        metavar="HZ",
        help="ladder mode: a separate process (bench/refusal_probe.py) times HZ submissions "
        "a second that never add load, so 429 times without the generator's own lag (0: off)",
    )
    parser.add_argument(
        "--interval-report",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="ladder mode: every SECONDS, a row of the generator's and each validator's "
        "figures (mempool, admit limit, local share, gossip drops, oldest pending, nonce gaps)",
    )
    parser.add_argument(
        "--gc",
        choices=("config", "interpreter"),
        default="config",
        help="the nodes' garbage collector: config.toml's default [gc] tuning, or the "
        "interpreter's thresholds without freeze",
    )
    args = parser.parse_args()
    if args.profile_node >= args.validators:
        args.profile_node = 0
    if args.lanes < 1:
        parser.error("--lanes must be at least 1")
    asyncio.run(run_ladder(args) if args.ladder else run(args))


if __name__ == "__main__":
    main()
