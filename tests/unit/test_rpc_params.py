"""RPC parameter parsing: hex text is taken exactly as the published pattern says."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.rpc.errors import ApiError
from node.rpc.openapi import HEX_PATTERN
from node.rpc.params import parse_hex

# hex digits, the whitespace bytes.fromhex skips, and a few characters that are
# digits or letters elsewhere in Unicode
_ALPHABET = "0123456789abcdefABCDEFgG \t\n\r\x0b\x0c\u0661\uff10x"


def _parsed(text: str) -> bytes | None:
    try:
        return parse_hex(text, "f")
    except ApiError as exc:
        assert exc.status == 400 and exc.code == "bad_hex"
        return None


@given(st.text(alphabet=_ALPHABET, max_size=12))
def test_parse_hex_accepts_exactly_the_published_pattern(text: str) -> None:
    expected = bytes.fromhex(text) if re.fullmatch(HEX_PATTERN, text) else None
    assert _parsed(text) == expected


@pytest.mark.parametrize(
    "text", ["ab cd", " abcd", "abcd ", "ab\ncd", "abc", "0x00", "\u0661\u0662"]
)
def test_parse_hex_refuses_what_fromhex_alone_would_bend(text: str) -> None:
    assert _parsed(text) is None


def test_parse_hex_checks_the_length_it_is_given() -> None:
    assert parse_hex("00" * 32, "hash", 32) == bytes(32)
    with pytest.raises(ApiError) as caught:
        parse_hex("00" * 31, "hash", 32)
    assert caught.value.code == "bad_hex" and caught.value.field == "hash"
