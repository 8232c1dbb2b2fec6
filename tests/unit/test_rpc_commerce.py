"""RPC reads of listings, orders/escrows (with evidence and sealed notes) and arbiter
schedules, against a FakeNode that commits real blocks."""

from __future__ import annotations

from typing import Any

from rpc_fake_node import CHAIN_ID, FakeNode, seed
from rpc_helpers import served

from cli.notes import open_order_note, seal_for_order
from contracts.roles import grant_platform
from ledger.chainstore import read_receipts
from ledger.execution import account_nonce
from ledger.keys import PrivateKey, address_to_text
from ledger.state import StateView
from ledger.tx import Transaction

DAY = 24 * 3600 * 1000


class Shop:
    """alice buys from bob; `court` is a platform that arbitrates."""

    def __init__(self) -> None:
        self.node = FakeNode()
        self.buyer = self.node.accounts.alice
        self.seller = self.node.accounts.bob
        self.court = seed("court")
        view = StateView(self.node.store)
        grant_platform(view, self.court.public_key, "court", 0)
        self.node.store.write(dict(view.write_set()))

    async def run(self, key: PrivateKey, method: str, *args: Any) -> Any:
        nonce = account_nonce(self.node.store, key.public_key)
        stx = Transaction(CHAIN_ID, key.public_key, nonce, method, tuple(args)).sign(key)
        await self.node.submit([stx.encode()])
        self.node.commit_pending()
        receipt = read_receipts(self.node.store, self.node.head().height)[0]
        assert receipt.ok, (method, receipt.code, receipt.message)
        return receipt

    async def setup(self) -> tuple[bytes, bytes]:
        await self.run(self.court, "arbiter.publish", 500, DAY)
        receipt = await self.run(
            self.seller,
            "listing.create",
            "Kopi luwak",
            "KOPI-1",
            1_000,
            "IDRA",
            10,
            None,
            [self.court.public_key],
            DAY,
            DAY,
        )
        listing_id = receipt.events[0].get("listing")
        notes = seal_for_order(b"Jl. Sudirman 1", self.seller.public_key, self.court.public_key)
        receipt = await self.run(
            self.buyer, "order.place", listing_id, 2, 1_000, self.court.public_key, *notes
        )
        order_id = receipt.events[-1].get("order")
        return listing_id, order_id


async def test_listing_and_order_routes() -> None:
    shop = Shop()
    listing_id, order_id = await shop.setup()
    seller = address_to_text(shop.seller.public_key)
    buyer = address_to_text(shop.buyer.public_key)
    async with served(shop.node) as client:
        one = await (await client.get(f"/v1/listings/{listing_id.hex()}")).json()
        assert one["seller"] == seller and one["stock"] == 8 and one["sku"] == "KOPI-1"
        assert one["arbiters"] == [address_to_text(shop.court.public_key)]
        page = await (await client.get(f"/v1/listings?seller={seller}")).json()
        assert [item["id"] for item in page["listings"]] == [listing_id.hex()]
        assert page["next_cursor"] is None
        order = await (await client.get(f"/v1/orders/{order_id.hex()}")).json()
        assert order["state"] == "funded" and order["amount"] == 2_000
        assert order["buyer"] == buyer and order["seller"] == seller
        notes = order["note"]
        opened = open_order_note(
            shop.seller, bytes.fromhex(notes["for_seller"]), bytes.fromhex(notes["for_arbiter"])
        )
        assert opened == b"Jl. Sudirman 1"
        same = await (await client.get(f"/v1/escrows/{order_id.hex()}")).json()
        assert same == order
        mine = await (await client.get(f"/v1/orders?buyer={buyer}")).json()
        theirs = await (await client.get(f"/v1/orders?seller={seller}")).json()
        assert [o["id"] for o in mine["orders"]] == [o["id"] for o in theirs["orders"]]
        court = address_to_text(shop.court.public_key)
        ruling = await (await client.get(f"/v1/orders?arbiter={court}")).json()
        assert [o["id"] for o in ruling["orders"]] == [order_id.hex()]
        assert ruling["orders"][0]["arbiter"] == court
        nobody = await (await client.get(f"/v1/orders?arbiter={buyer}")).json()
        assert nobody["orders"] == []
        schedule = await (
            await client.get(f"/v1/arbiters/{address_to_text(shop.court.public_key)}")
        ).json()
        assert schedule["fee_bps"] == 500 and schedule["ruling_ms"] == DAY


async def test_dispute_evidence_is_served() -> None:
    shop = Shop()
    _, order_id = await shop.setup()
    await shop.run(shop.buyer, "escrow.dispute", order_id)
    await shop.run(shop.seller, "escrow.evidence", order_id, "https://example.com/receipt")
    async with served(shop.node) as client:
        order = await (await client.get(f"/v1/orders/{order_id.hex()}")).json()
    assert order["state"] == "disputed"
    assert order["evidence"][0]["uri"] == "https://example.com/receipt"
    assert order["evidence"][0]["author"] == address_to_text(shop.seller.public_key)


async def test_pagination_over_http() -> None:
    shop = Shop()
    await shop.run(shop.court, "arbiter.publish", 500, DAY)
    for i in range(5):
        await shop.run(
            shop.seller,
            "listing.create",
            f"item {i}",
            f"S{i}",
            10,
            "IDRA",
            1,
            None,
            [shop.court.public_key],
            DAY,
            DAY,
        )
    seller = address_to_text(shop.seller.public_key)
    seen: list[str] = []
    cursor = ""
    async with served(shop.node) as client:
        while True:
            query = f"/v1/listings?seller={seller}&limit=2" + (
                f"&cursor={cursor}" if cursor else ""
            )
            page = await (await client.get(query)).json()
            seen.extend(item["sku"] for item in page["listings"])
            if page["next_cursor"] is None:
                break
            cursor = page["next_cursor"]
    assert seen == ["S0", "S1", "S2", "S3", "S4"]


async def test_catalog_pages_every_sellers_listings() -> None:
    shop = Shop()
    first, _ = await shop.setup()
    for i in range(4):
        await shop.run(
            shop.buyer, "listing.create", f"other {i}", f"O{i}", 10, "IDRA", 1, None,
            [shop.court.public_key], DAY, DAY,
        )  # fmt: skip
    await shop.run(shop.seller, "listing.withdraw", first)
    seen: dict[str, tuple[str, str]] = {}
    cursor = ""
    pages = 0
    async with served(shop.node) as client:
        while True:
            query = "/v1/catalog?limit=2" + (f"&cursor={cursor}" if cursor else "")
            page = await (await client.get(query)).json()
            pages += 1
            for item in page["listings"]:
                seen[item["id"]] = (item["seller"], item["status"])
            if page["next_cursor"] is None:
                break
            cursor = page["next_cursor"]
        bad = await client.get("/v1/catalog?cursor=abcd")
        assert bad.status == 400 and (await bad.json())["error"]["code"] == "bad_hex"
    assert pages == 3 and len(seen) == 5
    assert list(seen) == sorted(seen)  # in listing-id order
    assert seen[first.hex()] == (address_to_text(shop.seller.public_key), "withdrawn")
    buyer = address_to_text(shop.buyer.public_key)
    assert sum(1 for seller, _ in seen.values() if seller == buyer) == 4


async def test_bad_requests_and_missing_objects() -> None:
    shop = Shop()
    async with served(shop.node) as client:
        cases = {
            "/v1/listings": (400, "missing_parameter"),
            "/v1/listings?seller=pasar1nope": (400, "bad_address"),
            f"/v1/listings?seller={shop.seller.public_key.hex()}&cursor=zz": (400, "bad_hex"),
            f"/v1/listings?seller={shop.seller.public_key.hex()}&limit=0": (400, "bad_parameter"),
            "/v1/listings/abcd": (400, "bad_hex"),
            f"/v1/listings/{'00' * 32}": (404, "listing_not_found"),
            "/v1/orders": (400, "missing_parameter"),
            f"/v1/orders?buyer={shop.buyer.public_key.hex()}&seller=x": (400, "missing_parameter"),
            f"/v1/orders?arbiter={shop.court.public_key.hex()}&buyer=x": (400, "missing_parameter"),
            "/v1/orders?arbiter=pasar1nope": (400, "bad_address"),
            f"/v1/orders/{'00' * 32}": (404, "order_not_found"),
            f"/v1/arbiters/{shop.court.public_key.hex()}": (404, "schedule_not_found"),
            "/v1/redemptions": (400, "missing_parameter"),
            "/v1/redemptions?requester=pasar1nope": (400, "bad_address"),
            f"/v1/redemptions/{'00' * 32}": (404, "redemption_not_found"),
            "/v1/issuance/idr": (400, "bad_symbol"),
            "/v1/issuance/NOPE": (404, "asset_not_found"),
            "/v1/issuance/IDRA?after_period=-1": (400, "bad_parameter"),
            "/v1/platforms/pasar1nope/redemptions": (400, "bad_address"),
            f"/v1/sellers/{'00' * 32}/record": (200, None),
            f"/v1/franchise/{'00' * 32}/status/{'00' * 32}": (404, "program_not_found"),
            f"/v1/franchise/{'00' * 32}/status/pasar1nope": (400, "bad_address"),
        }
        for path, (status, code) in cases.items():
            response = await client.get(path)
            body = await response.json()
            if code is None:  # an account with no orders has an empty record, not an error
                assert response.status == status and body["completed"] == 0, path
                continue
            assert (response.status, body["error"]["code"]) == (status, code), path


async def test_commerce_routes_are_in_the_openapi_document() -> None:
    async with served(FakeNode()) as client:
        document = await (await client.get("/openapi.json")).json()
    assert "/v1/orders/{id}" in document["paths"]
    assert "/v1/platforms/{address}/redemptions" in document["paths"]
    assert "OrderDetail" in document["components"]["schemas"]
    assert "Status" in document["components"]["schemas"]


async def test_redemption_routes() -> None:
    shop = Shop()
    await shop.run(shop.court, "platform.create_coin", "IDRC", "Court rupiah", 2, 10**9)
    await shop.run(shop.court, "coin.mint", "IDRC", shop.seller.public_key, 500)
    await shop.run(shop.court, "redeem.set_terms", DAY)
    receipt = await shop.run(shop.seller, "redeem.request", "IDRC", 200, b"\x01" * 32)
    redemption_id = receipt.events[0].get("id")
    seller = address_to_text(shop.seller.public_key)
    court = address_to_text(shop.court.public_key)
    async with served(shop.node) as client:
        one = await (await client.get(f"/v1/redemptions/{redemption_id.hex()}")).json()
        assert (one["requester"], one["platform"], one["state"]) == (seller, court, "pending")
        page = await (await client.get(f"/v1/redemptions?requester={seller}")).json()
        assert [r["id"] for r in page["redemptions"]] == [redemption_id.hex()]
        stats = await (await client.get(f"/v1/platforms/{court}/redemptions")).json()
        assert (stats["outstanding_count"], stats["outstanding_amount"]) == (1, 200)
        assert stats["median_settle_ms"] is None
        issued = await (await client.get("/v1/issuance/IDRC")).json()
        assert (issued["supply"], issued["outstanding_redemptions"]) == (500, 200)
