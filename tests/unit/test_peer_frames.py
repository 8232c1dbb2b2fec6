"""Frames from an authenticated peer are screened before they are decoded: their
shape per kind, a per-link frame budget, and a bound on bad frames per link."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any, cast

import aiohttp
import pytest

from ledger import codec
from node import log as node_log
from node import peers
from node.peers import (
    BAD_FRAMES_TO_CLOSE,
    FRAME_BURST,
    MAX_FRAME_LIST,
    MAX_FRAME_PAIRS,
    Link,
    encode_frame,
    frame_shape_error,
)

PEER = b"\x01" * 32
HASH = b"\x02" * 32
TX = b"\x03" * 180


def honest_frames() -> list[list[Any]]:
    """One frame of each kind the node sends, at its usual and extreme sizes."""
    return [
        ["txs", [TX] * 500],
        ["txs", [TX]],
        ["txs", []],
        ["height", 0],
        ["height", 200],
        ["height", 300],
        ["height", 70_000],
        ["height", 2**40],
        ["height", 2**64 - 1],
        ["get_blocks", 1, 64],
        ["blocks", 1, [[b"\x04" * 1000, b"\x05" * 300]] * 64],
        ["blocks", 7, []],
        ["c", b"\x06" * 100],
        ["c", b"\x06" * (17 * 1024 * 1024)],
        ["get_txs", HASH, [HASH] * 4096],
        ["txs_for", HASH, [TX] * 4096],
        ["txs_for", HASH, []],
    ]


@pytest.mark.parametrize("frame", honest_frames(), ids=lambda f: str(f[0]))
def test_every_frame_an_honest_node_sends_passes(frame: list[Any]) -> None:
    assert frame_shape_error(encode_frame(frame)) is None


def bomb(count: int, kind: bytes = b"zz") -> bytes:
    """["<kind>", [[], [], ...]]: one byte per object once decoded."""
    return (
        b"\x92" + bytes([0xA0 | len(kind)]) + kind + b"\xdd" + count.to_bytes(4) + b"\x90" * count
    )


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (bomb(1_000_000), "unknown_kind"),
        (bomb(1_000_000, b"txs"), "list_too_long"),
        (bomb(100, b"txs"), "bad_bins"),
        (encode_frame(["zz"]), "unknown_kind"),
        (encode_frame(["hello", b"k", b"n", b"s"]), "unknown_kind"),
        (encode_frame(["txs", [[TX]]]), "bad_bins"),
        (encode_frame(["txs", [TX, [TX]]]), "bad_bins"),
        (b"\x93\xa6blocks\x01\x91\x92\xc4\x00" + bomb(1_000_000)[4:], "bad_pairs"),
        (encode_frame(["txs", ["text"]]), "bad_bins"),
        (encode_frame(["txs", [TX] * (MAX_FRAME_LIST + 1)]), "list_too_long"),
        (encode_frame(["get_txs", HASH, [HASH] * (MAX_FRAME_LIST + 1)]), "list_too_long"),
        (encode_frame(["blocks", 1, [[TX, TX]] * (MAX_FRAME_PAIRS + 1)]), "list_too_long"),
        (encode_frame(["blocks", 1, [[TX, TX, TX]]]), "bad_pairs"),
        (encode_frame(["blocks", 1, [[TX, 5]]]), "bad_pairs"),
        (encode_frame(["blocks", -1, []]), "bad_uint"),
        (encode_frame(["height", -5]), "bad_uint"),
        (encode_frame(["height", "5"]), "bad_uint"),
        (encode_frame(["height"]), "bad_length"),
        (encode_frame(["height", 1, 2]), "bad_length"),
        (encode_frame(["txs"] + [TX] * 20), "bad_length"),
        (encode_frame(["c", [b"x"]]), "bad_bin"),
        (encode_frame(["get_txs", "hash", [HASH]]), "bad_bin"),
        (encode_frame(["txs", TX]), "bad_bins"),
        (encode_frame([1, 2]), "bad_kind"),
        (encode_frame([]), "bad_kind"),
        (codec.encode("txs"), "not_an_array"),
        (codec.encode(5), "not_an_array"),
        (b"", "not_an_array"),
        (b"\xc1", "not_an_array"),
        (encode_frame(["c", b"\x06" * 1000])[:-1], "truncated"),
        (encode_frame(["txs", [TX] * 10])[:-200], "truncated"),
        (encode_frame(["get_blocks", 1, 64])[:-1], "truncated"),
        (encode_frame(["get_blocks", 1, 300])[:-1], "truncated"),
        (b"\x92\xa1c\xc6\x00\x01", "truncated"),
        (b"\x92\xa3txs\xdd\x00", "truncated"),
        (encode_frame(["c", b"x"]) + b"\x00", "trailing_bytes"),
    ],
)
def test_frames_of_the_wrong_shape_are_refused(data: bytes, error: str) -> None:
    assert frame_shape_error(data) == error


def test_a_bomb_is_refused_in_far_less_than_decoding_it_takes() -> None:
    data = bomb(16 * 1024 * 1024, b"txs")  # 16 MiB: seconds and gigabytes to decode
    started = time.perf_counter()
    for _ in range(10):
        assert frame_shape_error(data) is not None
        assert frame_shape_error(bomb(10, b"txs") + b"\x90" * 100) is not None
    assert time.perf_counter() - started < 1.0


def test_the_kinds_screened_are_the_kinds_the_node_handles() -> None:
    kinds = {"txs", "height", "get_blocks", "blocks", "c", "get_txs", "txs_for"}
    assert {kind.decode() for kind in peers.FRAME_SHAPES} == kinds


# -- the reader ------------------------------------------------------------------------------------


class FakeSocket:
    """Yields the given websocket messages, then ends as a closed connection does."""

    def __init__(self, messages: list[Any]) -> None:
        self.messages = messages
        self.closed = 0

    def __aiter__(self) -> Iterator[Any]:
        return self  # type: ignore[return-value]

    async def __anext__(self) -> Any:
        if not self.messages:
            raise StopAsyncIteration
        return self.messages.pop(0)

    async def close(self) -> bool:
        self.closed += 1
        return True


def binary(data: bytes) -> Any:
    return SimpleNamespace(type=aiohttp.WSMsgType.BINARY, data=data)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def run_reader(
    messages: list[Any], clock: Clock | None = None
) -> tuple[Link, FakeSocket, list[list[Any]]]:
    ws = FakeSocket(messages)
    link = Link(PEER, False, cast(Any, ws), clock=clock or Clock())
    received: list[list[Any]] = []
    asyncio.run(link.reader(lambda _link, frame: received.append(frame)))
    return link, ws, received


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Counts the frames that reach decoding."""
    seen: list[bytes] = []
    decode = peers.decode_frame

    def counting(data: bytes) -> list[Any]:
        seen.append(data)
        return decode(data)

    monkeypatch.setattr(peers, "decode_frame", counting)
    return seen


@pytest.fixture
def logged(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    lines: list[tuple[str, dict[str, Any]]] = []

    def record(event: str, level: str = "info", **fields: Any) -> None:
        lines.append((event, fields))

    monkeypatch.setattr(peers, "log", record)
    monkeypatch.setattr(node_log, "log", record)  # what log_doubling writes with
    return lines


def test_the_reader_hands_on_honest_frames(decodes: list[bytes]) -> None:
    frames = honest_frames()
    link, ws, received = run_reader([binary(encode_frame(frame)) for frame in frames])
    assert received == frames
    assert len(decodes) == len(frames)
    assert link.bad_frames == 0 and link.over_rate == 0 and ws.closed == 0


def test_bad_frames_are_not_decoded_and_logged_at_each_doubling(
    decodes: list[bytes], logged: list[tuple[str, dict[str, Any]]]
) -> None:
    bad = [binary(bomb(100_000)), binary(b"\xc1"), binary(encode_frame(["txs", [[]]]))] * 3
    good = binary(encode_frame(["height", 3]))
    link, ws, received = run_reader([*bad, good])
    assert received == [["height", 3]]
    assert len(decodes) == 1  # only the good frame
    assert link.bad_frames == 9 and ws.closed == 0
    counts = [fields["count"] for event, fields in logged if event == "peer_bad_frame"]
    assert counts == [1, 2, 4, 8]


def test_a_frame_refused_by_decoding_counts_as_bad(decodes: list[bytes]) -> None:
    # the right shape, but not canonical (a small int written as uint8)
    data = b"\x92\xa6height\xcc\x05"
    assert frame_shape_error(data) is None
    link, _, received = run_reader([binary(data)])
    assert received == [] and len(decodes) == 1 and link.bad_frames == 1


def test_text_messages_count_as_bad_frames() -> None:
    text = SimpleNamespace(type=aiohttp.WSMsgType.TEXT, data="hello")
    link, _, received = run_reader([text])
    assert received == [] and link.bad_frames == 1


def test_too_many_bad_frames_close_the_link(logged: list[tuple[str, dict[str, Any]]]) -> None:
    messages = [binary(b"\xc1")] * (BAD_FRAMES_TO_CLOSE + 10)
    good = binary(encode_frame(["height", 3]))
    link, ws, received = run_reader([*messages, good])
    assert link.bad_frames == BAD_FRAMES_TO_CLOSE and ws.closed == 1
    assert received == []  # nothing after the close is read
    assert [event for event, _ in logged].count("peer_link_closed_bad_frames") == 1


def test_bad_frames_spread_out_do_not_close_the_link() -> None:
    clock = Clock()

    class Spaced(FakeSocket):
        async def __anext__(self) -> Any:
            clock.now += 5.0  # 16 bad frames take 80 s: fewer than 16 in any 60 s
            return await super().__anext__()

    ws = Spaced([binary(b"\xc1")] * (3 * BAD_FRAMES_TO_CLOSE))
    link = Link(PEER, True, cast(Any, ws), clock=clock)
    asyncio.run(link.reader(lambda _link, _frame: None))
    assert link.bad_frames == 3 * BAD_FRAMES_TO_CLOSE and ws.closed == 0


def test_frames_beyond_the_budget_are_dropped_undecoded(
    decodes: list[bytes], logged: list[tuple[str, dict[str, Any]]]
) -> None:
    clock = Clock()  # stands still: no token comes back
    frame = binary(encode_frame(["height", 3]))
    link, ws, received = run_reader([frame] * (FRAME_BURST + 100), clock)
    assert len(received) == FRAME_BURST and len(decodes) == FRAME_BURST
    assert link.over_rate == 100 and link.bad_frames == 0 and ws.closed == 0
    drops = [fields["dropped"] for event, fields in logged if event == "peer_frames_over_rate"]
    assert drops == [1, 2, 4, 8, 16, 32, 64]


def test_the_budget_refills_with_time() -> None:
    clock = Clock()
    frame = binary(encode_frame(["height", 3]))

    class Paced(FakeSocket):
        async def __anext__(self) -> Any:
            clock.now += 1 / 1_000  # 1,000 frames a second: half the budget
            return await super().__anext__()

    ws = Paced([frame] * (3 * FRAME_BURST))
    link = Link(PEER, True, cast(Any, ws), clock=clock)
    received: list[list[Any]] = []
    asyncio.run(link.reader(lambda _link, item: received.append(item)))
    assert len(received) == 3 * FRAME_BURST and link.over_rate == 0
