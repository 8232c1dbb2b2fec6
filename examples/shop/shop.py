"""A small web shop that takes payment with pasar: the sample of docs/merchants.md.

A product page; "Pay with pasar" records an order, creates an invoice for it with
the merchant's scoped key (the shop server holds no key that can move money),
and sends the buyer to the node's checkout page with a link back to the order.
The shop learns of the payment from `pasar webhooks`: it checks the webhook's
signature, fetches the payment's proof bundle and verifies it offline against
the chain's genesis validators, and only then marks the order paid. Orders and
the ids of handled webhooks live in one SQLite file.

    python examples/shop/shop.py --node http://127.0.0.1:26600 \\
        --account pasar1merchant... --key-file shop-key.json \\
        --genesis genesis.json --webhook-secret whsec_... --port 8080
"""

from __future__ import annotations

import argparse
import asyncio
import html
import logging
import os
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from cli.merchant import (
    AsyncMerchant,
    MerchantError,
    WebhookEvent,
    WebhookVerificationError,
    anchor_from_genesis,
    load_key_file,
    verify_payment,
    verify_webhook,
)

log = logging.getLogger("shop")


@dataclass(frozen=True)
class Product:
    sku: str
    title: str
    price: int  # minor units of the shop's coin


CATALOG = (
    Product("batik-01", "Batik shirt, indigo", 2_500),
    Product("kopi-250", "Kopi luwak, 250 g", 1_200),
)
SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    id TEXT PRIMARY KEY,
    sku TEXT NOT NULL,
    amount INTEGER NOT NULL,
    invoice TEXT UNIQUE,
    status TEXT NOT NULL DEFAULT 'awaiting payment',
    paid_tx TEXT,
    paid_height INTEGER
);
CREATE TABLE IF NOT EXISTS handled_webhooks (id TEXT PRIMARY KEY);
"""
STYLE = (
    "body{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em}"
    ".paid{color:#060;font-weight:bold}button{font-size:1.1em;padding:.4em 1em}"
    "code{word-break:break-all}"
)


@dataclass(frozen=True)
class Settings:
    symbol: str
    public_url: str  # where buyers' browsers reach this shop (for the return link)
    webhook_secrets: tuple[str, ...]
    refuse_first: int  # answer 503 to this many webhooks first (to watch the relay retry)


class Shop:
    def __init__(
        self, merchant: AsyncMerchant, genesis: Path, database: Path, settings: Settings
    ) -> None:
        self.merchant = merchant
        # The validators payments must be certified by: from the operator's genesis file,
        # never from the node whose answers are being checked.
        self.anchor = anchor_from_genesis(genesis)
        self.settings = settings
        self.db = sqlite3.connect(database, isolation_level=None)
        self.db.executescript(SCHEMA)
        self.refused = 0
        # One webhook at a time: a retry may arrive while the first copy of the same
        # event is still being proven (its sender was killed, not its request).
        self.webhooks = asyncio.Lock()

    def page(self, title: str, body: str, refresh: bool = False) -> web.Response:
        meta = '<meta http-equiv="refresh" content="1">' if refresh else ""
        text = (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>{meta}"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
            f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
        )
        return web.Response(text=text, content_type="text/html")

    # -- buyer's pages -----------------------------------------------------------------

    async def products(self, request: web.Request) -> web.Response:
        symbol = html.escape(self.settings.symbol)
        items = "".join(
            f"<li><form method='post' action='/buy'><strong>{html.escape(p.title)}</strong>"
            f" {p.price} {symbol} <input type='hidden' name='sku' value='{p.sku}'>"
            f"<button type='submit' id='buy-{p.sku}'>Pay with pasar</button></form></li>"
            for p in CATALOG
        )
        return self.page("pasar sample shop", f"<ul>{items}</ul>")

    async def buy(self, request: web.Request) -> web.Response:
        form = await request.post()
        product = next((p for p in CATALOG if p.sku == form.get("sku")), None)
        if product is None:
            raise web.HTTPBadRequest(text="no such product")
        order_id = secrets.token_hex(8)
        self.db.execute(
            "INSERT INTO orders (id, sku, amount) VALUES (?, ?, ?)",
            (order_id, product.sku, product.price),
        )
        try:
            invoice = await self.merchant.create_invoice(
                product.price, self.settings.symbol, reference=f"order {order_id}"
            )
        except MerchantError as exc:
            log.warning("invoice for order %s failed: %s", order_id, exc)
            raise web.HTTPServiceUnavailable(text="the payment network is unavailable") from exc
        self.db.execute("UPDATE orders SET invoice = ? WHERE id = ?", (invoice.id, order_id))
        back = f"{self.settings.public_url}/orders/{order_id}"
        raise web.HTTPSeeOther(self.merchant.checkout_url(invoice.id, return_url=back))

    async def order(self, request: web.Request) -> web.Response:
        row = self.db.execute(
            "SELECT sku, amount, invoice, status, paid_tx, paid_height FROM orders WHERE id = ?",
            (request.match_info["id"],),
        ).fetchone()
        if row is None:
            raise web.HTTPNotFound(text="no such order")
        sku, amount, invoice, status, paid_tx, paid_height = row
        title = next(p.title for p in CATALOG if p.sku == sku)
        proof = (
            f"<p>Payment <code>{html.escape(paid_tx)}</code> in block {paid_height},"
            " proven to this shop.</p>"
            if paid_tx
            else ""
        )
        body = (
            f"<p>{html.escape(title)}: {amount} {html.escape(self.settings.symbol)}</p>"
            f"<p>Invoice <code>{html.escape(invoice or '')}</code></p>"
            f"<p>Status: <span id='status' class='{'paid' if status == 'paid' else ''}'>"
            f"{html.escape(status)}</span></p>{proof}"
        )
        return self.page(f"Order {request.match_info['id']}", body, refresh=status != "paid")

    # -- the relay's webhooks ----------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.read()  # the raw bytes: the signature covers them exactly
        if self.refused < self.settings.refuse_first:
            self.refused += 1
            return web.Response(status=503, text="not now")
        try:
            event = verify_webhook(self.settings.webhook_secrets, dict(request.headers), body)
        except WebhookVerificationError as exc:
            return web.Response(status=400, text=str(exc))
        async with self.webhooks:
            return await self.handle(event)

    async def handle(self, event: WebhookEvent) -> web.Response:
        """Act on a verified event once: mark its order paid when the payment is proven."""
        seen = self.db.execute("SELECT 1 FROM handled_webhooks WHERE id = ?", (event.id,))
        if seen.fetchone() is not None:
            return web.Response(text="already handled")  # a retry or a redelivery
        if event.type == "invoice.paid" and event.invoice_id and event.tx_hash:
            row = self.db.execute(
                "SELECT id, amount FROM orders WHERE invoice = ?", (event.invoice_id,)
            ).fetchone()
            if row is not None:
                try:
                    bundle = await self.merchant.payment_bundle(event.tx_hash)
                    paid = verify_payment(bundle, self.anchor, event.invoice_id)
                except MerchantError as exc:
                    # Not proven yet (node unreachable, bad bundle): fail, the relay retries.
                    log.warning("payment of order %s not proven: %s", row[0], exc)
                    return web.Response(status=503, text="payment not proven")
                if paid.merchant != self.merchant.account or paid.amount != row[1]:
                    return web.Response(status=422, text="the payment does not match the order")
                self.db.execute(
                    "UPDATE orders SET status = 'paid', paid_tx = ?, paid_height = ? WHERE id = ?",
                    (paid.tx_hash, paid.height, row[0]),
                )
                log.info("order %s paid in block %s", row[0], paid.height)
        self.db.execute("INSERT OR IGNORE INTO handled_webhooks (id) VALUES (?)", (event.id,))
        return web.Response(text="ok")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self.products)
        app.router.add_post("/buy", self.buy)
        app.router.add_get("/orders/{id}", self.order)
        app.router.add_post("/pasar/webhooks", self.webhook)
        return app


def main() -> None:
    parser = argparse.ArgumentParser(description="the pasar sample shop")
    parser.add_argument("--node", required=True, help="node URL this server talks to")
    parser.add_argument("--checkout-base", help="node URL buyers' browsers reach (default --node)")
    parser.add_argument("--account", required=True, help="the merchant's address (pasar1...)")
    parser.add_argument("--key-file", type=Path, required=True, help="the shop's scoped key")
    parser.add_argument("--genesis", type=Path, required=True, help="the chain's genesis.json")
    parser.add_argument(
        "--webhook-secret",
        action="append",
        default=[],
        help="whsec_... (repeat during a rotation; or PASAR_SHOP_WEBHOOK_SECRET)",
    )
    parser.add_argument("--symbol", default="IDR", help="the coin prices are in")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--public-url", help="this shop's URL for buyers (default localhost)")
    parser.add_argument("--database", type=Path, default=Path("shop.sqlite"))
    parser.add_argument(
        "--refuse-first", type=int, default=0, help="answer 503 to the first N webhooks (demo)"
    )
    args = parser.parse_args()
    webhook_secrets = args.webhook_secret or [os.environ.get("PASAR_SHOP_WEBHOOK_SECRET", "")]
    if not all(webhook_secrets):
        parser.error("give --webhook-secret or set PASAR_SHOP_WEBHOOK_SECRET")
    logging.basicConfig(level=logging.INFO, format="shop: %(message)s")
    try:
        key = load_key_file(args.key_file, os.environ.get("PASAR_SHOP_KEY_PASSPHRASE"))
        merchant = AsyncMerchant(args.node, args.account, key, checkout_base=args.checkout_base)
        settings = Settings(
            symbol=args.symbol,
            public_url=(args.public_url or f"http://127.0.0.1:{args.port}").rstrip("/"),
            webhook_secrets=tuple(webhook_secrets),
            refuse_first=args.refuse_first,
        )
        shop = Shop(merchant, args.genesis, args.database, settings)
    except MerchantError as exc:
        parser.error(str(exc))
    web.run_app(shop.app(), host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
