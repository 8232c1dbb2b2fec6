"""StateView keeps its written keys sorted: prefix iteration must equal a plain model.

Random puts and deletes on a parent view and on child views (merged or dropped)
over a base store; every prefix iteration, forward and reverse, must return what
a dictionary model of the merged state returns.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.kv import MemoryStore
from ledger.state import StateView

keys = st.sampled_from([b"a", b"a/1", b"a/2", b"a/10", b"ab", b"b/1", b"b/2", b"c"])
values = st.one_of(st.none(), st.binary(min_size=1, max_size=3))
writes = st.lists(st.tuples(keys, values), max_size=12)
prefixes = st.sampled_from([b"", b"a", b"a/", b"b/", b"c", b"z"])


def model_iterate(
    model: dict[bytes, bytes], prefix: bytes, reverse: bool
) -> list[tuple[bytes, bytes]]:
    items = sorted((k, v) for k, v in model.items() if k.startswith(prefix))
    return items[::-1] if reverse else items


def apply(
    view: StateView, model: dict[bytes, bytes], batch: list[tuple[bytes, bytes | None]]
) -> None:
    for key, value in batch:
        if value is None:
            view.delete(key)
            model.pop(key, None)
        else:
            view.put(key, value)
            model[key] = value


@settings(max_examples=100, deadline=None)
@given(
    base=st.dictionaries(keys, st.binary(min_size=1, max_size=3)),
    first=writes,
    children=st.lists(st.tuples(writes, st.booleans()), max_size=4),
    prefix=prefixes,
    reverse=st.booleans(),
)
def test_iterate_matches_the_model(
    base: dict[bytes, bytes],
    first: list[tuple[bytes, bytes | None]],
    children: list[tuple[list[tuple[bytes, bytes | None]], bool]],
    prefix: bytes,
    reverse: bool,
) -> None:
    store = MemoryStore()
    store.write(base)
    view = StateView(store)
    model = dict(base)
    apply(view, model, first)
    for batch, keep in children:
        child = view.child()
        child_model = dict(model)
        apply(child, child_model, batch)
        assert list(child.iterate(prefix, reverse)) == model_iterate(child_model, prefix, reverse)
        if keep:
            child.merge_into_parent()
            model = child_model
    assert list(view.iterate(prefix, reverse)) == model_iterate(model, prefix, reverse)
    assert view.write_set() == sorted(view.write_set())
