"""Cursor pagination over a secondary index (keys under a prefix, in key order).

A page is a list of index positions (the key bytes after the prefix) plus the
cursor to send back for the next page: the last position returned, or None
when the index has nothing after it. Positions begin with a fixed-width time,
so pages come oldest first and a cursor stays valid while new entries arrive.
"""

from __future__ import annotations

from ledger.kv import KVReader
from ledger.state import StateView

MAX_PAGE = 200


def index_page(
    reader: KVReader | StateView, prefix: bytes, cursor: bytes | None, limit: int
) -> tuple[list[bytes], bytes | None]:
    """Up to `limit` positions after `cursor` under `prefix`, and the next cursor."""
    limit = min(max(1, limit), MAX_PAGE)
    # Seek straight past the cursor (the smallest key above it is cursor + 0x00), so a
    # page costs its own length whatever its position in the index.
    start = prefix if cursor is None else prefix + cursor + b"\x00"
    positions: list[bytes] = []
    for key, _ in reader.seek(prefix, start):
        if len(positions) == limit:
            return positions, positions[-1]
        positions.append(key[len(prefix) :])
    return positions, None
