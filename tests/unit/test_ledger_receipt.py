"""Receipts and events: wire form and decoding rules."""

from __future__ import annotations

import pytest

from ledger import codec
from ledger.errors import CodecError
from ledger.receipt import Event, Receipt

EVENT = Event("coin.transfer", (("symbol", "IDR"), ("amount", 5)))
RECEIPT = Receipt(b"\x07" * 32, True, "ok", "", (EVENT,))


def test_wire_form() -> None:
    assert codec.decode(RECEIPT.encode()) == [
        6,
        1,
        b"\x07" * 32,
        True,
        "ok",
        "",
        [["coin.transfer", [["symbol", "IDR"], ["amount", 5]]]],
    ]


def test_round_trip() -> None:
    assert Receipt.decode(RECEIPT.encode()) == RECEIPT
    rejected = Receipt(b"\x01" * 32, False, "insufficient_funds", "balance is 0", ())
    assert Receipt.decode(rejected.encode()) == rejected


def test_event_get() -> None:
    assert EVENT.get("amount") == 5
    with pytest.raises(KeyError):
        EVENT.get("missing")


@pytest.mark.parametrize(
    "fields, code",
    [
        ([7, 1, b"\x07" * 32, True, "ok", "", []], "bad_tag"),
        ([6, 2, b"\x07" * 32, True, "ok", "", []], "bad_tag"),
        ([6, True, b"\x07" * 32, True, "ok", "", []], "bad_tag"),
        ([6, 1, b"\x07" * 31, True, "ok", "", []], "bad_length"),
        ([6, 1, b"\x07" * 32, 1, "ok", "", []], "bad_type"),
        ([6, 1, b"\x07" * 32, True, "ok", "", b""], "bad_type"),
        ([6, 1, b"\x07" * 32, True, "ok", "m" * 1025, []], "too_long"),
        ([6, 1, b"\x07" * 32, True, "ok", "", [["e", b"x"]]], "bad_type"),
        ([6, 1, b"\x07" * 32, True, "ok", "", [["e", [[1, 2]]]]], "bad_type"),
        ([6, 1, b"\x07" * 32, True, "ok", "", [["e"]]], "bad_shape"),
    ],
)
def test_decode_refuses_malformed_receipts(fields: list[object], code: str) -> None:
    with pytest.raises(CodecError) as caught:
        Receipt.decode(codec.encode(fields))
    assert caught.value.code == code


@pytest.mark.parametrize(
    "events",
    [
        (),
        (EVENT, Event("x", ())),
        (Event("nested", (("list", [1, [b"x", (2, None)]]), ("flag", False), ("big", 2**64 - 1))),),
        (Event("list attributes", [("a", 1)]),),  # type: ignore[arg-type]
        (Event("list pairs", (["a", 1],)),),  # type: ignore[arg-type]
        (Event("int subclass", (("a", True), ("b", codec.MIN_INT))),),
    ],
)
def test_encode_is_the_codec_encoding_of_the_list_form(events: tuple[Event, ...]) -> None:
    receipt = Receipt(b"\x02" * 32, True, "ok", "", events)
    assert receipt.encode() == codec.encode(receipt.to_list())


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (1.5, "bad_type"),
        ({"a": 1}, "bad_type"),
        (2**64, "int_out_of_range"),
        (-(2**63) - 1, "int_out_of_range"),
        ([[1.0]], "bad_type"),
    ],
)
def test_encode_refuses_what_the_codec_refuses(value: object, code: str) -> None:
    receipt = Receipt(b"\x02" * 32, True, "ok", "", (Event("x", (("a", value),)),))
    with pytest.raises(CodecError) as refused:
        receipt.encode()
    assert refused.value.code == code
    with pytest.raises(CodecError):
        Receipt(b"\x02" * 32, True, "ok", "", (Event("x", ((value, 1),)),)).encode()
    with pytest.raises(CodecError):
        Receipt(b"\x02" * 32, True, "ok", value, ()).encode()  # type: ignore[arg-type]
