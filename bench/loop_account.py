"""A validator's event-loop CPU, exactly, per task: the load generator's `--loop-account`.

py-spy's samples (`--profile`, bench/cpu_breakdown.py) undercount the event loop:
at 300 tx/s on four validators, sampling at 1,000 Hz as `--profile` does at 100,
they found v1's loop busy for 27 ms a second where /proc gave its thread 59 ms of
CPU, and which work the missing half was they cannot say.
This counts instead. Every callback the loop runs (`asyncio.Handle._run`: a task's
step, a timer, a future's callback) is timed in the loop thread's own CPU time
(`time.thread_time`, kernel time included) and added to its name's total:

- a task's step under its coroutine's name, and for a task whose coroutine is not
  this project's (aiohttp runs each request and each peer link in its own task) the
  outermost of this project's coroutines it is running, middlewares skipped:
  `submit_batch`, `PeerNetwork._accept` (an inbound peer link), `Node._intake_loop`,
  `ConsensusDriver.run`;
- any other callback under its function's name.

Run a module under it (what `--loop-account` does for one validator):

    python -m bench.loop_account OUT.json -m cli.main node --home HOME

The totals are written to OUT.json, `{name: [cpu_seconds, calls]}`, every
DUMP_INTERVAL seconds and at exit; `delta` and `render` turn two readings into µs
per transaction. What the callbacks do not cover is the loop's own machinery
between them (`epoll`, the ready queue): /proc's figure for the thread minus the
callbacks' sum. Naming a step costs a few microseconds, outside what is timed.
"""

from __future__ import annotations

import asyncio.events
import atexit
import json
import os
import runpy
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = str(Path(__file__).resolve().parents[1]) + os.sep
DUMP_INTERVAL = 0.5
# a coroutine of this project's that only wraps the handler it calls
WRAPPERS = ("middleware",)

Totals = dict[str, tuple[float, int]]


def _project_coroutine(coro: Any) -> str | None:
    """The outermost coroutine of this project on `coro`'s await chain, by name."""
    while coro is not None:
        code = getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None)
        if code is None:
            return None
        if code.co_filename.startswith(ROOT) and not any(
            wrapper in code.co_qualname for wrapper in WRAPPERS
        ):
            return str(code.co_qualname)
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return None


def callback_name(handle: asyncio.events.Handle) -> str:
    """What `handle` runs: a task's (see the module's docstring) or a callback's name."""
    callback = handle._callback  # type: ignore[attr-defined]
    task = getattr(callback, "__self__", None)
    if isinstance(task, asyncio.Task):
        coro = task.get_coro()
        own = _project_coroutine(coro)
        if own is not None:
            return own
        return str(getattr(coro, "__qualname__", type(coro).__name__))
    return str(getattr(callback, "__qualname__", type(callback).__name__))


def install(totals: Totals, clock: Callable[[], float] = time.thread_time) -> Callable[[], None]:
    """Count every callback of every event loop in this process into `totals`;
    returns the function that stops counting."""
    original = asyncio.events.Handle._run

    def counted(handle: asyncio.events.Handle) -> None:
        before = callback_name(handle)  # where a task stood: its step resumes there
        started = clock()
        try:
            original(handle)
        finally:
            spent = clock() - started
            name = before
            task = getattr(handle._callback, "__self__", None)  # type: ignore[attr-defined]
            if isinstance(task, asyncio.Task) and not task.done():
                # a request's first step starts in aiohttp's code: name it by the
                # handler it reached (the same name its later steps get)
                name = callback_name(handle)
            cpu, calls = totals.get(name, (0.0, 0))
            totals[name] = (cpu + spent, calls + 1)  # one tuple: a reader never sees half

    asyncio.events.Handle._run = counted  # type: ignore[method-assign,assignment]

    def uninstall() -> None:
        asyncio.events.Handle._run = original  # type: ignore[method-assign]

    return uninstall


def dump(totals: Totals, out: Path) -> None:
    """Write `totals` to `out` whole (a reader never sees a half-written file)."""
    temporary = out.with_suffix(out.suffix + ".tmp")
    temporary.write_text(json.dumps({name: list(value) for name, value in dict(totals).items()}))
    temporary.replace(out)


def read(path: Path) -> Totals:
    """The totals a counted process last wrote ({} before its first dump)."""
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {name: (float(cpu), int(calls)) for name, (cpu, calls) in raw.items()}


def delta(before: Totals, after: Totals) -> Totals:
    """What was counted between two readings."""
    spent: Totals = {}
    for name, (cpu, calls) in after.items():
        cpu0, calls0 = before.get(name, (0.0, 0))
        if calls > calls0:
            spent[name] = (cpu - cpu0, calls - calls0)
    return spent


def render(spent: Totals, transactions: int, thread_cpu_s: float | None, top: int = 12) -> str:
    """The largest names as µs per transaction, calls and µs per call; then the sum,
    and beside it the loop thread's CPU from /proc when given."""
    count = max(1, transactions)
    total = sum(cpu for cpu, _ in spent.values())
    lines = ["event loop cpu by task (exact), us_per_tx calls us_per_call:"]
    ranked = sorted(spent.items(), key=lambda item: (-item[1][0], item[0]))
    for name, (cpu, calls) in ranked[:top]:
        lines.append(
            f"  {name[:44]:<44} {cpu / count * 1e6:7.2f} {calls:8,} {cpu / calls * 1e6:8.1f}"
        )
    rest = sum(cpu for _, (cpu, _) in ranked[top:])
    if rest:
        lines.append(f"  {'(the rest)':<44} {rest / count * 1e6:7.2f}")
    summary = f"  {'callbacks in all':<44} {total / count * 1e6:7.2f}"
    if thread_cpu_s is not None:
        summary += f" (the loop thread, /proc: {thread_cpu_s / count * 1e6:.2f})"
    lines.append(summary)
    return "\n".join(lines)


def main() -> None:
    args = sys.argv[1:]
    if len(args) >= 2 and args[1] == "-m":
        del args[1]  # the module after -m, as `python -m` takes it
    if len(args) < 2:
        sys.exit("usage: python -m bench.loop_account OUT.json -m MODULE [ARGS...]")
    out, module = Path(args[0]), args[1]
    totals: Totals = {}
    install(totals)

    def dump_often() -> None:
        while True:
            time.sleep(DUMP_INTERVAL)
            dump(totals, out)

    threading.Thread(target=dump_often, name="loop_account", daemon=True).start()
    atexit.register(dump, totals, out)
    sys.argv = [module, *args[2:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
