"""The Python merchant SDK: what a shop needs from a pasar chain.

    from cli.merchant import Merchant, verify_webhook, verify_payment, anchor_from_genesis

    shop = Merchant("http://127.0.0.1:26600", "pasar1merchant...", scoped_key)
    invoice = shop.create_invoice(150_000, "IDR", reference="order-17")
    url = shop.checkout_url(invoice.id, return_url="https://shop.example/thanks")
    paid = shop.wait_for_payment(invoice.id, timeout_s=600)

`AsyncMerchant` has the same calls to await. Webhooks from `pasar webhooks` are
checked with `verify_webhook`, proof bundles offline with `verify_payment`.
Errors are `MerchantError` subclasses carrying a stable `code` (the node's own
error code, or the receipt code of a rejected transaction);
`WebhookVerificationError` is the one exception of `verify_webhook`.
docs/merchants.md is the guide.
"""

from cli.merchant.aio import AsyncMerchant
from cli.merchant.client import Merchant, load_key_file
from cli.merchant.errors import (
    InvoiceClosed,
    MerchantError,
    NodeError,
    NodeUnreachable,
    NotCommitted,
    PaymentTimeout,
    ProofError,
    TransactionRejected,
    WebhookVerificationError,
)
from cli.merchant.models import Invoice, Order, Page, VerifiedPayment, WebhookEvent
from cli.merchant.proofs import anchor_from_genesis, verify_payment
from cli.merchant.webhooks import verify_webhook

__all__ = [
    "AsyncMerchant",
    "Invoice",
    "InvoiceClosed",
    "Merchant",
    "MerchantError",
    "NodeError",
    "NodeUnreachable",
    "NotCommitted",
    "Order",
    "Page",
    "PaymentTimeout",
    "ProofError",
    "TransactionRejected",
    "VerifiedPayment",
    "WebhookEvent",
    "WebhookVerificationError",
    "anchor_from_genesis",
    "load_key_file",
    "verify_payment",
    "verify_webhook",
]
