"""A shop's webhook endpoint: check the signature, then prove the payment offline.

POST /pasar/webhooks on port 8080 (SHOP_PORT). Prints one line per paid invoice.
"""

import os
from pathlib import Path

from aiohttp import web

from cli.merchant import (
    AsyncMerchant,
    WebhookVerificationError,
    anchor_from_genesis,
    verify_payment,
    verify_webhook,
)

NODE = os.environ.get("PASAR_NODE", "http://127.0.0.1:26600")
SECRETS = [Path("shop.secret").read_text().strip()]  # add the new one here while rotating
# Trust the chain's validators as its genesis names them, not whichever node answers.
ANCHOR = anchor_from_genesis(".pasar/nodes/seller/genesis.json")
shop = AsyncMerchant(NODE, os.environ["MERCHANT"])  # reads only: no key needed
handled: set[str] = set()  # use your database: the same event may come twice


async def receive(request: web.Request) -> web.Response:
    body = await request.read()  # the raw bytes: verify before parsing
    try:
        event = verify_webhook(SECRETS, request.headers, body)
    except WebhookVerificationError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    if event.id in handled:
        return web.Response(status=204)
    if event.type == "invoice.paid" and event.tx_hash and event.invoice_id:
        bundle = await shop.payment_bundle(event.tx_hash)
        payment = verify_payment(bundle, ANCHOR, event.invoice_id)
        print(
            f"invoice {payment.invoice_id} paid and proven: {payment.amount} "
            f"{payment.symbol} from {payment.payer} in block {payment.height}",
            flush=True,
        )
    handled.add(event.id)
    return web.Response(status=204)


app = web.Application()
app.router.add_post("/pasar/webhooks", receive)
web.run_app(app, host="127.0.0.1", port=int(os.environ.get("SHOP_PORT", "8080")))
