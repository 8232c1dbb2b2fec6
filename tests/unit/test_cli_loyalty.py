"""The loyalty and franchise CLI and RPC routes against a real RPC server over a FakeNode:
a coin is earned on a completed order and spent at another member, a franchise is
joined, sells, pays royalties, and is suspended when its seller spends below T1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rpc_fake_node import FakeNode, seed
from rpc_helpers import (
    CliDriver,
    ThreadedServer,
    court_server,
    event_attribute,
    party_keys,
    served,
)

from cli.commands_loyalty import parse_rule
from cli.common import CliError
from contracts.coin import balance
from ledger.keys import address_to_text

NAMES = ("carol", "dave", "court")


@pytest.fixture
def server() -> Iterator[ThreadedServer]:
    with court_server() as running:
        yield running


@pytest.fixture
def keys_dir(tmp_path: Path, server: ThreadedServer) -> Path:
    return party_keys(tmp_path / "keys", server.node, *NAMES)


class Cli(CliDriver):
    def listing(self, seller: str, sku: str, price: int, asset: str, *extra: str) -> str:
        created = self.tx(
            "listing", "create", "--from", seller, "--title", sku, "--sku", sku,
            "--price", str(price), "--asset", asset, "--stock", "10", "--arbiter", "court",
            *extra,
        )  # fmt: skip
        return str(attribute(created, "listing.created", "listing")["hex"])

    def buy(self, buyer: str, seller: str, listing_id: str) -> dict[str, Any]:
        """Order one, ship, confirm: the escrow releases and the sale completes."""
        placed = self.tx("order", "place", listing_id, "--from", buyer)
        order_id = attribute(placed, "order.placed", "order")["hex"]
        self.tx("escrow", "ship", order_id, "--from", seller, "--tracking", "JNE-1")
        return self.tx("escrow", "confirm", order_id, "--from", buyer)


attribute = event_attribute


def test_loyalty_and_franchise_through_the_cli(server: ThreadedServer, keys_dir: Path) -> None:
    c = Cli(server, keys_dir)
    store = server.node.store
    alice, bob, carol = (server.node.accounts.alice, server.node.accounts.bob, seed("carol"))
    c.tx("arbiter", "publish", "--from", "court", "--fee-bps", "0", "--ruling", "2d")

    # bob and carol form a group; sales paid in IDRA earn 10% in KOPI
    c.tx(
        "loyalty", "create", "--from", "bob", "--symbol", "KOPI", "--name", "Kopi points",
        "--cap", "1000000", "--member", "carol", "--reward", "IDRA:1000",
    )  # fmt: skip
    group = c.query("loyalty", "KOPI")
    members = {address_to_text(k.public_key) for k in (bob, carol)}
    assert set(group["members"]) == members and group["transfer_mode"] == "members"
    assert c.query("loyalty", "KOPI", "--members")["members"] == group["members"]
    human = c.run("query", "loyalty", "KOPI", keys=False)
    assert "2 members" in human.output and "IDRA 1000 bps" in human.output

    # alice buys from bob and earns KOPI
    kopi_listing = c.listing("bob", "BEANS", 2_000, "IDRA")
    released = c.buy("alice", "bob", kopi_listing)
    assert attribute(released, "loyalty.reward", "minted") == 200
    assert balance(store, alice.public_key, "KOPI") == 200

    # she spends it at carol; dave, outside the group, cannot take KOPI
    carol_listing = c.listing("carol", "CUP", 50, "KOPI")
    c.buy("alice", "carol", carol_listing)
    assert balance(store, carol.public_key, "KOPI") == 50
    refused = c.receipt(
        "listing", "create", "--from", "dave", "--title", "x", "--sku", "x", "--price", "1",
        "--asset", "KOPI", "--stock", "1", "--arbiter", "court",
    )  # fmt: skip
    assert refused["code"] == "not_member"

    # bob opens a franchise; alice (150 KOPI) joins and sells a latte to dave
    opened = c.tx(
        "franchise", "open", "--from", "bob", "--asset", "KOPI", "--product", "LATTE",
        "--t1", "100", "--t2", "1000", "--royalty-bps", "500",
    )  # fmt: skip
    program = attribute(opened, "franchise.opened", "program")["hex"]
    c.tx("franchise", "join", program, "--from", "alice")
    c.tx("transfer", "--from", "alice", "--to", "dave", "--asset", "IDRA", "--amount", "5000")
    latte = c.listing("alice", "LATTE", 1_000, "IDRA", "--franchise-program", program)
    bob_idra = balance(store, bob.public_key, "IDRA")
    sold = c.buy("dave", "alice", latte)
    assert attribute(sold, "franchise.royalty", "paid") == 50
    assert balance(store, bob.public_key, "IDRA") == bob_idra + 50
    tree = c.query("franchise", program)
    assert tree["franchisees"][0]["status"] == "active" and tree["royalty_bps"] == 500

    # alice spends below T1: her franchise listing is suspended
    c.tx("transfer", "--from", "alice", "--to", "carol", "--asset", "KOPI", "--amount", "60")
    refused = c.receipt("order", "place", latte, "--from", "dave")
    assert refused["code"] == "below_threshold"
    tree = c.query("franchise", program)
    assert tree["franchisees"][0] == {
        "account": address_to_text(alice.public_key),
        "balance": 90,
        "status": "suspended",
    }
    assert "suspended" in c.run("query", "franchise", program, keys=False).output
    wrong_product = c.receipt(
        "listing", "create", "--from", "alice", "--title", "x", "--sku", "MOCHA",
        "--price", "1", "--asset", "IDRA", "--stock", "1", "--arbiter", "court",
        "--franchise-program", program,
    )  # fmt: skip
    assert wrong_product["code"] == "not_program_product"


def test_membership_rewards_and_binding_commands(server: ThreadedServer, keys_dir: Path) -> None:
    c = Cli(server, keys_dir)
    c.tx(
        "loyalty", "create", "--from", "bob", "--symbol", "TEH", "--name", "Teh",
        "--cap", "100", "--transfers", "none", "--admin", "carol", "--block-reward", "2",
    )  # fmt: skip
    assert c.receipt("loyalty", "add-member", "TEH", "dave", "--from", "bob")["code"] == (
        "not_admin"
    )
    c.tx("loyalty", "add-member", "TEH", "dave", "--from", "carol")
    c.tx("loyalty", "set-rewards", "TEH", "--reward", "IDRA:5", "--from", "carol")
    c.tx("loyalty", "bind-validator", "TEH", "dave", "--from", "alice")
    c.tx("loyalty", "unbind-validator", "TEH", "--from", "alice")
    c.tx("loyalty", "remove-member", "TEH", "dave", "--from", "carol")
    group = c.query("loyalty", "TEH")
    assert group["rules"] == [{"symbol": "IDRA", "rate_bps": 5}] and group["block_reward"] == 0
    assert group["members"] == [address_to_text(server.node.accounts.bob.public_key)]
    assert group["transfer_mode"] == "none"


def test_rule_parsing() -> None:
    assert parse_rule("IDR:150") == ["IDR", 150]
    for bad in ("IDR", "IDR:-1", ":5", "IDR:1.5"):
        with pytest.raises(CliError):
            parse_rule(bad)


async def test_loyalty_routes_answer_404_and_400() -> None:
    node = FakeNode()
    async with served(node) as client:
        missing = await client.get("/v1/loyalty/NOPE")
        assert missing.status == 404
        assert (await missing.json())["error"]["code"] == "group_not_found"
        not_exclusive = await client.get("/v1/loyalty/IDRA/members")
        assert not_exclusive.status == 404
        bad = await client.get("/v1/loyalty/lower")
        assert bad.status == 400 and (await bad.json())["error"]["code"] == "bad_symbol"
        unknown = await client.get("/v1/franchise/" + "00" * 32)
        assert (await unknown.json())["error"]["code"] == "program_not_found"
        assert (await client.get("/v1/franchise/xyz")).status == 400
        spec = await (await client.get("/openapi.json")).json()
        assert "/v1/franchise/{id}" in spec["paths"]
