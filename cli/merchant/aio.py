"""`AsyncMerchant`: the same calls as `Merchant`, to await from an asyncio shop (aiohttp).

Each call runs the synchronous `Merchant` in a worker thread (`asyncio.to_thread`),
so there is still one HTTP client library; waiting for a payment sleeps on the
event loop between reads of the invoice instead of holding a thread (the
synchronous wait follows the event stream, which would hold one of the few
default worker threads for the whole wait).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from cli.merchant.client import (
    DEFAULT_EXPIRY_S,
    DEFAULT_WAIT_S,
    POLL_S,
    Merchant,
    check_payment,
    load_key_file,
)
from cli.merchant.errors import PaymentTimeout
from cli.merchant.models import Invoice, Order, Page
from ledger.keys import PrivateKey


class AsyncMerchant:
    """See `Merchant` for the arguments; `sync` is the wrapped synchronous object."""

    def __init__(
        self,
        node_url: str,
        account: str | None = None,
        key: PrivateKey | None = None,
        *,
        checkout_base: str | None = None,
        timeout_s: float = 15.0,
    ) -> None:
        self.sync = Merchant(
            node_url, account, key, checkout_base=checkout_base, timeout_s=timeout_s
        )
        self.account = self.sync.account

    @staticmethod
    def from_key_file(
        node_url: str,
        key_file: str | Path,
        account: str | None = None,
        passphrase: str | None = None,
        **options: Any,
    ) -> AsyncMerchant:
        """An AsyncMerchant whose key is read from a `pasar keys` key file."""
        return AsyncMerchant(node_url, account, load_key_file(key_file, passphrase), **options)

    async def create_invoice(
        self,
        amount: int,
        symbol: str,
        *,
        reference: str = "",
        metadata: bytes = b"",
        expires_in_s: int = DEFAULT_EXPIRY_S,
        expiry_ms: int | None = None,
        platform: str | None = None,
        wait_s: float = DEFAULT_WAIT_S,
    ) -> Invoice:
        return await asyncio.to_thread(
            self.sync.create_invoice,
            amount,
            symbol,
            reference=reference,
            metadata=metadata,
            expires_in_s=expires_in_s,
            expiry_ms=expiry_ms,
            platform=platform,
            wait_s=wait_s,
        )

    async def cancel_invoice(self, invoice_id: str, wait_s: float = DEFAULT_WAIT_S) -> Invoice:
        return await asyncio.to_thread(self.sync.cancel_invoice, invoice_id, wait_s)

    def checkout_url(self, invoice_id: str, return_url: str | None = None) -> str:
        """Pure string work: no need to await."""
        return self.sync.checkout_url(invoice_id, return_url)

    async def invoice(self, invoice_id: str) -> Invoice:
        return await asyncio.to_thread(self.sync.invoice, invoice_id)

    async def invoices(self, limit: int = 50, cursor: str | None = None) -> Page[Invoice]:
        return await asyncio.to_thread(self.sync.invoices, limit, cursor)

    async def wait_for_payment(
        self, invoice_id: str, timeout_s: float = 300.0, poll_s: float = POLL_S
    ) -> Invoice:
        deadline = time.monotonic() + timeout_s
        while True:
            invoice = await self.invoice(invoice_id)
            check_payment(invoice)
            if invoice.paid:
                return invoice
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PaymentTimeout(invoice.id, timeout_s)
            await asyncio.sleep(min(poll_s, remaining))

    async def orders(self, limit: int = 50, cursor: str | None = None) -> Page[Order]:
        return await asyncio.to_thread(self.sync.orders, limit, cursor)

    async def order(self, order_id: str) -> Order:
        return await asyncio.to_thread(self.sync.order, order_id)

    async def ship(
        self,
        order_id: str,
        tracking: str,
        *,
        note: str | None = None,
        wait_s: float = DEFAULT_WAIT_S,
    ) -> Order:
        return await asyncio.to_thread(self.sync.ship, order_id, tracking, note=note, wait_s=wait_s)

    async def payment_bundle(self, tx_hash: str, wait_s: float = 0) -> bytes:
        return await asyncio.to_thread(self.sync.payment_bundle, tx_hash, wait_s)
