"""The canonical codec: what it encodes, and every kind of input it refuses."""

from __future__ import annotations

import enum
import threading
from typing import Any

import msgpack
import pytest

from ledger import codec
from ledger.errors import CodecError


class Color(enum.IntEnum):
    RED = 1


@pytest.mark.parametrize(
    "value",
    [
        0,
        1,
        -1,
        127,
        128,
        -33,
        255,
        256,
        65_536,
        codec.MAX_INT,
        codec.MIN_INT,
        b"",
        b"\x00\xff",
        "",
        "rupiah",
        "é",
        True,
        False,
        None,
        [],
        [1, [b"x", ["deep"]], None],
    ],
)
def test_round_trip(value: Any) -> None:
    assert codec.decode(codec.encode(value)) == value


def test_tuples_encode_as_arrays() -> None:
    assert codec.encode((1, (2,))) == codec.encode([1, [2]])
    assert codec.decode(codec.encode((1, (2,)))) == [1, [2]]


def test_integers_use_the_smallest_form() -> None:
    assert codec.encode(5) == b"\x05"
    assert codec.encode(200) == b"\xcc\xc8"
    assert codec.encode(-1) == b"\xff"
    assert codec.encode(-200) == b"\xd1\xff\x38"


def test_bytes_are_bin_and_text_is_str() -> None:
    assert codec.encode(b"ab") == b"\xc4\x02ab"
    assert codec.encode("ab") == b"\xa2ab"


def test_int_subclasses_are_encoded_as_plain_integers() -> None:
    assert codec.encode(Color.RED) == codec.encode(1)
    assert codec.encode([Color.RED]) == codec.encode([1])


@pytest.mark.parametrize("value", [codec.MAX_INT + 1, codec.MIN_INT - 1, [1 << 70]])
def test_encode_refuses_integers_beyond_64_bits(value: Any) -> None:
    with pytest.raises(CodecError) as caught:
        codec.encode(value)
    assert caught.value.code == "int_out_of_range"


@pytest.mark.parametrize(
    "value",
    [1.5, {"a": 1}, {1, 2}, bytearray(b"x"), [0.0], object(), msgpack.ExtType(1, b"x")],
)
def test_encode_refuses_foreign_types(value: Any) -> None:
    with pytest.raises(CodecError) as caught:
        codec.encode(value)
    assert caught.value.code == "bad_type"


def nested(depth: int, inner: list[Any]) -> list[Any]:
    """`inner` wrapped in `depth` lists, so it sits at nesting depth `depth`."""
    value = inner
    for _ in range(depth):
        value = [value]
    return value


def test_nesting_is_bounded() -> None:
    codec.encode(nested(codec.MAX_DEPTH, []))
    codec.encode(nested(codec.MAX_DEPTH - 1, [1, b"x", None]))
    for value in (nested(codec.MAX_DEPTH + 1, []), nested(codec.MAX_DEPTH, [1])):
        with pytest.raises(CodecError) as caught:
            codec.encode(value)
        assert caught.value.code == "too_deep"


@pytest.mark.parametrize(
    "data",
    [
        b"\xcc\x05",  # uint8 for a value that fits a positive fixint
        b"\xcd\x00\x05",  # uint16
        b"\xd0\x05",  # int8 for a positive value
        b"\xd0\xff",  # int8 for -1, which is a negative fixint
        b"\xd9\x03abc",  # str8 where fixstr fits
        b"\xc5\x00\x01x",  # bin16 where bin8 fits
        b"\xdc\x00\x01\x01",  # array16 where fixarray fits
        b"\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00",  # float64
        b"\xca\x3f\xc0\x00\x00",  # float32
        b"\x80",  # empty map
        b"\x81\x01\x02",  # map
        b"\xd4\x01\x00",  # fixext1
        b"\xc7\x00\x05",  # ext8 with no data
        b"\x91\xcb\x00\x00\x00\x00\x00\x00\x00\x00",  # float inside an array
    ],
)
def test_decode_refuses_non_canonical_or_foreign_encodings(data: bytes) -> None:
    with pytest.raises(CodecError) as caught:
        codec.decode(data)
    assert caught.value.code in {"non_canonical", "malformed"}


def test_decode_refuses_trailing_bytes() -> None:
    with pytest.raises(CodecError) as caught:
        codec.decode(codec.encode(1) + b"\x00")
    assert caught.value.code == "trailing_bytes"


def test_decode_refuses_empty_truncated_and_invalid_input() -> None:
    for data, code in [
        (b"", "empty"),
        (b"\x92\x01", "malformed"),  # array of two with one item
        (b"\xc4\x05ab", "malformed"),  # bin shorter than announced
        (b"\xa2\xff\xfe", "malformed"),  # str that is not UTF-8
        (b"\xc1", "malformed"),  # never-used marker
    ]:
        with pytest.raises(CodecError) as caught:
            codec.decode(data)
        assert caught.value.code == code, data


def test_decode_refuses_oversize_input() -> None:
    data = codec.encode(b"x" * 100)
    assert codec.decode(data, max_bytes=len(data)) == b"x" * 100
    with pytest.raises(CodecError) as caught:
        codec.decode(data, max_bytes=len(data) - 1)
    assert caught.value.code == "too_large"


def test_decode_accepts_byte_like_input_and_refuses_text() -> None:
    data = codec.encode([1, b"a"])
    assert codec.decode(bytearray(data)) == [1, b"a"]
    assert codec.decode(memoryview(data)) == [1, b"a"]
    with pytest.raises(CodecError) as caught:
        codec.decode("\x91\x01")  # type: ignore[arg-type]
    assert caught.value.code == "bad_type"


def test_decode_refuses_too_deep_input() -> None:
    data = b"\x91" * (codec.MAX_DEPTH + 1) + b"\x90"
    with pytest.raises(CodecError) as caught:
        codec.decode(data)
    assert caught.value.code == "non_canonical"


def test_expect_helpers() -> None:
    assert codec.expect_list([1, 2], 2, "pair") == [1, 2]
    assert codec.expect_int(5, "n", 0, 10) == 5
    assert codec.expect_bytes(b"ab", "b", 2) == b"ab"
    assert codec.expect_str("ab", "s", 2) == "ab"
    assert codec.expect_bool(False, "flag") is False
    failures = [
        (lambda: codec.expect_list([1], 2, "pair"), "bad_shape"),
        (lambda: codec.expect_list((1, 2), 2, "pair"), "bad_shape"),
        (lambda: codec.expect_int(True, "n"), "bad_type"),
        (lambda: codec.expect_int("1", "n"), "bad_type"),
        (lambda: codec.expect_int(11, "n", 0, 10), "out_of_range"),
        (lambda: codec.expect_int(-1, "n"), "out_of_range"),
        (lambda: codec.expect_bytes("ab", "b"), "bad_type"),
        (lambda: codec.expect_bytes(b"abc", "b", 2), "bad_length"),
        (lambda: codec.expect_bytes(b"abc", "b", max_length=2), "too_long"),
        (lambda: codec.expect_str(b"ab", "s"), "bad_type"),
        (lambda: codec.expect_str("abc", "s", 2), "too_long"),
        (lambda: codec.expect_bool(1, "flag"), "bad_type"),
    ]
    for call, code in failures:
        with pytest.raises(CodecError) as caught:
            call()
        assert caught.value.code == code


@pytest.mark.parametrize("count", [0, 1, 15, 16, 17, 65_535, 65_536])
def test_an_array_of_encoded_items_is_the_encoding_of_the_array(count: int) -> None:
    # receipts are stored as one array spliced from the encodings their root hashed
    items: list[Any] = [[i, b"x" * (i % 3), "r"] for i in range(count)]
    assert codec.encode_array([codec.encode(item) for item in items]) == codec.encode(items)
    assert codec.decode(codec.encode_array([codec.encode(item) for item in items])) == items


@pytest.mark.parametrize(
    "value", [0, 1, -1, -33, 127, 128, (1 << 63) - 1, (1 << 64) - 1, -(1 << 63), [1, "a", b"b"]]
)
def test_a_stored_value_reads_back_as_decode_reads_it(value: Any) -> None:
    encoded = codec.encode(value)
    assert codec.decode_stored(encoded) == codec.decode(encoded)
    assert encoded == msgpack.packb(value, use_bin_type=True)  # the integer fast path too


def test_a_damaged_stored_value_is_a_codec_error() -> None:
    with pytest.raises(CodecError, match="stored value"):
        codec.decode_stored(b"\xc1")
    with pytest.raises(CodecError, match="stored value"):
        codec.decode_stored(codec.encode(1) + b"\x00")


def test_threads_encoding_at_once_each_get_their_own_bytes() -> None:
    # each thread packs with its own msgpack Packer: a shared one would mix buffers
    values = [[n, b"x" * n, "t" * (n % 7), [n, [n]]] for n in range(200)]
    expected = [msgpack.packb(value, use_bin_type=True) for value in values]
    failures: list[int] = []

    def work() -> None:
        for _ in range(20):
            for index, value in enumerate(values):
                if codec.encode(value) != expected[index]:
                    failures.append(index)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
