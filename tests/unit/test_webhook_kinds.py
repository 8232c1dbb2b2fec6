"""Every webhook kind a merchant can subscribe to comes out of real contract events.

Real signed transactions run through `apply_block` with the full contract registry
(tests/commercekit.py), end-of-block deadlines included; each block is rendered
as the node's event stream renders it (node/rpc/render.py) and fed to the relay's
follower, whose outbox then holds one message per webhook event. The issue's
list: invoice paid/refunded/expired, payment received, order placed, shipped,
confirmed, disputed, ruled, auto-released and auto-refunded, loyalty reward and
franchise royalty.
"""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path
from typing import Any

from cli.webhooks.config import parse_config
from cli.webhooks.relay import Follower
from cli.webhooks.store import RelayStore
from ledger.execution import BlockResult
from ledger.keys import address_to_text
from node.rpc.render import event_json, receipt_json
from node.rpc.routes_events import event_mentions
from tests.commercekit import DAY, Market, event

SECRET = "whsec_" + base64.b64encode(b"\x05" * 32).decode()
ISSUE_KINDS = {
    "invoice.paid",
    "invoice.refunded",
    "invoice.expired",
    "payment.received",
    "order.placed",
    "order.shipped",
    "order.confirmed",
    "order.disputed",
    "order.ruled",
    "order.auto_released",
    "order.auto_refunded",
    "loyalty.reward",
    "franchise.royalty",
}


class Stream:
    """Renders each applied block as stream frames and records them in a relay store."""

    def __init__(self, market: Market, tmp_path: Path) -> None:
        self.market = market
        config = parse_config(
            {"endpoints": [{"name": "all", "url": "http://127.0.0.1:9/h", "secrets": [SECRET]}]},
            tmp_path,
        )
        self.store = RelayStore(config.database)
        self.follower = Follower(config, threading.Event(), threading.Event())

    def ok(self, sender: Any, method: str, *args: Any, at_ms: int | None = None) -> BlockResult:
        chain = self.market.chain
        result = chain.block([(sender, method, args)], at_ms)
        receipt = result.receipts[0]
        assert receipt.ok, f"{method}: {receipt.code} {receipt.message}"
        self.publish(result, [sender.public_key.hex()], [method])
        return result

    def advance(self, to_ms: int) -> BlockResult:
        result = self.market.chain.advance(to_ms)
        self.publish(result, [], [])
        return result

    def publish(self, result: BlockResult, senders: list[str], methods: list[str]) -> None:
        chain = self.market.chain
        height = chain.height
        frames: list[dict[str, Any]] = [
            {
                "event": "block",
                "id": str(height),
                "data": {
                    "height": height,
                    "timestamp_ms": chain.time_ms,
                    "tx_count": len(result.receipts),
                    "end_block_events": [event_json(e) for e in result.block_events],
                },
            }
        ]
        for index, receipt in enumerate(result.receipts):
            frames.append(
                {
                    "event": "tx",
                    "id": f"{height}/{index}",
                    "data": {
                        "height": height,
                        "index": index,
                        "hash": f"{height:032x}{index:032x}",
                        "sender": address_to_text(bytes.fromhex(senders[index])),
                        "method": methods[index],
                        "status": "committed",
                        "receipt": receipt_json(receipt),
                    },
                }
            )
        for frame in frames:
            self.follower.record(self.store, frame, None)

    def kinds(self) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        for row in self.store.due(10**12, limit=10_000):
            found.setdefault(row.kind, []).append(json.loads(row.body))
        return found


def test_every_kind_the_issue_lists_is_produced_by_real_contracts(tmp_path: Path) -> None:
    market = Market()
    stream = Stream(market, tmp_path)
    seller, buyer, arbiter, franchisee = (
        market.seller,
        market.buyer,
        market.arbiter,
        market.outsider,
    )
    chain = market.chain

    # A loyalty group around the seller (rewards 5% of IDR paid to members) and a
    # franchise of its coin that the outsider joins.
    stream.ok(seller, "loyalty.create", "KOPI", "Kopi", 0, 10**9, [], [], [["IDR", 500]], 0, "open")
    stream.ok(seller, "coin.mint", "KOPI", franchisee.public_key, 150)
    opened = stream.ok(seller, "franchise.open_program", "KOPI", ["LATTE"], 100, 1_000, 500)
    program = event(opened.receipts[0], "franchise.opened").get("program")
    stream.ok(franchisee, "franchise.join", program)

    # Invoices: one paid then partly refunded, one left to expire.
    expiry = chain.time_ms + DAY
    created = stream.ok(seller, "invoice.create", "IDR", 2_000, expiry, "inv-1", b"")
    invoice = event(created.receipts[0], "invoice.created").get("id")
    stream.ok(buyer, "invoice.pay", invoice, "IDR", 2_000)
    stream.ok(seller, "invoice.refund", invoice, 500)
    stream.ok(seller, "invoice.create", "IDR", 3_000, chain.time_ms + 5_000, "inv-2", b"")

    # Plain payments.
    stream.ok(buyer, "coin.transfer", "IDR", seller.public_key, 100)
    stream.ok(
        buyer, "payment.pay", market.platform.public_key, seller.public_key, "IDR", 1_000, "r"
    )

    # Orders: confirmed, ruled after a dispute, auto-released, auto-refunded, franchised.
    listing = market.create_listing()

    def place() -> bytes:
        result = stream.ok(buyer, "order.place", listing, 1, 10**12, arbiter.public_key)
        order_id: bytes = event(result.receipts[0], "order.placed").get("order")
        return order_id

    confirmed, disputed, released, _unshipped = place(), place(), place(), place()
    for order in (confirmed, disputed, released):
        stream.ok(seller, "escrow.ship", order, b"\x01" * 32)
    stream.ok(buyer, "escrow.confirm", confirmed)
    stream.ok(buyer, "escrow.dispute", disputed)
    held = 10_000 - 500  # the price, less the arbiter's 5% fee
    stream.ok(arbiter, "escrow.rule", disputed, held, 0)
    latte = event(
        stream.ok(
            franchisee,
            "listing.create",
            *market.listing_args(sku="LATTE", franchise_program=program),
        ).receipts[0],
        "listing.created",
    ).get("listing")
    bought = stream.ok(buyer, "order.place", latte, 1, 10**12, arbiter.public_key)
    franchised = event(bought.receipts[0], "order.placed").get("order")
    stream.ok(franchisee, "escrow.ship", franchised, b"\x02" * 32)
    stream.ok(buyer, "escrow.confirm", franchised)
    # past the shipping deadline of the unshipped order and the protection window
    stream.advance(chain.time_ms + 8 * DAY)

    kinds = stream.kinds()
    assert set(kinds) >= ISSUE_KINDS, sorted(ISSUE_KINDS - set(kinds))
    assert len(kinds["order.placed"]) == 5
    for kind, bodies in kinds.items():
        for body in bodies:
            data = body["data"]
            assert body["type"] == kind and isinstance(data["height"], int)
            assert data["attributes"] and data["id"].startswith(f"evt_{data['height']}_")
            if data["tx_hash"] is not None:  # end-of-block and derived events have none
                assert data["bundle_url"].endswith(f"/v1/txs/{data['tx_hash']}?prove=true")
    ends = {b["data"]["attributes"]["outcome"] for b in kinds["order.auto_released"]}
    assert ends == {"auto_released"}
    assert kinds["order.auto_refunded"][0]["data"]["tx_hash"] is None  # an end-of-block event
    assert kinds["invoice.expired"][0]["data"]["attributes"]["reference"] == "inv-2"
    assert kinds["franchise.royalty"][0]["data"]["attributes"]["paid"] == 500


def test_a_sellers_stream_carries_the_royalties_of_its_auto_released_sales() -> None:
    """An order released at a block's end pays royalties in an end-of-block event; the
    account-filtered event stream keeps only events naming the account, so the royalty
    must name the seller it was taken from for the seller desk to count it."""
    market = Market()
    chain = market.chain
    seller, buyer, arbiter, franchisee = (
        market.seller,
        market.buyer,
        market.arbiter,
        market.outsider,
    )
    chain.ok(seller, "loyalty.create", "KOPI", "Kopi", 0, 10**9, [], [], [], 0, "open")
    chain.ok(seller, "coin.mint", "KOPI", franchisee.public_key, 150)
    opened = chain.ok(seller, "franchise.open_program", "KOPI", ["LATTE"], 100, 1_000, 500)
    program = event(opened, "franchise.opened").get("program")
    chain.ok(franchisee, "franchise.join", program)
    created = chain.ok(
        franchisee, "listing.create", *market.listing_args(sku="LATTE", franchise_program=program)
    )
    latte = event(created, "listing.created").get("listing")
    bought = chain.ok(buyer, "order.place", latte, 1, 10**12, arbiter.public_key)
    order = event(bought, "order.placed").get("order")
    chain.ok(franchisee, "escrow.ship", order, b"\x02" * 32)
    ended = chain.advance(chain.time_ms + 8 * DAY)  # past the protection window

    royalties = [e for e in ended.block_events if e.name == "franchise.royalty"]
    assert [e.get("paid") for e in royalties] == [500]
    assert event_mentions(royalties[0], franchisee.public_key)
    assert not event_mentions(royalties[0], buyer.public_key)
