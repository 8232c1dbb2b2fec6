"""Hostile clients of a validator's RPC front process (node/rpc_front.py), with a
real node behind it.

Headers alone spend none of the front's room and hold none of the node's
descriptors; the front holds at most its share of the node's descriptors however
many bodies trickle in; a head the node's parser would refuse gets the front's
JSON 400 or 431, never aiohttp's plain text and never silence; a client that does
not read its answers loses its connection; a request passed through to a node
that does not answer gets the 504; a submission whose target is spelled otherwise
(percent-escapes, a fragment) but that the node's router still takes for one is
refused, and spends the front's room, as the plain spelling does.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from node.front_process import rpc_socket_path
from node.home import CONFIG_FILE, MempoolLimits, ServiceLimits, config_to_toml, load_home
from node.rpc_front import upstream_slots
from tests.integration import test_rpc_front
from tests.integration.harness import ROOT, LocalNet, free_base_port, http, wait_until
from tests.integration.test_admission_control import LIMITS
from tests.integration.test_rpc_front import fill, front_pids, front_refusals

# how long a test waits for an answer the front owes: far beyond any timeout of the
# front's (10 s for headers, 1.5 s for an answer where a test sets it), so that a
# hang is told apart from a slow, loaded machine
ANSWER_WAIT = 60.0

Answer = tuple[int, dict[str, str], bytes]
ESTABLISHED = 1  # a TCP socket's state (linux/tcp_states.h)


@pytest.fixture
def net(tmp_path: Path) -> Iterator[LocalNet]:
    with LocalNet(tmp_path / "net", count=1, mempool=LIMITS) as net:
        yield net


def rpc_port(net: LocalNet) -> int:
    return int(net.nodes[0].rpc_url.rsplit(":", 1)[1])


def connect(net: LocalNet, timeout: float = ANSWER_WAIT) -> socket.socket:
    return socket.create_connection(("127.0.0.1", rpc_port(net)), timeout=timeout)


def read_answer(sock: socket.socket) -> Answer:
    """One answer with a Content-Length (every answer these tests expect has one)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before an answer's head: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers["content-length"])
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed within an answer's body")
        body += chunk
    return int(lines[0].split(" ")[1]), headers, body[:length]


def exchange(net: LocalNet, data: bytes) -> Answer:
    with connect(net) as sock:
        sock.sendall(data)
        return read_answer(sock)


def error_code(answer: Answer) -> str:
    status, headers, body = answer
    assert headers["content-type"].startswith("application/json"), answer
    code = json.loads(body)["error"]["code"]
    assert isinstance(code, str)
    return code


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def submission(net: LocalNet, sender: int) -> bytes:
    """A signed transfer's `POST /v1/txs`, on a connection the client then closes."""
    body = json.dumps({"tx": net.transfer(sender, 7).encode().hex()}).encode()
    head = (
        "POST /v1/txs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


# -- the front's room ----------------------------------------------------------------


def test_headers_alone_spend_none_of_the_fronts_room(net: LocalNet) -> None:
    # Each round: twenty clients announce a 300 kB batch (a thousand transactions by
    # the front's estimate, beyond what it reads whole) and hang up without a body,
    # then an honest client submits one transfer. The pool is all but empty: it is
    # admitted every time. Before, each head spent its thousand, and the honest
    # client got the front's 429 until the node wrote its room again.
    bogus = (
        b"POST /v1/txs/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 300000\r\n\r\n"
    )
    for round_ in range(10):
        for _ in range(20):
            with connect(net) as sock:
                sock.sendall(bogus)
        answer = exchange(net, submission(net, round_ % 6))
        assert answer[0] == 202, answer
        assert json.loads(answer[2])["code"] == "accepted", answer


# -- the node's descriptors ------------------------------------------------------------


def test_headers_alone_hold_none_of_the_nodes_descriptors(net: LocalNet) -> None:
    # Two hundred clients send a submission's head and never its 100-byte body. The
    # front reads such a body whole before it takes a connection to the node: the
    # node holds no descriptor for any of them (before, one each).
    (front,) = front_pids(net)
    node = net.processes[0].pid
    node_before, front_before = open_files(node), open_files(front)
    head = b"POST /v1/txs HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
    with contextlib.ExitStack() as stack:
        for _ in range(200):
            stack.enter_context(connect(net)).sendall(head)
        wait_until(
            # (a connection of the harness' own may close meanwhile)
            lambda: open_files(front) >= front_before + 190,
            30,
            "the front to take them all",
        )
        assert net.status(0)["chain_id"] == net.chain_id  # and others are still served
        assert open_files(node) < node_before + 40, (node_before, open_files(node))


def test_a_body_that_comes_late_is_not_sent_down_a_connection_the_node_closed(
    net: LocalNet,
) -> None:
    # The node closes a connection idle for its keep-alive time (the request timeout,
    # 10 s). A request relayed at t=0 leaves the front a kept connection; a client
    # sends a submission's head at t=4 and its body at t=11, within the 10 s a body
    # has. The front takes a connection to the node only once the body is there, so
    # not the one the node closed at t=10 (before: 503 node_unavailable, and the
    # transaction lost).
    assert net.status(0)["chain_id"] == net.chain_id
    time.sleep(4)
    message = submission(net, 0)
    split = message.index(b"\r\n\r\n") + 4
    with connect(net) as sock:
        sock.sendall(message[:split])
        time.sleep(7)
        sock.sendall(message[split:])
        answer = read_answer(sock)
    assert answer[0] == 202, answer


@contextlib.contextmanager
def front_by_hand(net: LocalNet, inherited_limit: int) -> Iterator[tuple[int, int]]:
    """A second front before the node, started as the node starts its own but with
    `inherited_limit` open files for a soft limit, as from a node with that limit;
    yields its (pid, port). Ended by its PID."""
    run_dir = rpc_socket_path(net.nodes[0].home).parent
    port = free_base_port(1)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (inherited_limit, hard))

    process = subprocess.Popen(
        [sys.executable, "-m", "node.rpc_front", "--host", "127.0.0.1", "--port", str(port)]
        + ["--upstream", str(run_dir / "rpc.sock"), "--state", str(run_dir / "admission")]
        + ["--request-timeout", "60"],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        preexec_fn=limited,  # noqa: PLW1509 - a limit, no threads touched
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == b"ready\n"
        yield process.pid, port
    finally:
        process.kill()
        process.wait(timeout=30)
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                pipe.close()


def test_the_front_holds_at_most_its_share_of_the_nodes_descriptors(tmp_path: Path) -> None:
    # A front whose node may open 256 files; 250 clients each announce a 300 kB batch,
    # which streams through to the node as it arrives, and send a little of it. The
    # front keeps at most its share of the node's limit in use (and a few idle); the
    # rest wait their turn (before: one connection to the node each). Once the
    # clients are gone, requests are relayed again.
    inherited, clients = 256, 250
    cap = upstream_slots(inherited)
    assert cap + 32 < clients
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2 * clients + 256:
        pytest.skip(f"the hard open-file limit is {hard}")
    # a minute for a body, so the node does not end the trickling ones while we count
    limits = ServiceLimits(request_timeout_ms=60_000)
    head = b"POST /v1/txs/batch HTTP/1.1\r\nHost: x\r\nContent-Length: 300000\r\n\r\n{"
    with (
        LocalNet(tmp_path / "net", count=1, mempool=LIMITS, limits=limits) as net,
        front_by_hand(net, inherited) as (front, port),
        contextlib.ExitStack() as clients_,
    ):
        node = net.processes[0].pid
        node_before, front_before = open_files(node), open_files(front)
        for _ in range(clients):
            sock = socket.create_connection(("127.0.0.1", port), timeout=ANSWER_WAIT)
            clients_.enter_context(sock).sendall(head)
        wait_until(
            lambda: open_files(front) >= front_before + clients + cap,
            60,
            "the front to take every client and its share of connections to the node",
        )
        in_use = open_files(node) - node_before
        assert in_use <= cap + 16, (in_use, cap)
        clients_.close()  # the clients hang up: their places go to the next requests
        code, status = http("GET", f"http://127.0.0.1:{port}/v1/status", timeout=ANSWER_WAIT)
        assert (code, status["chain_id"]) == (200, net.chain_id), status


# -- heads the node's parser refuses ---------------------------------------------------

HEADERS_OVER_LIMIT = "".join(f"X-{i}: 1\r\n" for i in range(130))

REFUSED_HEADS = {
    "bare LF": b"GET /v1/status HTTP/1.1\nHost: x\n\n",
    "bare LF after a header": b"GET /v1/status HTTP/1.1\r\nHost: x\n\r\n",
    "bare CR in a value": b"GET /v1/status HTTP/1.1\r\nHost: x\ry\r\n\r\n",
    "no Host in HTTP/1.1": b"GET /v1/status HTTP/1.1\r\n\r\n",
    "two Hosts": b"GET /v1/status HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
    "the same Content-Length twice": (
        b"POST /v1/txs HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}"
    ),
    "two Content-Types": (
        b"GET /v1/status HTTP/1.1\r\nHost: x\r\nContent-Type: a/b\r\nContent-Type: c/d\r\n\r\n"
    ),
    "Transfer-Encoding with Content-Length": (
        b"POST /v1/txs HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    ),
    "a Transfer-Encoding other than chunked": (
        b"POST /v1/txs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"
    ),
    "chunked twice": (
        b"POST /v1/txs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"
    ),
    "a Content-Length with a sign": (
        b"POST /v1/txs HTTP/1.1\r\nHost: x\r\nContent-Length: +2\r\n\r\n{}"
    ),
    "a Content-Length beyond any count": (
        b"POST /v1/txs HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n"
    ),
    "a header line over 8190 bytes": (
        b"GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 9000 + b"\r\n\r\n"
    ),
    "a header name over 8190 bytes": (
        b"GET /v1/status HTTP/1.1\r\nHost: x\r\n" + b"a" * 8191 + b": 1\r\n\r\n"
    ),
    "a target over 8190 bytes": (b"GET /" + b"a" * 8190 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
    "more headers than the parser takes": (
        b"GET /v1/status HTTP/1.1\r\nHost: x\r\n" + HEADERS_OVER_LIMIT.encode() + b"\r\n"
    ),
    "a head over 64 KiB": (
        b"GET /v1/status HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-%d: " % i + b"a" * 4000 + b"\r\n" for i in range(20))
        + b"\r\n"
    ),
    "a line over 64 KiB": b"GET /v1/status HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 70_000,
    "a method that is not a name": b"G(T /v1/status HTTP/1.1\r\nHost: x\r\n\r\n",
    "a method in lower case": b"get /v1/status HTTP/1.1\r\nHost: x\r\n\r\n",
    "CONNECT": b"CONNECT x:1 HTTP/1.1\r\nHost: x\r\n\r\n",
    "a target that is not a path": b"GET v1/status HTTP/1.1\r\nHost: x\r\n\r\n",
    "a control character in the target": b"GET /v1/\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
    "a byte over 127 in the target": b"GET /v1/\xff HTTP/1.1\r\nHost: x\r\n\r\n",
    "a NUL in a value": b"GET /v1/status HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n",
    "a control character in a value": b"GET /v1/status HTTP/1.1\r\nHost: x\r\nX: \x7f\r\n\r\n",
    "a name that is not a token": b"GET /v1/status HTTP/1.1\r\nHost: x\r\nX(a: b\r\n\r\n",
    "a space before the colon": b"GET /v1/status HTTP/1.1\r\nHost: x\r\nX : b\r\n\r\n",
    "a folded header": b"GET /v1/status HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n",
    "HTTP/1.2": b"GET /v1/status HTTP/1.2\r\nHost: x\r\n\r\n",
}


@pytest.fixture(scope="module")
def quiet_net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNet]:
    """One node for the heads below, which change nothing."""
    with LocalNet(tmp_path_factory.mktemp("heads") / "net", count=1) as net:
        yield net


@pytest.mark.parametrize("head", REFUSED_HEADS.values(), ids=REFUSED_HEADS.keys())
def test_a_head_the_nodes_parser_refuses_gets_the_fronts_json_answer(
    quiet_net: LocalNet, head: bytes
) -> None:
    status, headers, body = exchange(quiet_net, head)
    code = error_code((status, headers, body))
    allowed = {(400, "malformed_request"), (431, "headers_too_large")}
    if head.startswith(b"CONNECT "):
        allowed = {(405, "method_not_allowed")}
        assert "GET" in headers["allow"]
    assert (status, code) in allowed, body
    assert headers["connection"] == "close"
    assert json.loads(body)["error"]["message"]


def test_heads_the_nodes_parser_reads_are_still_relayed(quiet_net: LocalNet) -> None:
    # the front refuses no more than it must: these the node reads, and answers
    for head in (
        b"\r\nGET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n",  # an empty line first: ignored
        b"GET /v1/status HTTP/1.0\r\n\r\n",  # HTTP/1.0 needs no Host
        b"GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 8000 + b"\r\n\r\n",
        b"GET /v1/status HTTP/1.1\r\nHost: x\r\n" + b"X-A: 1\r\n" * 99 + b"\r\n",
    ):
        status, _, body = exchange(quiet_net, head)
        assert status == 200, body
        assert json.loads(body)["chain_id"] == quiet_net.chain_id
    # a method no route takes reaches the node, which names the path's methods
    status, headers, body = exchange(quiet_net, b"QUERY /v1/status HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (status, json.loads(body)["error"]["code"]) == (405, "method_not_allowed"), body
    assert "GET" in headers["allow"]


# -- clients that do not read ---------------------------------------------------------


def tcp_state(sock: socket.socket) -> int:
    """The kernel's state of a TCP socket (1: established), read without reading."""
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]


def test_a_client_that_does_not_read_its_answers_loses_its_connection(net: LocalNet) -> None:
    # Ten clients with a 1 kB receive buffer each pipeline forty requests for the API's
    # description (tens of kB each) and read nothing. A write to a client waits at most
    # the request timeout (10 s): the front then ends the connection, and drops what it
    # queued for it; before, it held them, their answers and the node's connections.
    status, document = http("GET", net.url(0, "/openapi.json"))
    assert status == 200
    size = len(json.dumps(document))
    request = b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n"
    with contextlib.ExitStack() as stack:
        sockets = []
        for _ in range(10):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
            sock.settimeout(ANSWER_WAIT)
            sock.connect(("127.0.0.1", rpc_port(net)))
            sock.sendall(request * 40)
            sockets.append(sock)
        wait_until(
            lambda: all(tcp_state(sock) != ESTABLISHED for sock in sockets),
            90,
            "the front to end the connections of clients that do not read",
        )
        for sock in sockets:  # each got less than it asked for, then the end
            received = 0
            with contextlib.suppress(ConnectionResetError):
                while chunk := sock.recv(1 << 20):
                    received += len(chunk)
            assert received < 40 * size
    assert net.status(0)["chain_id"] == net.chain_id


# -- requests passed through ------------------------------------------------------------


def configured_net(
    tmp_path: Path, answer_timeout_ms: int, mempool: MempoolLimits | None = None
) -> LocalNet:
    """A one-validator net, not started, with this answer timeout (and these pool limits)."""
    net = LocalNet(tmp_path / "net", count=1, mempool=mempool)
    home = net.nodes[0].home
    config = load_home(home).config
    limits = dataclasses.replace(config.limits, answer_timeout_ms=answer_timeout_ms)
    (home / CONFIG_FILE).write_text(config_to_toml(dataclasses.replace(config, limits=limits)))
    return net


def test_a_request_passed_through_to_a_stuck_node_gets_the_fronts_504(tmp_path: Path) -> None:
    # A chunked submission is passed through untouched; a node that does not begin
    # its answer in the answer timeout (1.5 s) gets no more of the client's time,
    # as for a request the front relays itself (before: no answer at all).
    net = configured_net(tmp_path, answer_timeout_ms=1_500)
    try:
        net.start_all()
        node = net.processes[0].pid
        os.kill(node, signal.SIGSTOP)
        try:
            answer = exchange(
                net,
                b"POST /v1/txs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
            )
        finally:
            os.kill(node, signal.SIGCONT)
        assert (answer[0], error_code(answer)) == (504, "node_timeout"), answer
        assert answer[1]["retry-after"] == "1"
        wait_until(lambda: net.status(0), 30, "the node to answer again")
        # and a node that answers still does, through the same path
        answer = exchange(
            net,
            b"GET /v1/status HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        )
        assert answer[0] == 200, answer
    finally:
        net.close()


# -- a submission, however its target spells it ------------------------------------------

# The node's router (aiohttp's) decodes the percent-escape of any ASCII byte but "/"
# and "%" before it compares a path with its routes, and its parser drops a fragment:
# each of these reached the node's submission handler (path: the one it reached).
SUBMISSION_SPELLINGS = {
    "/v1/tx%73": "/v1/txs",
    "/%76%31/%74%78%73": "/v1/txs",
    "/v1/txs#f": "/v1/txs",
    "/v1/tx%73?x=1#f": "/v1/txs",
    "/v1/tx%73/batch": "/v1/txs/batch",
    "/v1/txs/%62%61%74%63%68": "/v1/txs/batch",
    "/v1/txs/batch#": "/v1/txs/batch",
}
# ...and these it does not take for a submission (its 404): the front relays them,
# pool full or not, and refuses nothing more than the node routes.
NOT_SUBMISSIONS = (
    "/v1/txs%2Fbatch",
    "/v1/txs%2fbatch",
    "/v1/tx%2573",
    "/v1/tx%53",
    "/v1/txs%23",
    "//v1/txs",
    "/v1/txs/",
    "/v1/./txs",
    "/v1/%2E/txs",
    "/v1/txs;x",
)

# two validators, the second never serving: what the first admits stays pending, so
# its pool stays full (a fixture of the front's own tests)
stalled = test_rpc_front.stalled


def post_to(target: str, path: str, txs: list[bytes]) -> bytes:
    """A JSON submission of `txs` to `target`, in the body of the route at `path`."""
    if path == "/v1/txs":
        (tx,) = txs
        document: dict[str, object] = {"tx": tx.hex()}
    else:
        document = {"txs": [tx.hex() for tx in txs]}
    body = json.dumps(document).encode()
    head = (
        f"POST {target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def test_a_submission_spelled_otherwise_is_refused_by_the_front_while_the_pool_is_full(
    stalled: LocalNet,
) -> None:
    # The pool is full and the front refuses `POST /v1/txs`. A transfer sent to a
    # target the node's router still takes for a submission gets the same 429 from
    # the front, and the node never sees it (before: the front relayed it, neither
    # refused nor counted, and the node admitted it into the headroom it keeps past
    # its limit for what the front relayed in good faith, then answered its own 429
    # as slowly as the front is there to spare).
    net = stalled
    fill(net)
    before = front_refusals(net)

    def refused_by_front() -> bool:
        answer = exchange(net, post_to("/v1/txs", "/v1/txs", [net.transfer(6, 7).encode()]))
        assert (answer[0], error_code(answer)) == (429, "mempool_full"), answer
        return front_refusals(net) > before

    wait_until(refused_by_front, 10, "the front to answer a 429 itself")
    pending = net.status(0)["mempool_size"]
    for target, path in SUBMISSION_SPELLINGS.items():
        before = front_refusals(net)
        stx = net.transfer(7, 6)
        status, headers, _ = answer = exchange(net, post_to(target, path, [stx.encode()]))
        assert status == 429, (target, answer)
        assert error_code(answer) == "mempool_full", (target, answer)
        assert int(headers["retry-after"]) >= 1 and int(headers["retry-after-ms"]) >= 1
        # the front's answer, not the node's (the node counts what its front refused)
        assert front_refusals(net) == before + 1, target
        code, outcome = http("GET", net.url(0, f"/v1/txs/{stx.hash.hex()}"))
        assert (code, outcome["status"]) == (200, "unknown"), (target, outcome)
    assert net.status(0)["mempool_size"] == pending
    before = front_refusals(net)
    # what the node does not route to a submission still reaches it, full pool or not
    for target in NOT_SUBMISSIONS:
        answer = exchange(net, post_to(target, "/v1/txs", [net.transfer(7, 6).encode()]))
        assert (answer[0], error_code(answer)) == (404, "not_found"), (target, answer)
    assert front_refusals(net) == before
    # and a plain submission with a query string is the front's 429 as before, while
    # an escape in a path that is no submission's is relayed as it always was
    answer = exchange(net, post_to("/v1/txs?x=1", "/v1/txs", [net.transfer(7, 6).encode()]))
    assert (answer[0], error_code(answer)) == (429, "mempool_full"), answer
    status, _, body = exchange(net, b"GET /v1/%73tatus?x=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 200 and json.loads(body)["chain_id"] == net.chain_id, body


def test_a_submission_spelled_otherwise_spends_the_fronts_room(tmp_path: Path) -> None:
    # The node stops (SIGSTOP) just after it publishes its room: for 2 s the front
    # trusts that room and spends it itself. A batch sent to /v1/tx%73/batch with a
    # 200 kB body counts as a thousand transactions, more than the room (the pool
    # admits 40), so the plain submission behind it is the front's 429 at once.
    # Before, the spelled batch spent nothing, and the plain one was relayed to the
    # stopped node too (each gets the front's 504 after the answer timeout, 0.5 s).
    net = configured_net(tmp_path, answer_timeout_ms=500, mempool=LIMITS)
    try:
        net.start_all()
        batch = post_to("/v1/tx%73/batch", "/v1/txs/batch", [bytes(98)] * 1000)
        assert len(batch) > 200_000
        with connect(net) as sock:
            # an admission: the node publishes its room as it answers
            sock.sendall(post_to("/v1/txs", "/v1/txs", [net.transfer(0, 7).encode()]))
            answer = read_answer(sock)
            assert answer[0] == 202, answer
            node = net.processes[0].pid
            os.kill(node, signal.SIGSTOP)
            try:
                # one connection: the front reads the plain submission only once it
                # has relayed the batch, and answered its 504
                sock.sendall(batch)
                answer = read_answer(sock)
                assert (answer[0], error_code(answer)) == (504, "node_timeout"), answer
                sock.sendall(post_to("/v1/txs", "/v1/txs", [net.transfer(1, 7).encode()]))
                answer = read_answer(sock)
            finally:
                os.kill(node, signal.SIGCONT)
        assert answer[0] == 429, answer
        assert error_code(answer) == "mempool_full", answer
    finally:
        net.close()
