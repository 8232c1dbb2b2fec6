"""Real validator processes on loopback for integration tests.

`LocalNet` writes homes with `node.home.create_testnet` on free ports, starts each
validator as `python -m cli.main node --home ...` (cwd = repo root), and talks to
them over HTTP with bounded polling loops. Every process it starts is killed by
PID in `close()`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ledger.keys import PrivateKey, address_to_text
from ledger.tx import SignedTransaction, Transaction
from node.home import (
    CONFIG_FILE,
    BlockLimits,
    MempoolLimits,
    ServiceLimits,
    TestnetNode,
    config_to_toml,
    create_testnet,
    load_home,
)

ROOT = Path(__file__).resolve().parents[2]
SYMBOL = "IDR"


def ephemeral_port_floor() -> int:
    """The lowest port the kernel hands out to client sockets and port-0 listeners."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


def free_base_port(count: int) -> int:
    """A base port with `count` consecutive free loopback ports.

    Chosen below the kernel's ephemeral range: between this probe and the nodes'
    start, the ports are free again, and a port in that range could meanwhile become
    some client connection's source port or a port-0 listener (the fault proxies),
    leaving a node unable to bind."""
    rng = random.Random()
    top = max(11_000, min(ephemeral_port_floor(), 60_000)) - count
    for _ in range(200):
        base = rng.randrange(10_000, top)
        sockets = []
        try:
            for offset in range(count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sockets.append(sock)
                sock.bind(("127.0.0.1", base + offset))
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
        return base
    raise RuntimeError("no free port range found")


@contextlib.contextmanager
def own_file_limit(needed: int) -> Iterator[None]:
    """This test process may open `needed` descriptors (its clients' sockets); the
    test is skipped where the hard limit is lower."""
    import pytest  # here: the benchmarks import this module without the test runner

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"the test needs {needed} open files; the hard limit is {hard}")
    if soft != resource.RLIM_INFINITY and soft < needed:
        # an unlimited hard limit is no soft one the kernel takes for descriptors
        raised = needed if hard == resource.RLIM_INFINITY else hard
        resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def http(method: str, url: str, body: Any = None, timeout: float = 10.0) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        status = exc.code
    try:
        return status, json.loads(raw)
    except json.JSONDecodeError:
        return status, raw.decode(errors="replace")


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, step: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except (OSError, urllib.error.URLError, ValueError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def route_peers(nodes: Sequence[TestnetNode], url_of: Callable[[int, int], str]) -> None:
    """Rewrite each home's peer URLs: validator i reaches validator j at url_of(i, j).

    Used before the validators start to put a fault proxy (tests/faults/proxy.py)
    on every link.
    """
    keys = {node.key: index for index, node in enumerate(nodes)}
    for index, node in enumerate(nodes):
        config = load_home(node.home).config
        peers = tuple(
            dataclasses.replace(peer, url=url_of(index, keys[peer.key])) for peer in config.peers
        )
        (node.home / CONFIG_FILE).write_text(
            config_to_toml(dataclasses.replace(config, peers=peers))
        )


class LocalNet:
    def __init__(
        self,
        root: Path,
        count: int = 4,
        accounts: int = 8,
        block: BlockLimits | None = None,
        view_timeout_ms: int = 1_000,
        extra_app_state: dict[str, Any] | None = None,
        limits: ServiceLimits | None = None,
        mempool: MempoolLimits | None = None,
    ) -> None:
        self.root = root
        self.issuer = PrivateKey.from_seed(bytes([200]) * 32)
        self.accounts = [PrivateKey.from_seed(bytes([i + 1]) * 32) for i in range(accounts)]
        self.nonces = {key.public_key: 0 for key in self.accounts}
        self.chain_id = "pasar-it"
        self.base_port = free_base_port(2 * count)
        issuer = address_to_text(self.issuer.public_key)
        app_state = {
            "coin": [
                [[SYMBOL, "Rupiah", 0, issuer, 10**15, "open"]],
                [[address_to_text(key.public_key), SYMBOL, 10**9] for key in self.accounts],
            ]
        }
        app_state.update(extra_app_state or {})  # more contract sections (roles, ...)
        self.nodes: list[TestnetNode] = create_testnet(
            root,
            [f"v{i}" for i in range(count)],
            base_port=self.base_port,
            chain_id=self.chain_id,
            app_state=app_state,
            insecure=True,
            block=block or BlockLimits(max_txs=2_000, interval_ms=100),
            view_timeout_ms=view_timeout_ms,
            mempool=mempool,
        )
        if limits is not None:  # the homes' config.toml with other [limits]
            for node in self.nodes:
                config = load_home(node.home).config
                (node.home / CONFIG_FILE).write_text(
                    config_to_toml(dataclasses.replace(config, limits=limits))
                )
        self.processes: dict[int, subprocess.Popen[bytes]] = {}
        self.logs: dict[int, Any] = {}

    def route_peers(self, url_of: Callable[[int, int], str]) -> None:
        """Validator i reaches validator j at url_of(i, j) (see `route_peers`)."""
        route_peers(self.nodes, url_of)

    def p2p_port(self, index: int) -> int:
        return int(self.nodes[index].p2p_url.rsplit(":", 1)[1])

    # -- processes -------------------------------------------------------------------

    def start(
        self,
        index: int,
        entry: Sequence[str] = ("-m", "cli.main"),
        env: dict[str, str] | None = None,
    ) -> None:
        """Start validator `index`; `entry` is what python runs instead of the CLI's
        module (a test wrapper such as tests/faults/byzantine.py and its arguments),
        `env` extra environment variables (e.g. libfaketime's LD_PRELOAD). The
        process started is python itself, so its PID is the node's."""
        node = self.nodes[index]
        env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
        log = open(self.root / f"{node.name}.log", "ab")  # noqa: SIM115 - closed in stop/close
        self.logs[index] = log
        self.processes[index] = subprocess.Popen(
            [sys.executable, *entry, "node", "--home", str(node.home)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def start_all(self) -> None:
        for index in range(len(self.nodes)):
            self.start(index)
        for index in range(len(self.nodes)):
            self.wait_up(index)

    def wait_up(self, index: int, timeout: float = 20.0) -> None:
        wait_until(lambda: self.status(index), timeout, f"{self.nodes[index].name} to serve")

    def kill(self, index: int) -> None:
        process = self.processes.pop(index, None)
        if process is not None:
            process.kill()
            process.wait(timeout=10)

    def terminate(self, index: int, timeout: float = 10.0) -> int:
        process = self.processes[index]
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=timeout)  # on a timeout close() still kills it
        del self.processes[index]
        return code

    def close(self) -> None:
        for index in list(self.processes):
            self.kill(index)
        for log in self.logs.values():
            log.close()

    def __enter__(self) -> LocalNet:
        """Every validator started and serving; `close()` on the way out, or if one
        does not come up."""
        try:
            self.start_all()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def rss_bytes(self, index: int) -> int:
        """The resident memory of validator `index`'s process (Linux /proc)."""
        pid = self.processes[index].pid
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError(f"no VmRSS for pid {pid}")

    def log_text(self, index: int) -> str:
        path = self.root / f"{self.nodes[index].name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def logged_heights(self, index: int, event: str = "node_opened") -> list[int]:
        """The height of each `event` line (node_opened, node_stopped) in a node's log."""
        return [
            int(part.split("=", 1)[1])
            for line in self.log_text(index).splitlines()
            if f"event={event} " in line
            for part in line.split()
            if part.startswith("height=")
        ]

    # -- HTTP ------------------------------------------------------------------------

    def url(self, index: int, path: str) -> str:
        return self.nodes[index].rpc_url + path

    def status(self, index: int) -> dict[str, Any]:
        code, body = http("GET", self.url(index, "/v1/status"), timeout=2.0)
        if code != 200:
            raise ValueError(f"status answered {code}")
        return dict(body)

    def height(self, index: int) -> int:
        return int(self.status(index)["height"])

    def transfer(self, sender: int, receiver: int, amount: int = 1) -> SignedTransaction:
        key = self.accounts[sender]
        nonce = self.nonces[key.public_key]
        self.nonces[key.public_key] = nonce + 1
        to = self.accounts[receiver].public_key
        tx = Transaction(
            self.chain_id, key.public_key, nonce, "coin.transfer", (SYMBOL, to, amount)
        )
        return tx.sign(key)

    def submit(self, index: int, txs: Sequence[SignedTransaction]) -> list[dict[str, Any]]:
        body = {"txs": [stx.encode().hex() for stx in txs]}
        code, answer = http("POST", self.url(index, "/v1/txs/batch"), body)
        if code != 200:
            raise AssertionError(f"batch submit answered {code}: {answer}")
        return list(answer["results"])

    def wait_height(self, indexes: Sequence[int], height: int, timeout: float = 30.0) -> None:
        for index in indexes:
            wait_until(
                lambda i=index: self.height(i) >= height,  # type: ignore[misc]
                timeout,
                f"{self.nodes[index].name} to reach height {height}",
            )

    def agree(self, indexes: Sequence[int], height: int) -> bool:
        """All named nodes hold the same block hash at `height` (via /v1/blocks/{h})."""
        hashes = set()
        for index in indexes:
            code, body = http("GET", self.url(index, f"/v1/blocks/{height}"))
            if code != 200:
                return False
            hashes.add(
                json.dumps(body.get("hash") or body.get("block_hash") or body, sort_keys=True)
            )
        return len(hashes) == 1
