"""Receipts and events: the outcome of each transaction in a block.

    Event   = [name, [[key, value], ...]]
    Receipt = [6, 1, tx_hash, ok, code, message, [Event, ...]]

`code` is "ok" for an applied transaction or a stable rejection code such as
`insufficient_funds`; a rejected transaction has no events and changed nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger import codec
from ledger.errors import CodecError
from ledger.hashing import HASH_SIZE

TAG_RECEIPT = 6
RECEIPT_VERSION = 1
OK = "ok"
# values `codec.encode` takes as they are at any depth a receipt reaches
_PLAIN = frozenset({bytes, str, bool, type(None)})


def _is_int(value: Any, expected: int) -> bool:
    # True == 1 in Python; a boolean in a tag or version slot is not canonical.
    return not isinstance(value, bool) and value == expected


@dataclass(frozen=True, slots=True)
class Event:
    """Something a contract reports, e.g. ("coin.transfer", (("from", a), ("to", b), ...))."""

    name: str
    attributes: tuple[tuple[str, Any], ...]

    def to_list(self) -> list[Any]:
        return [self.name, [[key, value] for key, value in self.attributes]]

    def get(self, key: str) -> Any:
        for name, value in self.attributes:
            if name == key:
                return value
        raise KeyError(key)

    @staticmethod
    def from_list(value: Any) -> Event:
        fields = codec.expect_list(value, 2, "event")
        name = codec.expect_str(fields[0], "event name")
        if not isinstance(fields[1], list):
            raise CodecError("bad_type", "event attributes must be an array")
        attributes = []
        for pair in fields[1]:
            key, item = codec.expect_list(pair, 2, "event attribute")
            attributes.append((codec.expect_str(key, "attribute name"), item))
        return Event(name, tuple(attributes))


@dataclass(frozen=True, slots=True)
class Receipt:
    """Outcome of one transaction."""

    tx_hash: bytes
    ok: bool
    code: str
    message: str
    events: tuple[Event, ...]

    def to_list(self) -> list[Any]:
        return [
            TAG_RECEIPT,
            RECEIPT_VERSION,
            self.tx_hash,
            self.ok,
            self.code,
            self.message,
            [event.to_list() for event in self.events],
        ]

    def encode(self) -> bytes:
        """`codec.encode(self.to_list())`, without copying each event into lists: a
        tuple packs as the array its list would, so only the values are checked
        (the same checks `codec.encode` makes; a block encodes every receipt)."""
        head: tuple[Any, ...] = (self.tx_hash, self.ok, self.code, self.message)
        for item in head:
            if type(item) not in _PLAIN:
                codec.check(item, 1)
        events = self.events
        for event in events:
            if type(event.name) not in _PLAIN:
                codec.check(event.name, 3)
            attributes = event.attributes
            if type(attributes) is not tuple:
                return codec.encode(self.to_list())
            part: Any
            for pair in attributes:
                if type(pair) is not tuple or len(pair) != 2:
                    return codec.encode(self.to_list())
                for part in pair:
                    kind = type(part)
                    if kind is int:
                        if not codec.MIN_INT <= part <= codec.MAX_INT:
                            raise CodecError("int_out_of_range", "integer does not fit in 64 bits")
                    elif kind not in _PLAIN:
                        codec.check(part, 5)
        value = [TAG_RECEIPT, RECEIPT_VERSION, self.tx_hash, self.ok, self.code, self.message]
        value.append([(event.name, event.attributes) for event in events])
        return codec.pack_checked(value)

    @staticmethod
    def from_list(value: Any) -> Receipt:
        fields, tx_hash, ok, code = _receipt_head(value)
        return Receipt(
            tx_hash=tx_hash,
            ok=ok,
            code=code,
            message=codec.expect_str(fields[5], "message", 1024),
            events=tuple(Event.from_list(event) for event in fields[6]),
        )

    @staticmethod
    def decode(data: bytes) -> Receipt:
        return Receipt.from_list(codec.decode(data))


@dataclass(frozen=True, slots=True)
class Outcome:
    """A receipt without its events: which transaction, and whether it applied.

    What a block's summary shows for each transaction. Building every event of a
    large block only to drop them cost more than the rest of the summary."""

    tx_hash: bytes
    ok: bool
    code: str

    @staticmethod
    def from_list(value: Any) -> Outcome:
        """The fields read here get `Receipt.from_list`'s checks; the events only the
        check that they are an array."""
        _, tx_hash, ok, code = _receipt_head(value)
        return Outcome(tx_hash, ok, code)


def _receipt_head(value: Any) -> tuple[list[Any], bytes, bool, str]:
    """A receipt's array, checked as far as its transaction's hash, `ok` and `code`
    (and that its events are an array), with those three."""
    fields = codec.expect_list(value, 7, "receipt")
    if not _is_int(fields[0], TAG_RECEIPT) or not _is_int(fields[1], RECEIPT_VERSION):
        raise CodecError("bad_tag", "not a receipt")
    if not isinstance(fields[6], list):
        raise CodecError("bad_type", "receipt events must be an array")
    return (
        fields,
        codec.expect_bytes(fields[2], "tx_hash", HASH_SIZE),
        codec.expect_bool(fields[3], "ok"),
        codec.expect_str(fields[4], "code"),
    )
