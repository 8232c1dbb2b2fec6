"""The event loop's CPU counted per task (bench/loop_account.py, loadgen's --loop-account)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from bench import loop_account

ROOT = Path(__file__).resolve().parents[2]


def _busy(steps: int) -> int:
    total = 0
    for i in range(steps):
        total += i * i
    return total


async def handler() -> int:
    await asyncio.sleep(0)
    _busy(20_000)
    await asyncio.sleep(0)
    return 1


async def wrapping_middleware(inner: Any) -> int:
    return int(await inner)


def _foreign_outer() -> Any:
    """A coroutine function from a file outside this project (as aiohttp's are)."""
    namespace: dict[str, Any] = {}
    source = "async def serve(inner):\n    return await inner\n"
    exec(compile(source, "/elsewhere/server.py", "exec"), namespace)  # noqa: S102
    return namespace["serve"]


def test_task_steps_are_counted_under_the_projects_coroutine() -> None:
    totals: loop_account.Totals = {}
    calls: list[int] = []

    async def main() -> None:
        serve = _foreign_outer()
        # aiohttp's request task: foreign code, our middleware, then our handler
        await asyncio.create_task(serve(wrapping_middleware(handler())))
        asyncio.get_running_loop().call_soon(calls.append, 1)
        await asyncio.sleep(0)

    uninstall = loop_account.install(totals)
    try:
        asyncio.run(main())
    finally:
        uninstall()
    assert calls == [1]
    # every step of the request task is named by the handler it runs, the first one
    # (which starts in the foreign code) included; the middleware is skipped
    names = set(totals)
    assert "handler" in names
    assert not any("serve" in name or "middleware" in name for name in names)
    cpu, steps = totals["handler"]
    assert steps == 3  # started, resumed after each sleep(0)
    assert cpu > 0
    # a plain callback goes under its function's name
    assert any(name.endswith("append") for name in names)
    # the test's own main task, a coroutine of this project, under its own name
    assert any(name.endswith("main") for name in names)


def test_uninstall_stops_counting() -> None:
    totals: loop_account.Totals = {}
    loop_account.install(totals)()

    async def quiet() -> None:
        await asyncio.sleep(0)

    asyncio.run(quiet())
    assert totals == {}


def test_readings_differ_per_name_and_render_as_micros_per_transaction(tmp_path: Path) -> None:
    out = tmp_path / "loop.json"
    assert loop_account.read(out) == {}  # before the first dump
    loop_account.dump({"a": (1.0, 10), "b": (0.5, 5)}, out)
    before = loop_account.read(out)
    assert before == {"a": (1.0, 10), "b": (0.5, 5)}
    after = {"a": (1.5, 20), "b": (0.5, 5), "c": (0.25, 1)}
    spent = loop_account.delta(before, after)
    assert spent == {"a": (0.5, 10), "c": (0.25, 1)}  # b did not run between them
    text = loop_account.render(spent, 1_000, thread_cpu_s=1.0, top=1)
    lines = text.splitlines()
    assert lines[1].split()[:4] == ["a", "500.00", "10", "50000.0"]
    assert lines[2].split() == ["(the", "rest)", "250.00"]
    assert "callbacks in all" in lines[3] and "750.00" in lines[3]
    assert "/proc: 1000.00" in lines[3]


def test_the_wrapper_runs_a_module_and_writes_its_totals(tmp_path: Path) -> None:
    module = tmp_path / "counted_app.py"
    module.write_text(
        textwrap.dedent(
            """
            import asyncio, sys

            async def work():
                for _ in range(3):
                    await asyncio.sleep(0)
                return sys.argv[1:]

            if __name__ == "__main__":
                print(asyncio.run(work()))
            """
        )
    )
    out = tmp_path / "totals.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(tmp_path)]))
    done = subprocess.run(
        [sys.executable, "-m", "bench.loop_account", str(out), "-m", "counted_app", "x", "--y"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "['x', '--y']"  # the module saw its own arguments
    totals = json.loads(out.read_text())
    assert totals["work"][1] == 4  # written at exit: its four steps


def test_the_wrapper_refuses_a_missing_module_argument(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.loop_account", str(tmp_path / "x.json")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "usage: python -m bench.loop_account" in done.stderr
