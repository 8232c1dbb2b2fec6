"""LevelDB store: the read cache never serves stale values; failures are classified,
reported once and refuse later writes; a table cut short is refused at open."""

from __future__ import annotations

import os
from pathlib import Path

import plyvel
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_a_mixed_batch_keeps_the_cached_values_and_their_byte_count_exact(
    tmp_path: Path,
) -> None:
    # what a block's batch holds: state keys read before (a value, a known absence),
    # new tree nodes, pruned nodes, keys nobody read (the transaction index)
    pruned, node = NODE_PREFIX + b"\x00", NODE_PREFIX + b"\x01"
    with LevelDBStore(tmp_path / "db") as store:
        store.write({b"bal/a": b"12345", pruned: bytes(50)})
        assert store.get(b"bal/a") == b"12345" and store.get(b"bal/new") is None
        store.write(
            {b"bal/a": b"9", b"bal/new": b"777", node: bytes(60), pruned: None, b"tx/1": b"i"}
        )
        assert store._cache == {b"bal/a": b"9", b"bal/new": b"777", node: bytes(60)}
        assert store._cache_bytes == 1 + 3 + 60
        assert store.get(b"tx/1") == b"i" and store.get(pruned) is None


def test_the_read_cache_is_bounded_by_bytes_as_well_as_entries(tmp_path: Path) -> None:
    nodes = {NODE_PREFIX + bytes([i]): bytes(1000) for i in range(40)}
    with LevelDBStore(tmp_path / "db", cache_bytes=10_000) as store:
        store.write(nodes)  # written tree nodes enter the cache, which stays under ~10 KB
        assert 0 < len(store._cache) <= 11
        assert store._cache_bytes == sum(len(v) for v in store._cache.values() if v)
        for key, value in nodes.items():  # evicted or not, every read is right
            assert store.get(key) == value
        assert store._cache_bytes <= 11_000
        store.write(dict.fromkeys(nodes))  # pruned: the cached copies shrink to nothing
        assert store._cache_bytes == 0 and all(store.get(key) is None for key in nodes)


def test_an_empty_prefix_is_remembered_until_a_write_falls_under_it(tmp_path: Path) -> None:
    groups = b"loyalty/membership/" + b"acc/ount" + b"/"  # an account may hold "/" bytes
    with LevelDBStore(tmp_path / "db") as store:
        assert list(store.iterate(groups)) == []
        assert groups in store._empty  # the next scan of it skips LevelDB
        assert list(store.iterate(b"loyalty/member")) == []  # not ending in "/": not kept
        assert b"loyalty/member" not in store._empty
        store.write({b"loyalty/membership/other/GOLD": b"1"})  # another account's prefix
        assert groups in store._empty
        store.write({groups + b"GOLD": b"7"})
        assert list(store.iterate(groups)) == [(groups + b"GOLD", b"7")]
        store.write({groups + b"GOLD": None})
        assert list(store.iterate(groups, reverse=True)) == []
        # a shorter prefix cached empty is dropped by a write under a longer one
        outer = b"loyalty/membership/"
        store.write({b"loyalty/membership/other/GOLD": None})
        assert list(store.iterate(outer)) == [] and outer in store._empty
        store.write({groups + b"SILVER": b"2"})
        assert list(store.iterate(outer)) == [(groups + b"SILVER", b"2")]


# few distinct bytes, so that keys often fall under the prefixes
_KEY_BYTES = st.text("ab/", min_size=1, max_size=6).map(str.encode)


@settings(max_examples=60, deadline=None)
@given(
    prefixes=st.sets(_KEY_BYTES.map(lambda raw: raw + b"/"), max_size=12),
    keys=st.lists(_KEY_BYTES, max_size=12),
)
def test_a_write_forgets_exactly_the_empty_prefixes_its_keys_fall_under(
    tmp_path_factory: pytest.TempPathFactory, prefixes: set[bytes], keys: list[bytes]
) -> None:
    # prefixes of up to 7 lengths: both the cut-at-each-length and the per-key paths
    with LevelDBStore(tmp_path_factory.mktemp("db")) as store:
        store._empty = set(prefixes)
        store.write(dict.fromkeys(keys, b"v"))
        kept = {p for p in prefixes if not any(key.startswith(p) for key in keys)}
        assert store._empty == kept


def test_a_scan_racing_a_write_does_not_remember_what_it_read_before(tmp_path: Path) -> None:
    prefix = b"escrow/by-buyer/x/"
    with LevelDBStore(tmp_path / "db") as store:
        db = store._db

        class WriteDuringScan:
            """The block worker commits while the event loop's scan is under way."""

            def iterator(self, **options: object) -> object:
                store._db = db
                opened = db.iterator(**options)
                store.write({b"unrelated": b"1"})
                return opened

        store._db = WriteDuringScan()  # type: ignore[assignment]
        assert list(store.iterate(prefix)) == []
        assert prefix not in store._empty  # it may have read before the write
        assert list(store.iterate(prefix)) == [] and prefix in store._empty


def test_a_read_racing_a_write_does_not_cache_the_value_it_read_before(tmp_path: Path) -> None:
    with LevelDBStore(tmp_path / "db") as store:
        store.write({b"account/a": b"old"})
        db = store._db

        class WriteDuringRead:
            """The event loop's read misses the cache and reads LevelDB; the block
            worker commits a new value (finding the key uncached) before the read
            gets to keep what it found."""

            def get(self, key: bytes, **options: object) -> object:
                store._db = db
                found = db.get(key, **options)
                store.write({b"account/a": b"new"})
                return found

        store._db = WriteDuringRead()  # type: ignore[assignment]
        assert store.get(b"account/a") == b"old"  # what LevelDB held when it was read
        assert store.get(b"account/a") == b"new"  # not the stale value, cached
        assert store.get(b"account/a") == b"new"


def test_deleted_keys_leave_the_read_cache_and_make_room(tmp_path: Path) -> None:
    old, live, newer, newest = (NODE_PREFIX + bytes([n]) for n in range(4))
    with LevelDBStore(tmp_path / "db", cache_entries=3) as store:
        store.write({old: b"\x00", live: b"\x01"})
        assert store.get(b"state") is None  # a cached miss
        store.write({old: None, b"state": None})  # pruned; a state key deleted
        assert store._cache == {live: b"\x01"}  # no entry held by a deleted key
        store.write({newer: b"\x02", newest: b"\x03"})  # fit without evicting `live`
        assert store._cache == {live: b"\x01", newer: b"\x02", newest: b"\x03"}
        assert store.get(old) is None and store.get(b"state") is None  # from LevelDB


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
