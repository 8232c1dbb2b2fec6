"""The Python merchant SDK (cli/merchant) against a real validator process.

The shop server holds only a scoped key of the merchant account: it creates an
invoice, builds the checkout link, waits for the buyer's payment, fetches the
payment's proof bundle and checks it offline against the genesis; a bad expiry
comes back as the receipt's code, an unknown invoice as the node's code, a
cancelled invoice stops the wait. The async client lists the merchant's orders
and ships one with a sealed note. The JavaScript SDK (web/lib/merchant.js) does
the invoice, payment and proof steps against the same kind of node.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.merchant import (
    AsyncMerchant,
    Invoice,
    InvoiceClosed,
    Merchant,
    NodeError,
    NotCommitted,
    PaymentTimeout,
    ProofError,
    TransactionRejected,
    anchor_from_genesis,
    verify_payment,
)
from ledger.bundle import TrustAnchor
from node.home import load_home
from tests.integration.harness import ROOT, http
from tests.integration.merchant_kit import ShopNet


@pytest.fixture()
def shop(tmp_path: Path) -> Iterator[ShopNet]:
    network = ShopNet(tmp_path / "net")
    try:
        network.start()
        yield network
    finally:
        network.close()


def test_invoice_checkout_payment_and_offline_proof(shop: ShopNet) -> None:
    merchant = Merchant(shop.url, shop.merchant, shop.shop_key)
    invoice = merchant.create_invoice(2_500, shop.symbol, reference="order-1", metadata=b"\x01")
    assert (invoice.status, invoice.merchant, invoice.amount) == ("open", shop.merchant, 2_500)
    assert (invoice.reference, invoice.metadata, invoice.paid) == ("order-1", b"\x01", False)

    url = merchant.checkout_url(invoice.id, return_url="http://127.0.0.1:9/thanks?o=1")
    assert url == f"{shop.url}/pay/{invoice.id}?return=http%3A%2F%2F127.0.0.1%3A9%2Fthanks%3Fo%3D1"
    status, page = http("GET", url)
    assert status == 200 and "<html" in page.lower()

    with pytest.raises(PaymentTimeout) as timed_out:
        merchant.wait_for_payment(invoice.id, timeout_s=0.3, poll_s=0.1)
    assert timed_out.value.code == "payment_timeout"

    # The wait follows the merchant's event stream: it is already waiting (its first
    # read done) when the buyer pays, and the payment's block ends it.
    reads: list[str] = []
    first_read = threading.Event()
    read_invoice = merchant.invoice

    def counted(identifier: str) -> Invoice:
        reads.append(identifier)
        first_read.set()
        return read_invoice(identifier)

    merchant.invoice = counted  # type: ignore[method-assign]
    waited: list[Invoice] = []
    waiter = threading.Thread(
        target=lambda: waited.append(
            merchant.wait_for_payment(invoice.id, timeout_s=30, poll_s=0.02)
        )
    )
    waiter.start()
    assert first_read.wait(10)
    time.sleep(0.5)  # a shop waits a while before its buyer pays
    pay_hash = shop.pay_invoice(invoice.id, 2_500)
    waiter.join(35)
    merchant.invoice = read_invoice  # type: ignore[method-assign]
    # one read before the stream, one per block event that could change it (the
    # payment's transaction, at most one replayed from the starting block): a poll
    # every 20 ms would have read it on every round while the payment committed
    assert len(waited) == 1 and 2 <= len(reads) <= 3
    paid = waited[0]
    assert (paid.status, paid.payer, paid.pay_amount) == ("paid", shop.buyer, 2_500)
    assert [item.id for item in merchant.invoices().items] == [invoice.id]

    bundle = merchant.payment_bundle(pay_hash)
    anchor = anchor_from_genesis(shop.genesis_path)
    proven = verify_payment(bundle, anchor, invoice.id)
    assert (proven.invoice_id, proven.tx_hash, proven.amount) == (invoice.id, pay_hash, 2_500)
    assert (proven.payer, proven.merchant, proven.symbol) == (shop.buyer, shop.merchant, "IDR")
    assert verify_payment(bundle.hex(), anchor).height == proven.height

    with pytest.raises(ProofError, match="payment of invoice"):
        verify_payment(bundle, anchor, "00" * 32)
    strangers = TrustAnchor(anchor.chain_id, (shop.shop_key.public_key,))
    with pytest.raises(ProofError):
        verify_payment(bundle, strangers, invoice.id)
    with pytest.raises(ProofError, match="not invoice.pay"):
        verify_payment(merchant.payment_bundle(invoice.id), anchor)
    tampered = bytearray(bundle)
    tampered[len(tampered) // 2] ^= 1
    with pytest.raises(ProofError):
        verify_payment(bytes(tampered), anchor, invoice.id)


def test_refusals_carry_the_chain_and_node_codes(shop: ShopNet) -> None:
    merchant = Merchant(shop.url, shop.merchant, shop.shop_key)
    with pytest.raises(TransactionRejected) as rejected:
        merchant.create_invoice(100, shop.symbol, expiry_ms=int(time.time() * 1000) - 60_000)
    assert rejected.value.code == "bad_expiry"
    with pytest.raises(NodeError) as unknown:
        merchant.invoice("00" * 32)
    assert (unknown.value.code, unknown.value.status) == ("invoice_not_found", 404)
    with pytest.raises(NotCommitted) as unproven:  # no such transaction: nothing to prove
        merchant.payment_bundle("00" * 32)
    assert unproven.value.code == "not_committed"

    invoice = merchant.create_invoice(100, shop.symbol, reference="to-cancel")
    assert merchant.cancel_invoice(invoice.id).status == "cancelled"
    with pytest.raises(InvoiceClosed) as closed:
        merchant.wait_for_payment(invoice.id, timeout_s=10)
    assert closed.value.code == "invoice_cancelled"

    # The scoped key may not do what its policy does not list: refused at admission.
    shop_only = Merchant(shop.url, shop.buyer, shop.shop_key)
    with pytest.raises(NodeError) as foreign:
        shop_only.create_invoice(100, shop.symbol)
    assert foreign.value.status == 422 and foreign.value.code == "unknown_signer"


def test_async_invoice_payment_orders_and_ship(shop: ShopNet) -> None:
    shop.chain_tx(shop.arbiter_key, "arbiter.publish", 300, 3 * 86_400_000, [])
    listed = shop.chain_tx(
        shop.merchant_key, "listing.create", "Batik", "BTK-1", 5_000, shop.symbol, 3, None,
        [shop.arbiter_key.public_key], 3 * 86_400_000, 7 * 86_400_000,
    )  # fmt: skip
    listing_id = next(e for e in listed["events"] if e["name"] == "listing.created")
    listing_id = listing_id["attributes"]["listing"]["hex"]
    placed = shop.chain_tx(
        shop.buyer_key, "order.place", bytes.fromhex(listing_id), 2, 5_000,
        shop.arbiter_key.public_key,
    )  # fmt: skip
    order_id = next(e for e in placed["events"] if e["name"] == "order.placed")
    order_id = order_id["attributes"]["order"]["hex"]

    async def scenario() -> None:
        merchant = AsyncMerchant(shop.url, shop.merchant, shop.shop_key)
        invoice = await merchant.create_invoice(700, shop.symbol, reference="async-1")
        waiting = asyncio.create_task(merchant.wait_for_payment(invoice.id, timeout_s=30))
        await asyncio.to_thread(shop.pay_invoice, invoice.id, 700)
        assert (await waiting).status == "paid"

        page = await merchant.orders()
        assert [(o.id, o.state, o.buyer, o.amount) for o in page.items] == [
            (order_id, "funded", shop.buyer, 10_000)
        ]
        shipped = await merchant.ship(order_id, "JNE-0042", note="driver Budi")
        assert shipped.state == "shipped"
        assert shipped.tracking == hashlib.sha256(b"JNE-0042").hexdigest()
        assert shipped.raw["shipping_note"]["for_buyer"]  # sealed, not in clear

    asyncio.run(scenario())


def test_javascript_sdk_invoice_payment_and_proof(shop: ShopNet) -> None:
    """web/lib/merchant.js alone against the same node; Python then sees the invoice paid."""
    node = shutil.which("node")
    assert node is not None, "Node.js 20 or newer is needed to test web/lib"
    result = subprocess.run(
        [
            node,
            "web/tests/merchant_live.js",
            shop.url,
            load_home(shop.net.nodes[0].home).genesis.encode().hex(),
            shop.merchant,
            shop.shop_key.seed.hex(),
            shop.buyer_key.seed.hex(),
            shop.symbol,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout)
    invoice_id = out["invoice"]["id"]
    assert out["invoice"] == {
        "id": invoice_id, "status": "open", "merchant": shop.merchant, "amount": "1234"
    }  # fmt: skip
    assert out["checkout"] == Merchant(shop.url, shop.merchant).checkout_url(
        invoice_id, "http://127.0.0.1:9/thanks"
    )
    assert out["paid"] == {"status": "paid", "payer": shop.buyer}
    assert out["proven"]["invoiceId"] == invoice_id and out["proven"]["amount"] == "1234"
    assert (out["proven"]["payer"], out["proven"]["merchant"]) == (shop.buyer, shop.merchant)
    assert (out["other_invoice"], out["past_expiry"]) == ("ProofError", "bad_expiry")

    # The Python SDK agrees on the node's state and on the bundle the JS side verified.
    merchant = Merchant(shop.url, shop.merchant)
    assert merchant.invoice(invoice_id).status == "paid"
    bundle = merchant.payment_bundle(out["pay_hash"])
    proven = verify_payment(bundle, anchor_from_genesis(shop.genesis_path), invoice_id)
    assert (proven.height, proven.index, proven.tx_hash) == (
        out["proven"]["height"], out["proven"]["index"], out["proven"]["txHash"]
    )  # fmt: skip
