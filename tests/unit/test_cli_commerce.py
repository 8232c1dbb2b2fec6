"""The commerce CLI against a real RPC server: list, order with a sealed note, decrypt it,
ship, dispute with evidence, rule; queries in both output modes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from rpc_fake_node import seed
from rpc_helpers import (
    CliDriver,
    ThreadedServer,
    court_server,
    event_attribute,
    party_keys,
)

from cli.commands_commerce import parse_duration
from cli.common import CliError
from contracts import escrow as E
from contracts.coin import balance

ADDRESS = "Jl. Malioboro 52, Yogyakarta"


@pytest.fixture
def server() -> Iterator[ThreadedServer]:
    with court_server() as running:
        yield running


@pytest.fixture
def keys_dir(tmp_path: Path, server: ThreadedServer) -> Path:
    return party_keys(tmp_path / "keys", server.node, "court")


class Cli(CliDriver):
    attribute = staticmethod(event_attribute)


def test_full_flow_through_the_cli(server: ThreadedServer, keys_dir: Path, tmp_path: Path) -> None:
    c = Cli(server, keys_dir)
    c.tx(
        "arbiter",
        "publish",
        "--from",
        "court",
        "--fee-bps",
        "500",
        "--ruling",
        "2d",
        "--bound",
        "IDRA:10:100000",
    )
    created = c.tx(
        "listing",
        "create",
        "--from",
        "bob",
        "--title",
        "Kopi",
        "--sku",
        "KOPI-1",
        "--price",
        "1000",
        "--asset",
        "IDRA",
        "--stock",
        "3",
        "--arbiter",
        "court",
        "--shipping",
        "2d",
        "--protection",
        "7d",
    )
    listing_id = c.attribute(created, "listing.created", "listing")["hex"]
    c.tx("listing", "update", listing_id, "--from", "bob", "--stock", "5")
    placed = c.tx(
        "order", "place", listing_id, "--from", "alice", "--quantity", "2", "--note", ADDRESS
    )
    order_id = c.attribute(placed, "order.placed", "order")["hex"]
    order = E.load_order(server.node.store, bytes.fromhex(order_id))
    assert order is not None and order.amount == 2_000 and order.unit_price == 1_000
    # only ciphertext went to the ledger
    assert all(ADDRESS.encode() not in value for _, value in server.node.store.iterate(b""))
    for holder in ("bob", "court"):
        shown = c.run("query", "order", order_id, "--decrypt", "--from", holder)
        assert shown.exit_code == 0, shown.output
        assert ADDRESS in shown.output and "funded" in shown.output
    refused = c.run("query", "order", order_id, "--decrypt", "--from", "alice")
    assert refused.exit_code != 0 and "cannot open" in refused.output
    c.tx("escrow", "ship", order_id, "--from", "bob", "--tracking", "JNE-123")
    c.tx("escrow", "dispute", order_id, "--from", "alice")
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"broken cup")
    c.tx("escrow", "evidence", order_id, "--from", "alice", "--file", str(photo))
    c.tx("escrow", "evidence", order_id, "--from", "bob", "--uri", "https://jne.example/JNE-123")
    c.tx(
        "escrow",
        "rule",
        order_id,
        "--from",
        "court",
        "--buyer-amount",
        "1000",
        "--seller-amount",
        "900",
    )  # fee: 5% of 2,000
    order = E.load_order(server.node.store, bytes.fromhex(order_id))
    assert order is not None and order.state == "resolved" and order.arbiter_fee == 100
    assert balance(server.node.store, seed("court").public_key, "IDRA") == 100
    shown = c.run("query", "escrow", order_id, keys=False)
    assert "resolved ruled" in shown.output and "evidence by" in shown.output
    mine = json.loads(c.run("query", "orders", "--buyer", "alice", "--json").output)
    assert [o["id"] for o in mine["orders"]] == [order_id]
    ruled = json.loads(c.run("query", "orders", "--arbiter", "court", "--json").output)
    assert [o["id"] for o in ruled["orders"]] == [order_id]
    listings = c.run("query", "listings", "--seller", "bob")
    assert "KOPI-1" in listings.output and "stock 3" in listings.output
    one = json.loads(c.run("query", "listing", listing_id, "--json", keys=False).output)
    assert one["sold"] == 2
    schedule = json.loads(c.run("query", "arbiter", "court", "--json").output)
    assert schedule["coin_bounds"] == [{"symbol": "IDRA", "min_fee": 10, "max_fee": 100000}]


def test_refund_confirm_withdraw_and_retire(server: ThreadedServer, keys_dir: Path) -> None:
    c = Cli(server, keys_dir)
    c.tx("arbiter", "publish", "--from", "court", "--fee-bps", "0")
    created = c.tx(
        "listing",
        "create",
        "--from",
        "bob",
        "--title",
        "Tea",
        "--sku",
        "T",
        "--price",
        "500",
        "--asset",
        "IDRA",
        "--stock",
        "1",
        "--arbiter",
        "court",
    )
    listing_id = c.attribute(created, "listing.created", "listing")["hex"]
    placed = c.tx(
        "order", "place", listing_id, "--from", "alice", "--max-price", "500", "--arbiter", "court"
    )
    order_id = c.attribute(placed, "order.placed", "order")["hex"]
    c.tx("escrow", "refund", order_id, "--from", "bob", "--amount", "100")
    c.tx("escrow", "confirm", order_id, "--from", "alice")
    assert balance(server.node.store, server.node.accounts.bob.public_key, "IDRA") == 5_400
    c.tx("listing", "withdraw", listing_id, "--from", "bob")
    c.tx("arbiter", "retire", "--from", "court")


def test_cli_refuses_bad_input_without_sending(server: ThreadedServer, keys_dir: Path) -> None:
    c = Cli(server, keys_dir)
    cases = [
        ("listing", "update", "ab" * 32, "--from", "bob"),
        ("listing", "withdraw", "xyz", "--from", "bob"),
        ("escrow", "evidence", "ab" * 32, "--from", "bob"),
        ("escrow", "evidence", "ab" * 32, "--from", "bob", "--uri", "u", "--hash", "00"),
        (
            "listing",
            "create",
            "--from",
            "bob",
            "--title",
            "x",
            "--sku",
            "x",
            "--price",
            "1",
            "--asset",
            "IDRA",
            "--stock",
            "1",
            "--arbiter",
            "court",
            "--shipping",
            "soon",
        ),
        ("arbiter", "publish", "--from", "court", "--fee-bps", "1", "--bound", "IDRA:1"),
    ]
    for args in cases:
        result = c.run("tx", *args)
        assert result.exit_code != 0, args
        assert "Traceback" not in result.output
    assert server.node.mempool == []
    both = c.run("query", "orders", "--buyer", "alice", "--seller", "bob")
    assert both.exit_code != 0 and "exactly one of --buyer, --seller or --arbiter" in both.output


def test_parse_duration() -> None:
    assert parse_duration("90s") == 90_000
    assert parse_duration("15m") == 900_000
    assert parse_duration("2h") == 7_200_000
    assert parse_duration("3d") == 259_200_000
    assert parse_duration("1500") == 1_500
    with pytest.raises(CliError):
        parse_duration("3 days")
