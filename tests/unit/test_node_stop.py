"""Stopping the node's tasks: a task that swallowed a cancellation is cancelled again,
and one that never ends cannot hold the stop past its timeout.

Found by the damaged-store fault test: a validator sent SIGTERM under load never
exited; its consensus driver was "cancelling" yet still looping, because Python
3.11's asyncio.wait_for returned the queue item that arrived with the
cancellation and dropped the cancellation, and the stop waited on it forever.
"""

from __future__ import annotations

import asyncio

from node.tasks import cancel_all


async def swallows(times: int) -> None:
    """Ignores the first `times` cancellations, as asyncio.wait_for can before 3.12."""
    while True:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            if times == 0:
                raise
            times -= 1


def test_a_task_that_swallowed_a_cancellation_is_cancelled_again() -> None:
    async def main() -> None:
        task = asyncio.create_task(swallows(2))
        await asyncio.sleep(0)
        assert await cancel_all([task], 5.0) == 0
        assert task.cancelled()

    asyncio.run(main())


def test_a_task_that_never_ends_does_not_hold_the_stop() -> None:
    async def main() -> None:
        task = asyncio.create_task(swallows(10**6))
        await asyncio.sleep(0)
        assert await cancel_all([task], 0.3) == 1
        assert not task.done()
        task.get_coro().close()  # end it for the test's own loop

    asyncio.run(main())
