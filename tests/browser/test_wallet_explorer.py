"""A buyer's wallet, the checkout page and the explorer in a real browser, on a real validator.

The buyer creates a wallet in the page, is paid from outside (a transaction signed
in Python), sees the balance with the coin's decimals, sends from the page and sees
it committed; the explorer marks the transaction and the account verified in the
browser, and a fake node that flips one byte of the proof is marked not verified.
The key file exported from the page imports into a fresh browser with its passphrase,
and into `pasar keys` (which signs a transfer that commits), and a key made by the CLI
imports into the page and signs there.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from playwright.sync_api import expect

from cli.main import cli
from ledger.keys import address_from_text, address_to_text
from ledger.tx import Transaction
from tests.browser.conftest import screenshot
from tests.browser.fake_node import FakeNode
from tests.browser.walletkit import PASSPHRASE, PHONE, UNLABELLED, assert_fits, create_wallet
from tests.integration.harness import SYMBOL, LocalNet, http

COIN = "IDRA"  # two decimal places: 12345 minor units are 123.45 IDRA


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNet]:
    root = tmp_path_factory.mktemp("browser-net")
    local = LocalNet(root, count=1, accounts=2)
    issuer = address_to_text(local.issuer.public_key)
    holders = [address_to_text(key.public_key) for key in local.accounts]
    local_coin = {
        "coin": [
            [
                [SYMBOL, "Rupiah", 0, issuer, 10**15, "open"],
                [COIN, "Rupiah A", 2, issuer, 10**15, "open"],
            ],
            [[h, SYMBOL, 10**9] for h in holders] + [[h, COIN, 10**9] for h in holders],
        ]
    }
    local.close()
    local = LocalNet(root / "net", count=1, accounts=2, extra_app_state=local_coin)
    try:
        local.start_all()
        yield local
    finally:
        local.close()


# Reports each text of a "sent" status to the test as the page writes it.
OBSERVE_SENT = """
new MutationObserver(() => {
  const status = document.querySelector("#sent li .status");
  if (status && status.textContent !== window.lastStatus) {
    window.lastStatus = status.textContent;
    window.recordStatus(status.textContent);
  }
}).observe(document, { subtree: true, childList: true, characterData: true });
"""


def submit(net: LocalNet, index: int, method: str, args: tuple[Any, ...]) -> str:
    """Account `index` signs and submits `method(args)`; returns the tx hash."""
    key = net.accounts[index]
    nonce = net.nonces[key.public_key]
    net.nonces[key.public_key] = nonce + 1
    tx = Transaction(net.chain_id, key.public_key, nonce, method, args)
    code, answer = http("POST", net.url(0, "/v1/txs"), {"tx": tx.sign(key).encode().hex()})
    assert code == 202 and answer["accepted"], answer
    return str(answer["hash"])


def pay(net: LocalNet, to_text: str, amount: int) -> str:
    """Account 0 pays `amount` minor units of COIN to `to_text`; returns the tx hash."""
    return submit(net, 0, "coin.transfer", (COIN, address_from_text(to_text), amount))


def balance(net: LocalNet, address: str) -> int:
    code, answer = http("GET", net.url(0, f"/v1/accounts/{address}"))
    assert code == 200, answer
    return int(answer["balances"].get(COIN, 0))


def test_wallet_receive_send_and_verify(net: LocalNet, browser: Any, tmp_path: Path) -> None:
    base = net.nodes[0].rpc_url
    context = browser.new_context(viewport=PHONE, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: errors.append(message.text) if message.type == "error" else None,
    )

    # Every status the "sent" list shows, as the page shows it (not polled: observed).
    statuses: list[str] = []
    page.expose_function("recordStatus", lambda text: statuses.append(text))
    page.add_init_script(OBSERVE_SENT)

    # Create: the key is made and encrypted in the page.
    page.goto(f"{base}/wallet")
    address = create_wallet(page)
    # Read through the browser's storage, not page script: the policy forbids eval.
    origins = context.storage_state()["origins"]
    stored = next(
        i["value"] for o in origins for i in o["localStorage"] if i["name"] == "pasar.wallet"
    )
    assert '"format":"pasar-key-v1"' in stored and address in stored
    assert "seed" not in stored

    # Receive from outside; the balance shows in the coin's decimals.
    pay(net, address, 12_345)
    cell = page.locator(f"td[data-symbol='{COIN}']")
    expect(cell).to_have_text("123.45 IDRA", timeout=20_000)
    screenshot(page, "wallet-received")

    # Send 10.50 IDRA from the page (signed in the page) and see it committed.
    receiver = address_to_text(net.accounts[1].public_key)
    payer = address_to_text(net.accounts[0].public_key)
    before = balance(net, receiver)
    page.get_by_label("Coin").select_option(COIN)
    page.get_by_label("To address").fill(receiver)
    page.get_by_label("Amount").fill("10.50")
    page.get_by_role("button", name="Send").click()
    status = page.locator("#sent li .status").first
    expect(status).to_have_text(re.compile("^committed in block"), timeout=30_000)
    assert "10.50 IDRA" in status.inner_text()
    assert balance(net, receiver) == before + 1_050
    expect(cell).to_have_text("112.95 IDRA", timeout=20_000)
    tx_hash = page.locator("#sent li").first.get_attribute("data-hash")
    assert statuses[0] == "pending: 10.50 IDRA" and statuses[-1].startswith("committed in block")
    # The history, from the account's event stream, in words with decimals.
    history = page.locator("#history li .what")
    expect(history.first).to_have_text(f"Sent 10.50 IDRA to {receiver}", timeout=20_000)
    expect(history.nth(1)).to_have_text(f"Received 123.45 IDRA from {payer}")
    screenshot(page, "wallet-sent")
    # Reopened, the wallet resumes its stream from the saved cursor: same two entries.
    page.reload()
    page.get_by_label("Passphrase", exact=True).fill(PASSPHRASE)
    page.get_by_role("button", name="Unlock").click()
    expect(history).to_have_count(2)
    expect(history.first).to_have_text(f"Sent 10.50 IDRA to {receiver}")
    assert page.locator("#history li").first.get_attribute("data-hash") == tx_hash

    # A bad amount is refused in the page, before anything is signed.
    page.get_by_label("Coin").select_option(COIN)
    page.get_by_label("To address").fill(receiver)
    page.get_by_label("Amount").fill("1.234")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#message")).to_contain_text("2 decimal places")
    assert page.locator("#sent li").count() == 0 and history.count() == 2

    # Export the encrypted key file.
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Export encrypted key file").click()
    key_file = tmp_path / "key.json"
    download_info.value.save_as(key_file)

    # The explorer proves the transaction in the browser.
    page.goto(f"{base}/explorer?tx={tx_hash}")
    page.locator("#verified").wait_for(timeout=20_000)
    assert page.locator("#verified").get_attribute("class") == "verified"
    assert "10.50 IDRA moved from" in page.locator("#events").inner_text()
    screenshot(page, "explorer-tx-verified")

    # ... and the account's balance, from its state proof.
    page.goto(f"{base}/explorer?account={address}")
    page.locator("#verified").wait_for(timeout=20_000)
    assert page.locator("#verified").get_attribute("class") == "verified"
    assert page.locator(f"td[data-symbol='{COIN}']").inner_text() == "112.95 IDRA"
    screenshot(page, "explorer-account")

    page.goto(f"{base}/explorer")
    page.locator("table a").first.wait_for(timeout=10_000)
    screenshot(page, "explorer-latest")
    assert errors == []
    context.close()

    # A node that flips a proof byte is caught by the page.
    with FakeNode(base) as fake:
        liar = browser.new_context()
        lied = liar.new_page()
        lied.goto(f"{fake.url}/explorer?tx={tx_hash}")
        lied.locator("#verified").wait_for(timeout=20_000)
        assert lied.locator("#verified").get_attribute("class") == "not-verified"
        assert "Not verified" in lied.locator("#verified").inner_text()
        screenshot(lied, "explorer-tx-not-verified")
        liar.close()

    # The exported file opens in a fresh browser, with the right passphrase only.
    fresh = browser.new_context()
    other = fresh.new_page()
    other.goto(f"{base}/wallet")
    other.get_by_label("Key file").set_input_files(str(key_file))
    other.get_by_label("Its passphrase").fill("not the passphrase")
    other.get_by_role("button", name="Import").click()
    expect(other.locator("#message")).to_contain_text("wrong passphrase")
    other.get_by_label("Its passphrase").fill(PASSPHRASE)
    other.get_by_role("button", name="Import").click()
    expect(other.locator("#address")).to_have_text(address)
    fresh.close()


def test_checkout_page_pays_an_invoice_and_returns_to_the_shop(net: LocalNet, browser: Any) -> None:
    base = net.nodes[0].rpc_url
    merchant = address_to_text(net.accounts[1].public_key)
    code, status = http("GET", net.url(0, "/v1/blocks/latest"))
    assert code == 200
    expiry = int(status["header"]["timestamp_ms"]) + 3_600_000
    created = submit(net, 1, "invoice.create", (COIN, 2_500, expiry, "order 77", b""))
    code, answer = http("GET", net.url(0, f"/v1/txs/{created}?wait=20"))
    assert answer["status"] == "committed", answer

    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(f"{base}/wallet")
    address = create_wallet(page)
    pay(net, address, 10_000)
    expect(page.locator(f"td[data-symbol='{COIN}']")).to_have_text("100.00 IDRA", timeout=20_000)

    shop = "http://127.0.0.1:9/thanks?order=77"
    page.goto(f"{base}/pay/{created}?return={shop}")
    expect(page.locator("#merchant")).to_have_text(merchant)
    expect(page.locator("#amount")).to_have_text("25.00 IDRA")
    expect(page.locator("#reference")).to_have_text("order 77")
    expect(page.locator("#status")).to_have_text("open")
    screenshot(page, "checkout-open")
    page.get_by_label("Wallet passphrase").fill(PASSPHRASE)
    page.get_by_label("Pay with").select_option(COIN)
    page.get_by_role("button", name="Pay").click()
    expect(page.locator("#status")).to_have_text("paid", timeout=30_000)
    expect(page.locator("#return-link")).to_have_attribute("href", shop)
    expect(page.locator("#return-link")).to_have_text("Return to 127.0.0.1:9")
    screenshot(page, "checkout-paid")
    code, paid = http("GET", net.url(0, f"/v1/invoices/{created}"))
    assert paid["status"] == "paid" and paid["payer"] == address
    assert balance(net, address) == 10_000 - 2_500

    # An id that is not an invoice is refused by the page, and a malformed one by the node.
    page.goto(f"{base}/pay/{'00' * 32}")
    expect(page.locator("#message")).to_have_text("No such invoice.")
    code, _ = http("GET", net.url(0, "/pay/not-an-id"))
    assert code == 404
    context.close()


def pasar(*args: str, passphrase: str = PASSPHRASE) -> Any:
    """`pasar ARGS --json` in this process (the nodes are the real processes)."""
    result = CliRunner().invoke(
        cli, [*args, "--json"], env={"PASAR_PASSPHRASE": passphrase}, catch_exceptions=False
    )
    assert result.exit_code == 0, f"{args}: {result.output}"
    return json.loads(result.output)


def test_a_key_moves_between_the_browser_and_the_cli(
    net: LocalNet, browser: Any, tmp_path: Path
) -> None:
    base = net.nodes[0].rpc_url
    keys = ["--keys-dir", str(tmp_path)]
    receiver = address_to_text(net.accounts[1].public_key)

    # Browser → CLI: the page's exported file imports and signs a transfer that commits.
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.goto(f"{base}/wallet")
    web_address = create_wallet(page)
    pay(net, web_address, 5_000)
    expect(page.locator(f"td[data-symbol='{COIN}']")).to_have_text("50.00 IDRA", timeout=20_000)
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Export encrypted key file").click()
    from_web = tmp_path / "from-web.json"
    download_info.value.save_as(from_web)
    context.close()
    imported = pasar("keys", "import", "webkey", "--wallet-file", str(from_web), *keys)
    assert imported["address"] == web_address and imported["encrypted"]
    before = balance(net, receiver)
    outcome = pasar(
        "tx", "transfer", "--from", "webkey", "--to", receiver, "--asset", COIN,
        "--amount", "700", "--wait", "30", "--node", base, *keys,
    )  # fmt: skip
    assert outcome["status"] == "committed" and outcome["receipt"]["ok"], outcome
    assert balance(net, receiver) == before + 700
    assert balance(net, web_address) == 5_000 - 700

    # CLI → browser: a key made by `pasar keys new` imports into the page and signs there.
    made = pasar("keys", "new", "clikey", *keys)
    pay(net, made["address"], 3_000)
    to_web = tmp_path / "to-web.json"
    pasar("keys", "export", "clikey", "--wallet-file", str(to_web), *keys)
    fresh = browser.new_context(viewport=PHONE)
    page = fresh.new_page()
    page.goto(f"{base}/wallet")
    # A `pasar keys` file and a wrong passphrase are refused with a message saying why.
    page.get_by_label("Key file").set_input_files(str(tmp_path / "clikey.json"))
    page.get_by_label("Its passphrase").fill(PASSPHRASE)
    page.get_by_role("button", name="Import").click()
    expect(page.locator("#message")).to_contain_text("--wallet-file")
    page.get_by_label("Key file").set_input_files(str(to_web))
    page.get_by_label("Its passphrase").fill("not the passphrase")
    page.get_by_role("button", name="Import").click()
    expect(page.locator("#message")).to_contain_text("wrong passphrase")
    page.get_by_label("Its passphrase").fill(PASSPHRASE)
    page.get_by_role("button", name="Import").click()
    expect(page.locator("#address")).to_have_text(made["address"])
    expect(page.locator(f"td[data-symbol='{COIN}']")).to_have_text("30.00 IDRA", timeout=20_000)
    before = balance(net, receiver)
    page.get_by_label("Coin").select_option(COIN)
    page.get_by_label("To address").fill(receiver)
    page.get_by_label("Amount").fill("2.25")
    page.get_by_role("button", name="Send").click()
    status = page.locator("#sent li .status").first
    expect(status).to_have_text(re.compile("^committed in block"), timeout=30_000)
    assert balance(net, receiver) == before + 225
    screenshot(page, "wallet-imported-from-cli")
    fresh.close()


def test_the_explorer_is_live_and_catches_a_tampered_account_proof(
    net: LocalNet, browser: Any
) -> None:
    base = net.nodes[0].rpc_url
    receiver = address_to_text(net.accounts[1].public_key)
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    # The latest blocks follow the chain without a reload.
    page.goto(f"{base}/explorer")
    top = page.locator("#view tbody tr td a").first
    top.wait_for(timeout=10_000)
    height = int(top.inner_text())
    wait_committed(net, pay(net, receiver, 100))
    expect(top).not_to_have_text(str(height), timeout=20_000)
    assert int(top.inner_text()) > height

    # An account page proves its balance again after each of its transactions.
    page.goto(f"{base}/explorer?account={receiver}")
    cell = page.locator(f"td[data-symbol='{COIN}']")
    expect(cell).to_have_text(re.compile("IDRA$"), timeout=20_000)
    before = balance(net, receiver)
    wait_committed(net, pay(net, receiver, 250))
    expect(cell).to_have_text(amount_text(before + 250), timeout=20_000)
    assert page.locator("#verified").get_attribute("class") == "verified"
    assert errors == []
    context.close()

    # A node that flips a byte of the account's state proof is caught.
    with FakeNode(base) as fake:
        liar = browser.new_context()
        lied = liar.new_page()
        lied.goto(f"{fake.url}/explorer?account={receiver}")
        lied.locator("#verified").wait_for(timeout=20_000)
        assert lied.locator("#verified").get_attribute("class") == "not-verified"
        assert lied.locator(f"td[data-symbol='{COIN}']").count() == 0
        screenshot(lied, "explorer-account-not-verified")
        liar.close()


def wait_committed(net: LocalNet, tx_hash: str) -> None:
    code, answer = http("GET", net.url(0, f"/v1/txs/{tx_hash}?wait=20"), timeout=30)
    assert code == 200 and answer["status"] == "committed", answer


def amount_text(minor: int) -> str:
    """How the pages write `minor` units of COIN (two decimals, thousands separated)."""
    return f"{minor // 100:,}.{minor % 100:02d} {COIN}"


def test_every_page_fits_a_phone_has_labelled_controls_and_works_from_the_keyboard(
    net: LocalNet, browser: Any
) -> None:
    base = net.nodes[0].rpc_url
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()

    def check(url: str, ready: str, name: str) -> None:
        page.goto(f"{base}{url}")
        page.locator(ready).first.wait_for(timeout=20_000)
        assert_fits(page)
        assert page.evaluate(UNLABELLED) == [], url
        screenshot(page, f"phone-{name}")

    check("/", "main h1", "index")
    check("/wallet", "#create-form", "wallet-setup")

    # The wallet is made from the keyboard alone: Tab to each field, Enter to submit.
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "create-passphrase":
            break
    page.keyboard.type(PASSPHRASE)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "create-confirm"
    page.keyboard.type(PASSPHRASE)
    page.keyboard.press("Enter")
    expect(page.locator("#address")).to_have_text(re.compile("^pasar1"))
    address = page.locator("#address").inner_text()
    wait_committed(net, pay(net, address, 4_200))
    expect(page.locator(f"td[data-symbol='{COIN}']")).to_have_text("42.00 IDRA", timeout=20_000)
    assert_fits(page)
    assert page.evaluate(UNLABELLED) == []
    screenshot(page, "phone-wallet-open")

    sent = pay(net, address_to_text(net.accounts[1].public_key), 1)
    wait_committed(net, sent)
    check(f"/explorer?tx={sent}", "#verified", "explorer-tx")
    check(f"/explorer?account={address}", "#verified", "explorer-account")
    check("/explorer", "#view table a", "explorer-latest")
    code, outcome = http("GET", net.url(0, f"/v1/txs/{sent}"))
    check(f"/explorer?block={outcome['height']}", "#view h2", "explorer-block")
    # the block view reads the summary form: each transaction's method and result
    listed = page.locator(f"#view li:has(a[href='/explorer?tx={sent}'])")
    expect(listed).to_have_text(re.compile(r" coin\.transfer — ok\s*$"))
    code, latest = http("GET", net.url(0, "/v1/blocks/latest"))
    expiry = int(latest["header"]["timestamp_ms"]) + 3_600_000
    invoice = submit(net, 1, "invoice.create", (COIN, 1_000, expiry, "order 79", b""))
    wait_committed(net, invoice)
    check(f"/pay/{invoice}?return=https://shop.example/done", "#pay-form button", "checkout")
    check("/operator", "#validators tr", "operator")
    context.close()
