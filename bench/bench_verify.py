"""What a signature check costs the thread that makes it, alone and next to busy Python.

A validator checks signatures on two threads while its event loop and its block
worker run Python in the same process. Each check through PyNaCl gives up the
interpreter lock and takes it back; with another thread of the process running
Python, taking it back means waiting for that thread to drop it, and the
checking thread comes back to cold caches. This times `keys.verify` in a thread's
own CPU (`time.thread_time`), per check, in three settings:

- alone in the process (and on the machine, as far as this program goes);
- next to a thread of the same process running Python (a loop of small dict
  updates and allocations, as an event loop's work is);
- next to the same loop in another process, which competes for the cores but
  not for the lock.

    python bench/bench_verify.py [--checks 3000] [--rounds 3]

Numbers only; nothing asserted.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ledger.hashing import TX  # noqa: E402
from ledger.keys import PrivateKey, SignatureCheck, verify  # noqa: E402


def checks(count: int) -> list[SignatureCheck]:
    made: list[SignatureCheck] = []
    for index in range(count):
        key = PrivateKey.from_seed(index.to_bytes(32, "big"))
        digest = index.to_bytes(32, "big")
        made.append((key.public_key, TX, "bench", digest, key.sign(TX, "bench", digest)))
    return made


def per_check(all_checks: list[SignatureCheck]) -> float:
    """Thread CPU per check, µs, checking `all_checks` one call each in a new thread."""
    result: list[float] = []
    refused: list[int] = []

    def run() -> None:
        started = time.thread_time()
        refused.extend(index for index, check in enumerate(all_checks) if not verify(*check))
        result.append((time.thread_time() - started) / len(all_checks) * 1e6)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if refused:
        raise ValueError(f"{len(refused)} of the signatures did not verify")
    return result[0]


def busy(stop: Callable[[], bool]) -> None:
    counts: dict[int, int] = {}
    while not stop():
        for index in range(200):
            counts[index] = counts.get(index, 0) + len([index, index + 1])


def _busy_process(stop: Any) -> None:
    busy(stop.is_set)


def _beside(
    other: threading.Thread | multiprocessing.Process, stop: Any, all_checks: list[SignatureCheck]
) -> float:
    """`per_check` while `other` runs the busy loop, until `stop` is set."""
    other.start()
    try:
        return per_check(all_checks)
    finally:
        stop.set()
        other.join()


def beside_thread(all_checks: list[SignatureCheck]) -> float:
    stop = threading.Event()
    return _beside(threading.Thread(target=busy, args=(stop.is_set,)), stop, all_checks)


def beside_process(all_checks: list[SignatureCheck]) -> float:
    stop = multiprocessing.Event()
    return _beside(multiprocessing.Process(target=_busy_process, args=(stop,)), stop, all_checks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checks", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    made = checks(args.checks)
    print(f"{args.checks:,} checks, one call each; the checking thread's CPU per check (µs)")
    print("round   alone   busy thread beside   busy process beside")
    for number in range(1, args.rounds + 1):
        alone, thread, process = per_check(made), beside_thread(made), beside_process(made)
        print(f"{number:>5}  {alone:>6.1f}  {thread:>19.1f}  {process:>20.1f}")


if __name__ == "__main__":
    main()
