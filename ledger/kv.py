"""The key-value interface state lives behind, and an in-memory store for tests.

A store gets keys, iterates a key range in byte order, seeks to a key inside a
prefix and reads on from there (so a page deep into an index costs the page, not
its position), and applies a write batch atomically (a value of None deletes).
The LevelDB implementation lives in the node layer (`node/storage.py`), so the
ledger itself never touches disk.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping
from typing import Protocol

WriteBatch = Mapping[bytes, bytes | None]


def prefix_end(prefix: bytes) -> bytes | None:
    """The smallest key above every key starting with `prefix` (None: no such key)."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return None
    return trimmed[:-1] + bytes([trimmed[-1] + 1])


class KVReader(Protocol):
    def get(self, key: bytes) -> bytes | None: ...

    def iterate(self, prefix: bytes, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        """Every (key, value) whose key starts with `prefix`, in key order."""
        ...

    def seek(self, prefix: bytes, start: bytes) -> Iterator[tuple[bytes, bytes]]:
        """The (key, value) pairs under `prefix` whose key is >= `start`, ascending,
        produced lazily: reading n of them costs O(log size + n)."""
        ...


class KVStore(KVReader, Protocol):
    def write(self, batch: WriteBatch, sync: bool = True) -> None:
        """Apply all puts and deletes at once, or none of them."""
        ...


class MemoryStore:
    """A sorted in-memory KVStore, for unit tests and simulations."""

    def __init__(self) -> None:
        self._data: dict[bytes, bytes] = {}
        self._keys: list[bytes] = []

    def get(self, key: bytes) -> bytes | None:
        return self._data.get(key)

    def iterate(self, prefix: bytes, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        start = bisect.bisect_left(self._keys, prefix)
        matched: list[tuple[bytes, bytes]] = []
        for index in range(start, len(self._keys)):
            key = self._keys[index]
            if not key.startswith(prefix):
                break
            matched.append((key, self._data[key]))
        if reverse:
            matched.reverse()
        return iter(matched)

    def seek(self, prefix: bytes, start: bytes) -> Iterator[tuple[bytes, bytes]]:
        keys = self._keys
        index = bisect.bisect_left(keys, max(prefix, start))
        while index < len(keys):
            key = keys[index]
            if not key.startswith(prefix):
                return
            yield key, self._data[key]
            # Re-find the position: a write between two items may have shifted the list.
            index = bisect.bisect_right(keys, key)

    def write(self, batch: WriteBatch, sync: bool = True) -> None:
        for key in sorted(batch):
            value = batch[key]
            if value is None:
                if key in self._data:
                    del self._data[key]
                    self._keys.pop(bisect.bisect_left(self._keys, key))
            else:
                if key not in self._data:
                    bisect.insort(self._keys, key)
                self._data[key] = bytes(value)

    def __len__(self) -> int:
        return len(self._data)
