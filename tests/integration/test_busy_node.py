"""`pasar tx` and the merchant SDK ride out a genuinely busy node (real validators).

Four validators with a tiny admit limit (`[mempool] floor_txs = 3`), of which only
two run: without a quorum nothing commits, so once three transfers fill v0's pool
it answers 429 `mempool_full` (Retry-After-Ms 600) and stays full. The CLI with
`--busy-wait 0` fails at once with one line; with a budget shorter than the outage
it retries, then fails with one line; a CLI call and a merchant SDK call that are
waiting when the other two validators start are admitted once blocks commit, and
commit. (Two of four running, not one: their VIEW-CHANGEs are the f + 1 that pull
the starting validators into their view at once; a lone validator's could not, and
its pool reaches them only as their links come up, node/pool_resend.py.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cli.client import NodeReplyError
from cli.merchant import Invoice, Merchant
from ledger.keys import address_to_text
from node.home import MempoolLimits
from node.keyfile import write_key_file
from tests.integration.harness import ROOT, SYMBOL, LocalNet, wait_until

# an admit limit of 3 while nothing commits, Retry-After-Ms 600 (Retry-After 1 s, rounded up)
LIMITS = MempoolLimits(floor_txs=3, backlog_ms=600)
SHOPPER, SHOP, PAYEE = 3, 4, 7  # account indexes: the CLI's sender, the merchant, the payee
RETRY_LINE = "node busy (mempool_full): retrying in "


@pytest.fixture
def net(tmp_path: Path) -> Iterator[LocalNet]:
    local = LocalNet(tmp_path / "net", count=4, mempool=LIMITS)
    try:
        yield local
    finally:
        local.close()


def pasar_transfer(net: LocalNet, keys: Path, *options: str) -> list[str]:
    """The command line of a `pasar tx transfer` from the shopper through v0."""
    payee = address_to_text(net.accounts[PAYEE].public_key)
    return [
        sys.executable,
        "-m",
        "cli.main",
        "tx",
        "transfer",
        "--from",
        "shopper",
        "--to",
        payee,
        "--asset",
        SYMBOL,
        "--amount",
        "5",
        "--node",
        net.nodes[0].rpc_url,
        "--keys-dir",
        str(keys),
        "--json",
        *options,
    ]


def run_cli(command: list[str]) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_the_cli_and_the_merchant_sdk_ride_out_a_node_without_quorum(
    net: LocalNet, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    write_key_file(keys / "shopper.json", net.accounts[SHOPPER], None, insecure_plaintext=True)
    net.start(0)
    net.start(1)
    net.wait_up(0)
    net.wait_up(1)
    wait_until(lambda: net.status(0)["peers_connected"] >= 1, 20, "v0 and v1 to connect")

    fill = [net.transfer(sender, PAYEE) for sender in range(3)]
    assert [r["code"] for r in net.submit(0, fill)] == ["accepted"] * 3
    # v1 holds them too (gossip), so both ask for a view change the others will follow
    wait_until(lambda: net.status(1)["mempool_size"] == 3, 20, "v1 to hold the transfers")

    refused = run_cli(pasar_transfer(net, keys, "--busy-wait", "0"))
    assert refused.returncode == 1 and refused.stdout == "", refused
    (line,) = refused.stderr.splitlines()
    assert line.startswith("Error: node busy: ") and "(mempool_full, HTTP 429)" in line
    assert "not waited (--busy-wait 0)" in line and "later" in line

    # 600 ms times [1, 1.5): two to four retries fit in 2.5 s, then it gives up
    short = run_cli(pasar_transfer(net, keys, "--busy-wait", "2.5"))
    assert short.returncode == 1 and short.stdout == "", short
    *waits, last = short.stderr.splitlines()
    assert waits and all(wait.startswith(RETRY_LINE) for wait in waits), short.stderr
    assert last.startswith(f"Error: node still busy after {len(waits)} retr"), last
    assert "within --busy-wait 2.5 s" in last and "(mempool_full, HTTP 429)" in last
    assert "Traceback" not in short.stderr
    assert net.status(0)["height"] == 0 and net.status(0)["mempool_size"] == 3

    # a CLI call and a merchant SDK call, both waiting out the full pool
    stderr_path = tmp_path / "waiting.stderr"
    with stderr_path.open("w") as stderr:
        waiting = subprocess.Popen(
            pasar_transfer(net, keys, "--busy-wait", "60", "--wait", "30"),
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        merchant = Merchant(
            net.nodes[0].rpc_url,
            address_to_text(net.accounts[SHOP].public_key),
            net.accounts[SHOP],
        )
        shop_refusals: list[str] = []
        submit = merchant.client.submit

        def counting_submit(signed_tx: bytes) -> Any:
            try:
                return submit(signed_tx)
            except NodeReplyError as exc:
                shop_refusals.append(exc.code)
                raise

        merchant.client.submit = counting_submit  # type: ignore[method-assign]
        invoices: list[Invoice | BaseException] = []

        def create_invoice() -> None:
            try:
                invoices.append(merchant.create_invoice(1_000, SYMBOL, wait_s=60))
            except BaseException as exc:  # handed to the test thread
                invoices.append(exc)

        shop = threading.Thread(target=create_invoice, daemon=True)
        shop.start()
        wait_until(
            lambda: RETRY_LINE in stderr_path.read_text() and shop_refusals,
            20,
            "the CLI and the merchant SDK to be refused and waiting",
        )
        assert net.status(0)["height"] == 0 and waiting.poll() is None and shop.is_alive()

        net.start(2)
        net.start(3)
        stdout, _ = waiting.communicate(timeout=60)
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.wait(timeout=10)
    assert waiting.returncode == 0, stderr_path.read_text()
    outcome = json.loads(stdout)  # stdout is the outcome alone; the waits went to stderr
    assert outcome["status"] == "committed" and outcome["receipt"]["ok"], outcome
    lines = stderr_path.read_text().splitlines()
    assert lines and all(line.startswith(RETRY_LINE) for line in lines), lines

    shop.join(timeout=60)
    assert not shop.is_alive()
    (invoice,) = invoices
    assert isinstance(invoice, Invoice), invoice
    assert invoice.status == "open" and invoice.amount == 1_000
    assert shop_refusals and set(shop_refusals) == {"mempool_full"}
    assert net.height(0) >= 1
