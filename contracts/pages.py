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
    positions: list[bytes] = []
    # The KV interface iterates by prefix only, so earlier positions are skipped here.
    for key, _ in reader.iterate(prefix):
        position = key[len(prefix) :]
        if cursor is not None and position <= cursor:
            continue
        if len(positions) == limit:
            return positions, positions[-1]
        positions.append(position)
    return positions, None
