"""End to end on four real validator processes, driven through the `pasar` CLI:

a customer account needs two of three keys; it pays a merchant's invoice with a
signing file signed in two key directories ("two machines"), one key alone is
refused, and a leaked key is rotated out. The merchant's shop server holds a
scoped key that creates invoices and is refused a transfer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from ledger.keys import PrivateKey, address_to_text
from node.keyfile import write_key_file
from tests.integration.harness import SYMBOL, LocalNet, http


@pytest.fixture
def net(tmp_path: Path) -> Iterator[LocalNet]:
    local = LocalNet(tmp_path, count=4)
    try:
        yield local
    finally:
        local.close()


class Machine:
    """One key directory and the `pasar` command run with it, against node 0..3."""

    def __init__(self, net: LocalNet, root: Path, keys: dict[str, PrivateKey]) -> None:
        self.net = net
        self.keys_dir = root
        root.mkdir(parents=True)
        for name, key in keys.items():
            write_key_file(root / f"{name}.json", key, None, insecure_plaintext=True)

    def run(self, *args: str, node: int = 0) -> Result:
        command = [*args, "--json"]
        if args[:2] != ("tx", "sign"):  # signing is offline: no node
            command += ["--node", self.net.url(node, "")]
        if args[:2] != ("tx", "submit"):  # submitting needs no key
            command += ["--keys-dir", str(self.keys_dir)]
        return CliRunner().invoke(cli, command, catch_exceptions=False)

    def ok(self, *args: str, node: int = 0) -> Any:
        result = self.run(*args, node=node)
        assert result.exit_code == 0, f"{args}: {result.output}"
        return json.loads(result.output)

    def fails(self, *args: str, node: int = 0) -> str:
        result = self.run(*args, node=node)
        assert result.exit_code != 0, f"{args} unexpectedly succeeded: {result.output}"
        assert "Traceback" not in result.output
        return result.output


def committed(outcome: Any) -> dict[str, Any]:
    assert outcome["status"] == "committed", outcome
    receipt: dict[str, Any] = outcome["receipt"]
    assert receipt["ok"], receipt
    return receipt


def caught_up(net: LocalNet, source: int) -> None:
    """Wait until every node holds the blocks `source` has committed: `--wait` answers
    once the node it asked committed, and another node may be a block behind."""
    net.wait_height(range(4), net.height(source))


def test_two_of_three_account_and_a_scoped_shop_key(net: LocalNet, tmp_path: Path) -> None:
    net.start_all()
    for index in range(4):
        net.wait_up(index)
    customer_key, merchant_key = net.accounts[3], net.accounts[4]
    phone, laptop, spare, shop = (PrivateKey.from_seed(bytes([n]) * 32) for n in (31, 32, 33, 34))
    customer, merchant = (address_to_text(k.public_key) for k in (customer_key, merchant_key))
    owner = Machine(net, tmp_path / "owner", {"customer": customer_key, "merchant": merchant_key})
    on_phone = Machine(net, tmp_path / "phone", {"phone": phone})
    on_laptop = Machine(net, tmp_path / "laptop", {"laptop": laptop})
    shop_server = Machine(net, tmp_path / "shop", {"shop": shop})
    name = {key.public_key: address_to_text(key.public_key) for key in (phone, laptop, spare)}

    # The customer turns its one-key account into 2 of 3 (signed by its own key alone:
    # under the default policy every threshold is 1). Its address does not change.
    committed(
        owner.ok(
            "account", "policy", "set", "--from", "customer",
            "--policy-key", "customer", "--policy-key", name[phone.public_key],
            "--policy-key", name[laptop.public_key], "--thresholds", "1,2,2", "--wait",
        )
    )  # fmt: skip
    caught_up(net, 0)
    shown = owner.ok("account", "policy", "show", customer, node=2)["policy"]
    assert shown["thresholds"] == {"low": 1, "medium": 2, "high": 2}
    assert sorted(item["key"] for item in shown["keys"]) == sorted(
        [customer, name[phone.public_key], name[laptop.public_key]]
    )

    # The merchant gives its shop server a key that may only create invoices.
    committed(
        owner.ok(
            "account", "policy", "set", "--from", "merchant", "--policy-key", "merchant",
            "--scoped", f"{address_to_text(shop.public_key)}=invoice.create", "--wait",
        )
    )  # fmt: skip
    receipt = committed(
        shop_server.ok(
            "tx", "invoice", "create", "--from", merchant, "--sign-with", "shop",
            "--asset", SYMBOL, "--amount", "2500", "--reference", "order-77", "--wait",
        )
    )  # fmt: skip
    invoice_id = next(e for e in receipt["events"] if e["name"] == "invoice.created")
    invoice_id = invoice_id["attributes"]["id"]["hex"]
    refused = shop_server.fails(
        "tx", "transfer", "--from", merchant, "--sign-with", "shop",
        "--to", customer, "--asset", SYMBOL, "--amount", "1",
    )  # fmt: skip
    assert "key_scope" in refused and "invoice.create" in refused

    # The customer pays it from two machines through one signing file.
    pay = tmp_path / "pay.json"
    owner.ok(
        "tx", "invoice", "pay", invoice_id, "--from", customer, "--unsigned", "--out", str(pay)
    )
    on_phone.ok("tx", "sign", str(pay), "--key", "phone")
    alone = on_phone.fails("tx", "submit", str(pay), "--wait")
    assert "insufficient_signatures" in alone and "weight 1 of 2" in alone
    assert name[phone.public_key] in alone
    signed = on_laptop.ok("tx", "sign", str(pay), "--key", "laptop")
    assert len(signed["signers"]) == 2
    committed(on_laptop.ok("tx", "submit", str(pay), "--wait", node=1))
    caught_up(net, 1)
    for index in range(4):
        status, invoice = http("GET", net.url(index, f"/v1/invoices/{invoice_id}"))
        assert status == 200 and invoice["status"] == "paid", invoice

    # The laptop key leaks: phone and the customer's own key replace it with a spare.
    rotate = tmp_path / "rotate.json"
    owner.ok(
        "account", "policy", "set", "--from", customer,
        "--policy-key", customer, "--policy-key", name[phone.public_key],
        "--policy-key", name[spare.public_key], "--thresholds", "1,2,2",
        "--unsigned", "--out", str(rotate),
    )  # fmt: skip
    owner.ok("tx", "sign", str(rotate), "--key", "customer")
    on_phone.ok("tx", "sign", str(rotate), "--key", "phone")
    committed(owner.ok("tx", "submit", str(rotate), "--wait"))
    theft = tmp_path / "theft.json"
    owner.ok(
        "tx", "transfer", "--from", customer, "--to", merchant, "--asset", SYMBOL,
        "--amount", "5", "--unsigned", "--out", str(theft),
    )  # fmt: skip
    on_laptop.ok("tx", "sign", str(theft), "--key", "laptop")
    on_phone.ok("tx", "sign", str(theft), "--key", "phone")
    stolen = owner.fails("tx", "submit", str(theft), "--wait")
    assert "unknown_signer" in stolen and name[laptop.public_key] in stolen
    caught_up(net, 0)
    status, account = http("GET", net.url(3, f"/v1/accounts/{customer}"))
    assert status == 200
    assert name[laptop.public_key] not in {item["key"] for item in account["policy"]["keys"]}
    assert account["balances"][SYMBOL] == 10**9 - 2500
