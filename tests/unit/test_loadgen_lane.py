"""The load generator's submission lane (bench/loadgen.py): a lane that fell behind
its schedule sends its whole backlog, in order, instead of one batch per answer,
and a lane refused for room waits the node's time in milliseconds; and the run's
directory goes even when something still writes there as it is removed."""

from __future__ import annotations

import asyncio
import platform
import shutil
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bench.loadgen import (
    LANE_REQUEST_MAX,
    Lane,
    Point,
    machine_line,
    remove_workdir,
    report_intervals,
    run_lane,
)


async def test_a_lane_behind_its_schedule_sends_its_backlog_in_order() -> None:
    bodies: list[list[str]] = []

    async def batch(request: web.Request) -> web.Response:
        txs = (await request.json())["txs"]
        bodies.append(txs)
        return web.json_response({"results": [{"accepted": True, "code": "accepted"}] * len(txs)})

    app = web.Application()
    app.router.add_post("/v1/txs/batch", batch)
    server = TestServer(app)
    await server.start_server()
    try:
        stream = [(bytes([i % 256, i // 256]), f"{i:04x}") for i in range(LANE_REQUEST_MAX + 100)]
        lane = Lane(str(server.make_url("")).rstrip("/"), stream)
        lane.offer(len(stream))  # e.g. what piled up while the lane waited out a 429
        sent: dict[bytes, float] = {}
        point = Point()
        async with aiohttp.ClientSession() as session:
            await run_lane(session, lane, sent, point, time.monotonic() + 1.5)
    finally:
        await server.close()
    # two requests (not one per scheduled batch), everything once, nonce order kept
    assert [len(body) for body in bodies] == [LANE_REQUEST_MAX, 100]
    assert [tx for body in bodies for tx in body] == [item[1] for item in stream]
    assert point.admitted == len(stream) and point.requests == 2 and not lane.outbox
    assert set(sent) == {item[0] for item in stream}


async def test_a_refused_lane_waits_the_nodes_milliseconds_not_a_whole_second() -> None:
    """A 429's Retry-After-Ms, then a batch answer's retry_after_ms for its refused
    item, each hold the lane that long (times its jitter, none here), and the refused
    item is sent again first."""
    bodies: list[list[str]] = []
    answers = iter(["429", "partly", "all"])

    async def batch(request: web.Request) -> web.Response:
        txs = (await request.json())["txs"]
        bodies.append(txs)
        kind = next(answers, "all")
        if kind == "429":
            error = {"error": {"code": "mempool_full", "message": "full"}}
            headers = {"Retry-After": "1", "Retry-After-Ms": "150"}
            return web.json_response(error, status=429, headers=headers)
        results = [{"accepted": True, "code": "accepted"}] * len(txs)
        if kind == "partly":
            results = [*results[:-1], {"accepted": False, "code": "mempool_full"}]
            return web.json_response({"results": results, "retry_after_ms": 120})
        return web.json_response({"results": results})

    app = web.Application()
    app.router.add_post("/v1/txs/batch", batch)
    server = TestServer(app)
    await server.start_server()
    try:
        stream = [(bytes([i]), f"{i:02x}") for i in range(3)]
        lane = Lane(str(server.make_url("")).rstrip("/"), stream)
        lane.offer(len(stream))
        sent: dict[bytes, float] = {}
        point = Point()
        async with aiohttp.ClientSession() as session:
            task = asyncio.create_task(run_lane(session, lane, sent, point, time.monotonic() + 3.0))
            while len(bodies) < 3:
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    finally:
        await server.close()
    assert bodies == [["00", "01", "02"], ["00", "01", "02"], ["02"]]
    assert point.backoff_s == pytest.approx(0.150 + 0.120)
    assert point.admitted == 3 and point.throttled == 2 and not lane.outbox


async def test_the_interval_report_prints_a_row_per_interval_with_each_validators_figures(
    capsys: pytest.CaptureFixture[str],
) -> None:
    pages = [
        "# HELP x\npasar_mempool_size 1200.0\npasar_mempool_behind_gap 7.0\n"
        "pasar_mempool_full_percent 64.0\npasar_mempool_overloaded 1.0\n"
        'pasar_txs_refused_total{code="mempool_full"} 3.0\n',
        "pasar_mempool_size 300.0\n",
    ]

    def metrics(page: str) -> Any:
        async def handler(request: web.Request) -> web.Response:
            return web.Response(text=page)

        return handler

    servers = []
    for page in pages:
        app = web.Application()
        app.router.add_get("/metrics", metrics(page))
        server = TestServer(app)
        await server.start_server()
        servers.append(server)
    point = Point()
    stop = asyncio.Event()
    try:
        async with aiohttp.ClientSession() as session:
            urls = [str(server.make_url("")).rstrip("/") for server in servers]
            task = asyncio.create_task(report_intervals(session, urls, [], point, 0.2, stop))
            await asyncio.sleep(0)  # it took its starting figures
            point.offered, point.admitted, point.committed = 100, 40, 30
            point.refused_answers.extend([0.004, 0.006])
            await asyncio.sleep(0.25)  # the first interval is over
            stop.set()
            await task
    finally:
        for server in servers:
            await server.close()
    rows = [line for line in capsys.readouterr().out.splitlines() if "interval:" in line]
    header, first = rows[0], rows[1]
    columns = header.split("| per node: ")[1].split()
    v0 = first.split(" | ")[1].split()
    assert v0[0] == "v0" and len(v0) == len(columns) + 1
    assert v0[1 + columns.index("pool")] == "1200" and v0[1 + columns.index("gap")] == "7"
    assert v0[1 + columns.index("full_pct")] == "64" and v0[1 + columns.index("overloaded")] == "1"
    assert v0[1 + columns.index("limit")] == "-"  # not exported: shown, not guessed
    assert first.split(" | ")[2].split()[:2] == ["v1", "300"]
    # the generator's figures are per second of the interval: 100 offered in 0.2 s
    assert first.split()[2:5] == ["500", "200", "150"]
    assert first.split(" | ")[0].split()[-2] == "6"  # p99 of the 429 answers, in ms


def test_the_machine_line_gives_the_load_and_a_measured_signature_rate() -> None:
    line = machine_line("at the start", samples=200)
    loads, rates = line.split(" (1, 5, 15 min) ")
    assert loads.startswith("load_average=") and len(loads.split("=")[1].split()) == 3
    name, one, two, python, when = rates.split(" ", 4)
    assert name == "ed25519_verify_per_s" and when == "at the start"
    assert python == f"python={platform.python_version()}"
    assert one.startswith("1_thread=") and two.startswith("2_threads=")
    assert int(one.split("=")[1].replace(",", "")) > 0
    assert int(two.split("=")[1].replace(",", "")) > 0


def test_the_machine_line_shows_rates_measured_before_it() -> None:
    line = machine_line("at the start", rates=(12_345.4, 23_456.6))
    assert "ed25519_verify_per_s 1_thread=12,345 2_threads=23,457 python=" in line


def test_a_directory_written_to_while_it_is_removed_is_removed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workdir = tmp_path / "run"
    (workdir / "v0").mkdir(parents=True)
    (workdir / "v0" / "v0.log").write_text("node log")
    real_rmtree = shutil.rmtree
    calls: list[Path] = []

    def rmtree_with_a_late_writer(path: Path, ignore_errors: bool = False) -> None:
        calls.append(path)
        real_rmtree(path, ignore_errors=ignore_errors)
        if len(calls) == 1:  # a process still going writes once more as the tree goes
            (Path(path) / "v0").mkdir(parents=True)
            (Path(path) / "v0" / "front.log").write_text("late line")

    monkeypatch.setattr(shutil, "rmtree", rmtree_with_a_late_writer)
    assert remove_workdir(workdir, attempts=3, pause_s=0.0)
    assert not workdir.exists()
    assert calls == [workdir, workdir]


def test_a_directory_that_cannot_be_removed_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    workdir = tmp_path / "run"
    workdir.mkdir()
    monkeypatch.setattr(shutil, "rmtree", lambda path, ignore_errors=False: None)
    assert not remove_workdir(workdir, attempts=2, pause_s=0.0)
    assert workdir.exists()
    assert str(workdir) in capsys.readouterr().err
