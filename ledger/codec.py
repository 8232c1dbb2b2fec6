"""The one canonical encoding for everything that is hashed or signed.

Objects are msgpack arrays in declared field order; the only scalar types are
integers (signed 64-bit to unsigned 64-bit), bytes (bin), text (str, UTF-8),
booleans and nil. Floats and maps are refused. msgpack does not promise one
encoding per value, so `decode` re-encodes what it read and rejects input whose
bytes differ: the same value always has exactly one accepted byte string, and a
signed object cannot be re-serialised into a different valid form.
`decode_stored` skips that re-check for what this node's own store holds (state
values, blocks, receipts), which only `encode` or a canonical `decode` produced.
"""

from __future__ import annotations

import threading
from typing import Any

import msgpack

from ledger.errors import CodecError

MAX_DECODE_BYTES = 1 << 20
MIN_INT = -(1 << 63)
MAX_INT = (1 << 64) - 1
MAX_DEPTH = 32

Value = int | bytes | str | bool | None | list["Value"] | tuple["Value", ...]


_SCALAR_TYPES = frozenset({bytes, str, bool, type(None)})


def _check(value: Any, depth: int) -> None:
    # The exact-type tests come first because this runs on every encode and decode;
    # subclasses (an IntEnum, a bytes subclass) fall through to the isinstance tests.
    kind = type(value)
    if kind is int:
        if not MIN_INT <= value <= MAX_INT:
            raise CodecError("int_out_of_range", "integer does not fit in 64 bits")
        return
    if kind in _SCALAR_TYPES:
        if depth > MAX_DEPTH:
            raise CodecError("too_deep", "value is nested too deeply")
        return
    if kind is list or kind is tuple:
        if depth >= MAX_DEPTH and (depth > MAX_DEPTH or value):
            raise CodecError("too_deep", "value is nested too deeply")
        for item in value:
            item_kind = type(item)
            if item_kind is int:
                if not MIN_INT <= item <= MAX_INT:
                    raise CodecError("int_out_of_range", "integer does not fit in 64 bits")
            elif item_kind not in _SCALAR_TYPES:
                _check(item, depth + 1)
        return
    _check_subclass(value, depth)


def _check_subclass(value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise CodecError("too_deep", "value is nested too deeply")
    if isinstance(value, msgpack.ExtType):  # a tuple subclass msgpack writes as an ext
        raise CodecError("bad_type", "msgpack extension types cannot be encoded canonically")
    if value is None or isinstance(value, bool | bytes | str):
        return
    if isinstance(value, int):
        if not MIN_INT <= value <= MAX_INT:
            raise CodecError("int_out_of_range", "integer does not fit in 64 bits")
        return
    if isinstance(value, list | tuple):
        for item in value:
            _check(item, depth + 1)
        return
    raise CodecError("bad_type", f"type {type(value).__name__} cannot be encoded canonically")


# `msgpack.packb` builds a Packer per call, which costs more than packing a small
# value; each thread keeps one instead (a Packer holds a buffer, so threads that
# encode at the same time, as the block worker and the event loop do, must not share).
_local = threading.local()


def _new_pack() -> Any:
    pack = msgpack.Packer(use_bin_type=True, strict_types=False).pack
    _local.pack = pack
    return pack


def pack_checked(value: Any) -> bytes:
    """The msgpack bytes of a value every part of which `check` has accepted."""
    try:
        pack = _local.pack
    except AttributeError:
        pack = _new_pack()
    return pack(value)  # type: ignore[no-any-return]


def check(value: Any, depth: int = 0) -> None:
    """Raise CodecError unless `encode` accepts `value` nested `depth` arrays deep
    (for encoders that build an array themselves from parts of known type)."""
    _check(value, depth)


def encode(value: Any) -> bytes:
    """Encode a value (nested lists of ints, bytes, str, bool, None) canonically."""
    try:
        pack = _local.pack
    except AttributeError:
        pack = _new_pack()
    if type(value) is int and MIN_INT <= value <= MAX_INT:
        # balances, nonces, counters: the most frequent state value, checked in place
        return pack(value)  # type: ignore[no-any-return]
    _check(value, 0)
    return pack(value)  # type: ignore[no-any-return]


def encode_array(encoded_items: list[bytes]) -> bytes:
    """The encoding of an array whose items are already encoded (each by `encode`):
    a msgpack array is its length header followed by its items' encodings, so
    a list of stored or hashed objects is written without encoding each again."""
    count = len(encoded_items)
    if count < 16:
        header = bytes([0x90 | count])
    elif count < 1 << 16:
        header = b"\xdc" + count.to_bytes(2, "big")
    else:
        header = b"\xdd" + count.to_bytes(4, "big")
    return header + b"".join(encoded_items)


def item_spans(data: bytes, path: tuple[int, ...] = ()) -> list[tuple[int, int]]:
    """Where each item of an encoded array starts and ends in `data`, found without
    decoding the items: of the top-level array, or of the array at `path` (one item
    index per level) inside it.

    For reading a few small fields of a large message (a signature, a block header)
    before paying for decoding it whole. Nothing here checks canonical form or
    trailing bytes: decode each span used with `decode`, and the whole message with
    `decode` before trusting anything beyond those fields."""
    unpacker = msgpack.Unpacker(raw=False, max_buffer_size=max(len(data), 1))
    try:
        unpacker.feed(data)
        for index in path:
            count = unpacker.read_array_header()
            if not 0 <= index < count:
                raise CodecError("bad_shape", f"the array has no item {index}")
            for _ in range(index):
                unpacker.skip()
        count = unpacker.read_array_header()
        if count > len(data):  # every item takes a byte at least
            raise CodecError("malformed", "the array claims more items than it has bytes")
        spans: list[tuple[int, int]] = []
        start = unpacker.tell()
        for _ in range(count):
            unpacker.skip()
            end = unpacker.tell()
            spans.append((start, end))
            start = end
    except (ValueError, msgpack.UnpackException, TypeError) as exc:
        raise CodecError("malformed", f"input is not an encoded array: {exc}") from exc
    return spans


# How `count_values` steps over each header byte: (kind, size). Kinds: a value of
# `size` bytes in all (integers, nil, booleans); a bin or str whose length takes the
# `size` bytes after the type byte; an array whose item count takes them; a fixarray
# or fixstr (count or length in the type byte itself); anything else (maps, floats,
# extensions, the unused c1), which ends the walk.
_WHOLE, _SIZED, _ARRAY, _FIXARRAY, _FIXSTR, _STOP = range(6)


def _header_steps() -> tuple[tuple[int, int], ...]:
    steps = [(_STOP, 0)] * 256
    for byte in [*range(0x00, 0x80), *range(0xE0, 0x100), 0xC0, 0xC2, 0xC3]:
        steps[byte] = (_WHOLE, 1)  # fixints, nil, false, true
    for byte in range(0x90, 0xA0):
        steps[byte] = (_FIXARRAY, 0)
    for byte in range(0xA0, 0xC0):
        steps[byte] = (_FIXSTR, 0)
    for byte, size in ((0xCC, 2), (0xCD, 3), (0xCE, 5), (0xCF, 9)):
        steps[byte] = steps[byte + 4] = (_WHOLE, size)  # uint 8..64 and int 8..64
    for byte, size in ((0xC4, 1), (0xC5, 2), (0xC6, 4), (0xD9, 1), (0xDA, 2), (0xDB, 4)):
        steps[byte] = (_SIZED, size)  # bin 8/16/32, str 8/16/32
    steps[0xDC], steps[0xDD] = (_ARRAY, 2), (_ARRAY, 4)
    return tuple(steps)


_STEPS = _header_steps()


def count_values(data: bytes, limit: int) -> int:
    """How many values the encoded value at the start of `data` holds (itself, and
    every item of every array in it at any depth), read from the headers alone: no
    value is built. The walk stops once the count passes `limit`, so the answer is
    at most limit + 1 and its cost bounded by `limit` whatever the input.

    For refusing, before decoding, input whose decoding would cost far more than its
    size suggests: a kilobyte of empty arrays decodes to a thousand lists. A header
    no canonical value has (a map, a float, an extension, c1) raises CodecError, as
    does input that ends inside a value: stopping there instead would let the bytes
    after it (a whole 64 KiB of arrays) be decoded before anything refused them."""
    size = len(data)
    steps = _STEPS
    at = count = 0
    pending = 1  # values still to step over
    while pending and count <= limit:
        if at >= size:
            raise CodecError("malformed", "input ends inside a value")
        kind, width = steps[data[at]]
        count += 1
        pending -= 1
        if kind == _WHOLE:
            at += width
        elif kind == _FIXSTR:
            at += 1 + (data[at] & 0x1F)
        elif kind == _FIXARRAY:
            pending += data[at] & 0x0F
            at += 1
        elif kind == _SIZED:
            at += 1 + width + int.from_bytes(data[at + 1 : at + 1 + width], "big")
        elif kind == _ARRAY:
            pending += int.from_bytes(data[at + 1 : at + 1 + width], "big")
            at += 1 + width
        else:
            raise CodecError(
                "non_canonical",
                f"input holds a value outside the codec (type byte {data[at]:#04x})",
            )
    return count


def decode_stored(data: bytes) -> Any:
    """Decode a state value read back from this node's own store.

    Only `encode` output is ever stored as a state value (execution writes it, and
    the state root commits to those exact bytes), so the canonical re-check of
    `decode` would only encode again what `encode` wrote: execution reads
    several values per transaction. Never use this on bytes from the network."""
    try:
        return msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=True)
    except (ValueError, msgpack.UnpackException, TypeError, UnicodeDecodeError) as exc:
        raise CodecError("malformed", f"stored value is not valid msgpack: {exc}") from exc


def decode(data: bytes, max_bytes: int = MAX_DECODE_BYTES) -> Any:
    """Decode canonical bytes; reject oversize, trailing, non-canonical or foreign input."""
    value = unpack(data, max_bytes)
    check_canonical(value, data)
    return value


def check_canonical(value: Any, data: bytes) -> None:
    """The second half of `decode`: raise CodecError unless `value`, as `unpack` read it
    from `data`, is a value of the codec whose encoding is exactly `data`."""
    try:
        again = encode(value)
    except CodecError as exc:
        raise CodecError(
            "non_canonical", f"input holds a value outside the codec: {exc.message}"
        ) from exc
    if again != data:
        raise CodecError("non_canonical", "input is not in canonical form")


def unpack(data: bytes, max_bytes: int = MAX_DECODE_BYTES) -> Any:
    """The first half of `decode`: one msgpack value, within `max_bytes`, nothing after
    it, no map or extension, but NOT checked to be canonical (floats, depth, the
    shortest forms). For decoders of one object that check its fields' exact types
    themselves, then compare `pack_checked` of the value with `data`, or else call
    `check_canonical` (see `SignedTransaction.decode`); anything else calls `decode`."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise CodecError("bad_type", "input must be bytes")
    data = bytes(data)
    if len(data) > max_bytes:
        raise CodecError("too_large", f"input is {len(data)} bytes, the limit is {max_bytes}")
    if not data:
        raise CodecError("empty", "input is empty")
    try:
        value = msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=True,
            max_bin_len=max_bytes,
            max_str_len=max_bytes,
            max_array_len=max_bytes,
            max_map_len=0,
            max_ext_len=0,
        )
    except msgpack.ExtraData as exc:
        raise CodecError("trailing_bytes", "input has bytes after the encoded value") from exc
    except (ValueError, msgpack.UnpackException, TypeError, UnicodeDecodeError) as exc:
        raise CodecError("malformed", f"input is not valid msgpack: {exc}") from exc
    return value


def expect_list(value: Any, length: int, what: str) -> list[Any]:
    """Check a decoded value is a list of exactly `length` items."""
    if not isinstance(value, list) or len(value) != length:
        raise CodecError("bad_shape", f"{what} must be an array of {length} items")
    return value


def expect_int(value: Any, what: str, low: int = 0, high: int = MAX_INT) -> int:
    """Check a decoded value is an integer (not a bool) within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise CodecError("bad_type", f"{what} must be an integer")
    if not low <= value <= high:
        raise CodecError("out_of_range", f"{what} must be between {low} and {high}")
    return value


def expect_bytes(
    value: Any, what: str, length: int | None = None, max_length: int = MAX_DECODE_BYTES
) -> bytes:
    """Check a decoded value is bytes, of an exact length when one is given."""
    if not isinstance(value, bytes):
        raise CodecError("bad_type", f"{what} must be bytes")
    if length is not None and len(value) != length:
        raise CodecError("bad_length", f"{what} must be {length} bytes")
    if len(value) > max_length:
        raise CodecError("too_long", f"{what} must be at most {max_length} bytes")
    return value


def expect_str(value: Any, what: str, max_length: int = 256) -> str:
    """Check a decoded value is text of bounded length."""
    if not isinstance(value, str):
        raise CodecError("bad_type", f"{what} must be text")
    if len(value) > max_length:
        raise CodecError("too_long", f"{what} must be at most {max_length} characters")
    return value


def expect_bool(value: Any, what: str) -> bool:
    """Check a decoded value is a boolean."""
    if not isinstance(value, bool):
        raise CodecError("bad_type", f"{what} must be a boolean")
    return value
