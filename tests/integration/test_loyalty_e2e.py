"""End to end on four real validator processes, driven through the `pasar` CLI:

a seller group creates an exclusive coin; a buyer earns it on a completed order and
spends it at another member; a validator bound to a member earns block rewards;
the buyer, holding enough, joins the franchise, lists the program's product and
sells it, and the royalty reaches the franchisor; the franchisor expels her (her
open order still completes and pays its royalty, new orders are refused) and closes
the program, and she reads why she is suspended. Every node reports the same state.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import cli
from ledger.keys import PrivateKey, address_to_text
from node.home import KEY_FILE
from node.keyfile import write_key_file
from tests.integration.harness import SYMBOL, LocalNet, http, wait_until

BLOCK_REWARD = 3


@pytest.fixture
def net(tmp_path: Path) -> Iterator[LocalNet]:
    # LocalNet's accounts[i] has seed bytes([i + 1]) * 32; accounts[0] arbitrates.
    court = PrivateKey.from_seed(bytes([1]) * 32)
    roles = [[address_to_text(court.public_key), "Resolusi", 0]]
    local = LocalNet(tmp_path, count=4, extra_app_state={"roles": roles})
    try:
        yield local
    finally:
        local.close()


class Pasar:
    """Runs `pasar ...` in this process against one of the real nodes."""

    def __init__(self, net: LocalNet, keys_dir: Path) -> None:
        self.net = net
        self.keys_dir = keys_dir

    def __call__(self, node: int, *args: str) -> Any:
        command = [*args, "--node", self.net.url(node, ""), "--json"]
        if args[0] == "tx":
            command += ["--keys-dir", str(self.keys_dir)]
        result = CliRunner().invoke(cli, command, catch_exceptions=False)
        assert result.exit_code == 0, f"{args}: {result.output}"
        return json.loads(result.output)

    def outcome(self, node: int, *args: str) -> dict[str, Any]:
        """Submit, then wait until the transaction is in a block, accepted or rejected
        (`tx --wait` exits non-zero on a rejection, `query tx --wait` does not)."""
        submitted = self(node, "tx", *args)
        outcome: dict[str, Any] = self(node, "query", "tx", submitted["hash"], "--wait", "30")
        assert outcome["status"] in ("committed", "rejected"), outcome
        # The next command may go to another node, which reads what this block wrote
        # (a listing, an order): wait until every node has committed it.
        self.net.wait_height(range(len(self.net.nodes)), int(outcome["height"]))
        return outcome

    def receipt(self, node: int, *args: str) -> dict[str, Any]:
        receipt: dict[str, Any] = self.outcome(node, *args)["receipt"]
        return receipt

    def tx(self, node: int, *args: str) -> dict[str, Any]:
        receipt = self.receipt(node, *args)
        assert receipt["ok"], receipt
        return receipt

    def listing(self, node: int, seller: str, sku: str, price: int, asset: str, *extra: str) -> str:
        created = self.tx(
            node, "listing", "create", "--from", seller, "--title", sku, "--sku", sku,
            "--price", str(price), "--asset", asset, "--stock", "10", "--arbiter", "court",
            *extra,
        )  # fmt: skip
        return str(attribute(created, "listing.created", "listing")["hex"])

    def buy(self, node: int, buyer: str, seller: str, listing_id: str) -> dict[str, Any]:
        placed = self.tx(node, "order", "place", listing_id, "--from", buyer)
        order_id = attribute(placed, "order.placed", "order")["hex"]
        self.tx(node, "escrow", "ship", order_id, "--from", seller, "--tracking", "JNE-9")
        return self.tx(node, "escrow", "confirm", order_id, "--from", buyer)


def attribute(receipt: dict[str, Any], event: str, name: str) -> Any:
    for item in receipt["events"]:
        if item["name"] == event:
            return item["attributes"][name]
    raise AssertionError(f"no {event} event in {receipt['events']}")


def balances(net: LocalNet, node: int, account: bytes) -> dict[str, int]:
    code, body = http("GET", net.url(node, f"/v1/accounts/{address_to_text(account)}"))
    assert code == 200, body
    return dict(body["balances"])


def test_loyalty_coin_and_franchise_on_four_validators(net: LocalNet, tmp_path: Path) -> None:
    keys_dir = tmp_path / "keys"
    names = ("court", "bob", "carol", "alice", "dave")
    for name, key in zip(names, net.accounts, strict=False):
        write_key_file(keys_dir / f"{name}.json", key, None, insecure_plaintext=True)
    bob, carol, alice, dave = (key.public_key for key in net.accounts[1:5])
    validator_key = str(net.nodes[0].home / KEY_FILE)
    pasar = Pasar(net, keys_dir)
    net.start_all()
    wait_until(lambda: net.status(0)["peers_connected"] == 3, 20, "full mesh")
    pasar.tx(0, "arbiter", "publish", "--from", "court", "--fee-bps", "0", "--ruling", "3d")

    # bob and carol form a group: sales in IDR earn 10% in KOPI, blocks earn 3
    pasar.tx(
        1, "loyalty", "create", "--from", "bob", "--symbol", "KOPI", "--name", "Kopi points",
        "--cap", "1000000", "--member", "carol", "--reward", f"{SYMBOL}:1000",
        "--block-reward", str(BLOCK_REWARD),
    )  # fmt: skip
    # validator 0 asks that carol operate it; only bob's approval (an admin) makes it count
    asked = pasar.outcome(0, "loyalty", "bind-validator", "KOPI", "carol", "--from", validator_key)
    assert asked["status"] == "committed", asked
    bound = pasar.outcome(
        1, "loyalty", "approve-binding", "KOPI", address_to_text(net.nodes[0].key), "--from", "bob"
    )
    assert bound["status"] == "committed", bound
    bind_height = int(bound["height"])  # rewards start with this block's end-of-block hook

    # alice buys beans from bob and earns KOPI; she spends it on a cup at carol's
    beans = pasar.listing(1, "bob", "BEANS", 2_000, SYMBOL)
    released = pasar.buy(2, "alice", "bob", beans)
    assert attribute(released, "loyalty.reward", "minted") == 200
    cup = pasar.listing(2, "carol", "CUP", 50, "KOPI")
    pasar.buy(3, "alice", "carol", cup)
    refused = pasar.receipt(
        3, "listing", "create", "--from", "dave", "--title", "x", "--sku", "x", "--price", "1",
        "--asset", "KOPI", "--stock", "1", "--arbiter", "court",
    )  # fmt: skip
    assert refused["code"] == "not_member"

    # bob franchises; alice (150 KOPI >= T1) joins, lists a latte and sells it to dave
    opened = pasar.tx(
        1, "franchise", "open", "--from", "bob", "--asset", "KOPI", "--product", "LATTE",
        "--t1", "100", "--t2", "1000", "--royalty-bps", "500",
    )  # fmt: skip
    program = attribute(opened, "franchise.opened", "program")["hex"]
    pasar.tx(3, "franchise", "join", program, "--from", "alice")
    latte = pasar.listing(3, "alice", "LATTE", 1_000, SYMBOL, "--franchise-program", program)
    sold = pasar.buy(0, "dave", "alice", latte)
    assert attribute(sold, "franchise.royalty", "paid") == 50

    # dave orders again; bob then expels alice: no new orders, the open one runs to its end
    placed = pasar.tx(0, "order", "place", latte, "--from", "dave")
    open_order = attribute(placed, "order.placed", "order")["hex"]
    pasar.tx(1, "franchise", "expel", program, address_to_text(alice), "--from", "bob",
             "--reason", "late royalties")  # fmt: skip
    refused = pasar.receipt(0, "order", "place", latte, "--from", "dave")
    assert refused["code"] == "franchisee_expelled"
    pasar.tx(3, "escrow", "ship", open_order, "--from", "alice", "--tracking", "JNE-10")
    finished = pasar.tx(0, "escrow", "confirm", open_order, "--from", "dave")
    assert attribute(finished, "franchise.royalty", "paid") == 50

    # alice spends below T1 and bob closes the program: she reads every reason
    pasar.tx(3, "transfer", "--from", "alice", "--to", "carol", "--asset", "KOPI", "--amount", "60")
    pasar.tx(1, "franchise", "close", program, "--from", "bob", "--reason", "new brand")
    status = pasar(2, "query", "franchise-status", program, address_to_text(alice))
    assert status["active"] is False
    assert status["reasons"] == ["program_closed", "franchisee_expelled", "below_threshold"]
    assert status["expelled"]["reason"] == "late royalties"
    assert status["closed"]["reason"] == "new brand"

    # every node agrees; carol's block rewards match the blocks validator 0 proposed
    final = net.height(0)
    net.wait_height(range(4), final)
    proposer = address_to_text(net.nodes[0].key)
    proposed = 0
    for height in range(bind_height, final + 1):
        code, block = http("GET", net.url(1, f"/v1/blocks/{height}"))
        assert code == 200
        proposed += block["header"]["proposer"] == proposer
    mined = BLOCK_REWARD * proposed
    assert proposed > 0
    expected_kopi = {alice: 200 - 50 - 60, carol: 50 + 60 + mined, bob: 0, dave: 0}
    expected_idr = {
        bob: 10**9 + 2_000 + 2 * 50,
        alice: 10**9 - 2_000 + 2 * 950,
        dave: 10**9 - 2 * 1_000,
    }
    for node in range(4):
        for account, amount in expected_kopi.items():
            assert balances(net, node, account).get("KOPI", 0) == amount, (node, account)
        for account, amount in expected_idr.items():
            assert balances(net, node, account)[SYMBOL] == amount, (node, account)
        group = pasar(node, "query", "loyalty", "KOPI")
        assert set(group["members"]) == {address_to_text(bob), address_to_text(carol)}
        assert group["supply"] == 200 + mined
        tree = pasar(node, "query", "franchise", program)
        assert tree["owner"] == address_to_text(bob) and tree["status"] == "active"
        assert tree["franchisees"] == []  # expelled
