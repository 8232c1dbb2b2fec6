"""LevelDB (plyvel) implementation of the ledger's key-value interface.

Batches are applied with a single LevelDB write batch; `sync=True` makes the
write durable before it returns, which is what a commit needs. Nothing else in
the code base opens LevelDB.

Every LevelDB failure (a full disk, an I/O error, damaged files) surfaces as one
`StorageError` that names its kind, the directory and what the operator should
do. The first one also goes to the `on_fault` callbacks (the node stops on it)
and fails the store: from then on every write is refused with the same error,
because LevelDB's own state after a failed write is not to be trusted until the
directory is opened again.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path

import plyvel

from ledger.kv import WriteBatch, prefix_end
from ledger.state_tree import NODE_PREFIX

CACHE_BYTES = 64 * 1024 * 1024
WRITE_BUFFER_BYTES = 16 * 1024 * 1024
READ_CACHE_ENTRIES = 1 << 18
# The read cache's values, in bytes, at most. State tree nodes are ~1 KB each, so the
# entry cap alone let a larger state (the commerce mix: ~100,000 live nodes) hold
# a quarter of a million of them, over 200 MB of the process. Reads that miss it go
# to LevelDB, which maps its table files: the pages they touch count in the process's
# RSS as clean, file-backed memory (docs/node.md, "What holds a commerce validator's
# memory"), and LevelDB's block cache (CACHE_BYTES) keeps only blocks it did not map.
READ_CACHE_BYTES = 48 * 1024 * 1024
EMPTY_PREFIX_ENTRIES = 1 << 16
# Up to this many lengths of cached empty prefixes, a write cuts its keys at each
# length; beyond, it looks at each key's "/" bytes (a key has three or four).
EMPTY_PREFIX_LENGTHS_CUT = 4
_ABOVE_NAMESPACES = b"\xff" * 32  # above every key: all begin with an ASCII namespace

NO_SPACE = "no_space"
CORRUPTION = "corruption"
IO = "io"
_REMEDIES = {
    NO_SPACE: "free space on the filesystem holding {path} (or move it to a bigger one) and "
    "start the node again: every block it committed is on disk and it catches up from its peers",
    CORRUPTION: "the data directory is damaged: move {path} aside (keep it for diagnosis) and "
    "start the node again to rebuild it from its peers (docs/node.md, Damaged data directory)",
    IO: "check the disk, the permissions of {path} and that no other process uses it, "
    "then start the node again",
}


class StorageError(OSError):
    """LevelDB failed; `kind` is NO_SPACE, CORRUPTION or IO."""

    def __init__(self, kind: str, path: Path, detail: str) -> None:
        self.kind = kind
        self.path = path
        self.detail = detail
        self.remedy = _REMEDIES[kind].format(path=path)
        what = {NO_SPACE: "no space left", CORRUPTION: "damaged data", IO: "I/O error"}[kind]
        super().__init__(f"storage failed ({what}) in {path}: {detail}")


# One line per table in LevelDB's "leveldb.sstables" property: " <number>:<size>[...".
_TABLE_LINE = re.compile(rb"^ (\d+):(\d+)\[", re.MULTILINE)
_TABLE_FILE = re.compile(r"\d+\.(ldb|sst)\b")


def storage_error(path: Path, exc: plyvel.Error) -> StorageError:
    """Classify a plyvel error (its message is LevelDB's status string)."""
    raw = exc.args[0] if exc.args else b""
    detail = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    # A table file that cannot be read (cut short, gone) is damage, not a disk
    # problem to retry: LevelDB reports those as plain I/O errors.
    if isinstance(exc, plyvel.CorruptionError) or (
        "No space left on device" not in detail and _TABLE_FILE.search(detail)
    ):
        kind = CORRUPTION
    elif "No space left on device" in detail:
        kind = NO_SPACE
    else:
        kind = IO
    return StorageError(kind, path, detail)


class LevelDBStore:
    """A KVStore on a LevelDB directory."""

    def __init__(
        self,
        path: str | Path,
        create: bool = True,
        cache_entries: int = READ_CACHE_ENTRIES,
        cache_bytes: int = READ_CACHE_BYTES,
    ) -> None:
        self.path = Path(path)
        # Read cache in front of LevelDB (write-through, so it never goes stale: this
        # object is the only writer). Execution reads the same few keys per transfer
        # (nonce, asset, two balances); a dict hit is far cheaper than a LevelDB get.
        self._cache: dict[bytes, bytes | None] = {}
        self._cache_entries = cache_entries
        self._cache_bytes = 0  # the cached values' lengths, roughly (two threads count)
        self._cache_byte_limit = cache_bytes
        # Prefixes (ending in "/") known to hold no key. Contracts scan such prefixes
        # inside transactions, mostly finding nothing (a seller's loyalty groups on
        # every sale), and each scan is a LevelDB seek through every level: tens to
        # hundreds of microseconds under write load, against a set lookup here. A
        # write drops every cached prefix of its keys; `_generation` keeps a scan
        # that raced with a write from caching what it read before it.
        self._empty: set[bytes] = set()
        self._generation = 0
        # the block worker writes, the event loop reads: guards `_generation` and what a
        # read or scan that raced a write may keep
        self._empty_lock = threading.Lock()
        self.path.mkdir(parents=True, exist_ok=True)
        # Bloom filters make the common miss (is this tx hash already committed?) cheap.
        # LevelDB reads its tables (up to 1,000) through mmap, so the kernel's page
        # cache, not the block cache, holds what it read of them.
        self.failed: StorageError | None = None
        self.on_fault: list[Callable[[StorageError], None]] = []
        try:
            # paranoid_checks: a damaged log or table found while opening or compacting
            # is an error, not something LevelDB skips over silently.
            self._db = plyvel.DB(
                str(self.path),
                create_if_missing=create,
                bloom_filter_bits=10,
                lru_cache_size=CACHE_BYTES,
                write_buffer_size=WRITE_BUFFER_BYTES,
                paranoid_checks=True,
                # Most of what is stored is hashes, keys and signatures, which snappy
                # cannot shrink: compressing them only cost CPU in every compaction.
                compression=None,
            )
        except plyvel.Error as exc:
            raise storage_error(self.path, exc) from exc
        try:
            self._check_tables()
        except BaseException:
            self._db.close()
            raise

    def _check_tables(self) -> None:
        """Refuse a table file shorter than LevelDB's manifest says it is.

        LevelDB opens tables lazily, so a truncated one would only fail at its first
        read, possibly long after the node started serving; the manifest records
        every table's size, and comparing costs one stat per table.
        """
        listing = self._db.get_property(b"leveldb.sstables") or b""
        for number, size in _TABLE_LINE.findall(listing):
            for suffix in (".ldb", ".sst"):
                table = self.path / f"{int(number):06d}{suffix}"
                if table.exists():
                    found = table.stat().st_size
                    if found < int(size):
                        raise StorageError(
                            CORRUPTION,
                            self.path,
                            f"table {table.name} holds {found} bytes, "
                            f"LevelDB's manifest recorded {int(size)} (cut short)",
                        )

    def _fault(self, exc: plyvel.Error) -> StorageError:
        error = storage_error(self.path, exc)
        if self.failed is None:
            self.failed = error
            for callback in self.on_fault:
                callback(error)
        return error

    def get(self, key: bytes) -> bytes | None:
        try:
            return self._cache[key]
        except KeyError:
            pass
        generation = self._generation
        try:
            # checksums verified: a damaged block is an error, never a wrong value
            raw = self._db.get(key, verify_checksums=True)
        except plyvel.Error as exc:
            raise self._fault(exc) from exc
        value = None if raw is None else bytes(raw)
        if self._cache_entries:
            # The event loop and the block worker both read through this cache while
            # the worker writes. A value read before a write landed must not be cached
            # after that write updated the cache (it found the key absent and left it):
            # the stale value would then be served to every later block. The write
            # bumps `_generation` under the lock once its batch is in LevelDB, so a read
            # that began before it sees a changed generation here and is not kept.
            with self._empty_lock:
                if generation == self._generation:
                    self._make_room()
                    self._cache[key] = value
                    self._cache_bytes += 0 if value is None else len(value)
        return value

    def _make_room(self) -> None:
        """Drop the oldest eighth of the read cache when it is full, by entries or by
        bytes. (Clearing it all made every block after a clear read its state tree
        paths from LevelDB again.)"""
        cache = self._cache
        if len(cache) >= self._cache_entries or self._cache_bytes >= self._cache_byte_limit:
            freed = 0
            for key in list(islice(cache, max(1, len(cache) // 8))):
                # pop: the driver's worker thread and the event loop both read through
                # this cache, and the other one may have evicted the key meanwhile
                value = cache.pop(key, None)
                freed += 0 if value is None else len(value)
            self._cache_bytes = max(0, self._cache_bytes - freed)

    def iterate(self, prefix: bytes, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        if prefix in self._empty:
            return
        cacheable = self._cache_entries > 0 and prefix.endswith(b"/")
        generation = self._generation
        found = False
        try:
            with self._db.iterator(
                prefix=prefix, reverse=reverse, verify_checksums=True
            ) as iterator:
                for item in iterator:
                    found = True
                    yield item
        except plyvel.Error as exc:
            raise self._fault(exc) from exc
        if cacheable and not found:
            with self._empty_lock:
                if generation == self._generation:
                    if len(self._empty) >= EMPTY_PREFIX_ENTRIES:
                        self._empty.clear()
                    self._empty.add(prefix)

    def seek(self, prefix: bytes, start: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Keys under `prefix` from `start` on: one LevelDB seek, then a forward scan."""
        stop = prefix_end(prefix)
        try:
            with self._db.iterator(
                start=max(prefix, start), stop=stop, verify_checksums=True
            ) as iterator:
                yield from iterator
        except plyvel.Error as exc:
            raise self._fault(exc) from exc

    def write(self, batch: WriteBatch, sync: bool = True) -> None:
        if self.failed is not None:
            raise self.failed  # refuse: the last write failed and nothing is trusted
        try:
            # In the batch's own order: its keys are distinct (a dict) and LevelDB applies
            # a write batch atomically whatever its order, so sorting (a block at a
            # million accounts writes some 25,000 entries) would only cost time.
            with self._db.write_batch(sync=sync, transaction=True) as wb:
                put, delete = wb.put, wb.delete
                for key, value in batch.items():
                    if value is None:
                        delete(key)
                    else:
                        put(key, value)
        except plyvel.Error as exc:
            raise self._fault(exc) from exc
        with self._empty_lock:
            self._generation += 1
            if self._empty:
                self._forget_empty(batch)
        if self._cache_entries:
            # `_make_room` only when the cache is full: a block's batch holds a
            # thousand keys or more, each passing through here.
            cache = self._cache
            pop = cache.pop
            entries, byte_limit = self._cache_entries, self._cache_byte_limit
            for key, value in batch.items():
                if value is None:
                    # A deleted key leaves the cache rather than staying in it as None:
                    # pruning deletes state tree nodes nobody reads again (thousands a
                    # block in a big tree), which would push live entries out. A later
                    # read asks LevelDB (its bloom filters make a miss cheap) and caches
                    # the absence then.
                    old = pop(key, None)
                    if old is not None:
                        self._cache_bytes -= len(old)
                    continue
                if key in cache:
                    old = cache.get(key)  # another thread may have evicted it meanwhile
                elif key.startswith(NODE_PREFIX):
                    # State tree nodes just written are what the next block reads first
                    # (every path it updates starts at this version's root), and they
                    # never change once written (a version's node is only deleted).
                    if len(cache) >= entries or self._cache_bytes >= byte_limit:
                        self._make_room()
                    old = None
                else:
                    continue
                cache[key] = bytes(value)
                self._cache_bytes += len(value) - (0 if old is None else len(old))

    def _forget_empty(self, batch: WriteBatch) -> None:
        """Drop the cached empty prefixes the batch's keys fall under.

        A cached prefix ends in "/", so a key falls under one exactly when the key's
        first len(prefix) bytes are that prefix. The cached prefixes come in a few
        lengths (one per kind of scan), so this cuts every key at each of those
        lengths, in C, instead of at each of its "/" bytes in a Python loop: a
        block's batch holds thousands of keys (state tree nodes mostly)."""
        empty = self._empty
        lengths = {len(prefix) for prefix in empty}
        if len(lengths) <= EMPTY_PREFIX_LENGTHS_CUT:
            # A key can only fall under a cached prefix if it begins as one does over
            # the shortest length: one cut of every key finds the few that do (often
            # none), and only those are cut at the other lengths.
            shortest = min(lengths)
            heads = {prefix[:shortest] for prefix in empty}
            keys = [key for key in batch if key[:shortest] in heads]
            for length in lengths if keys else ():
                empty.difference_update({key[:length] for key in keys})
            return
        for key in batch:  # many lengths: each key's own "/" bytes are fewer
            slash = key.find(b"/")
            while slash >= 0:
                empty.discard(key[: slash + 1])
                slash = key.find(b"/", slash + 1)

    def compact(self) -> None:
        """Compact the whole store now (LevelDB frees deleted entries only when it
        compacts; it does so by itself in the background as it writes)."""
        try:
            # plyvel turns a missing bound into an empty key, and a range that ends at
            # the empty key holds nothing: LevelDB then only flushes its memtable. So
            # the range is given: it must also cover deleted keys (their values stay in
            # the tables until compacted), hence a bound above the last live key and
            # above every key of the store's ASCII namespaces. Twice: the memtable the
            # first pass flushes may land below every level that pass compacts (it
            # picks them before flushing); the second pass finds it there, and costs
            # nothing when everything already is in the last level.
            with self._db.iterator(reverse=True, include_value=False) as keys:
                stop = max(next(keys, b""), _ABOVE_NAMESPACES)
            for _ in range(2):
                self._db.compact_range(start=b"", stop=stop + b"\xff")
        except plyvel.Error as exc:
            raise self._fault(exc) from exc

    def close(self) -> None:
        if not self._db.closed:
            self._db.close()

    @property
    def closed(self) -> bool:
        return bool(self._db.closed)

    def __enter__(self) -> LevelDBStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
