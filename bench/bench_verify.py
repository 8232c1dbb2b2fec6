"""What a signature check costs the thread that makes it, alone and next to busy Python.

A validator checks signatures on two threads while its event loop and its block
worker run Python in the same process. Each check through PyNaCl gives up the
interpreter lock and takes it back; with another thread running Python, taking
it back means waiting for that thread to drop it, and the checking thread comes
back to cold caches. `keys.verify_batch` checks a whole batch in one call that
gives up the lock once (ledger/_batch_verify.c).

This times, in the checking thread's own CPU (`time.thread_time`), per check:

- one `keys.verify` per signature, and `keys.verify_batch` over batches of
  `--batch`, each alone in the process;
- the same with one thread running Python next to them (a loop of small
  allocations and dict updates, as an event loop's work is).

    python bench/bench_verify.py [--checks 3000] [--batch 37] [--rounds 3]

(37 is what one request of the load generator holds at 1,500 tx/s on four
validators.) Numbers only; nothing asserted.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ledger import keys  # noqa: E402
from ledger.hashing import TX  # noqa: E402
from ledger.keys import PrivateKey, SignatureCheck, verify  # noqa: E402


def checks(count: int) -> list[SignatureCheck]:
    made: list[SignatureCheck] = []
    for index in range(count):
        key = PrivateKey.from_seed(index.to_bytes(32, "big"))
        digest = index.to_bytes(32, "big")
        made.append((key.public_key, TX, "bench", digest, key.sign(TX, "bench", digest)))
    return made


def one_by_one(batch: Sequence[SignatureCheck]) -> list[bool]:
    return [verify(*check) for check in batch]


def timed(
    check: Callable[[Sequence[SignatureCheck]], list[bool]],
    all_checks: list[SignatureCheck],
    batch: int,
) -> float:
    """Thread CPU per check, µs, checking `all_checks` in batches of `batch`."""
    started = time.thread_time()
    for start in range(0, len(all_checks), batch):
        if not all(check(all_checks[start : start + batch])):
            raise SystemExit("a good signature did not verify")
    return (time.thread_time() - started) / len(all_checks) * 1e6


def in_thread(function: Callable[[], float]) -> float:
    result: list[float] = []
    thread = threading.Thread(target=lambda: result.append(function()))
    thread.start()
    thread.join()
    return result[0]


def busy(stop: threading.Event) -> None:
    counts: dict[int, int] = {}
    while not stop.is_set():
        for index in range(200):
            counts[index] = counts.get(index, 0) + len([index, index + 1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checks", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=37)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    made = checks(args.checks)
    built = keys._batch_check is not None
    print(f"{args.checks:,} checks in batches of {args.batch}, thread CPU per check (µs);")
    print("batched: " + ("ledger/_batch_verify.c" if built else "NOT BUILT, one call each"))
    print("round  alone: one by one  batched   busy thread beside: one by one  batched")
    for number in range(1, args.rounds + 1):
        figures = [
            in_thread(lambda: timed(one_by_one, made, args.batch)),
            in_thread(lambda: timed(keys.verify_batch, made, args.batch)),
        ]
        for check in (one_by_one, keys.verify_batch):
            stop = threading.Event()
            other = threading.Thread(target=busy, args=(stop,))
            other.start()
            try:
                figures.append(in_thread(lambda check=check: timed(check, made, args.batch)))
            finally:
                stop.set()
                other.join()
        print(
            f"{number:>5}  {figures[0]:>17.1f}  {figures[1]:>7.1f}"
            f"  {figures[2]:>29.1f}  {figures[3]:>7.1f}"
        )


if __name__ == "__main__":
    main()
