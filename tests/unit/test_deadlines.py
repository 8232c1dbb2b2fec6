"""The deadline index: key order is time order, only due entries are touched, bounded per
block, failures are contained and recorded."""

from __future__ import annotations

import pytest

from contracts import deadlines
from contracts.deadlines import Deadline
from ledger.errors import InvalidTransaction
from ledger.execution import BlockInfo, Context
from ledger.kv import MemoryStore
from ledger.state import StateView

ID_A = b"A" * 32
ID_B = b"B" * 32


def context(state: StateView, now_ms: int) -> Context:
    return Context(state, BlockInfo("t", 1, now_ms, bytes(32)), bytes(32), bytes(32))


def test_keys_sort_by_time_even_across_byte_lengths() -> None:
    # 255 < 256 needs a fixed-width big-endian time, or byte order would differ.
    times = [256, 255, 1, 2**40, 65_536]
    keys = sorted(deadlines.deadline_key(t, "k", ID_A) for t in times)
    assert [deadlines.parse_key(k).time_ms for k in keys] == sorted(times)
    assert deadlines.parse_key(deadlines.deadline_key(7, "escrow.ship", ID_B)) == Deadline(
        7, "escrow.ship", ID_B
    )


def test_due_stops_at_first_future_entry_and_respects_limit() -> None:
    state = StateView(MemoryStore())
    for t in (10, 20, 30, 40):
        deadlines.schedule(state, t, "k", ID_A)
    assert [d.time_ms for d in deadlines.due(state, 25)] == [10, 20]
    assert [d.time_ms for d in deadlines.due(state, 30)] == [10, 20, 30]
    assert [d.time_ms for d in deadlines.due(state, 100, limit=3)] == [10, 20, 30]
    assert deadlines.due(state, 9) == []
    assert deadlines.due(state, 100, limit=0) == []


class ReadCountingStore(MemoryStore):
    """Counts how many index entries an iteration actually yields to its consumer."""

    def __init__(self) -> None:
        super().__init__()
        self.yielded = 0

    def iterate(self, prefix: bytes, reverse: bool = False):  # type: ignore[no-untyped-def]
        for item in super().iterate(prefix, reverse):
            self.yielded += 1
            yield item


def test_only_due_entries_are_read() -> None:
    store = ReadCountingStore()
    view = StateView(store)
    for t in range(1, 1001):
        deadlines.schedule(view, t * 1000, "k", ID_A)
    store.write(dict(view.write_set()))
    state = StateView(store)
    deadlines.due(state, 3_000)
    assert store.yielded == 4  # three due entries and the first one that is not


def test_same_time_entries_run_in_kind_then_id_order() -> None:
    state = StateView(MemoryStore())
    seen: list[tuple[str, bytes]] = []
    deadlines.schedule(state, 5, "b", ID_A)
    deadlines.schedule(state, 5, "a", ID_B)
    deadlines.schedule(state, 5, "a", ID_A)

    def handler(ctx: Context, entry: Deadline) -> None:
        seen.append((entry.kind, entry.ident))

    deadlines.process_due(context(state, 5), {"a": handler, "b": handler})
    assert seen == [("a", ID_A), ("a", ID_B), ("b", ID_A)]
    assert deadlines.due(state, 10**12) == []


def test_processing_is_bounded_and_the_rest_waits_for_the_next_block() -> None:
    state = StateView(MemoryStore())
    for i in range(5):
        deadlines.schedule(state, i, "k", bytes([i]) * 32)
    processed: list[int] = []

    def handler(ctx: Context, entry: Deadline) -> None:
        processed.append(entry.time_ms)

    assert deadlines.process_due(context(state, 100), {"k": handler}, limit=2) == 2
    assert processed == [0, 1]
    assert deadlines.process_due(context(state, 100), {"k": handler}, limit=2) == 2
    assert deadlines.process_due(context(state, 100), {"k": handler}, limit=2) == 1
    assert processed == [0, 1, 2, 3, 4]


def test_cancel_removes_and_reschedule_is_idempotent() -> None:
    state = StateView(MemoryStore())
    deadlines.schedule(state, 5, "k", ID_A)
    deadlines.schedule(state, 5, "k", ID_A)
    assert len(deadlines.due(state, 5)) == 1
    assert deadlines.is_scheduled(state, 5, "k", ID_A)
    deadlines.cancel(state, 5, "k", ID_A)
    deadlines.cancel(state, 5, "k", ID_A)
    assert deadlines.due(state, 5) == []


def test_failing_handler_leaves_no_writes_and_is_recorded() -> None:
    state = StateView(MemoryStore())
    deadlines.schedule(state, 1, "bad", ID_A)
    deadlines.schedule(state, 2, "good", ID_B)
    deadlines.schedule(state, 3, "nobody", ID_B)

    def bad(ctx: Context, entry: Deadline) -> None:
        ctx.state.put(b"x/bad", b"1")
        ctx.emit("bad.ran")
        raise InvalidTransaction("boom", "refused")

    def good(ctx: Context, entry: Deadline) -> None:
        ctx.state.put(b"x/good", b"1")
        ctx.emit("good.ran")

    ctx = context(state, 10)
    deadlines.process_due(ctx, {"bad": bad, "good": good})
    assert state.get(b"x/bad") is None
    assert state.get(b"x/good") == b"1"
    names = [(e.name, dict(e.attributes).get("code")) for e in ctx.events]
    assert names == [("deadline.failed", "boom"), ("good.ran", None), ("deadline.failed", "")]
    assert deadlines.due(state, 10) == []


@pytest.mark.parametrize("kind", ["", "a/b", "x" * 33, "é"])
def test_bad_kinds_are_programming_errors(kind: str) -> None:
    with pytest.raises(ValueError):
        deadlines.deadline_key(1, kind, ID_A)


def test_registry_hook_runs_before_other_hooks() -> None:
    from contracts.registry import APPLICATION

    assert APPLICATION.end_block_hooks[0].__name__ == "process_deadlines"
