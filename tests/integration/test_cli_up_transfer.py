"""End to end: `pasar up` starts the network.toml testnet as real processes, a second
process sends a transfer with `pasar tx transfer --from buyer`, and every validator
reports it committed with the same balances; Ctrl-C (SIGINT to `pasar up`'s process
group) stops every node.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import free_base_port

ROOT = Path(__file__).resolve().parents[2]


def pasar(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def serving(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/v1/status", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}: {last!r}")


def test_up_then_cli_transfer_is_seen_on_every_node(tmp_path: Path) -> None:
    base_port = free_base_port(8)
    network = tmp_path / "network.toml"
    network.write_text(
        (ROOT / "network.toml")
        .read_text()
        .replace("base_port = 26600", f"base_port = {base_port}")
        .replace('data_dir = ".pasar"', 'data_dir = "data"')
    )
    up = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "up", "--network", str(network)],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.extend(iter(up.stdout.readline, "")),  # type: ignore[union-attr]
        daemon=True,
    )
    reader.start()
    urls = [f"http://127.0.0.1:{base_port + 2 * i}" for i in range(4)]
    keys = str(tmp_path / "data" / "keys")
    try:
        child_pids = wait_for(
            lambda: (
                [int(m) for m in re.findall(r"pid (\d+)", "".join(lines))][:4]
                if len(re.findall(r"pid (\d+)", "".join(lines))) >= 4
                else None
            ),
            30,
            "pasar up to start four nodes",
        )
        printed = (
            f"wallet   {urls[0]}/wallet\nexplorer {urls[0]}/explorer\noperator {urls[0]}/operator"
        )
        wait_for(lambda: printed in "".join(lines) or None, 10, "the page URLs")
        shop = f"shop     {urls[0]}/shop\nseller   {urls[0]}/seller"
        wait_for(lambda: shop in "".join(lines) or None, 10, "the shop URLs")
        for url in urls:
            # Polled over HTTP, not by starting a `pasar` process every 0.2 s, which on a
            # busy machine slows the nodes it waits for.
            wait_for(lambda url=url: serving(url), 60, f"{url} to serve")
        sent = pasar(
            "tx", "transfer", "--from", "buyer", "--to", "seller", "--asset", "IDRA",
            "--amount", "1000000", "--wait", "30", "--json",
            "--node", urls[3], "--keys-dir", keys,
        )  # fmt: skip
        assert sent.returncode == 0, sent.stdout + sent.stderr
        outcome = json.loads(sent.stdout)
        assert outcome["status"] == "committed"
        height = outcome["height"]

        def seller_on(url: str) -> Any:
            answer = pasar(
                "query", "account", "seller", "--json", "--node", url, "--keys-dir", keys
            )
            if answer.returncode != 0:
                return None
            account = json.loads(answer.stdout)
            return account if account["height"] >= height else None

        accounts = [wait_for(lambda url=url: seller_on(url), 30, url) for url in urls]
        assert {a["balances"]["IDRA"] for a in accounts} == {1_000_000 + 1_000_000}
        for url in urls:
            seen = pasar("query", "tx", outcome["hash"], "--json", "--node", url)
            assert json.loads(seen.stdout)["status"] == "committed"
    finally:
        os.killpg(up.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends
        try:
            code = up.wait(timeout=30)
        finally:
            if up.poll() is None:
                os.killpg(up.pid, signal.SIGKILL)
                up.wait()
        reader.join(timeout=5)
        print("".join(lines))  # pytest shows it when the test fails: the nodes' own log
    assert code == 0, "".join(lines[-30:])
    for pid in child_pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
