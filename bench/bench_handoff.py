"""What handing signature checks to the node's pool costs, against checking them inline.

A validator checks signatures on a two-thread pool (`Node._verify`): the event
loop submits the checks, awaits them, and takes the answers back when a pool
thread hands them over (a future, a wake-up of the loop through its self-pipe).
When the loop has nothing else to do meanwhile, as between gossip batches at
moderate rates, that round costs the loop's thread CPU of its own, on top of the
checks. This times, per round and with the process's CPU over all its threads:

- a round that checks nothing (the hand-off alone);
- `--checks` signature checks handed to the pool as `Node._verify` hands them
  (in two parts from 2 × VERIFY_CHUNK + 1 checks on);
- the same checks made on the event loop's thread itself, through PyNaCl (which
  gives the interpreter lock up for each check) and holding the lock through each
  (`verify_each_inline`, what the node does for a small gossip batch);
- all three again with another thread of the process running Python meanwhile, as
  the block worker does while it executes a block.

The last rows are why the node's in-place checks hold the lock: through PyNaCl
each check gives it up, and taking it back from a thread running Python waits for
the switch interval (5 ms), so each check held the event loop 5 ms; holding the
lock, a check holds the loop for the check alone (and the other thread waits that
long).

    python bench/bench_handoff.py [--checks 37] [--rounds 2000]

(37 is what one gossip batch of the intake holds when bench/loadgen.py offers 1,500
tx/s to four validators: one of its requests, relayed in one frame.) Numbers only;
nothing asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_verify import checks as make_checks  # noqa: E402
from ledger.keys import SignatureCheck, verify_each, verify_each_inline  # noqa: E402
from node.node import VERIFY_CHUNK  # noqa: E402
from node.worker_threads import batch_pool  # noqa: E402


def nothing(part: list[SignatureCheck]) -> list[bool]:
    return [True] * len(part)


async def timed(rounds: int, one: Callable[[], Awaitable[Any]]) -> tuple[float, float, float]:
    """µs per round: the event loop thread's CPU, the process's CPU, wall time."""
    for _ in range(min(rounds, 100)):
        await one()
    thread, process, wall = time.thread_time(), time.process_time(), time.perf_counter()
    for _ in range(rounds):
        await one()
    return (
        (time.thread_time() - thread) / rounds * 1e6,
        (time.process_time() - process) / rounds * 1e6,
        (time.perf_counter() - wall) / rounds * 1e6,
    )


async def run(count: int, rounds: int) -> None:
    loop = asyncio.get_running_loop()
    pool: ThreadPoolExecutor = batch_pool(2, "verify")
    checks = make_checks(count)

    size = max(VERIFY_CHUNK, (count + 1) // 2)
    parts = [checks[i : i + size] for i in range(0, count, size)]

    async def handed(work: Callable[[list[SignatureCheck]], list[bool]]) -> list[bool]:
        # as Node._verify: one part for a small batch, two halves for a larger one
        done = await asyncio.gather(*(loop.run_in_executor(pool, work, p) for p in parts))
        return [ok for part in done for ok in part]

    async def handoff() -> None:
        await handed(nothing)

    async def pooled() -> None:
        await handed(verify_each)

    async def inline() -> None:
        verify_each(checks)

    async def held() -> None:
        verify_each_inline(checks)

    print(f"{rounds:,} rounds of {count} checks ({len(parts)} part(s) on the pool); µs per round")
    print(f"{'':44s} {'loop thread':>12s} {'process':>10s} {'wall':>10s}")
    for name, one in (
        ("hand-off of nothing", handoff),
        (f"{count} checks on the pool", pooled),
        (f"{count} checks on the loop", inline),
        (f"{count} checks on the loop, lock held", held),
    ):
        loop_cpu, process_cpu, wall = await timed(rounds, one)
        print(f"{name:44s} {loop_cpu:12.1f} {process_cpu:10.1f} {wall:10.1f}")
    beside = max(1, rounds // 100)  # a round on the loop takes 5 ms a check here
    stop = threading.Event()
    busy = threading.Thread(target=run_python, args=(stop,))
    busy.start()
    try:
        for name, one in (
            (f"{count} checks on the pool, Python beside", pooled),
            (f"{count} checks on the loop, Python beside", inline),
            (f"{count} checks on the loop held, Python beside", held),
        ):
            loop_cpu, _, wall = await timed(beside, one)
            print(f"{name:44s} {loop_cpu:12.1f} {'-':>10s} {wall:10.1f}")
    finally:
        stop.set()
        busy.join()
    pool.shutdown()


def run_python(stop: threading.Event) -> None:
    """Small dict updates and allocations until `stop`, as a block's execution runs."""
    table: dict[int, list[int]] = {}
    step = 0
    while not stop.is_set():
        table[step % 1000] = [step]
        step += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checks", type=int, default=37)
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    asyncio.run(run(args.checks, args.rounds))


if __name__ == "__main__":
    main()
