"""MemoryStore and copy-on-write StateView: overlay, deletion, merged iteration, children."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import codec
from ledger.kv import MemoryStore
from ledger.state import StateView


def store_with(items: dict[bytes, bytes]) -> MemoryStore:
    store = MemoryStore()
    store.write(dict(items))
    return store


def test_memory_store_get_write_delete_len() -> None:
    store = store_with({b"a": b"1", b"b": b"2"})
    assert store.get(b"a") == b"1" and store.get(b"z") is None and len(store) == 2
    store.write({b"a": None, b"c": b"3", b"missing": None})
    assert store.get(b"a") is None and store.get(b"c") == b"3" and len(store) == 2
    store.write({b"c": b"4"})
    assert store.get(b"c") == b"4" and len(store) == 2


def test_memory_store_iterates_a_prefix_in_key_order_both_ways() -> None:
    store = store_with({b"p/2": b"b", b"p/1": b"a", b"q/1": b"x", b"p": b"0", b"o/9": b"y"})
    assert list(store.iterate(b"p/")) == [(b"p/1", b"a"), (b"p/2", b"b")]
    assert list(store.iterate(b"p/", reverse=True)) == [(b"p/2", b"b"), (b"p/1", b"a")]
    assert [k for k, _ in store.iterate(b"")] == [b"o/9", b"p", b"p/1", b"p/2", b"q/1"]
    assert list(store.iterate(b"zz")) == []


def test_view_reads_fall_through_and_writes_stay_local() -> None:
    store = store_with({b"a": b"1", b"b": b"2"})
    view = StateView(store)
    view.put(b"a", b"9")
    view.delete(b"b")
    view.put(b"c", b"3")
    assert (view.get(b"a"), view.get(b"b"), view.get(b"c")) == (b"9", None, b"3")
    assert (store.get(b"a"), store.get(b"b"), store.get(b"c")) == (b"1", b"2", None)
    assert view.write_set() == [(b"a", b"9"), (b"b", None), (b"c", b"3")]


def test_typed_helpers() -> None:
    view = StateView(MemoryStore())
    assert view.get_int(b"n") == 0 and view.get_value(b"v") is None
    view.put_int(b"n", 5)
    view.put_value(b"v", [1, b"x"])
    assert view.get_int(b"n") == 5 and view.get_value(b"v") == [1, b"x"]
    assert view.get(b"n") == codec.encode(5)
    view.put_int(b"n", 0)  # zero deletes, so empty balances leave no key behind
    assert view.get(b"n") is None and view.write_set()[0] == (b"n", None)
    view.put_value(b"t", True)
    with pytest.raises(TypeError):
        view.get_int(b"t")
    view.put_value(b"s", "text")
    with pytest.raises(TypeError):
        view.get_int(b"s")


def test_iterate_merges_base_and_local_writes() -> None:
    store = store_with({b"k/1": b"a", b"k/3": b"c", b"k/5": b"e", b"x/1": b"x"})
    view = StateView(store)
    view.put(b"k/2", b"B")  # new key between base keys
    view.put(b"k/3", b"C")  # overrides a base key
    view.delete(b"k/5")  # hides a base key
    view.put(b"k/9", b"I")  # after every base key
    view.put(b"k/0", b"Z")  # before every base key
    view.delete(b"k/7")  # deleting an absent key shows nothing
    view.put(b"y/1", b"y")  # other prefix
    expected = [(b"k/0", b"Z"), (b"k/1", b"a"), (b"k/2", b"B"), (b"k/3", b"C"), (b"k/9", b"I")]
    assert list(view.iterate(b"k/")) == expected
    assert list(view.iterate(b"k/", reverse=True)) == expected[::-1]
    assert list(view.iterate(b"x/")) == [(b"x/1", b"x")]
    assert list(view.iterate(b"y/", reverse=True)) == [(b"y/1", b"y")]


def test_iterate_when_every_base_key_is_deleted() -> None:
    view = StateView(store_with({b"k/1": b"a", b"k/2": b"b"}))
    view.delete(b"k/1")
    view.delete(b"k/2")
    assert list(view.iterate(b"k/")) == [] and list(view.iterate(b"k/", reverse=True)) == []


def test_child_merge_and_drop() -> None:
    store = store_with({b"a": b"1"})
    parent = StateView(store)
    parent.put(b"p", b"parent")
    dropped = parent.child()
    dropped.put(b"a", b"lost")
    dropped.delete(b"p")
    assert dropped.get(b"p") is None and parent.get(b"p") == b"parent"
    del dropped  # a rejected transaction's child is simply dropped
    assert parent.get(b"a") == b"1"

    kept = parent.child()
    kept.put(b"a", b"2")
    kept.delete(b"p")
    assert list(kept.iterate(b"")) == [(b"a", b"2")]
    kept.merge_into_parent()
    assert parent.get(b"a") == b"2" and parent.get(b"p") is None
    assert parent.write_set() == [(b"a", b"2"), (b"p", None)]
    assert store.get(b"a") == b"1"


def test_grandchild_reads_through_two_views() -> None:
    parent = StateView(store_with({b"a": b"1"}))
    parent.put(b"b", b"2")
    grandchild = parent.child().child()
    assert (grandchild.get(b"a"), grandchild.get(b"b")) == (b"1", b"2")
    assert list(grandchild.iterate(b"")) == [(b"a", b"1"), (b"b", b"2")]


def test_root_view_cannot_be_merged() -> None:
    with pytest.raises(TypeError):
        StateView(MemoryStore()).merge_into_parent()


# Keys over a tiny alphabet, so prefixes, shared stems, b"\xff" runs and a key
# equal to its prefix all come up.
_KEYS = st.lists(st.sampled_from([b"", b"\x00", b"\x01", b"\x02", b"\xff"]), max_size=3).map(
    b"".join
)
# One view's writes: (key, value) with None for a deletion.
_WRITES = st.lists(st.tuples(_KEYS, st.one_of(st.none(), st.binary(max_size=2))), max_size=12)


@settings(max_examples=300, deadline=None)
@given(
    base=st.dictionaries(_KEYS, st.binary(max_size=2), max_size=12),
    layers=st.lists(_WRITES, min_size=1, max_size=4),
    prefix=_KEYS,
    take=st.integers(min_value=0, max_value=14),
    ordered=st.booleans(),
)
def test_iterate_matches_a_model_through_nested_views(
    base: dict[bytes, bytes],
    layers: list[list[tuple[bytes, bytes | None]]],
    prefix: bytes,
    take: int,
    ordered: bool,
) -> None:
    """Whatever the nesting, the keys written and deleted at each level, and
    whether the view's sorted key order was already asked for (`ordered`), a
    (possibly partial) iteration gives the model's items: the base overlaid with
    each level's writes, in key order both ways."""
    model = dict(base)
    view = StateView(store_with(base))
    for depth, writes in enumerate(layers):
        if depth:
            view = view.child()
        if ordered:
            view.write_set()  # from now on this view inserts each new key in order
        for key, value in writes:
            if value is None:
                view.delete(key)
                model.pop(key, None)
            else:
                view.put(key, value)
                model[key] = value
    expected = sorted((k, v) for k, v in model.items() if k.startswith(prefix))
    assert list(view.iterate(prefix)) == expected
    assert list(view.iterate(prefix, reverse=True)) == expected[::-1]
    forward, backward = view.iterate(prefix), view.iterate(prefix, reverse=True)
    assert [item for _, item in zip(range(take), forward, strict=False)] == expected[:take]
    assert [item for _, item in zip(range(take), backward, strict=False)] == expected[::-1][:take]


def test_iterate_reads_only_what_it_produces() -> None:
    """The best order of a book is one `next`: a view holding many writes under
    the prefix does not go through them all to produce the first."""
    view = StateView(MemoryStore())
    for n in range(1000):
        view.put(b"book/" + n.to_bytes(4, "big"), b"o")
    view.write_set()
    reads = 0
    writes = view._writes  # noqa: SLF001 - counting the view's own reads of its writes

    class Counting(dict[bytes, bytes | None]):
        def __getitem__(self, key: bytes) -> bytes | None:
            nonlocal reads
            reads += 1
            return super().__getitem__(key)

    view._writes = Counting(writes)  # noqa: SLF001
    assert next(view.iterate(b"book/")) == (b"book/" + bytes(4), b"o")
    assert next(view.iterate(b"book/", reverse=True))[0] == b"book/" + (999).to_bytes(4, "big")
    assert reads == 2
