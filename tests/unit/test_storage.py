"""LevelDB store: the read cache never serves stale values; failures are classified,
reported once and refuse later writes; a table cut short is refused at open."""

from __future__ import annotations

import os
from pathlib import Path

import plyvel
import pytest

from ledger.state_tree import NODE_PREFIX
from node.storage import (
    CORRUPTION,
    IO,
    NO_SPACE,
    LevelDBStore,
    StorageError,
    storage_error,
)


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


def test_leveldb_errors_are_classified_with_a_remedy(tmp_path: Path) -> None:
    path = tmp_path / "db"
    full = storage_error(path, plyvel.IOError(b"IO error: db/000003.log: No space left on device"))
    assert full.kind == NO_SPACE and "free space" in full.remedy and str(path) in full.remedy
    cut = storage_error(path, plyvel.IOError(b"IO error: db/000005.ldb: Invalid argument"))
    assert cut.kind == CORRUPTION and "aside" in cut.remedy
    assert storage_error(path, plyvel.CorruptionError(b"Corruption: bad block")).kind == CORRUPTION
    assert storage_error(path, plyvel.IOError(b"IO error: lock db/LOCK: held")).kind == IO


def test_a_failed_store_reports_once_and_refuses_every_later_write(tmp_path: Path) -> None:
    seen: list[StorageError] = []
    with LevelDBStore(tmp_path / "db") as store:
        store.on_fault.append(seen.append)
        store.write({b"a": b"1"})
        error = store._fault(plyvel.IOError(b"IO error: db/000003.log: No space left on device"))
        store._fault(plyvel.IOError(b"IO error: something else"))
        assert seen == [error] and store.failed is error
        with pytest.raises(StorageError) as refused:
            store.write({b"b": b"2"})
        assert refused.value is error
        assert store.get(b"a") == b"1" and store.get(b"b") is None  # reads still answer


def test_a_table_cut_short_is_refused_when_the_store_opens(tmp_path: Path) -> None:
    path = tmp_path / "db"
    with LevelDBStore(path) as store:
        store.write({b"k%04d" % i: bytes(100) for i in range(500)})
    with LevelDBStore(path):  # reopening turns the log into a table
        pass
    table = sorted(path.glob("*.ldb"))[-1]
    with open(table, "r+b") as handle:
        handle.truncate(table.stat().st_size - 1)
    with pytest.raises(StorageError) as refused:
        LevelDBStore(path)
    assert refused.value.kind == CORRUPTION and table.name in str(refused.value)


def test_a_full_read_cache_drops_its_oldest_entries_only(tmp_path: Path) -> None:
    nodes = [NODE_PREFIX + bytes([n]) for n in range(8)]
    with LevelDBStore(tmp_path / "db", cache_entries=8) as store:
        store.write({key: b"\x02" for key in nodes})
        assert list(store._cache) == nodes
        assert store.get(b"absent") is None
        assert list(store._cache) == [*nodes[1:], b"absent"]


def test_compaction_keeps_every_live_key(tmp_path: Path) -> None:
    with LevelDBStore(tmp_path / "db") as store:
        store.write({bytes([n]) * 8: b"v" * 100 for n in range(50)})
        store.write({bytes([n]) * 8: None for n in range(0, 50, 2)})
        store.compact()
        assert [k for k, _ in store.iterate(b"")] == [bytes([n]) * 8 for n in range(1, 50, 2)]


def test_compaction_frees_deleted_entries_on_disk(tmp_path: Path) -> None:
    # What pruning deletes is only gone from disk once a compaction reaches it: a
    # compaction of the whole store must leave no deleted value behind.
    path = tmp_path / "db"
    with LevelDBStore(path) as store:
        for batch in range(8):
            store.write({b"t" + bytes([batch, n]): os.urandom(1000) for n in range(250)})
        store.compact()  # on disk, as the nodes pruning deletes long were
        store.write({b"t" + bytes([batch, n]): None for batch in range(8) for n in range(250)})
        store.write({b"kept": b"v"})
        store.compact()
        assert [k for k, _ in store.iterate(b"")] == [b"kept"]
        tables = sum(p.stat().st_size for p in path.iterdir() if p.suffix in (".ldb", ".sst"))
        assert tables < 10_000  # 2 MB were written; one small table is left
