"""Ordered seek on every KV implementation (memory, LevelDB, a StateView with local
writes on top), and paged queries that read only their page, whatever its position."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.pages import index_page
from ledger.kv import KVReader, MemoryStore, prefix_end
from ledger.state import StateView
from node.storage import LevelDBStore

KEYS = [b"a", b"p/", b"p/\x00", b"p/1", b"p/2", b"p/2\x00", b"p/3", b"p/\xff", b"p0", b"q"]


def expected(keys: list[bytes], prefix: bytes, start: bytes) -> list[bytes]:
    return sorted(k for k in keys if k.startswith(prefix) and k >= start)


def fill(store: MemoryStore | LevelDBStore) -> None:
    store.write({k: b"v" + k for k in KEYS})


@pytest.fixture(params=["memory", "leveldb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryStore | LevelDBStore]:
    if request.param == "memory":
        yield MemoryStore()
    else:
        with LevelDBStore(tmp_path / "db") as db:
            yield db


def test_prefix_end() -> None:
    assert prefix_end(b"p/") == b"p0"
    assert prefix_end(b"p\xff") == b"q"
    assert prefix_end(b"\xff\xff") is None


@pytest.mark.parametrize(
    ("prefix", "start"),
    [
        (b"p/", b""),
        (b"p/", b"p/2"),
        (b"p/", b"p/2\x00"),
        (b"p/", b"p/4"),
        (b"p/", b"z"),
        (b"", b"p"),
    ],
)
def test_seek_reads_the_prefix_from_start(
    store: MemoryStore | LevelDBStore, prefix: bytes, start: bytes
) -> None:
    fill(store)
    got = list(store.seek(prefix, start))
    assert [k for k, _ in got] == expected(KEYS, prefix, start)
    assert all(v == b"v" + k for k, v in got)


def test_a_state_view_merges_its_writes_into_the_seek(store: MemoryStore | LevelDBStore) -> None:
    fill(store)
    view = StateView(store)
    view.put(b"p/25", b"new")
    view.delete(b"p/3")
    view.put(b"p/2", b"changed")
    child = view.child()
    child.delete(b"p/25")
    child.put(b"p/4", b"child")
    assert list(view.seek(b"p/", b"p/2")) == [
        (b"p/2", b"changed"),
        (b"p/2\x00", b"vp/2\x00"),
        (b"p/25", b"new"),
        (b"p/\xff", b"vp/\xff"),
    ]
    assert [k for k, _ in child.seek(b"p/", b"p/2\x00")] == [b"p/2\x00", b"p/4", b"p/\xff"]


@settings(max_examples=60, deadline=None)
@given(
    base=st.sets(st.binary(min_size=0, max_size=3)),
    local=st.dictionaries(st.binary(min_size=0, max_size=3), st.one_of(st.none(), st.just(b"L"))),
    prefix=st.binary(max_size=1),
    start=st.binary(max_size=3),
)
def test_view_seek_equals_filtering_the_merged_iteration(
    base: set[bytes], local: dict[bytes, bytes | None], prefix: bytes, start: bytes
) -> None:
    store = MemoryStore()
    store.write({k: b"B" for k in base})
    view = StateView(store)
    for key in sorted(local):
        value = local[key]
        if value is None:
            view.delete(key)
        else:
            view.put(key, value)
    merged = [(k, v) for k, v in view.iterate(prefix) if k >= start]
    assert list(view.seek(prefix, start)) == merged


class CountingStore(MemoryStore):
    """Counts every entry a seek or an iteration hands out."""

    def __init__(self) -> None:
        super().__init__()
        self.read = 0

    def seek(self, prefix: bytes, start: bytes) -> Iterator[tuple[bytes, bytes]]:
        for item in super().seek(prefix, start):
            self.read += 1
            yield item

    def iterate(self, prefix: bytes, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        for item in super().iterate(prefix, reverse):
            self.read += 1
            yield item


def test_a_deep_page_reads_only_the_page() -> None:
    store = CountingStore()
    prefix = b"idx/"
    store.write({prefix + n.to_bytes(8, "big"): b"\x01" for n in range(5_000)})
    reader: KVReader = store
    cursor = (3_999).to_bytes(8, "big")
    positions, next_cursor = index_page(reader, prefix, cursor, 50)
    assert positions[0] == (4_000).to_bytes(8, "big") and len(positions) == 50
    assert next_cursor == positions[-1]
    assert store.read <= 51  # the page plus one look-ahead, not the 4,000 before it
    store.read = 0
    last, end = index_page(reader, prefix, (4_979).to_bytes(8, "big"), 50)
    assert len(last) == 20 and end is None and store.read == 20
