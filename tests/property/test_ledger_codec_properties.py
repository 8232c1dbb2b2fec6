"""Properties of the canonical codec and of signed transactions under tampering."""

from __future__ import annotations

import struct
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import codec
from ledger.errors import CodecError
from ledger.tx import SignedTransaction, Transaction
from tests.ledgerkit import CHAIN_ID, key

scalars = st.one_of(
    st.integers(min_value=codec.MIN_INT, max_value=codec.MAX_INT),
    st.binary(max_size=300),
    st.text(max_size=300),
    st.booleans(),
    st.none(),
)
values = st.recursive(scalars, lambda children: st.lists(children, max_size=20), max_leaves=60)


@settings(deadline=None)
@given(values)
def test_round_trip(value: Any) -> None:
    data = codec.encode(value)
    assert codec.decode(data) == value
    assert codec.encode(codec.decode(data)) == data


@settings(deadline=None)
@given(values, st.binary(min_size=1, max_size=8))
def test_trailing_bytes_are_refused(value: Any, extra: bytes) -> None:
    with pytest.raises(CodecError) as caught:
        codec.decode(codec.encode(value) + extra)
    assert caught.value.code in {"trailing_bytes", "malformed"}


def wider_int_encodings(value: int) -> list[bytes]:
    """Every msgpack encoding of `value` other than the smallest one."""
    forms = []
    for marker, fmt, low, high in [
        (0xCC, ">B", 0, 2**8 - 1),
        (0xCD, ">H", 0, 2**16 - 1),
        (0xCE, ">I", 0, 2**32 - 1),
        (0xCF, ">Q", 0, 2**64 - 1),
        (0xD0, ">b", -(2**7), 2**7 - 1),
        (0xD1, ">h", -(2**15), 2**15 - 1),
        (0xD2, ">i", -(2**31), 2**31 - 1),
        (0xD3, ">q", -(2**63), 2**63 - 1),
    ]:
        if low <= value <= high:
            forms.append(bytes([marker]) + struct.pack(fmt, value))
    canonical = codec.encode(value)
    return [form for form in forms if form != canonical]


@settings(deadline=None)
@given(st.integers(min_value=codec.MIN_INT, max_value=codec.MAX_INT))
def test_only_the_smallest_integer_form_is_accepted(value: int) -> None:
    for form in wider_int_encodings(value):
        with pytest.raises(CodecError) as caught:
            codec.decode(form)
        assert caught.value.code == "non_canonical"


@settings(deadline=None)
@given(st.text(max_size=31))
def test_str8_where_fixstr_fits_is_refused(text: str) -> None:
    raw = text.encode()
    if len(raw) > 31:
        return
    with pytest.raises(CodecError):
        codec.decode(b"\xd9" + bytes([len(raw)]) + raw)


@settings(deadline=None)
@given(st.binary(max_size=255))
def test_wider_bin_forms_are_refused(blob: bytes) -> None:
    with pytest.raises(CodecError):
        codec.decode(b"\xc5" + struct.pack(">H", len(blob)) + blob)
    with pytest.raises(CodecError):
        codec.decode(b"\xc6" + struct.pack(">I", len(blob)) + blob)


@settings(deadline=None)
@given(st.dictionaries(st.integers(0, 100), scalars, max_size=5))
def test_maps_are_refused(mapping: dict[int, Any]) -> None:
    with pytest.raises(CodecError):
        codec.decode(msgpack.packb(mapping, use_bin_type=True))
    with pytest.raises(CodecError):
        codec.encode(mapping)


@settings(deadline=None)
@given(st.floats(width=32, allow_nan=True), st.booleans())
def test_floats_are_refused(number: float, single: bool) -> None:
    with pytest.raises(CodecError):
        codec.decode(msgpack.packb([1, number], use_single_float=single))
    with pytest.raises(CodecError):
        codec.encode([number])


SIGNER = key(1)
RECIPIENT = key(2)


@st.composite
def signed_transactions(draw: st.DrawFn) -> SignedTransaction:
    tx = Transaction(
        chain_id=draw(st.sampled_from([CHAIN_ID, "x", "another-chain"])),
        sender=SIGNER.public_key,
        nonce=draw(st.integers(0, 2**63 - 1)),
        method=draw(st.sampled_from(["coin.transfer", "coin.mint", "escrow.open"])),
        args=tuple(draw(st.lists(scalars, max_size=4))) + (RECIPIENT.public_key,),
        expiry_ms=draw(st.integers(0, 2**63 - 1)),
    )
    return tx.sign(SIGNER)


def still_valid(data: bytes) -> bool:
    """True if the bytes decode to a signed transaction whose signature holds."""
    try:
        stx = SignedTransaction.decode(data)
    except CodecError:
        return False
    return stx.verify_signature()


@settings(max_examples=150, deadline=None)
@given(signed_transactions(), st.data())
def test_any_single_byte_change_is_rejected(stx: SignedTransaction, data: st.DataObject) -> None:
    raw = bytearray(stx.encode())
    assert still_valid(bytes(raw))
    position = data.draw(st.integers(0, len(raw) - 1))
    replacement = data.draw(st.integers(0, 255).filter(lambda b: b != raw[position]))
    raw[position] = replacement
    assert not still_valid(bytes(raw))


@settings(max_examples=150, deadline=None)
@given(signed_transactions(), st.data())
def test_any_bit_flip_is_rejected(stx: SignedTransaction, data: st.DataObject) -> None:
    raw = bytearray(stx.encode())
    bit = data.draw(st.integers(0, len(raw) * 8 - 1))
    raw[bit // 8] ^= 1 << (bit % 8)
    assert not still_valid(bytes(raw))


@settings(max_examples=60, deadline=None)
@given(signed_transactions(), st.data())
def test_inserted_or_deleted_bytes_are_rejected(
    stx: SignedTransaction, data: st.DataObject
) -> None:
    raw = stx.encode()
    position = data.draw(st.integers(0, len(raw) - 1))
    assert not still_valid(raw[:position] + raw[position + 1 :])
    inserted = data.draw(st.integers(0, 255))
    assert not still_valid(raw[:position] + bytes([inserted]) + raw[position:])
