"""From the node's stream frames to webhook events: kinds, stable ids, payloads.

A webhook kind is what a merchant subscribes to; it is derived from the chain
event's name and, for escrow transitions, its `outcome`. The event id comes
from the event's position on the chain (height, receipt index, event index), so
the same chain event always gets the same id: redelivered after a crash, it is
recognisably the same event. End-of-block events take receipt index `tx_count`,
the index of the end-of-block receipt in the receipts root.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

KINDS = (
    "invoice.created",
    "invoice.paid",
    "invoice.refunded",
    "invoice.cancelled",
    "invoice.expired",
    "payment.received",
    "order.placed",
    "order.shipped",
    "order.confirmed",
    "order.auto_released",
    "order.disputed",
    "order.ruled",
    "order.refunded",
    "order.auto_refunded",
    "order.cancelled",
    "loyalty.reward",
    "franchise.royalty",
)

# Chain events whose kind does not depend on their attributes.
_BY_NAME = {
    "invoice.created": "invoice.created",
    "invoice.paid": "invoice.paid",
    "invoice.refunded": "invoice.refunded",
    "invoice.cancelled": "invoice.cancelled",
    "payment.paid": "payment.received",
    "coin.transfer": "payment.received",
    "order.placed": "order.placed",
    "escrow.shipped": "order.shipped",
    "escrow.disputed": "order.disputed",
    "escrow.resolved": "order.ruled",
    "escrow.cancelled": "order.cancelled",
    "loyalty.reward": "loyalty.reward",
    "franchise.royalty": "franchise.royalty",
}


def kind_of(event: dict[str, Any]) -> str | None:
    """The webhook kind of a rendered chain event, or None if no merchant wants it."""
    name = event.get("name")
    outcome = (event.get("attributes") or {}).get("outcome")
    if name == "escrow.completed":
        return "order.auto_released" if outcome == "auto_released" else "order.confirmed"
    if name == "escrow.refunded":
        return "order.auto_refunded" if outcome == "auto_refunded" else "order.refunded"
    return _BY_NAME.get(str(name))


def event_id(height: int, index: int, event_index: int) -> str:
    return f"evt_{height}_{index}_{event_index}"


def mentions(value: Any, accounts: frozenset[str]) -> bool:
    """Whether a rendered value names one of the accounts (public keys in hex)."""
    if isinstance(value, dict):
        hex_value = value.get("hex")
        if isinstance(hex_value, str) and len(value) == 1:
            return hex_value in accounts
        return any(mentions(item, accounts) for item in value.values())
    if isinstance(value, list):
        return any(mentions(item, accounts) for item in value)
    return False


@dataclass(frozen=True)
class ChainEvent:
    """One chain event with where it sits, ready to be matched and sent."""

    event_id: str
    kind: str
    height: int
    index: int
    event_index: int
    tx_hash: str | None
    sender: str | None
    method: str | None
    block_time_ms: int | None
    event: dict[str, Any]

    def payload(self, node_url: str) -> dict[str, Any]:
        """The webhook body: Standard Webhooks' {type, timestamp, data} shape."""
        data: dict[str, Any] = {
            "id": self.event_id,
            "chain_event": self.event.get("name"),
            "height": self.height,
            "tx_index": self.index,
            "event_index": self.event_index,
            "tx_hash": self.tx_hash,
            "sender": self.sender,
            "method": self.method,
            "attributes": self.event.get("attributes"),
            "attribute_list": self.event.get("attribute_list"),
            "block_url": f"{node_url}/v1/blocks/{self.height}",
            "bundle_url": (
                f"{node_url}/v1/txs/{self.tx_hash}?prove=true" if self.tx_hash else None
            ),
        }
        return {"type": self.kind, "timestamp_ms": self.block_time_ms, "data": data}

    def body(self, node_url: str) -> str:
        return json.dumps(self.payload(node_url), sort_keys=True, separators=(",", ":"))


def events_of_frame(frame: dict[str, Any], block_time_ms: int | None) -> list[ChainEvent]:
    """The webhook-worthy events of one stream frame ({"event", "id", "data"})."""
    data = frame.get("data") or {}
    found: list[ChainEvent] = []
    if frame.get("event") == "block":
        height = int(data["height"])
        index = int(data["tx_count"])
        sources = list(data.get("end_block_events") or [])
        tx_hash = sender = method = None
    elif frame.get("event") == "tx":
        if data.get("status") != "committed":
            return []
        height, index = int(data["height"]), int(data["index"])
        sources = list((data.get("receipt") or {}).get("events") or [])
        tx_hash, sender, method = data.get("hash"), data.get("sender"), data.get("method")
    else:
        return []
    for event_index, event in enumerate(sources):
        kind = kind_of(event)
        if kind is not None:
            found.append(
                ChainEvent(
                    event_id(height, index, event_index),
                    kind,
                    height,
                    index,
                    event_index,
                    tx_hash,
                    sender,
                    method,
                    block_time_ms,
                    event,
                )
            )
    return found
