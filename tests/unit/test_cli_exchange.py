"""The exchange, invoice, payment, platform and governance CLI against a real RPC server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rpc_fake_node import FakeNode
from rpc_helpers import CliDriver, ThreadedServer, write_plain_keys

from cli.commands_exchange import format_price, parse_price
from cli.common import CliError
from contracts import exchange, roles
from contracts.coin import balance
from contracts.exchange import PRICE_SCALE
from contracts.roles import grant_platform
from ledger.state import StateView

DAY = 24 * 3600 * 1000


@pytest.fixture
def server() -> Iterator[ThreadedServer]:
    node = FakeNode()
    view = StateView(node.store)
    grant_platform(view, node.accounts.alice.public_key, "alice shop", 200)
    node.store.write(dict(view.write_set()))
    with ThreadedServer(node) as running:
        yield running


@pytest.fixture
def keys_dir(tmp_path: Path, server: ThreadedServer) -> Path:
    accounts = server.node.accounts
    named = [("alice", accounts.alice), ("bob", accounts.bob), ("validator", accounts.validator)]
    return write_plain_keys(tmp_path / "keys", named)


Cli = CliDriver


def test_prices_convert_exactly() -> None:
    assert parse_price("2.5") == 250_000_000
    assert parse_price("0.00000001") == 1
    assert parse_price("3") == 3 * PRICE_SCALE
    assert format_price(250_000_000) == "2.5" and format_price(3 * PRICE_SCALE) == "3"
    for bad in ("0", "1.000000001", "-1", "abc", "1e5"):
        with pytest.raises(CliError):
            parse_price(bad)


def test_exchange_invoice_and_payment_flow(server: ThreadedServer, keys_dir: Path) -> None:
    c = Cli(server, keys_dir)
    store = server.node.store
    alice = server.node.accounts.alice.public_key
    bob = server.node.accounts.bob.public_key
    c.tx("platform", "create-coin", "EMAS", "--from", "alice", "--name", "Gold", "--cap", "10000")
    c.tx("mint", "--from", "alice", "--asset", "EMAS", "--to", "bob", "--amount", "1000")
    c.tx("platform", "set-commission", "150", "--from", "alice")
    assert roles.commission_bps(store, alice) == 150

    # alice bids for gold with rupiah; bob's invoice payment sells gold into that bid.
    placed = c.tx(
        "exchange", "order", "--from", "alice", "--base", "EMAS", "--quote", "IDRA",
        "--side", "buy", "--price", "2.5", "--quantity", "400",
    )  # fmt: skip
    assert placed["events"][-1]["attributes"]["locked"] == 1_000
    book = c.query("book", "IDRA", "EMAS")
    assert book["bids"] == [{"price": 250_000_000, "quantity": 400, "orders": 1}]
    shown = c.run("query", "book", "EMAS", "IDRA", keys=False)
    assert "bid" in shown.output and "2.5" in shown.output
    mine = c.query("exchange-orders", "--owner", "alice", keys=True)
    assert [o["id"] for o in mine["orders"]] == [1]

    expiry = str(server.node.timestamp_ms + DAY)
    created = c.tx(
        "invoice", "create", "--from", "alice", "--asset", "IDRA", "--amount", "500",
        "--expiry-time-ms", expiry, "--reference", "order-7",
    )  # fmt: skip
    invoice_id = created["events"][0]["attributes"]["id"]["hex"]
    c.tx("invoice", "pay", invoice_id, "--from", "bob", "--with", "EMAS", "--max-pay", "200")
    invoice = c.query("invoice", invoice_id)
    assert invoice["status"] == "paid" and invoice["pay_symbol"] == "EMAS"
    assert invoice["pay_amount"] == 200
    assert balance(store, bob, "EMAS") == 800
    # alice's bid still takes 200 EMAS at 2.5: quote, then pay exactly 10 EMAS.
    quoted = c.query("quote", "--pay", "EMAS", "--receive", "IDRA", "--pay-amount", "10")
    assert (quoted["paid"], quoted["received"]) == (10, 25)
    shown = c.run(
        "query", "quote", "--pay", "IDRA", "--receive", "EMAS", "--receive-amount", "1", keys=False
    )
    assert shown.exit_code != 0 and "insufficient_liquidity" in shown.output
    assert "Traceback" not in shown.output
    c.tx(
        "exchange", "swap", "--from", "bob", "--pay", "EMAS", "--receive", "IDRA",
        "--pay-amount", "10", "--min-receive", "25",
    )  # fmt: skip
    assert balance(store, bob, "EMAS") == 790
    half = c.run(
        "tx", "exchange", "swap", "--from", "bob", "--pay", "EMAS", "--receive", "IDRA",
        "--pay-amount", "10",
    )  # fmt: skip
    assert half.exit_code != 0 and "--min-receive" in half.output
    c.tx("invoice", "refund", invoice_id, "--from", "alice", "--amount", "100")
    assert c.query("invoices", "--merchant", "alice", keys=True)["invoices"][0]["refunded"] == 100

    second = c.tx(
        "invoice", "create", "--from", "alice", "--asset", "IDRA", "--amount", "300",
        "--expiry-time-ms", expiry,
    )  # fmt: skip
    second_id = second["events"][0]["attributes"]["id"]["hex"]
    c.tx("invoice", "pay", second_id, "--from", "bob")  # defaults: the invoice's coin and amount
    assert c.query("invoice", second_id)["pay_amount"] == 300

    paid = c.tx(
        "payment", "pay", "--from", "bob", "--platform", "alice", "--seller", "alice",
        "--asset", "EMAS", "--amount", "100", "--reference", "tip",
    )  # fmt: skip
    assert paid["events"][0]["attributes"]["commission"] == 1
    swapped = c.tx(
        "exchange", "swap", "--from", "bob", "--pay", "EMAS", "--receive", "IDRA",
        "--amount", "50", "--max-pay", "20",
    )  # fmt: skip
    assert any(e["name"] == "exchange.swapped" for e in swapped["events"])
    c.tx("exchange", "cancel", "1", "--from", "alice")
    assert exchange.load_order(store, 1) is None


def test_governance_and_platform_queries(server: ThreadedServer, keys_dir: Path) -> None:
    c = Cli(server, keys_dir)
    expiry = str(server.node.timestamp_ms + DAY)
    refused = c.run(
        "tx", "governance", "propose", "grant_platform", "--from", "validator",
        "--account", "bob", "--expiry-time-ms", expiry,
    )  # fmt: skip
    assert refused.exit_code != 0 and "--name" in refused.output
    c.tx(
        "governance", "propose", "grant_platform", "--from", "validator", "--account", "bob",
        "--name", "bob mart", "--commission-bps", "50", "--expiry-time-ms", expiry,
    )  # fmt: skip
    proposal = c.query("proposal", "1")
    assert proposal["status"] == "executed"
    assert [p["id"] for p in c.query("proposals")["proposals"]] == [1]
    names = sorted(p["name"] for p in c.query("platforms")["platforms"])
    assert names == ["alice shop", "bob mart"]
    c.tx("platform", "set-refund-share", "5000", "--from", "alice")
    shares = {p["name"]: p["refund_share_bps"] for p in c.query("platforms")["platforms"]}
    assert shares == {"alice shop": 5_000, "bob mart": 0}
    shown = c.run("query", "platforms", keys=False)
    assert "bob mart" in shown.output and "returns 5000 bps" in shown.output
