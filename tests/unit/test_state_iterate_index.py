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


def test_keys_written_without_iteration_come_out_in_order() -> None:
    # a block of transfers never iterates: its keys wait unsorted until the write-set
    rng = random.Random(11)
    store = MemoryStore()
    store.write({b"s/050": b"b", b"s/150": b"b"})
    for count in (5, 200):  # fewer and more pending keys than are inserted one by one
        view = StateView(store)
        keys = [f"s/{rng.randrange(1_000):03d}".encode() for _ in range(count)]
        for key in keys:
            child = view.child()
            child.put(key, b"v")
            child.merge_into_parent()
        expected = sorted(set(keys))
        assert [key for key, _ in view.write_set()] == expected
        after = sorted(key for key in {*expected, b"s/150"} if key >= b"s/100")
        assert [key for key, _ in view.seek(b"s/", b"s/100")] == after
        view.put(b"s/000", b"late")  # a write after the order was needed
        assert view.write_set()[0] == (b"s/000", b"late")


def test_a_lazy_iteration_sees_writes_made_ahead_of_it() -> None:
    # contracts may write while they walk a seek: keys written after the first
    # iteration are placed in order at once, as an iteration under way expects
    store = MemoryStore()
    store.write({b"p/1": b"b", b"p/3": b"b", b"p/6": b"b"})
    view = StateView(store)
    view.put(b"p/5", b"v")  # written before any iteration: pending
    walk = view.seek(b"p/", b"p/")
    assert next(walk) == (b"p/1", b"b")
    view.put(b"p/4", b"w")
    view.delete(b"p/6")
    child = view.child()
    child.put(b"p/7", b"c")
    child.merge_into_parent()
    assert list(walk) == [(b"p/3", b"b"), (b"p/4", b"w"), (b"p/5", b"v"), (b"p/7", b"c")]
