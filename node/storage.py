"""LevelDB (plyvel) implementation of the ledger's key-value interface.

Batches are applied with a single LevelDB write batch; `sync=True` makes the
write durable before it returns, which is what a commit needs. Nothing else in
the code base opens LevelDB.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import plyvel

from ledger.kv import WriteBatch


class LevelDBStore:
    """A KVStore on a LevelDB directory."""

    def __init__(self, path: str | Path, create: bool = True) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._db = plyvel.DB(str(self.path), create_if_missing=create)

    def get(self, key: bytes) -> bytes | None:
        value = self._db.get(key)
        return None if value is None else bytes(value)

    def iterate(self, prefix: bytes, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        with self._db.iterator(prefix=prefix, reverse=reverse) as iterator:
            yield from iterator

    def write(self, batch: WriteBatch, sync: bool = True) -> None:
        with self._db.write_batch(sync=sync, transaction=True) as wb:
            for key in sorted(batch):
                value = batch[key]
                if value is None:
                    wb.delete(key)
                else:
                    wb.put(key, value)

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
