"""A validator's RPC front process (node/rpc_front.py), with a real node behind it.

The front owns the RPC port; the node serves on a Unix socket. While the pool is
full the front itself answers submissions 429 `mempool_full` with a Retry-After
(the node counts those in `pasar_rpc_front_refusals_total`); a front that dies is
started again; a node that dies takes its front with it and frees the port.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPConnection
from pathlib import Path

import pytest

from bench.loadgen import child_pids
from node.front_process import MAX_SOCKET_PATH, rpc_socket_path
from node.home import CONFIG_FILE, config_to_toml, load_home
from tests.integration.harness import LocalNet, http, wait_until

# the same small pool and the same pending transfers as the admission tests
from tests.integration.test_admission_control import LIMITS, assert_retry_times, post


@pytest.fixture
def net(tmp_path: Path) -> Iterator[LocalNet]:
    with LocalNet(tmp_path / "net", count=1, mempool=LIMITS) as net:
        yield net


@pytest.fixture
def stalled(tmp_path: Path) -> Iterator[LocalNet]:
    """Two validators, the second never serving: nothing commits, so what v0 admits
    stays pending (transfers a block could take, which fill the pool's room)."""
    with LocalNet(tmp_path / "net", count=2, mempool=LIMITS) as net:
        net.kill(1)
        yield net


def fill(net: LocalNet) -> None:
    """Six senders send ten transfers each until v0's pool refuses: 60 >= its limit of 40."""
    for sender in range(6):
        for _ in range(10):
            status, _, _ = post(net, net.transfer(sender, 7))
            if status == 429:
                break


def front_pids(net: LocalNet) -> list[int]:
    """The processes the node started that still run: its front."""
    return child_pids(net.processes[0].pid)


def front_refusals(net: LocalNet) -> float:
    code, text = http("GET", net.url(0, "/metrics"))
    assert code == 200
    for line in str(text).splitlines():
        if line.startswith("pasar_rpc_front_refusals_total "):
            return float(line.split()[1])
    raise AssertionError("no pasar_rpc_front_refusals_total in /metrics")


def test_a_full_pool_is_refused_by_the_front(stalled: LocalNet) -> None:
    net = stalled
    assert len(front_pids(net)) == 1
    fill(net)
    before = front_refusals(net)
    waiting = net.transfer(6, 7)

    def refused_by_front() -> bool:
        status, body, retry = post(net, waiting)
        assert status == 429, body
        assert body["error"]["code"] == "mempool_full"  # type: ignore[index]
        assert_retry_times(retry)  # the front's, from the node's published time
        return front_refusals(net) > before

    wait_until(refused_by_front, 10, "the front to answer a 429 itself")
    # reads still reach the node
    assert net.status(0)["chain_id"] == net.chain_id


class UnixConnection(HTTPConnection):
    """HTTP to the node's own socket, past its front (as a request the front relayed)."""

    def __init__(self, path: Path) -> None:
        super().__init__("localhost", timeout=10)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(str(self.path))


def test_behind_its_front_the_node_still_reads_a_relayed_request_at_its_limit(
    stalled: LocalNet,
) -> None:
    """The front hands out the room up to the limits and refuses once there is none;
    what it relayed just before (a request behind a batch that took the last room)
    still passes the node's door, a tenth beyond the limits, and its transactions
    are refused one by one instead of the whole request at the pace of a busy node."""
    net = stalled
    fill(net)
    waiting = net.transfer(6, 7)
    wait_until(lambda: post(net, waiting)[0] == 429, 10, "the pool to be full")
    node = UnixConnection(rpc_socket_path(net.nodes[0].home))
    try:
        body = json.dumps({"txs": [waiting.encode().hex()]})
        node.request("POST", "/v1/txs/batch", body, {"Content-Type": "application/json"})
        answer = node.getresponse()
        found = json.loads(answer.read())
    finally:
        node.close()
    assert answer.status == 200, found
    assert [(r["accepted"], r["code"]) for r in found["results"]] == [(False, "mempool_full")]


def test_a_deep_home_serves_from_a_temporary_directory_no_kill_leaves_behind(
    tmp_path: Path,
) -> None:
    net = LocalNet(tmp_path / ("d" * MAX_SOCKET_PATH), count=1)
    try:
        net.start_all()
        killed = rpc_socket_path(net.nodes[0].home).parent
        assert killed.is_dir() and not str(killed).startswith(str(tmp_path))
        assert net.status(0)["chain_id"] == net.chain_id  # through the front
        net.kill(0)
        net.start(0)
        net.wait_up(0)
        again = rpc_socket_path(net.nodes[0].home).parent
        assert again != killed and again.is_dir() and not killed.exists()
        assert net.terminate(0) == 0
        assert not again.exists()
    finally:
        net.close()


def test_a_front_that_dies_is_started_again(net: LocalNet) -> None:
    (first,) = front_pids(net)
    os.kill(first, signal.SIGKILL)
    wait_until(lambda: front_pids(net) and front_pids(net) != [first], 20, "a new front")
    wait_until(lambda: net.status(0), 20, "the RPC to answer again")
    assert "event=rpc_front_exited" in net.log_text(0)


def test_behind_its_front_every_operation_lists_the_fronts_answers(net: LocalNet) -> None:
    status, document = http("GET", net.nodes[0].rpc_url + "/openapi.json")
    assert status == 200
    for item in document["paths"].values():
        for operation in item.values():
            assert {"503", "504"} <= set(operation["responses"])
    ready = document["paths"]["/ready"]["get"]["responses"]["503"]
    assert ready["description"] == "Not ready"  # a route's own 503 keeps its meaning


def test_a_killed_node_takes_its_front_and_port_with_it(net: LocalNet) -> None:
    (front,) = front_pids(net)
    port = int(net.nodes[0].rpc_url.rsplit(":", 1)[1])
    net.kill(0)

    def gone() -> bool:
        return not Path(f"/proc/{front}").exists() or "Z" in _state(front)

    wait_until(gone, 10, "the front to exit")
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
    # and the node starts again on the same port
    net.start(0)
    net.wait_up(0)


def _configured_net(
    tmp_path: Path, answer_timeout_ms: int | None = None, rpc_front: bool = True
) -> LocalNet:
    """A one-validator net, not started, with these settings in its config.toml."""
    net = LocalNet(tmp_path / "net", count=1, mempool=LIMITS)
    home = net.nodes[0].home
    config = dataclasses.replace(load_home(home).config, rpc_front=rpc_front)
    if answer_timeout_ms is not None:
        limits = dataclasses.replace(config.limits, answer_timeout_ms=answer_timeout_ms)
        config = dataclasses.replace(config, limits=limits)
    (home / CONFIG_FILE).write_text(config_to_toml(config))
    return net


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


def test_the_node_gives_its_front_the_configured_answer_timeout(tmp_path: Path) -> None:
    net = _configured_net(tmp_path, answer_timeout_ms=1_500)
    try:
        net.start_all()
        (front,) = front_pids(net)
        argv = Path(f"/proc/{front}/cmdline").read_bytes().split(b"\0")
        assert argv[argv.index(b"--answer-timeout") + 1] == b"1.5"
        assert net.status(0)["chain_id"] == net.chain_id
    finally:
        net.close()


def test_a_block_long_poll_outlasts_the_answer_timeout_through_the_front(
    tmp_path: Path,
) -> None:
    # GET /v1/blocks/{height}?wait= through the front to a real node: the answer comes
    # as the block commits, and a wait longer than the front's answer timeout ends in
    # the node's 404, not the front's 504 (the front adds a long-poll's wait to it).
    net = _configured_net(tmp_path, answer_timeout_ms=1_000)
    try:
        net.start_all()
        height = net.height(0)
        with ThreadPoolExecutor(max_workers=1) as pool:
            url = net.url(0, f"/v1/blocks/{height + 1}?transactions=summary&wait=20")
            waiting = pool.submit(http, "GET", url, None, 30.0)
            stx = net.transfer(0, 1, 5)
            (result,) = net.submit(0, [stx])
            assert result["accepted"], result
            code, block = waiting.result(timeout=30)
        assert code == 200, block
        assert block["height"] == height + 1
        assert stx.hash.hex() in [item["hash"] for item in block["transactions"]]
        far = net.height(0) + 100
        code, body = http("GET", net.url(0, f"/v1/blocks/{far}?wait=2"), timeout=10.0)
        assert code == 404 and body["error"]["code"] == "block_not_found", body
    finally:
        net.close()


def test_without_the_front_the_node_answers_its_port_itself(tmp_path: Path) -> None:
    net = _configured_net(tmp_path, rpc_front=False)
    home = net.nodes[0].home
    try:
        net.start_all()
        assert front_pids(net) == []
        assert net.status(0)["chain_id"] == net.chain_id
        # no front: no operation gets its 504
        _, document = http("GET", net.nodes[0].rpc_url + "/openapi.json")
        responses = [op["responses"] for item in document["paths"].values() for op in item.values()]
        assert responses and not any("504" in codes for codes in responses)
        assert not (home / "run").exists()
    finally:
        net.close()
