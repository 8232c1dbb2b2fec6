"""RPC reads of order books, exchange orders, invoices, proposals and platforms,
against a FakeNode that commits real blocks."""

from __future__ import annotations

from typing import Any

from rpc_fake_node import CHAIN_ID, FakeNode
from rpc_helpers import served

from contracts.exchange import PRICE_SCALE
from contracts.roles import grant_platform
from ledger.chainstore import read_receipts
from ledger.execution import account_nonce
from ledger.keys import PrivateKey, address_to_text
from ledger.state import StateView
from ledger.tx import Transaction

DAY = 24 * 3600 * 1000


class Market:
    """alice is a platform issuing IDRA and EMAS; bob trades and pays invoices."""

    def __init__(self) -> None:
        self.node = FakeNode()
        self.alice = self.node.accounts.alice
        self.bob = self.node.accounts.bob
        view = StateView(self.node.store)
        grant_platform(view, self.alice.public_key, "alice shop", 100)
        self.node.store.write(dict(view.write_set()))

    async def run(self, key: PrivateKey, method: str, *args: Any) -> Any:
        nonce = account_nonce(self.node.store, key.public_key)
        stx = Transaction(CHAIN_ID, key.public_key, nonce, method, tuple(args)).sign(key)
        await self.node.submit([stx.encode()])
        self.node.commit_pending()
        receipt = read_receipts(self.node.store, self.node.head().height)[0]
        assert receipt.ok, (method, receipt.code, receipt.message)
        return receipt

    async def setup(self) -> bytes:
        await self.run(self.alice, "platform.create_coin", "EMAS", "Gold", 0, 10**9)
        await self.run(self.alice, "coin.mint", "EMAS", self.bob.public_key, 1_000)
        await self.run(self.bob, "exchange.order", "EMAS", "IDRA", "sell", 3 * PRICE_SCALE, 10)
        await self.run(self.bob, "exchange.order", "EMAS", "IDRA", "sell", 3 * PRICE_SCALE, 5)
        await self.run(self.bob, "exchange.order", "EMAS", "IDRA", "sell", 4 * PRICE_SCALE, 1)
        await self.run(self.alice, "exchange.order", "EMAS", "IDRA", "buy", 2 * PRICE_SCALE, 7)
        expiry = self.node.timestamp_ms + DAY
        receipt = await self.run(self.alice, "invoice.create", "IDRA", 500, expiry, "o-1", b"x")
        return bytes(receipt.tx_hash)


async def test_book_and_exchange_order_routes() -> None:
    market = Market()
    await market.setup()
    bob = address_to_text(market.bob.public_key)
    async with served(market.node) as client:
        book = await (await client.get("/v1/exchange/books/IDRA/EMAS?levels=5")).json()
        assert (book["base"], book["quote"], book["price_scale"]) == ("EMAS", "IDRA", PRICE_SCALE)
        assert book["asks"] == [
            {"price": 3 * PRICE_SCALE, "quantity": 15, "orders": 2},
            {"price": 4 * PRICE_SCALE, "quantity": 1, "orders": 1},
        ]
        assert book["bids"] == [{"price": 2 * PRICE_SCALE, "quantity": 7, "orders": 1}]
        one = await (await client.get("/v1/exchange/orders/1")).json()
        assert one["owner"] == bob and one["remaining"] == 10 and one["locked_symbol"] == "EMAS"
        page = await (await client.get(f"/v1/exchange/orders?owner={bob}&limit=2")).json()
        assert [o["id"] for o in page["orders"]] == [1, 2] and page["next_cursor"] == "2"
        rest = await (await client.get(f"/v1/exchange/orders?owner={bob}&cursor=2")).json()
        assert [o["id"] for o in rest["orders"]] == [3] and rest["next_cursor"] is None
        missing = await client.get("/v1/exchange/orders/99")
        assert missing.status == 404
        assert (await missing.json())["error"]["code"] == "exchange_order_not_found"
        bad = await client.get("/v1/exchange/books/idr/EMAS")
        assert bad.status == 400 and (await bad.json())["error"]["code"] == "bad_symbol"
        no_owner = await client.get("/v1/exchange/orders")
        assert no_owner.status == 400


async def test_invoice_routes_follow_payment() -> None:
    market = Market()
    invoice_id = await market.setup()
    alice = address_to_text(market.alice.public_key)
    async with served(market.node) as client:
        one = await (await client.get(f"/v1/invoices/{invoice_id.hex()}")).json()
        assert one["status"] == "open" and one["amount"] == 500 and one["merchant"] == alice
        assert one["metadata"] == b"x".hex() and one["payer"] is None
        await market.run(market.bob, "invoice.pay", invoice_id, "IDRA", 500)
        paid = await (await client.get(f"/v1/invoices/{invoice_id.hex()}")).json()
        assert paid["status"] == "paid" and paid["payer"] == address_to_text(market.bob.public_key)
        page = await (await client.get(f"/v1/invoices?merchant={alice}")).json()
        assert [i["id"] for i in page["invoices"]] == [invoice_id.hex()]
        assert page["next_cursor"] is None
        missing = await client.get(f"/v1/invoices/{'00' * 32}")
        assert missing.status == 404


async def test_governance_and_platform_routes() -> None:
    market = Market()
    validator = market.node.accounts.validator
    bob = market.bob.public_key
    expiry = market.node.timestamp_ms + DAY
    await market.run(
        validator, "governance.propose", "grant_platform", [bob, "bob mart", 50], expiry
    )
    async with served(market.node) as client:
        proposal = await (await client.get("/v1/governance/proposals/1")).json()
        assert proposal["status"] == "executed" and proposal["action"] == "grant_platform"
        assert proposal["params"] == [address_to_text(bob), "bob mart", 50]
        page = await (await client.get("/v1/governance/proposals")).json()
        assert [p["id"] for p in page["proposals"]] == [1]
        platforms = await (await client.get("/v1/platforms")).json()
        names = sorted(p["name"] for p in platforms["platforms"])
        assert names == ["alice shop", "bob mart"]
        assert (await client.get("/v1/governance/proposals/5")).status == 404


async def test_quote_route_answers_both_ways_and_refuses_like_the_swap() -> None:
    market = Market()
    await market.setup()  # asks: 15 EMAS at 3, 1 at 4; bid: 7 EMAS at 2 (in IDRA)
    async with served(market.node) as client:
        out = await client.get("/v1/exchange/quote?pay=IDRA&receive=EMAS&receive_amount=16")
        assert (await out.json())["paid"] == 15 * 3 + 4
        exact_in = await client.get("/v1/exchange/quote?pay=EMAS&receive=IDRA&pay_amount=5")
        body = await exact_in.json()
        assert (body["mode"], body["paid"], body["received"], body["fills"]) == (
            "exact_in",
            5,
            10,
            1,
        )
        too_much = await client.get("/v1/exchange/quote?pay=IDRA&receive=EMAS&receive_amount=17")
        assert too_much.status == 400
        assert (await too_much.json())["error"]["code"] == "insufficient_liquidity"
        for bad in (
            "pay=IDRA&receive=EMAS",
            "pay=IDRA&receive=EMAS&pay_amount=1&receive_amount=1",
            "pay=idra&receive=EMAS&pay_amount=1",
            "pay=IDRA&receive=EMAS&pay_amount=0",
            "pay=IDRA&receive=IDRA&pay_amount=5",
        ):
            refused = await client.get(f"/v1/exchange/quote?{bad}")
            assert refused.status == 400, bad
            assert "code" in (await refused.json())["error"]
    await market.run(market.bob, "exchange.swap_exact_in", "EMAS", "IDRA", 5, 10)
