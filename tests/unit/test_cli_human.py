"""What people see and type: `--wait` anywhere, ids copied from human output, amounts
with decimals and symbol, ISO dates, invoice expiry by the clock, and a quiet exit when
the reader of a pipe goes away. JSON output keeps the node's integers."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from rpc_helpers import CliDriver, ThreadedServer, court_server, party_keys

ROOT = Path(__file__).resolve().parents[2]
DAY = 24 * 3600 * 1000
ID = r"0x[0-9a-f]{64}"


@pytest.fixture
def server() -> Iterator[ThreadedServer]:
    with court_server() as running:
        yield running


@pytest.fixture
def keys_dir(tmp_path: Path, server: ThreadedServer) -> Path:
    return party_keys(tmp_path / "keys", server.node, "court")


class People(CliDriver):
    """Runs commands in human mode; `--wait` is given bare, last, as people type it."""

    def waited(self, *args: str) -> Result:
        timer = threading.Timer(0.3, self.server.commit)
        timer.start()
        try:
            result = self.run("tx", *args, "--wait")
        finally:
            timer.join()
        assert result.exit_code == 0, result.output
        assert "committed" in result.output, result.output
        return result


def copied(output: str, name: str) -> str:
    """The id a person copies from `name=0x…` in an event line."""
    match = re.search(rf"\b{name}=({ID})", output)
    assert match, output
    return match.group(1)


def test_submit_wait_bare_at_the_end_of_the_line(server: ThreadedServer, keys_dir: Path) -> None:
    c = People(server, keys_dir)
    signed = c.run(
        "tx", "transfer", "--from", "alice", "--to", "bob", "--asset", "IDRA",
        "--amount", "1050", "--offline", "--chain-id", server.node.chain_id, "--nonce", "0",
        "--json",
    )  # fmt: skip
    signed_tx = json.loads(signed.output)["signed_tx"]
    timer = threading.Timer(0.3, server.commit)
    timer.start()
    submitted = c.run("tx", "submit", signed_tx, "--node", server.url, "--wait", keys=False)
    timer.join()
    assert submitted.exit_code == 0, submitted.output
    assert "committed" in submitted.output
    # the event reads in rupiah (2 decimals) with its symbol
    assert "amount=10.50 IDRA" in submitted.output
    tx_hash = json.loads(signed.output)["hash"]
    again = c.run("query", "tx", f"0x{tx_hash}", "--wait", keys=False)
    assert again.exit_code == 0 and "committed" in again.output, again.output
    scripts = c.run("query", "tx", tx_hash, "--json", keys=False)
    assert json.loads(scripts.output)["receipt"]["events"][0]["attributes"]["amount"] == 1050


def test_ids_shown_in_events_are_accepted_and_orders_read_in_money_and_dates(
    server: ThreadedServer, keys_dir: Path
) -> None:
    c = People(server, keys_dir)
    c.waited(
        "arbiter", "publish", "--from", "court", "--fee-bps", "500", "--ruling", "2d",
        "--bound", "IDRA:10:100000",
    )  # fmt: skip
    schedule = c.run("query", "arbiter", "court")
    assert "fee 500 bps, rules within 2d" in schedule.output, schedule.output
    assert "in IDRA: at least 0.10 IDRA, at most 1,000.00 IDRA" in schedule.output
    created = c.waited(
        "listing", "create", "--from", "bob", "--title", "Kopi", "--sku", "K-1",
        "--price", "123456", "--asset", "IDRA", "--stock", "3", "--arbiter", "court",
        "--shipping", "2d", "--protection", "7d",
    )  # fmt: skip
    listing_id = copied(created.output, "listing")
    listing = c.run("query", "listing", listing_id, keys=False)
    assert listing.exit_code == 0, listing.output
    assert "1,234.56 IDRA" in listing.output and "ship within 2d, protection 7d" in listing.output
    c.waited("listing", "update", listing_id, "--from", "bob", "--stock", "5")
    placed = c.waited("order", "place", listing_id, "--from", "alice", "--quantity", "2")
    assert "amount=2,469.12 IDRA" in placed.output
    order_id = copied(placed.output, "order")
    shown = c.run("query", "order", order_id, keys=False)
    assert shown.exit_code == 0, shown.output
    assert "2 x 1,234.56 IDRA = 2,469.12 IDRA" in shown.output
    # 5% of 2,469.12 is 123.45 (rounded down), within the IDRA bounds 0.10 .. 1,000.00
    assert (
        "arbiter fee 123.45 IDRA if it rules now (500 bps, min 0.10 IDRA, max 1,000.00 IDRA)"
        in shown.output
    )
    assert re.search(r"ship by \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z", shown.output)
    c.waited("escrow", "ship", order_id, "--from", "bob", "--tracking", "JNE-1")
    c.waited("escrow", "dispute", order_id, "--from", "alice")
    c.waited(
        "escrow", "rule", order_id, "--from", "court",
        "--buyer-amount", "100000", "--seller-amount", "134567",
    )  # fmt: skip
    ruled = c.run("query", "escrow", order_id, keys=False)
    assert "arbiter fee 123.45 IDRA paid (500 bps" in ruled.output, ruled.output
    as_json = c.query("order", order_id)
    assert as_json["arbiter_fee"] == 12_345 and as_json["unit_price"] == 123_456


def test_an_invoice_past_its_expiry_reads_expired_at_once(
    server: ThreadedServer, keys_dir: Path
) -> None:
    c = People(server, keys_dir)
    # The fake chain's last block is in 2023: a day later is long past by this clock,
    # while the node, judging by its idle chain's latest block, still says open.
    expiry = server.node.timestamp_ms + DAY
    created = c.waited(
        "invoice", "create", "--from", "alice", "--asset", "IDRA", "--amount", "250000",
        "--expiry-time-ms", str(expiry), "--reference", "r-1",
    )  # fmt: skip
    invoice_id = copied(created.output, "id")
    assert "expiry_ms=2023-11-15T22:13:20Z" in created.output
    shown = c.run("query", "invoice", invoice_id, keys=False)
    assert shown.exit_code == 0, shown.output
    assert f"invoice {invoice_id[2:]}: expired" in shown.output
    assert "2,500.00 IDRA" in shown.output and "expires 2023-11-15T22:13:20Z" in shown.output
    assert c.query("invoice", invoice_id)["status"] == "open"
    listed = c.run("query", "invoices", "--merchant", "alice")
    assert ": expired" in listed.output


def test_balances_and_assets_read_with_decimals(server: ThreadedServer, keys_dir: Path) -> None:
    c = People(server, keys_dir)
    account = c.run("query", "account", "bob")
    assert "50.00 IDRA" in account.output and "100 PTS" in account.output, account.output
    assets = c.run("query", "assets", keys=False)
    assert "/ cap 10,000,000,000,000.00 (decimals 2)" in assets.output, assets.output
    assert c.query("account", "bob", keys=True)["balances"] == {"IDRA": 5_000, "PTS": 100}


def test_a_closed_pipe_ends_the_command_quietly(tmp_path: Path) -> None:
    """`pasar ... | head`: the reader is gone before the first line; no traceback."""
    network = tmp_path / "network.toml"
    network.write_text((ROOT / "network.toml").read_text())
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        finished = subprocess.run(
            [sys.executable, "-m", "cli.main", "up", "--network", str(network), "--init-only"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert finished.stderr == ""
    assert finished.returncode != 0  # the output was lost, which scripts may want to know
