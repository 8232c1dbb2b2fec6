"""LevelDB store: the read cache never serves stale values."""

from __future__ import annotations

from pathlib import Path

from ledger.state_tree import NODE_PREFIX
from node.storage import LevelDBStore


def test_cached_reads_follow_writes_and_deletes(tmp_path: Path) -> None:
    with LevelDBStore(tmp_path / "db", cache_entries=2) as store:
        assert store.get(b"a") is None  # a cached miss
        store.write({b"a": b"1", b"b": b"2"})
        assert store.get(b"a") == b"1"
        store.write({b"a": None})
        assert store.get(b"a") is None
        for key in (b"b", b"c", b"d"):  # overflow clears the cache, values stay right
            store.get(key)
        assert store.get(b"b") == b"2"
        assert list(store.iterate(b"")) == [(b"b", b"2")]
    with LevelDBStore(tmp_path / "db") as store:
        assert store.get(b"b") == b"2" and store.get(b"a") is None


def test_written_state_tree_nodes_are_cached_and_their_deletion_seen(tmp_path: Path) -> None:
    node = NODE_PREFIX + bytes(9)
    with LevelDBStore(tmp_path / "db", cache_entries=2) as store:
        store.write({node: b"\x00", b"other": b"x"})
        assert store._cache == {node: b"\x00"}  # only tree nodes enter on write
        store.write({b"third": b"y", NODE_PREFIX + b"\x01": b"\x01"})
        store.write({node: None})  # pruned
        assert store.get(node) is None and store.get(NODE_PREFIX + b"\x01") == b"\x01"
