"""Thread pools for the node's CPU-bound work, run as batch work for the scheduler.

The node hands signature checks and block execution to worker threads and waits
on the event loop for their answers. Each hand-off wakes a worker, and Linux lets
a thread it wakes preempt the one that woke it: the event loop, stopped inside
the hand-off while it holds the interpreter lock, then waits for a core it had
until the worker, which needs that lock too, gives it back. Under load (four
validators and a load generator on two cores) a hand-off held the lock this way
for 140 µs on average (py-spy's `--gil` samples of the event loop in the queue's
`put`). A worker scheduled as SCHED_BATCH does not preempt on wake-up: it runs
when a core is free or at the next tick, which costs the work a few milliseconds
at most under contention and nothing on an idle machine (docs/node.md,
Performance).

Where the policy cannot be set (not Linux, or refused), the threads run as usual.
"""

from __future__ import annotations

import contextlib
import os
from concurrent.futures import ThreadPoolExecutor


def run_as_batch() -> None:
    """Schedule the calling thread as SCHED_BATCH, if this system can."""
    policy = getattr(os, "SCHED_BATCH", None)
    if policy is None or not hasattr(os, "sched_setscheduler"):
        return
    with contextlib.suppress(OSError):
        os.sched_setscheduler(0, policy, os.sched_param(0))  # 0: this thread


def batch_pool(workers: int, name: str) -> ThreadPoolExecutor:
    """A pool of `workers` threads named `name`_N, each run as SCHED_BATCH."""
    return ThreadPoolExecutor(
        max_workers=workers, thread_name_prefix=name, initializer=run_as_batch
    )
