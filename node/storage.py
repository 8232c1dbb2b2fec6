"""LevelDB (plyvel) implementation of the ledger's key-value interface.

Batches are applied with a single LevelDB write batch; `sync=True` makes the
write durable before it returns, which is what a commit needs. Nothing else in
the code base opens LevelDB.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import plyvel

from ledger.kv import WriteBatch, prefix_end
from ledger.state_tree import NODE_PREFIX

CACHE_BYTES = 64 * 1024 * 1024
WRITE_BUFFER_BYTES = 16 * 1024 * 1024
READ_CACHE_ENTRIES = 1 << 18


class LevelDBStore:
    """A KVStore on a LevelDB directory."""

    def __init__(
        self, path: str | Path, create: bool = True, cache_entries: int = READ_CACHE_ENTRIES
    ) -> None:
        self.path = Path(path)
        # Read cache in front of LevelDB (write-through, so it never goes stale: this
        # object is the only writer). Execution reads the same few keys per transfer
        # (nonce, asset, two balances); a dict hit is far cheaper than a LevelDB get.
        self._cache: dict[bytes, bytes | None] = {}
        self._cache_entries = cache_entries
        self.path.mkdir(parents=True, exist_ok=True)
        # Bloom filters make the common miss (is this tx hash already committed?) cheap;
        # the block cache keeps hot balances and nonces in memory.
        self._db = plyvel.DB(
            str(self.path),
            create_if_missing=create,
            bloom_filter_bits=10,
            lru_cache_size=CACHE_BYTES,
            write_buffer_size=WRITE_BUFFER_BYTES,
        )

    def get(self, key: bytes) -> bytes | None:
        try:
            return self._cache[key]
        except KeyError:
            pass
        raw = self._db.get(key)
        value = None if raw is None else bytes(raw)
        if self._cache_entries:
            if len(self._cache) >= self._cache_entries:
                self._cache.clear()  # crude but bounded; hot keys come back at once
            self._cache[key] = value
        return value

    def iterate(self, prefix: bytes, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        with self._db.iterator(prefix=prefix, reverse=reverse) as iterator:
            yield from iterator

    def seek(self, prefix: bytes, start: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Keys under `prefix` from `start` on: one LevelDB seek, then a forward scan."""
        stop = prefix_end(prefix)
        with self._db.iterator(start=max(prefix, start), stop=stop) as iterator:
            yield from iterator

    def write(self, batch: WriteBatch, sync: bool = True) -> None:
        with self._db.write_batch(sync=sync, transaction=True) as wb:
            for key in sorted(batch):
                value = batch[key]
                if value is None:
                    wb.delete(key)
                else:
                    wb.put(key, value)
        if self._cache_entries:
            cache = self._cache
            for key, value in batch.items():
                if key in cache:
                    cache[key] = None if value is None else bytes(value)
                elif value is not None and key.startswith(NODE_PREFIX):
                    # State tree nodes just written are what the next block reads first
                    # (every path it updates starts at this version's root), and they
                    # never change once written (a version's node is only deleted).
                    if len(cache) >= self._cache_entries:
                        cache.clear()
                    cache[key] = bytes(value)

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
