"""The checkout page on a real 4-validator testnet: a buyer holding only IDRB pays an
IDRA invoice through /pay/{invoice}, the order book swapping at the quote with the most
the buyer accepts; the page follows the payment live and leads back to the shop, whose
merchant receives exactly the invoiced amount. A shop account held by two keys shows
its policy in the wallet, and the wallet's key co-signs a transfer the other key signed
with `pasar tx sign`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from playwright.sync_api import expect

from cli.main import cli
from contracts.exchange import PRICE_SCALE
from ledger.keys import PrivateKey, address_from_text, address_to_text
from node.keyfile import read_key_file, write_key_file
from tests.browser.conftest import screenshot
from tests.browser.walletkit import (
    PASSPHRASE,
    PHONE,
    assert_fits,
    balance,
    committed,
    create_wallet,
    submit_as,
)
from tests.integration.harness import LocalNet, http

PLATFORM = PrivateKey.from_seed(bytes([200]) * 32)  # the harness's issuer
MAKER, MERCHANT = (PrivateKey.from_seed(bytes([i + 1]) * 32) for i in range(2))
# The maker sells IDRA for IDRB at 1.05 IDRB each (price: IDRB minor units per 10^8 IDRA).
PRICE = 105 * PRICE_SCALE // 100


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNet]:
    platform = address_to_text(PLATFORM.public_key)
    maker = address_to_text(MAKER.public_key)
    app_state = {
        "roles": [[platform, "Pasar Mall", 0]],
        "coin": [
            [
                ["IDRA", "Rupiah A", 2, platform, 10**15, "platform"],
                ["IDRB", "Rupiah B", 2, platform, 10**15, "platform"],
            ],
            [[maker, "IDRA", 10**9], [maker, "IDRB", 10**9]],
        ],
    }
    root = tmp_path_factory.mktemp("pages-net")
    local = LocalNet(root, count=4, accounts=2, extra_app_state=app_state)
    try:
        local.start_all()
        yield local
    finally:
        local.close()


class Shop:
    """A shop's thank-you page on loopback: where the checkout sends the buyer back."""

    def __init__(self) -> None:
        class Thanks(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server name
                body = b"<!doctype html><title>Shop</title><h1>Thank you for your order</h1>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Thanks)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Shop:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_buyer_holding_only_idrb_pays_an_idra_invoice(net: LocalNet, browser: Any) -> None:
    base = net.nodes[1].rpc_url  # any validator serves the pages
    merchant = address_to_text(MERCHANT.public_key)
    committed(net, submit_as(net, MAKER, "exchange.order", ("IDRA", "IDRB", "sell", PRICE, 10**6)))
    code, latest = http("GET", net.url(0, "/v1/blocks/latest"))
    assert code == 200
    expiry = int(latest["header"]["timestamp_ms"]) + 3_600_000
    invoice = submit_as(net, MERCHANT, "invoice.create", ("IDRA", 2_500, expiry, "order 78", b""))
    committed(net, invoice)

    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{base}/wallet")
    buyer = create_wallet(page)
    funding = ("IDRB", address_from_text(buyer), 10_000)
    committed(net, submit_as(net, MAKER, "coin.transfer", funding))
    expect(page.locator("td[data-symbol='IDRB']")).to_have_text("100.00 IDRB", timeout=20_000)
    assert balance(net, buyer, "IDRA") == 0

    with Shop() as shop:
        back = f"{shop.url}/thanks?order=78"
        page.goto(f"{base}/pay/{invoice}?return={back}")
        expect(page.locator("#amount")).to_have_text("25.00 IDRA")
        expect(page.locator("#status")).to_have_text("open")
        # The only coin held is IDRB: the page quotes the swap (25.00 IDRA at 1.05 = 26.25
        # IDRB) and proposes the quote plus 1% as the most to accept.
        expect(page.get_by_label("Pay with")).to_have_value("IDRB")
        expect(page.locator("#quote")).to_contain_text("26.25 IDRB", timeout=10_000)
        expect(page.get_by_label("Most you accept to pay")).to_have_value("26.52")
        screenshot(page, "checkout-other-coin")
        # Accepting less than the swap costs is refused by the contract, and nothing moves.
        page.get_by_label("Most you accept to pay").fill("26.00")
        page.get_by_label("Wallet passphrase").fill(PASSPHRASE)
        page.get_by_role("button", name="Pay").click()
        expect(page.locator("#message")).to_contain_text("more than the maximum", timeout=30_000)
        expect(page.locator("#status")).to_have_text("open", timeout=10_000)
        assert balance(net, buyer, "IDRB") == 10_000
        page.get_by_label("Most you accept to pay").fill("26.52")
        page.get_by_label("Wallet passphrase").fill(PASSPHRASE)
        page.get_by_role("button", name="Pay").click()
        expect(page.locator("#status")).to_have_text("paid", timeout=30_000)
        expect(page.locator("#message")).to_contain_text("Paid with 26.25 IDRB")
        screenshot(page, "checkout-other-coin-paid")
        page.get_by_role("link", name=f"Return to 127.0.0.1:{shop.url.rsplit(':', 1)[1]}").click()
        page.wait_for_url(back)
        expect(page.locator("h1")).to_have_text("Thank you for your order")

    code, paid = http("GET", net.url(2, f"/v1/invoices/{invoice}"))
    assert paid["status"] == "paid" and paid["payer"] == buyer and paid["pay_symbol"] == "IDRB"
    assert balance(net, merchant, "IDRA", node=3) == 2_500
    assert balance(net, buyer, "IDRB", node=3) == 10_000 - 2_625
    # The wallet's history tells the payment from the buyer's side.
    page.goto(f"{base}/wallet")
    page.get_by_label("Passphrase", exact=True).fill(PASSPHRASE)
    page.get_by_role("button", name="Unlock").click()
    expect(page.locator("#history li .what").first).to_have_text(
        f"Paid an invoice of 25.00 IDRA to {merchant} (paid with 26.25 IDRB)", timeout=20_000
    )
    assert errors == []
    context.close()


def pasar(*args: str) -> Any:
    """`pasar ARGS --json` in this process, against the real validators."""
    result = CliRunner().invoke(cli, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, f"{args}: {result.output}"
    return json.loads(result.output)


def test_a_second_key_co_signs_a_multi_key_transfer_in_the_wallet(
    net: LocalNet, browser: Any, tmp_path: Path
) -> None:
    base = net.nodes[2].rpc_url
    context = browser.new_context(viewport=PHONE, accept_downloads=True)
    page = context.new_page()
    page.goto(f"{base}/wallet")
    second = create_wallet(page)
    page.get_by_role("button", name="Lock").click()
    page.get_by_label("Passphrase", exact=True).fill(PASSPHRASE)
    page.get_by_role("button", name="Unlock").click()
    expect(page.locator("#address")).to_have_text(second)

    # A shop account controlled by two keys, each of weight 1, two needed for anything:
    # one key in a `pasar keys` file, the other in this browser.
    shop, first = PrivateKey.from_seed(bytes([77]) * 32), PrivateKey.from_seed(bytes([78]) * 32)
    for name, key in (("shop", shop), ("first", first)):
        write_key_file(tmp_path / f"{name}.json", key, None, insecure_plaintext=True)
    keys = ["--keys-dir", str(tmp_path), "--node", base]
    shop_address = address_to_text(shop.public_key)
    committed(net, submit_as(net, MAKER, "coin.transfer", ("IDRA", shop.public_key, 5_000)))
    pasar(
        "account", "policy", "set", "--from", "shop", "--policy-key", "first=1",
        "--policy-key", f"{second}=1", "--thresholds", "2,2,2", "--wait", "30", *keys,
    )  # fmt: skip

    # The wallet shows the policy, marking its own key.
    page.get_by_label("Account (yours, or one this key signs for)").fill(shop_address)
    page.get_by_role("button", name="Show its policy").click()
    expect(page.locator("#policy-keys tbody tr")).to_have_count(2)
    expect(page.locator("#policy-keys")).to_contain_text(f"{second} (this wallet)")
    expect(page.locator("#policy-thresholds")).to_contain_text(
        "2 for low, 2 for medium, 2 for high"
    )

    # The first key signs a transfer in a signing file with the CLI; the wallet co-signs.
    receiver = address_to_text(MERCHANT.public_key)
    before = balance(net, receiver, "IDRA")
    signing_file = tmp_path / "transfer.json"
    pasar(
        "tx", "transfer", "--from", "shop", "--to", receiver, "--asset", "IDRA",
        "--amount", "1500", "--unsigned", "--out", str(signing_file), *keys,
    )  # fmt: skip
    pasar("tx", "sign", str(signing_file), "--key", "first", "--keys-dir", str(tmp_path))
    page.get_by_label("Signing file").set_input_files(str(signing_file))
    page.get_by_role("button", name="Open").click()
    expect(page.locator("#cosign-call")).to_have_text(f"Send 15.00 IDRA to {receiver}")
    expect(page.locator("#cosign-signers li")).to_have_text([address_to_text(first.public_key)])
    # One signature of weight 1 is not enough: the node says so and nothing moves.
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#cosign-status")).to_contain_text("weight 1 of 2", timeout=20_000)
    page.get_by_role("button", name="Add my signature").click()
    expect(page.locator("#cosign-signers li")).to_have_count(2)
    screenshot(page, "wallet-cosign")
    # One click submits once, however often the wallet was locked and unlocked before
    # (each unlock once added another set of the page's handlers).
    submits: list[str] = []
    page.on(
        "request",
        lambda request: (
            submits.append(request.url)
            if request.method == "POST" and request.url.endswith("/v1/txs")
            else None
        ),
    )
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#cosign-status")).to_contain_text("committed in block", timeout=30_000)
    assert len(submits) == 1
    assert balance(net, receiver, "IDRA") == before + 1_500
    assert balance(net, shop_address, "IDRA") == 5_000 - 1_500

    # A signing file edited after signing is refused before anything is signed.
    edited = json.loads(signing_file.read_text())
    edited["hash"] = "00" * 32
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(edited))
    page.get_by_label("Signing file").set_input_files(str(tampered))
    page.get_by_role("button", name="Open").click()
    expect(page.locator("#cosign-status")).to_contain_text("does not match")
    context.close()


def test_the_operator_page_watches_consensus_and_approves_a_proposal(
    net: LocalNet, browser: Any, tmp_path: Path
) -> None:
    # The validator key of v2 moves into the browser wallet the way an operator would.
    phrase = tmp_path / "phrase"
    phrase.write_text(PASSPHRASE + "\n")
    wallet_file = tmp_path / "v2-wallet.json"
    v2_key = net.nodes[2].home / "validator.key"
    pasar("keys", "export", str(v2_key), "--wallet-file", str(wallet_file),
          "--wallet-passphrase-file", str(phrase))  # fmt: skip
    v0, v1, v2 = (read_key_file(node.home / "validator.key", None) for node in net.nodes[:3])
    v2_address = address_to_text(v2.public_key)
    page_node = 2 if net.status(2)["primary"] != v2_address else 3
    base = net.nodes[page_node].rpc_url
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{base}/wallet")
    page.get_by_label("Key file").set_input_files(str(wallet_file))
    page.get_by_label("Its passphrase").fill(PASSPHRASE)
    page.get_by_role("button", name="Import").click()
    expect(page.locator("#address")).to_have_text(v2_address)

    # v0 proposes a new platform and v1 approves: 2 of the 3 approvals 4 validators need.
    newcomer = address_to_text(PrivateKey.from_seed(bytes([90]) * 32).public_key)
    expiry = int(time.time() * 1000) + 3_600_000  # block times follow the clock
    proposed = committed(net, submit_as(net, v0, "governance.propose", (
        "grant_platform", [address_from_text(newcomer), "Toko Baru", 150], expiry)))  # fmt: skip
    proposal = next(
        e["attributes"]["id"] for e in proposed["receipt"]["events"]
        if e["name"] == "governance.proposed"
    )  # fmt: skip
    committed(net, submit_as(net, v1, "governance.approve", (proposal,)))

    page.goto(f"{base}/operator")
    expect(page.locator("#validators tr")).to_have_count(4)
    expect(page.locator("#peers")).to_have_text("3 of 3 other validators", timeout=20_000)
    expect(page.locator(f"#validators tr[data-address='{net.status(page_node)['node_id']}']"))
    # Each peer has its own row: named, linked, and at an announced height.
    expect(page.locator("#peer-list tr[data-connected='true']")).to_have_count(3)
    expect(page.locator("#peer-list")).to_contain_text("connected (our dial, its dial)")
    expect(page.locator("#validators")).to_contain_text("this node")
    expect(page.locator("#latency")).to_contain_text("on average over")
    expect(page.locator("#mempool")).to_contain_text("waiting")
    row = page.locator(f"#proposals li[data-id='{proposal}']")
    expect(row.locator(".approvals")).to_have_text("2 of 3")
    expect(row).to_contain_text(f"Make {newcomer} the platform “Toko Baru” (commission 1.50%)")
    screenshot(page, "operator")
    assert_fits(page)

    # The third approval, signed in the page, executes the proposal.
    page.get_by_label("Wallet passphrase (to sign an approval)").fill(PASSPHRASE)
    page.get_by_role("button", name=f"Approve proposal {proposal}").click()
    expect(page.locator("#message")).to_contain_text("committed in block", timeout=30_000)
    expect(row.locator(".status")).to_contain_text("executed in block", timeout=20_000)
    code, platforms = http("GET", net.url(0, "/v1/platforms"))
    assert newcomer in [p["account"] for p in platforms["platforms"]]

    # The primary stops: the others change view, and the page lists it as it happens.
    primary = net.status(page_node)["primary"]
    stopped = next(i for i, n in enumerate(net.nodes) if address_to_text(n.key) == primary)
    assert stopped != page_node
    net.kill(stopped)
    try:
        # A transaction to commit makes the others wait for the missing proposal.
        moved = ("IDRA", MERCHANT.public_key, 1)
        committed(net, submit_as(net, MAKER, "coin.transfer", moved, page_node), page_node)
        expect(page.locator("#recent-view-changes li").first).to_contain_text(
            "view change", timeout=30_000
        )
        expect(page.locator("#peers")).to_have_text("2 of 3 other validators", timeout=20_000)
        # ...and its row in the peer list says which one is gone.
        gone = page.locator(f"#peer-list tr[data-address='{primary}']")
        expect(gone).to_have_attribute("data-connected", "false")
        expect(gone).to_contain_text("not connected")
        expect(page.locator("#peer-list tr[data-connected='true']")).to_have_count(2)
        screenshot(page, "operator-view-change")
    finally:
        net.start(stopped)
        net.wait_up(stopped)
    assert errors == []
    context.close()
