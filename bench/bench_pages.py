"""Paged queries deep into an index: a page at position 100,000 of a seller's listings.

Writes N listings of one seller straight into a LevelDB store (the records and the
seller index exactly as `listing.create` lays them out; building them through
transactions would only make the setup slower), then times one page of 50 read
from the start, from the middle and at position N - 50 with the cursor a previous
page returned. Each page is read with the ordered seek the queries use
(`contracts.pages.index_page`) and, for comparison, with a scan from the start of
the index that skips everything up to the cursor (what paging cost before the
seek). Prints the median of the runs in milliseconds.

Run from the repository root:  python bench/bench_pages.py [--listings N] [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.benchchain import seeded_key  # noqa: E402
from contracts import listing as L  # noqa: E402
from contracts.pages import MAX_PAGE  # noqa: E402
from ledger import codec  # noqa: E402
from ledger.kv import KVReader  # noqa: E402
from node.storage import LevelDBStore  # noqa: E402

PAGE = 50
START_MS = 1_700_000_000_000


def build(store: LevelDBStore, seller: bytes, count: int) -> list[bytes]:
    """`count` listings of `seller`, one per millisecond; returns the index positions."""
    positions = []
    batch: dict[bytes, bytes | None] = {}
    arbiter = seeded_key("arbiter", 0).public_key
    for n in range(count):
        listing_id = n.to_bytes(32, "big")
        created = START_MS + n
        record = L.Listing(
            listing_id, seller, f"item {n}", f"SKU-{n}", 10_000, "IDRX", 5, None,
            (arbiter,), 86_400_000, 86_400_000, None, L.ACTIVE, created, created, 0,
        )  # fmt: skip
        batch[L.item_key(listing_id)] = codec.encode(record.to_list())
        key = L.seller_index_key(seller, created, listing_id)
        batch[key] = b"\x01"
        positions.append(key[len(L.BY_SELLER_PREFIX) + len(seller) + 1 :])
        if len(batch) >= 20_000:
            store.write(batch, sync=False)
            batch = {}
    store.write(batch, sync=True)
    return positions


def scan_page(
    reader: KVReader, prefix: bytes, cursor: bytes | None, limit: int
) -> tuple[list[bytes], bytes | None]:
    """The pre-seek way: iterate the index from its start, skipping up to the cursor."""
    positions: list[bytes] = []
    for key, _ in reader.iterate(prefix):
        position = key[len(prefix) :]
        if cursor is not None and position <= cursor:
            continue
        if len(positions) == min(limit, MAX_PAGE):
            return positions, positions[-1]
        positions.append(position)
    return positions, None


def median_ms(runs: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=100_050)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    seller = seeded_key("seller", 0).public_key
    prefix = L.BY_SELLER_PREFIX + seller + b"/"
    with tempfile.TemporaryDirectory() as tmp, LevelDBStore(Path(tmp) / "db") as store:
        started = time.perf_counter()
        positions = build(store, seller, options.listings)
        print(f"{options.listings:,} listings written in {time.perf_counter() - started:.1f} s")
        deep = options.listings - PAGE
        print(f"{'page of 50 at position':>24} {'seek (ms)':>10} {'scan (ms)':>10}")
        for position in (0, options.listings // 2, deep):
            cursor = positions[position - 1] if position else None

            def seek_page(cursor: bytes | None = cursor) -> object:
                return L.listings_by_seller(store, seller, cursor, PAGE)

            def old_page(cursor: bytes | None = cursor) -> object:
                ids, _ = scan_page(store, prefix, cursor, PAGE)
                return [L.load_listing(store, p[8:]) for p in ids]

            page, _ = L.listings_by_seller(store, seller, cursor, PAGE)
            assert len(page) == PAGE and page[0].title == f"item {position}"
            fast = median_ms(options.runs, seek_page)
            slow = median_ms(options.runs, old_page)
            print(f"{position:>24,} {fast:>10.2f} {slow:>10.2f}")


if __name__ == "__main__":
    main()
