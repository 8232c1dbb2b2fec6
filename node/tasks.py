"""Stopping a group of asyncio tasks for sure, in a bounded time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence


async def cancel_all(tasks: Sequence[asyncio.Task[None]], timeout: float) -> int:
    """Cancel `tasks` and wait for them, cancelling again any that carry on; returns
    how many are still running after `timeout` (then the stop goes on without them).

    Cancelling once is not always enough: before Python 3.12, `asyncio.wait_for`
    drops the cancellation when its inner wait completes at the same moment, and
    the node's loops call it all the time, so such a task just runs its next turn.
    """
    deadline = time.monotonic() + timeout
    pending = [task for task in tasks if not task.done()]
    while pending:
        for task in pending:
            task.cancel()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        await asyncio.wait(pending, timeout=min(0.5, remaining))
        pending = [task for task in pending if not task.done()]
    return len(pending)
