"""StateView prefix iteration over many local writes: the sorted index plus pending keys
must give exactly what a plain sorted scan gives, through merges and deletions."""

from __future__ import annotations

import random

from ledger.kv import MemoryStore
from ledger.state import StateView


def naive(
    writes: dict[bytes, bytes | None], base: dict[bytes, bytes], prefix: bytes
) -> list[tuple[bytes, bytes]]:
    merged = dict(base)
    for key, value in writes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return sorted((k, v) for k, v in merged.items() if k.startswith(prefix))


def test_many_writes_across_the_pending_limit_and_merges() -> None:
    rng = random.Random(7)
    store = MemoryStore()
    base = {f"p{rng.randrange(5)}/{i:05d}".encode(): b"b" for i in range(300)}
    store.write(base)
    root = StateView(store)
    model: dict[bytes, bytes | None] = {}
    for round_ in range(12):
        child = root.child()
        child_model: dict[bytes, bytes | None] = {}
        for _ in range(rng.randrange(1, 120)):
            key = f"p{rng.randrange(5)}/{rng.randrange(2_000):05d}".encode()
            if rng.random() < 0.2:
                child.delete(key)
                child_model[key] = None
            else:
                value = f"v{round_}".encode()
                child.put(key, value)
                child_model[key] = value
        for prefix in (b"p1/", b"p3/0", b"", b"zz"):
            combined = {**model, **child_model}
            assert list(child.iterate(prefix)) == naive(combined, base, prefix)
            assert list(child.iterate(prefix, reverse=True)) == naive(combined, base, prefix)[::-1]
        if rng.random() < 0.8:
            child.merge_into_parent()
            model.update(child_model)
        for prefix in (b"p0/", b"p4/1"):
            assert list(root.iterate(prefix)) == naive(model, base, prefix)
    assert len(model) > 256  # many more writes than one transaction makes
    assert root.write_set() == sorted(model.items())
