"""`Merchant`: what a shop's server does with the chain, synchronously.

It builds and signs transactions with `ledger` types and talks to the node only
through the project's one client library (`cli.client.NodeClient`). The key is
usually a *scoped* key of the merchant's account (`docs/contracts.md`, Accounts:
e.g. allowed `invoice.create` and `escrow.ship` only), so the shop server never
holds a key that can move the merchant's money. Every failure is a
`MerchantError` subclass carrying a stable code (cli/merchant/errors.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from cli.client import NodeClient, NodeReplyError, StreamQuiet
from cli.common import CliError
from cli.merchant.errors import (
    InvoiceClosed,
    MerchantError,
    NodeError,
    NodeUnreachable,
    NotCommitted,
    PaymentTimeout,
    TransactionRejected,
)
from cli.merchant.models import CLOSED_STATUSES, Invoice, Order, Page
from cli.notes import NoteError, seal_for_order
from cli.submission import sign_and_submit
from ledger.errors import CodecError
from ledger.keys import PrivateKey, address_from_text, address_to_text
from ledger.tx import Transaction
from node.keyfile import KeyFileError, read_key_file

R = TypeVar("R")
P = ParamSpec("P")

DEFAULT_EXPIRY_S = 3600
DEFAULT_WAIT_S = 30.0
MAX_WAIT_S = 60.0  # the node's longest single long-poll (docs/api.md)
POLL_S = 1.0  # how often a wait reads the invoice when the node refuses event streams
STREAM_READ_S = 20.0  # the longest one read of the event stream waits for a byte


def node_call(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run one NodeClient call, turning its errors into the SDK's typed ones."""
    try:
        return function(*args, **kwargs)
    except NodeReplyError as exc:
        raise NodeError(exc.code, exc.message, exc.status, exc.field) from exc
    except CliError as exc:
        raise NodeUnreachable(exc.message) from exc


def _hex_id(text: str, what: str) -> str:
    """A 32-byte id as 64 lowercase hex digits (checked here: it ends up in a URL path)."""
    value = text.strip().lower().removeprefix("0x")
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise MerchantError("bad_id", f"{what} must be 64 hex digits")
    return value


def load_key_file(key_file: str | Path, passphrase: str | None = None) -> PrivateKey:
    """A key from a `pasar keys` key file (`passphrase` for an encrypted one)."""
    try:
        return read_key_file(key_file, passphrase)
    except KeyFileError as exc:
        raise MerchantError("bad_key_file", str(exc)) from exc


class Merchant:
    """A shop's handle on one node for one merchant account.

    `account` is the merchant's address (`pasar1...`); `key` signs for it: the
    account's own key or a scoped key its policy allows (default: `key` is the
    account's own key, so `account` may be left out). Reads need no key.
    `checkout_base` is the node URL buyers' browsers reach, when it differs from
    `node_url` (the one this server talks to).
    """

    def __init__(
        self,
        node_url: str,
        account: str | None = None,
        key: PrivateKey | None = None,
        *,
        checkout_base: str | None = None,
        timeout_s: float = 15.0,
    ) -> None:
        if account is not None:
            try:
                sender = address_from_text(account)
            except ValueError as exc:
                raise MerchantError("bad_address", f"account: {exc}") from exc
        elif key is not None:
            sender = key.public_key
        else:
            raise MerchantError("bad_account", "give the merchant account, its key, or both")
        self._sender = sender
        self.account = address_to_text(sender)
        self.key = key
        self.client = NodeClient(node_url, timeout_s)
        self.node_url = self.client.base_url
        self.checkout_base = (checkout_base or node_url).rstrip("/")
        self._chain_id: str | None = None
        # One submission at a time from this object, so threads sharing it do not race
        # for the same nonce (the node would refuse the second with nonce_taken).
        self._submit_lock = threading.Lock()

    @staticmethod
    def from_key_file(
        node_url: str,
        key_file: str | Path,
        account: str | None = None,
        passphrase: str | None = None,
        **options: Any,
    ) -> Merchant:
        """A Merchant whose key is read from a `pasar keys` key file."""
        return Merchant(node_url, account, load_key_file(key_file, passphrase), **options)

    # -- invoices ----------------------------------------------------------------------

    def create_invoice(
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
        """Create an invoice (`invoice.create`) and answer it once committed.

        `amount` is in minor units of `symbol`; `reference` is your order number
        (at most 128 characters). It expires `expires_in_s` from now, or at the
        absolute `expiry_ms`. The invoice id is the transaction hash.
        """
        if expiry_ms is None:
            expiry_ms = int(time.time() * 1000) + expires_in_s * 1000
        args: list[Any] = [symbol, amount, expiry_ms, reference, metadata]
        if platform is not None:
            try:
                args.append(address_from_text(platform))
            except ValueError as exc:
                raise MerchantError("bad_address", f"platform: {exc}") from exc
        tx_hash = self._send("invoice.create", tuple(args), wait_s)
        return self.invoice(tx_hash)

    def cancel_invoice(self, invoice_id: str, wait_s: float = DEFAULT_WAIT_S) -> Invoice:
        """Call off an open invoice (`invoice.cancel`); it can no longer be paid."""
        identifier = _hex_id(invoice_id, "invoice id")
        self._send("invoice.cancel", (bytes.fromhex(identifier),), wait_s)
        return self.invoice(identifier)

    def checkout_url(self, invoice_id: str, return_url: str | None = None) -> str:
        """The node's checkout page for the buyer (`/pay/{invoice}?return=...`); after
        paying, the page offers a link back to `return_url` (http or https only)."""
        url = f"{self.checkout_base}/pay/{_hex_id(invoice_id, 'invoice id')}"
        if return_url is not None:
            url += "?" + urllib.parse.urlencode({"return": return_url})
        return url

    def invoice(self, invoice_id: str) -> Invoice:
        """The invoice as the node sees it now."""
        path = f"/v1/invoices/{_hex_id(invoice_id, 'invoice id')}"
        return Invoice.from_json(node_call(self.client.request, "GET", path))

    def invoices(self, limit: int = 50, cursor: str | None = None) -> Page[Invoice]:
        """This merchant's invoices, oldest first, one page."""
        data = self._page("/v1/invoices", {"merchant": self.account}, limit, cursor)
        return Page([Invoice.from_json(item) for item in data["invoices"]], data["next_cursor"])

    def wait_for_payment(
        self, invoice_id: str, timeout_s: float = 300.0, poll_s: float = POLL_S
    ) -> Invoice:
        """Block until the invoice is paid and answer it; InvoiceClosed when it is
        cancelled or expires unpaid, PaymentTimeout after `timeout_s`.

        It follows the node's event stream for the merchant's account
        (`GET /v1/events?account=`) and reads the invoice again only when a
        transaction mentioning the merchant commits or a block passes the invoice's
        expiry: the payment is seen as soon as its block commits, with no request a
        second meanwhile. The stream resumes from its last cursor after a quiet spell
        or a dropped connection; when the node refuses streams (all its slots busy),
        the wait reads the invoice every `poll_s` seconds instead."""
        deadline = time.monotonic() + timeout_s
        identifier = _hex_id(invoice_id, "invoice id")
        # The cursor is taken before the first read, so a payment committed in
        # between is replayed by the stream rather than missed.
        cursor = str(int(node_call(self.client.status)["height"]))
        invoice = self.invoice(identifier)
        while True:
            check_payment(invoice)
            if invoice.paid:
                return invoice
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PaymentTimeout(invoice.id, timeout_s)
            try:
                cursor = self._next_relevant_event(invoice, cursor, deadline)
            except NodeReplyError:
                time.sleep(min(poll_s, remaining))  # no stream to be had: poll
            invoice = self.invoice(identifier)

    def _next_relevant_event(self, invoice: Invoice, cursor: str, deadline: float) -> str:
        """Follow the merchant's event stream from `cursor` until an event that may
        change the invoice (a transaction mentioning the merchant, a block past the
        expiry) or the deadline; answers the cursor to resume from. NodeReplyError
        when the node refuses the stream."""
        while (remaining := deadline - time.monotonic()) > 0:
            # The node sends a keepalive after 15 s without a block, so a read of
            # STREAM_READ_S never times out on a live stream; near the deadline the
            # read is shortened so a quiet stream cannot hold the wait past it.
            read_s = min(STREAM_READ_S, remaining)
            query = {"account": self.account, "cursor": cursor}
            try:
                with contextlib.closing(
                    self.client.events(query, read_timeout=read_s, keepalives=True)
                ) as events:
                    for event in events:
                        left = deadline - time.monotonic()
                        if event.get("event") == "keepalive":
                            if left < read_s:
                                break  # reconnect with a read timeout that ends by the deadline
                            continue
                        cursor = str(event.get("id", cursor))
                        if _may_change(invoice, event) or left <= 0:
                            return cursor
            except StreamQuiet:
                continue
            except NodeReplyError:
                raise
            except CliError:
                # The stream broke: the caller's next invoice read says whether the
                # node is still there; the pause keeps a failing stream from spinning.
                time.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))
                return cursor
        return cursor

    # -- orders ------------------------------------------------------------------------

    def orders(self, limit: int = 50, cursor: str | None = None) -> Page[Order]:
        """Orders placed with this merchant (as seller), oldest first, one page."""
        data = self._page("/v1/orders", {"seller": self.account}, limit, cursor)
        return Page([Order.from_json(item) for item in data["orders"]], data["next_cursor"])

    def all_orders(self, page_size: int = 200) -> Iterator[Order]:
        """Every order of this merchant, following the pages."""
        cursor: str | None = None
        while True:
            page = self.orders(page_size, cursor)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def order(self, order_id: str) -> Order:
        path = f"/v1/orders/{_hex_id(order_id, 'order id')}"
        return Order.from_json(node_call(self.client.request, "GET", path))

    def ship(
        self,
        order_id: str,
        tracking: str,
        *,
        note: str | None = None,
        wait_s: float = DEFAULT_WAIT_S,
    ) -> Order:
        """Mark an order shipped (`escrow.ship`) and answer it once committed.

        Only the sha256 of `tracking` goes on the chain; `note` (e.g. the courier's
        details) is sealed for the buyer and the arbiter before it is sent.
        """
        identifier = _hex_id(order_id, "order id")
        args: list[Any] = [bytes.fromhex(identifier), hashlib.sha256(tracking.encode()).digest()]
        if note is not None:
            order = self.order(identifier)
            try:
                args.extend(
                    seal_for_order(
                        note.encode(),
                        address_from_text(order.buyer),
                        address_from_text(str(order.raw["arbiter"])),
                    )
                )
            except NoteError as exc:
                raise MerchantError("bad_note", f"note: {exc}") from exc
        self._send("escrow.ship", tuple(args), wait_s)
        return self.order(identifier)

    # -- proofs ------------------------------------------------------------------------

    def payment_bundle(self, tx_hash: str, wait_s: float = 0) -> bytes:
        """The proof bundle of a committed transaction (e.g. the `tx_hash` of an
        `invoice.paid` webhook), to check with `verify_payment` and keep."""
        identifier = _hex_id(tx_hash, "tx hash")
        query = {"prove": "true", **({"wait": str(wait_s)} if wait_s else {})}
        path = f"/v1/txs/{identifier}"
        data = node_call(self.client.request, "GET", path, query=query, timeout=wait_s + 15)
        if "bundle" not in data:  # pending or unknown: nothing is proven yet
            raise NotCommitted(identifier, str(data.get("status", "unknown")))
        return bytes.fromhex(data["bundle"])

    def _page(self, path: str, query: dict[str, str], limit: int, cursor: str | None) -> Any:
        """One page of a cursor-paginated list (docs/api.md: `limit`, `next_cursor`)."""
        query = {**query, "limit": str(limit), **({"cursor": cursor} if cursor else {})}
        return node_call(self.client.request, "GET", path, query=query)

    # -- sending -----------------------------------------------------------------------

    def chain_id(self) -> str:
        if self._chain_id is None:
            self._chain_id = str(node_call(self.client.status)["chain_id"])
        return self._chain_id

    def _send(self, method: str, args: tuple[Any, ...], wait_s: float) -> str:
        """Sign, submit, wait for the block; the tx hash, or a typed error."""
        if self.key is None:
            raise MerchantError("no_key", f"{method} needs a signing key")
        chain_id = self.chain_id()
        with self._submit_lock:
            nonce = int(node_call(self.client.account, self.account)["nonce"])
            tx = Transaction(chain_id, self._sender, nonce, method, args)
            try:
                Transaction.decode(tx.encode())  # the bounds a node applies, checked first
            except CodecError as exc:
                raise MerchantError(exc.code, f"cannot encode {method}: {exc.message}") from exc
            # a busy node (429) is waited out within the call's own budget
            deadline = time.monotonic() + wait_s
            stx, _ = node_call(sign_and_submit, self.client, tx, [self.key], busy_until=deadline)
        tx_hash = stx.hash.hex()
        while True:  # long-polls of at most MAX_WAIT_S each, until the block or the deadline
            remaining = max(0.0, deadline - time.monotonic())
            outcome = node_call(self.client.tx, tx_hash, min(remaining, MAX_WAIT_S))
            if outcome["status"] in ("committed", "rejected") or remaining <= MAX_WAIT_S:
                break
        if outcome["status"] == "rejected":
            receipt = outcome["receipt"]
            raise TransactionRejected(str(receipt["code"]), str(receipt["message"]), tx_hash)
        if outcome["status"] != "committed":
            raise NotCommitted(tx_hash, str(outcome["status"]))
        return tx_hash


def _may_change(invoice: Invoice, event: dict[str, Any]) -> bool:
    """Whether an event of the merchant's stream can change the invoice's status: a
    committed transaction mentioning the merchant, or a block whose time passes the
    expiry (an invoice expires by block time)."""
    if event.get("event") == "tx":
        return True
    if event.get("event") != "block":
        return False
    timestamp = event.get("data", {}).get("timestamp_ms", 0)
    return isinstance(timestamp, int) and timestamp > invoice.expiry_ms


def check_payment(invoice: Invoice) -> None:
    """InvoiceClosed if the invoice can no longer be paid (shared by sync and async)."""
    if invoice.status in CLOSED_STATUSES:
        raise InvoiceClosed(invoice.id, invoice.status)
