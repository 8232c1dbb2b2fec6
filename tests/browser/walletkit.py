"""What the wallet, checkout and operator browser tests share: making a wallet in the
page, signing transactions for the harness's accounts, and reading balances."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from ledger.keys import PrivateKey, address_to_text
from ledger.tx import Transaction
from tests.integration.harness import LocalNet, http

PASSPHRASE = "correct horse battery"
PHONE = {"width": 390, "height": 844}


def create_wallet(page: Any) -> str:
    """Create a wallet on the open /wallet page; its address."""
    page.get_by_label("Passphrase (8 characters or more)").fill(PASSPHRASE)
    page.get_by_label("Passphrase again").fill(PASSPHRASE)
    page.get_by_role("button", name="Create wallet").click()
    expect(page.locator("#address")).to_have_text(re.compile("^pasar1"))
    return str(page.locator("#address").inner_text().strip())


def submit_as(
    net: LocalNet, key: PrivateKey, method: str, args: tuple[Any, ...], node: int = 0
) -> str:
    """`key` signs and submits `method(args)` with the next nonce the node reports; the hash."""
    code, account = http("GET", net.url(node, f"/v1/accounts/{address_to_text(key.public_key)}"))
    assert code == 200, account
    nonce = max(int(account["nonce"]), net.nonces.get(key.public_key, 0))
    net.nonces[key.public_key] = nonce + 1
    tx = Transaction(net.chain_id, key.public_key, nonce, method, args)
    code, answer = http("POST", net.url(node, "/v1/txs"), {"tx": tx.sign(key).encode().hex()})
    assert code == 202 and answer["accepted"], answer
    return str(answer["hash"])


def committed(net: LocalNet, tx_hash: str, node: int = 0) -> dict[str, Any]:
    """Wait for `tx_hash` to commit successfully; its outcome."""
    code, answer = http("GET", net.url(node, f"/v1/txs/{tx_hash}?wait=30"), timeout=40)
    assert code == 200 and answer["status"] == "committed", answer
    assert answer["receipt"]["ok"], answer["receipt"]
    return dict(answer)


def balance(net: LocalNet, address: str, symbol: str, node: int = 0) -> int:
    code, answer = http("GET", net.url(node, f"/v1/accounts/{address}"))
    assert code == 200, answer
    return int(answer["balances"].get(symbol, 0))


def assert_fits(page: Any, width: int = PHONE["width"]) -> None:
    """Nothing on the page is wider than the screen (no sideways scrolling on a phone)."""
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{page.url} is {scroll}px wide on a {width}px screen"


# Every form control, visible, without a label a screen reader can announce.
UNLABELLED = """
[...document.querySelectorAll("input, select, textarea, button")]
  .filter((e) => e.offsetParent !== null)
  .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute("aria-label")
                 && !(e.tagName === "BUTTON" && e.textContent.trim()))
  .map((e) => e.outerHTML)
"""


def assert_labelled(page: Any) -> None:
    """Every visible control has a label a screen reader can announce."""
    missing = page.evaluate(UNLABELLED)
    assert missing == [], f"{page.url}: {missing}"
