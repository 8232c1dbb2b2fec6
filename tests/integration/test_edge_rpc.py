"""Hostile clients at a real validator's RPC edge: open files, malformed HTTP, hang-ups.

- A node started with the usual soft open-file limit of 1,024 takes its hard limit,
  and a node whose hard limit is that low grants no more long-polls than fit in it:
  1,100 long-polls get a slot or 503 `long_polls_full`, and the node keeps
  answering and committing.
- Malformed requests and clients hanging up mid-body cost one log line each, no
  traceback and no 500.

A full pool's door (429 before the body is read) is tested in
tests/unit/test_edge_rpc.py, on the node's own middlewares.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import resource
import socket
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from node.home import CONFIG_FILE, MempoolLimits, ServiceLimits, config_to_toml, load_home
from node.rpc.limits import fit_to_open_files
from tests.integration.harness import LocalNet, http, own_file_limit, wait_until

LOW_LIMIT = 1_024  # the usual soft open-file limit


def limited_entry(soft: int, hard: int) -> tuple[str, ...]:
    """What python runs instead of `-m cli.main`: the CLI under this open-file limit."""
    return (
        "-c",
        "import resource\n"
        f"resource.setrlimit(resource.RLIMIT_NOFILE, ({soft}, {hard}))\n"
        "from cli.main import cli\n"
        "cli()\n",
    )


def open_files_limits(pid: int) -> tuple[int, int]:
    """A process' soft and hard open-file limits, from /proc (RLIM_INFINITY: none)."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            none = resource.RLIM_INFINITY
            return (none if soft == "unlimited" else int(soft)), (
                none if hard == "unlimited" else int(hard)
            )
    raise AssertionError(f"no open-file limit for pid {pid}")


def one_node(
    tmp_path: Path, rpc_front: bool = True, mempool: MempoolLimits | None = None
) -> LocalNet:
    """A one-validator net, not started."""
    net = LocalNet(tmp_path / "net", count=1, mempool=mempool)
    home = net.nodes[0].home
    config = dataclasses.replace(load_home(home).config, rpc_front=rpc_front)
    (home / CONFIG_FILE).write_text(config_to_toml(config))
    return net


def slots_in_use(base: str, kind: str) -> int:
    code, text = http("GET", base + "/metrics", timeout=10)
    line = f'pasar_rpc_slots_in_use{{kind="{kind}"}} '
    found = [row for row in str(text).splitlines() if row.startswith(line)]
    return int(float(found[0].split()[-1])) if code == 200 and found else 0


def committed(net: LocalNet, tx_hash: str) -> bool:
    """Asked without `wait=`: this takes no long-poll slot."""
    code, body = http("GET", net.url(0, f"/v1/txs/{tx_hash}"), timeout=10)
    return code == 200 and body["status"] == "committed"


# -- A. descriptors ---------------------------------------------------------------------------


def test_a_node_started_with_a_low_soft_file_limit_takes_its_hard_limit(tmp_path: Path) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= LOW_LIMIT:
        pytest.skip(f"the hard open-file limit is {hard}: nothing to raise to")
    net = one_node(tmp_path)
    try:
        net.start(0, entry=limited_entry(LOW_LIMIT, hard))
        net.wait_up(0, timeout=60)
        soft_now, hard_now = open_files_limits(net.processes[0].pid)
        assert soft_now == hard_now == hard, (soft_now, hard_now)
        assert "event=rpc_slots_limited" not in net.log_text(0)
    finally:
        net.close()


def test_long_polls_beyond_what_the_file_limit_holds_are_refused_and_the_node_answers(
    tmp_path: Path,
) -> None:
    # Without its front, so each client's connection is a descriptor of the node's own;
    # a hard limit of 1,024, so the node cannot raise it. The clients close their
    # connection after each answer (a refused client leaves).
    polls = 1_100
    granted = fit_to_open_files(ServiceLimits(), LOW_LIMIT).long_polls
    assert granted < polls
    net = one_node(tmp_path, rpc_front=False)
    with own_file_limit(polls + 512):
        try:
            net.start(0, entry=limited_entry(LOW_LIMIT, LOW_LIMIT))
            net.wait_up(0, timeout=60)
            base = net.url(0, "")
            answers, status_code = asyncio.run(long_polls(net, base, polls, granted))
        finally:
            net.close()
    log = net.log_text(0)
    print(f"\nlong-polls: {dict(answers)}; log {len(log)} bytes, {log.count(chr(10))} lines")
    assert status_code == 200
    assert answers[(503, "long_polls_full")] == polls - granted, answers
    assert answers[(200, "unknown")] == granted, answers
    assert "event=rpc_slots_limited" in log
    assert f"long_polls={granted} " in log
    # 1,100 connections at once can still meet a full descriptor table before the
    # refused ones are closed: asyncio retries the accept, and the episode is one line
    assert "out of system resource" not in log and "Traceback" not in log
    assert log.count("event=accept_failed ") <= 1
    assert log.count("\n") < polls + 100  # about one line per refusal


async def long_polls(
    net: LocalNet, base: str, polls: int, granted: int
) -> tuple[Counter[Any], int]:
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=120, sock_connect=60)
    answers: Counter[Any] = Counter()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def poll(i: int) -> None:
            async with session.get(f"{base}/v1/txs/{i + 1:064x}?wait=20") as response:
                body = await response.json()
                outcome = body["error"]["code"] if response.status != 200 else body["status"]
                answers[(response.status, outcome)] += 1

        waits = [asyncio.create_task(poll(i)) for i in range(polls)]
        await asyncio.to_thread(
            wait_until,
            lambda: (
                answers[(503, "long_polls_full")] == polls - granted
                and slots_in_use(base, "long_polls") == granted
            ),
            60,
            "every slot taken and the rest refused",
        )
        # all slots held: the node still answers at once and commits
        status_code, _ = await asyncio.to_thread(http, "GET", base + "/v1/status", None, 10.0)
        stx = net.transfer(0, 1)
        (result,) = await asyncio.to_thread(net.submit, 0, [stx])
        assert result["accepted"], result
        await asyncio.to_thread(
            wait_until, lambda: committed(net, stx.hash.hex()), 60, "the transfer to commit"
        )
        await asyncio.gather(*waits)
    return answers, status_code


# -- B. malformed HTTP and clients that hang up ---------------------------------------------


def raw_exchange(port: int, data: bytes, timeout: float = 10.0, close_after: bool = False) -> bytes:
    """Send `data` on a fresh connection and read until the node closes it (or the
    timeout): the raw answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        if close_after:
            return b""
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def rpc_port(net: LocalNet) -> int:
    return int(net.nodes[0].rpc_url.rsplit(":", 1)[1])


MALFORMED = {
    "no Host header": b"GET /v1/status HTTP/1.1\r\nConnection: close\r\n\r\n",
    "a header line over 8,190 bytes": b"GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Long: "
    + b"a" * 9_000
    + b"\r\n\r\n",
    "200 headers": b"GET /v1/status HTTP/1.1\r\nHost: x\r\n"
    + b"".join(b"X-%d: 1\r\n" % i for i in range(200))
    + b"\r\n",
    "Content-Length with chunked": b"POST /v1/txs HTTP/1.1\r\nHost: x\r\n"
    b"Content-Type: application/json\r\nContent-Length: 5\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "a bad chunk size": b"POST /v1/txs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
}


def test_malformed_requests_and_hang_ups_cost_one_log_line_each(tmp_path: Path) -> None:
    rounds, hang_ups = 20, 10
    net = one_node(tmp_path, rpc_front=False)
    try:
        net.start_all()
        port = rpc_port(net)
        for _ in range(rounds):
            for what, data in MALFORMED.items():
                answer = raw_exchange(port, data)
                assert answer.startswith(b"HTTP/1.") and b" 400 " in answer[:16], (what, answer)
                head, _, body = answer.partition(b"\r\n\r\n")
                assert b"application/json" in head.lower(), (what, answer)
                error = json.loads(body)["error"]
                assert error["code"] == "malformed_request" and error["message"], (what, error)
        # a client that hangs up in the middle of a body over 256 KiB
        size = 300 * 1024
        head = (
            b"POST /v1/txs/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % size
        )
        for _ in range(hang_ups):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(head + b"a" * (200 * 1024))
                time.sleep(0.2)  # the node is reading the body when the client leaves
        wait_until(
            lambda: net.log_text(0).count("event=rpc_client_gone ") >= hang_ups,
            30,
            "every hang-up to be logged",
        )
        assert net.status(0)["chain_id"] == net.chain_id
    finally:
        net.close()
    log = net.log_text(0)
    assert log.count("event=http_malformed ") == rounds * len(MALFORMED), log[-2000:]
    assert log.count("event=rpc_client_gone ") == hang_ups
    assert "Traceback" not in log and "Error handling request" not in log, log[-3000:]
    assert "rpc handler failed" not in log
    assert "error=\"Missing 'Host' header in request.\"" in log
