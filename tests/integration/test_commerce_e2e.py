"""End to end on four real validator processes, driven through the `pasar` CLI:

a platform issues a coin, a seller lists a product, a buyer orders it with an
encrypted shipping address; two more orders are cancelled (stock returns), a cart
of two listings ships and completes, an invoice is refunded with the platform's
published commission share, the buyer swaps exactly 50 IDRP for EMAS after a
quote; the seller ships with a sealed tracking note, the
buyer disputes, both add evidence, the arbiter rules a split, the buyer rates the
order, the seller cashes out to fiat through the platform. Every node then reports
the same balances, orders, seller record, redemption stats and issuance.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import cli
from contracts.vaults import ESCROW_VAULT, REDEMPTION_VAULT
from ledger.keys import PrivateKey, address_to_text
from node.keyfile import write_key_file
from tests.integration.harness import LocalNet, http, wait_until

ADDRESS = "Jl. Malioboro 52, Yogyakarta 55271"
COIN = "IDRP"
TRACKING_NOTE = "JNE 0042, driver Budi, +62 812 0000"


@pytest.fixture
def net(tmp_path: Path) -> Iterator[LocalNet]:
    # LocalNet's accounts[i] has seed bytes([i + 1]) * 32: accounts[0] is the marketplace
    # platform (2.5% commission), accounts[1] the arbiter platform.
    platform = PrivateKey.from_seed(bytes([1]) * 32)
    arbiter = PrivateKey.from_seed(bytes([2]) * 32)
    roles = [
        [address_to_text(platform.public_key), "Pasar Mall", 250],
        [address_to_text(arbiter.public_key), "Resolusi", 0],
    ]
    local = LocalNet(tmp_path, count=4, extra_app_state={"roles": roles})
    try:
        yield local
    finally:
        local.close()


class Pasar:
    """Runs `pasar ...` (in this process: the nodes are the real processes) against one
    node with the test's key files."""

    def __init__(self, net: LocalNet, keys_dir: Path) -> None:
        self.net = net
        self.keys_dir = keys_dir

    def __call__(self, node: int, *args: str, keys: bool = True) -> Any:
        command = [*args, "--node", self.net.url(node, "")]
        if keys:
            command += ["--keys-dir", str(self.keys_dir)]
        result = CliRunner().invoke(cli, [*command, "--json"], catch_exceptions=False)
        assert result.exit_code == 0, f"{args}: {result.output}"
        return json.loads(result.output)

    def tx(self, node: int, *args: str) -> dict[str, Any]:
        """A transaction that must commit successfully; returns its receipt."""
        outcome = self(node, "tx", *args, "--wait", "30")
        assert outcome["status"] == "committed", outcome
        receipt: dict[str, Any] = outcome["receipt"]
        assert receipt["ok"], receipt
        # The next step may read from or submit to another node: let every node commit
        # this height first (one that lags a block would otherwise answer from before it).
        height = outcome["height"]
        wait_until(
            lambda: all(self.net.height(index) >= height for index in range(4)),
            30,
            f"every node at height {height}",
        )
        return receipt


def attribute(receipt: dict[str, Any], event: str, name: str) -> Any:
    for item in receipt["events"]:
        if item["name"] == event:
            return item["attributes"][name]
    raise AssertionError(f"no {event} event in {receipt['events']}")


def test_order_dispute_and_split_ruling_on_four_validators(net: LocalNet, tmp_path: Path) -> None:
    keys_dir = tmp_path / "keys"
    names = ("platform", "arbiter", "seller", "buyer")
    for name, key in zip(names, net.accounts, strict=False):
        write_key_file(keys_dir / f"{name}.json", key, None, insecure_plaintext=True)
    platform, arbiter, seller, buyer = (key.public_key for key in net.accounts[:4])
    pasar = Pasar(net, keys_dir)
    for index in range(4):
        net.start(index)
    for index in range(4):
        net.wait_up(index, timeout=60)  # generous: a loaded 2-core machine starts slowly
    wait_until(lambda: net.status(0)["peers_connected"] == 3, 20, "full mesh")

    # The platform issues its coin and funds the buyer; the arbiter publishes its fees.
    pasar.tx(
        0,
        "call",
        "platform.create_coin",
        "--from",
        "platform",
        "--arg",
        COIN,
        "--arg",
        "Rupiah of Pasar Mall",
        "--arg",
        "2",
        "--arg",
        "10000000000",
    )
    pasar.tx(
        1, "mint", "--from", "platform", "--asset", COIN, "--to", "buyer", "--amount", "500000"
    )
    pasar.tx(
        1,
        "arbiter",
        "publish",
        "--from",
        "arbiter",
        "--fee-bps",
        "300",
        "--ruling",
        "3d",
        "--bound",
        f"{COIN}:100:10000",
    )

    # The seller lists; the buyer orders two with a sealed address.
    created = pasar.tx(
        2,
        "listing",
        "create",
        "--from",
        "seller",
        "--title",
        "Batik tulis",
        "--sku",
        "BTK-7",
        "--price",
        "75000",
        "--asset",
        COIN,
        "--stock",
        "5",
        "--platform",
        "platform",
        "--arbiter",
        "arbiter",
    )
    listing_id = attribute(created, "listing.created", "listing")["hex"]
    placed = pasar.tx(
        3, "order", "place", listing_id, "--from", "buyer", "--quantity", "2", "--note", ADDRESS
    )
    order_id = attribute(placed, "order.placed", "order")["hex"]

    # Only ciphertext is on the chain; the seller and the arbiter can read the address.
    block = net.status(3)["height"]
    for height in range(1, block + 1):
        code, body = http("GET", net.url(3, f"/v1/blocks/{height}"))
        assert code == 200 and "Malioboro" not in json.dumps(body)
    for node, holder in ((2, "seller"), (1, "arbiter")):
        shown = pasar(node, "query", "order", order_id, "--decrypt", "--from", holder)
        assert shown["note_plaintext"] == ADDRESS

    # Two more orders are called off before shipping, one by each side: the money goes
    # back to the buyer and the units back on the listing.
    for canceller, node in (("buyer", 3), ("seller", 2)):
        extra = pasar.tx(3, "order", "place", listing_id, "--from", "buyer")
        extra_id = attribute(extra, "order.placed", "order")["hex"]
        cancelled = pasar.tx(node, "escrow", "cancel", extra_id, "--from", canceller)
        assert attribute(cancelled, "escrow.cancelled", "outcome") == f"{canceller}_cancelled"
        assert attribute(cancelled, "listing.restocked", "stock") == 3

    # A cart: one more batik and two scarves (no platform: no commission on that line)
    # in one order, one escrow, one shipment.
    scarf = pasar.tx(
        2, "listing", "create", "--from", "seller", "--title", "Selendang", "--sku", "SLD-1",
        "--price", "20000", "--asset", COIN, "--stock", "4", "--arbiter", "arbiter",
    )  # fmt: skip
    scarf_id = attribute(scarf, "listing.created", "listing")["hex"]
    carted = pasar.tx(
        3, "order", "cart", "--from", "buyer", "--line", f"{listing_id}:1",
        "--line", f"{scarf_id}:2:20000", "--note", ADDRESS,
    )  # fmt: skip
    cart_id = attribute(carted, "order.placed", "order")["hex"]
    assert attribute(carted, "order.placed", "amount") == 115_000
    pasar.tx(2, "escrow", "ship", cart_id, "--from", "seller", "--tracking", "JNE-0043")
    confirmed = pasar.tx(3, "escrow", "confirm", cart_id, "--from", "buyer")
    cart_commission = attribute(confirmed, "escrow.completed", "commission")
    assert cart_commission == 75_000 * 250 // 10_000

    # The platform publishes that it returns all its commission on refunds: a refunded
    # invoice takes it back from the platform, so every balance ends where it started.
    pasar.tx(0, "platform", "set-refund-share", "10000", "--from", "platform")
    invoiced = pasar.tx(
        2, "invoice", "create", "--from", "seller", "--asset", COIN, "--amount", "40000",
        "--platform", "platform",
    )  # fmt: skip
    invoice_id = attribute(invoiced, "invoice.created", "id")["hex"]
    pasar.tx(3, "invoice", "pay", invoice_id, "--from", "buyer")
    returned = pasar.tx(2, "invoice", "refund", invoice_id, "--from", "seller", "--amount", "40000")
    assert attribute(returned, "invoice.refunded", "commission_returned") == 40_000 * 250 // 10_000

    # A second platform coin trades against IDRP: the seller offers 100 EMAS at 2; the
    # buyer asks for a quote and pays exactly 50 IDRP for at least 25 EMAS.
    pasar.tx(
        0, "platform", "create-coin", "EMAS", "--from", "platform", "--name", "Gold",
        "--cap", "1000000",
    )  # fmt: skip
    pasar.tx(
        0, "mint", "--from", "platform", "--asset", "EMAS", "--to", "seller", "--amount", "100"
    )
    pasar.tx(
        2, "exchange", "order", "--from", "seller", "--base", "EMAS", "--quote", COIN,
        "--side", "sell", "--price", "2", "--quantity", "100",
    )  # fmt: skip
    quoted = pasar(
        3, "query", "quote", "--pay", COIN, "--receive", "EMAS", "--pay-amount", "50", keys=False
    )
    assert (quoted["paid"], quoted["received"]) == (50, 25)
    pasar.tx(
        3, "exchange", "swap", "--from", "buyer", "--pay", COIN, "--receive", "EMAS",
        "--pay-amount", "50", "--min-receive", "25",
    )  # fmt: skip
    swapped = 50

    # Ship, dispute, evidence from both sides, then the arbiter rules a split.
    pasar.tx(
        2, "escrow", "ship", order_id, "--from", "seller", "--tracking", "JNE-0042",
        "--note", TRACKING_NOTE,
    )  # fmt: skip
    for node, holder in ((3, "buyer"), (1, "arbiter")):
        shown = pasar(node, "query", "order", order_id, "--decrypt", "--from", holder)
        assert shown["shipping_note_plaintext"] == TRACKING_NOTE
    pasar.tx(3, "escrow", "dispute", order_id, "--from", "buyer")
    pasar.tx(3, "escrow", "evidence", order_id, "--from", "buyer", "--hash", "ab" * 32)
    pasar.tx(
        2,
        "escrow",
        "evidence",
        order_id,
        "--from",
        "seller",
        "--uri",
        "https://jne.example/track/JNE-0042",
    )
    held = 150_000
    fee = 4_500  # 3% of 150,000, within 100..10,000
    buyer_share, seller_share = 60_000, held - fee - 60_000
    ruled = pasar.tx(
        1,
        "escrow",
        "rule",
        order_id,
        "--from",
        "arbiter",
        "--buyer-amount",
        str(buyer_share),
        "--seller-amount",
        str(seller_share),
    )
    assert attribute(ruled, "escrow.resolved", "fee") == fee
    commission = seller_share * 250 // 10_000
    pasar.tx(3, "order", "rate", order_id, "--from", "buyer", "--stars", "3", "--review", "late")

    # The seller cashes 50,000 out to fiat: the platform publishes its deadline and
    # settles (the coins are burned); a second request is rejected and comes back.
    pasar.tx(0, "redeem", "set-terms", "--from", "platform", "--deadline", "2d")
    cashed = 50_000
    asked = pasar.tx(
        2, "redeem", "request", "--from", "seller", "--asset", COIN,
        "--amount", str(cashed), "--payout", "BCA 0123456789",
    )  # fmt: skip
    redemption_id = attribute(asked, "redeem.requested", "id")["hex"]
    pasar.tx(0, "redeem", "settle", redemption_id, "--from", "platform", "--bank-ref", "TRX-1")
    second = pasar.tx(
        2, "redeem", "request", "--from", "seller", "--asset", COIN,
        "--amount", "1000", "--payout", "BCA 0123456789",
    )  # fmt: skip
    second_id = attribute(second, "redeem.requested", "id")["hex"]
    pasar.tx(0, "redeem", "reject", second_id, "--from", "platform", "--reason", "KYC")
    pasar.tx(
        0, "redeem", "attest", "--from", "platform", "--asset", COIN, "--period", "202611",
        "--hash", "cd" * 32, "--uri", "https://audit.example/2026-11",
    )  # fmt: skip

    # Every node agrees on the order and on every balance.
    expected = {
        buyer: 500_000 - held + buyer_share - 115_000 - swapped,
        seller: seller_share - commission - cashed + 115_000 - cart_commission + swapped,
        platform: commission + cart_commission,
        arbiter: fee,
        ESCROW_VAULT: 0,
        REDEMPTION_VAULT: 0,
    }
    final_height = net.status(1)["height"]
    net.wait_height(range(4), final_height)
    for node in range(4):
        for account, amount in expected.items():
            code, body = http("GET", net.url(node, f"/v1/accounts/{address_to_text(account)}"))
            assert code == 200
            assert body["balances"].get(COIN, 0) == amount, (node, account.hex(), body)
        code, order = http("GET", net.url(node, f"/v1/orders/{order_id}"))
        assert code == 200
        assert order["state"] == "resolved" and order["outcome"] == "ruled"
        assert (order["refunded"], order["released"], order["arbiter_fee"]) == (
            buyer_share,
            seller_share,
            fee,
        )
        assert len(order["evidence"]) == 2
        assert order["rating"]["stars"] == 3
        seller_text = address_to_text(seller)
        code, record = http("GET", net.url(node, f"/v1/sellers/{seller_text}/record"))
        assert code == 200
        tallies = ("completed", "refunded", "cancelled", "disputes_won", "disputes_lost")
        assert [record[name] for name in tallies] == [1, 0, 2, 1, 0]
        assert record["average_rating"] == {"numerator": 3, "denominator": 1}
        platform_text = address_to_text(platform)
        code, paid_out = http("GET", net.url(node, f"/v1/platforms/{platform_text}/redemptions"))
        assert code == 200 and paid_out["deadline_ms"] == 2 * 86_400_000
        counts = ("settled_count", "settled_volume", "rejected_count", "outstanding_count")
        assert [paid_out[name] for name in counts] == [1, cashed, 1, 0]
        assert paid_out["median_settle_ms"] >= 0
        code, issued = http("GET", net.url(node, f"/v1/issuance/{COIN}"))
        assert code == 200 and issued["supply"] == 500_000 - cashed
        assert (issued["burned_by_redemption"], issued["outstanding_redemptions"]) == (cashed, 0)
        assert [a["period"] for a in issued["attestations"]] == [202611]
        code, listing = http("GET", net.url(node, f"/v1/listings/{listing_id}"))
        assert code == 200 and (listing["stock"], listing["sold"]) == (2, 3)
        code, cart_order = http("GET", net.url(node, f"/v1/orders/{cart_id}"))
        assert code == 200 and [line["quantity"] for line in cart_order["lines"]] == [1, 2]
    # the block hash at that height commits to its state root: equal hashes, equal state
    assert net.agree(range(4), final_height)
