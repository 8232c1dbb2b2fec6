"""Typed views of what the node answers: invoices, orders, pages, webhook events.

Each keeps the whole JSON document in `raw`, so a field the node adds later is
still reachable. Amounts are integers in minor units, times milliseconds since
the epoch, accounts `pasar1...` addresses, ids 64 hex digits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")

PAID_STATUSES = ("paid", "refunded")
CLOSED_STATUSES = ("cancelled", "expired")


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class Invoice:
    """`GET /v1/invoices/{id}`; `status` is open, paid, refunded, cancelled or expired."""

    id: str
    number: int
    merchant: str
    symbol: str
    amount: int
    expiry_ms: int
    reference: str
    metadata: bytes
    platform: str | None
    commission_bps: int
    created_ms: int
    status: str
    payer: str | None
    paid_ms: int | None
    pay_symbol: str | None
    pay_amount: int | None
    commission: int
    refunded: int
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def paid(self) -> bool:
        """Paid (refunds later do not undo that the payment arrived)."""
        return self.status in PAID_STATUSES

    @staticmethod
    def from_json(data: dict[str, Any]) -> Invoice:
        return Invoice(
            id=str(data["id"]),
            number=int(data["number"]),
            merchant=str(data["merchant"]),
            symbol=str(data["symbol"]),
            amount=int(data["amount"]),
            expiry_ms=int(data["expiry_ms"]),
            reference=str(data["reference"]),
            metadata=bytes.fromhex(data["metadata"] or ""),
            platform=_optional_str(data.get("platform")),
            commission_bps=int(data.get("commission_bps") or 0),
            created_ms=int(data["created_ms"]),
            status=str(data["status"]),
            payer=_optional_str(data.get("payer")),
            paid_ms=_optional_int(data.get("paid_ms")),
            pay_symbol=_optional_str(data.get("pay_symbol")),
            pay_amount=_optional_int(data.get("pay_amount")),
            commission=int(data.get("commission") or 0),
            refunded=int(data.get("refunded") or 0),
            raw=data,
        )


@dataclass(frozen=True)
class Order:
    """`GET /v1/orders/{id}`; `state` is funded, shipped, disputed, completed, refunded,
    cancelled or resolved. Accounts are addresses (the node converts them)."""

    id: str
    listing: str
    buyer: str
    seller: str
    symbol: str
    quantity: int
    unit_price: int
    amount: int
    state: str
    outcome: str
    created_ms: int
    ship_by_ms: int | None
    shipped_ms: int | None
    tracking: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @staticmethod
    def from_json(data: dict[str, Any]) -> Order:
        return Order(
            id=str(data["id"]),
            listing=str(data["listing"]),
            buyer=str(data["buyer"]),
            seller=str(data["seller"]),
            symbol=str(data["symbol"]),
            quantity=int(data["quantity"]),
            unit_price=int(data["unit_price"]),
            amount=int(data["amount"]),
            state=str(data["state"]),
            outcome=str(data.get("outcome") or ""),
            created_ms=int(data["created_ms"]),
            ship_by_ms=_optional_int(data.get("ship_by_ms")),
            shipped_ms=_optional_int(data.get("shipped_ms")),
            tracking=_optional_str(data.get("tracking")),
            raw=data,
        )


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list, oldest first; pass `next_cursor` back for the next (None: last)."""

    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True)
class WebhookEvent:
    """A verified webhook (docs/merchants.md): `id` is stable across retries, so a shop
    stores it and ignores repeats; `data` is the decoded chain event."""

    id: str
    type: str
    timestamp_ms: int
    data: dict[str, Any]

    @property
    def tx_hash(self) -> str | None:
        return _optional_str(self.data.get("tx_hash"))

    @property
    def height(self) -> int | None:
        return _optional_int(self.data.get("height"))

    @property
    def bundle_url(self) -> str | None:
        """Where the proof bundle of the event's transaction can be fetched."""
        return _optional_str(self.data.get("bundle_url"))

    @property
    def attributes(self) -> dict[str, Any]:
        value = self.data.get("attributes")
        return value if isinstance(value, dict) else {}

    @property
    def invoice_id(self) -> str | None:
        """The invoice an `invoice.*` event is about (hex), else None."""
        value = self.attributes.get("id")
        if self.type.startswith("invoice.") and isinstance(value, dict):
            return _optional_str(value.get("hex"))
        return None


@dataclass(frozen=True)
class VerifiedPayment:
    """What a proof bundle proved offline: an `invoice.pay` transaction in block
    `height`, certified by the trusted validators, applied with `invoice.paid`."""

    invoice_id: str
    tx_hash: str
    height: int
    index: int
    payer: str
    merchant: str
    symbol: str
    amount: int
