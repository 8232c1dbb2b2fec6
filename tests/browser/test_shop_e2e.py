"""The sample shop (examples/shop/) end to end, in headless Chromium, on four validators.

The merchant's account gives the shop server a scoped key that may only create
invoices. The buyer (a wallet made in the browser, funded by a transfer) opens
the shop, presses "Pay with pasar", pays on the node's checkout page and follows
its link back to the order, which turns "paid" once the shop has received the
`invoice.paid` webhook from `pasar webhooks`, checked its signature and verified
the payment's proof bundle against the genesis validators. The shop refuses its
first three deliveries; the relay is killed with SIGKILL after the first refusal
and started again on the same database; the event still arrives, once handled.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from cli.webhooks.signing import new_secret, sign_headers
from ledger.keys import PrivateKey, address_from_text, address_to_text
from ledger.tx import Transaction
from node.keyfile import write_key_file
from tests.browser.conftest import screenshot
from tests.browser.test_wallet_explorer import PASSPHRASE, PHONE, create_wallet
from tests.integration.harness import ROOT, SYMBOL, LocalNet, free_base_port, http, wait_until
from tests.integration.test_webhooks_relay import start_relay

REFUSE_FIRST = 3
PRICE = 2_500  # the first product of examples/shop/shop.py's catalog
SHOP_KEY = PrivateKey.from_seed(b"\x5a" * 32)


@pytest.fixture()
def net(tmp_path: Path) -> Iterator[LocalNet]:
    network = LocalNet(tmp_path / "net", count=4, accounts=2)
    try:
        network.start_all()
        yield network
    finally:
        network.close()


def send(net: LocalNet, sender: int, method: str, args: tuple[Any, ...]) -> str:
    """Account `sender` signs `method(args)` with its own key; the committed tx's hash."""
    key = net.accounts[sender]
    nonce = net.nonces[key.public_key]
    net.nonces[key.public_key] = nonce + 1
    stx = Transaction(net.chain_id, key.public_key, nonce, method, args).sign(key)
    assert net.submit(1, [stx])[0]["accepted"]
    code, outcome = http("GET", net.url(1, f"/v1/txs/{stx.hash.hex()}?wait=20"), timeout=30)
    assert code == 200 and outcome["status"] == "committed", outcome
    assert outcome["receipt"]["ok"], outcome
    return stx.hash.hex()


def attempts_logged(database: Path) -> int:
    """Delivery attempts the relay has recorded so far (read straight from its SQLite)."""
    try:
        with contextlib.closing(sqlite3.connect(database)) as db:
            return int(db.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0])
    except sqlite3.Error:
        return 0  # not created yet


def post_webhook(shop_url: str, secret: str, body: dict[str, Any]) -> tuple[int, str]:
    """POST a webhook signed with `secret` straight to the shop, as an attacker might."""
    data = json.dumps(body).encode()
    headers = sign_headers([secret], body["data"]["id"], int(time.time()), data)
    request = urllib.request.Request(f"{shop_url}/pasar/webhooks", data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def relay_log(config: Path) -> list[dict[str, Any]]:
    shown = subprocess.run(
        [sys.executable, "-m", "cli.main", "webhooks", "log", "--config", str(config), "--json"],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert shown.returncode == 0, shown.stderr
    return sorted(json.loads(shown.stdout), key=lambda row: (row["at"], row["attempt"]))


def test_a_buyer_pays_in_the_shop_and_the_order_turns_paid(
    net: LocalNet, browser: Any, tmp_path: Path
) -> None:
    merchant_key = net.accounts[1]
    merchant = address_to_text(merchant_key.public_key)
    # The merchant's policy: its own key for everything, the shop's key for invoices only.
    scoped = [[SHOP_KEY.public_key, ["invoice.create"], None]]
    policy = [[[merchant_key.public_key, 1]], [1, 1, 1], 0, scoped, None]
    send(net, 1, "account.set_policy", (policy,))
    key_file = tmp_path / "shop-key.json"
    write_key_file(key_file, SHOP_KEY, None, insecure_plaintext=True)

    secret = new_secret()
    port = free_base_port(1)
    shop_url = f"http://127.0.0.1:{port}"
    shop_log = tmp_path / "shop.log"
    with shop_log.open("ab") as out:
        shop = subprocess.Popen(
            [
                sys.executable, str(ROOT / "examples" / "shop" / "shop.py"),
                "--node", net.nodes[2].rpc_url, "--checkout-base", net.nodes[0].rpc_url,
                "--account", merchant, "--key-file", str(key_file),
                "--genesis", str(net.nodes[0].home / "genesis.json"),
                "--webhook-secret", secret, "--symbol", SYMBOL, "--port", str(port),
                "--database", str(tmp_path / "shop.sqlite"), "--refuse-first", str(REFUSE_FIRST),
            ],
            cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=out, stderr=out,
        )  # fmt: skip
    config = tmp_path / "webhooks.toml"
    config.write_text(
        "nodes = [" + ", ".join(f'"{node.rpc_url}"' for node in net.nodes) + "]\n"
        'database = "relay.sqlite"\nstart = "0"\n'
        "[retry]\nfirst_delay_s = 1\nmax_delay_s = 2\n"
        f'[[endpoints]]\nname = "shop"\nurl = "{shop_url}/pasar/webhooks"\n'
        f'secrets = ["{secret}"]\naccounts = ["{merchant}"]\nkinds = ["invoice.paid"]\n'
    )
    relay = start_relay(config, tmp_path / "relay.log")
    context = browser.new_context(viewport=PHONE)
    try:
        wait_until(lambda: http("GET", shop_url + "/")[0] == 200, 20, "the shop to serve")
        page = context.new_page()
        page.goto(f"{net.nodes[0].rpc_url}/wallet")
        buyer = create_wallet(page)
        funding = send(net, 0, "coin.transfer", (SYMBOL, address_from_text(buyer), 10_000))

        page.goto(shop_url + "/")
        screenshot(page, "shop-products")
        page.locator("#buy-batik-01").click()
        expect(page.locator("#amount")).to_have_text(f"{PRICE:,} {SYMBOL}")
        expect(page.locator("#merchant")).to_have_text(merchant)
        screenshot(page, "shop-checkout")
        page.get_by_label("Wallet passphrase").fill(PASSPHRASE)
        page.get_by_label("Pay with").select_option(SYMBOL)
        page.get_by_role("button", name="Pay").click()
        expect(page.locator("#status")).to_have_text("paid", timeout=30_000)

        # The first delivery was refused: kill -9 the relay now, start it again.
        wait_until(lambda: attempts_logged(tmp_path / "relay.sqlite"), 20, "a refused delivery")
        relay.kill()
        relay.wait(10)
        relay = start_relay(config, tmp_path / "relay.log")

        page.locator("#return-link").click()
        expect(page.locator("#status")).to_have_text("paid", timeout=30_000)
        screenshot(page, "shop-order-paid")
        attempts = relay_log(config)
        statuses = [row["status"] for row in attempts]
        # An attempt in flight at the kill may go unrecorded: the shop still counted it.
        assert statuses[-1] == 200 and set(statuses[:-1]) == {503}, statuses
        assert REFUSE_FIRST - 1 <= len(statuses) - 1 <= REFUSE_FIRST
        assert len({row["event_id"] for row in attempts}) == 1
        assert "Payment" in page.locator("body").inner_text()  # the proven transaction

        # A second order: a webhook signed with another secret is refused, and one
        # signed right but whose transaction is not the invoice's payment is not
        # believed (its proof bundle proves a transfer): the order stays unpaid.
        page.goto(shop_url + "/")
        page.locator("#buy-kopi-250").click()
        expect(page.locator("#status")).to_have_text("open")
        invoice = page.url.split("/pay/")[1].split("?")[0]
        order_page = parse_qs(urlparse(page.url).query)["return"][0]
        claim = {
            "type": "invoice.paid",
            "timestamp_ms": 1,
            "data": {"id": "evt_9_0_0", "tx_hash": funding, "attributes": {"id": {"hex": invoice}}},
        }
        assert post_webhook(shop_url, new_secret(), claim)[0] == 400
        assert post_webhook(shop_url, secret, claim)[0] == 503
        page.goto(order_page)
        expect(page.locator("#status")).to_have_text("awaiting payment")
    finally:
        context.close()
        relay.kill()
        relay.wait(10)
        shop.kill()
        shop.wait(10)
