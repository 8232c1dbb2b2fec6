"""Copy-on-write state views.

Execution never writes to the store directly: a block runs on a `StateView` over
the committed store, and each transaction on a child view that is merged into
its parent only if the transaction succeeds. A rejected transaction's child is
simply dropped, so it leaves nothing behind.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from typing import Any

from ledger import codec
from ledger.kv import KVReader, prefix_end

_DELETED = None
# Up to this many pending keys are inserted one by one; more are appended and the
# whole list sorted again (Timsort merges the two sorted runs in linear time).
_INSERT_LIMIT = 32


class StateView:
    """Reads fall through to `base`; writes stay in this view until merged.

    The written keys are also kept in a sorted list, so a prefix iteration finds
    its local writes by bisection instead of scanning every write of the block:
    contracts iterate (order books, group lookups) inside every transaction.
    Until something first needs that order (an iteration, the write-set), a key
    written for the first time only waits in `_pending`: blocks of plain
    transfers never iterate, and each write then costs one append instead of
    one sorted insert. From then on every new key is inserted in place as it is
    written, so an iteration under way sees writes exactly as it always did.
    """

    __slots__ = ("_base", "_writes", "_keys", "_pending")

    def __init__(self, base: KVReader) -> None:
        self._base = base
        self._writes: dict[bytes, bytes | None] = {}
        self._keys: list[bytes] = []
        # written keys not yet in `_keys`; None once the order has been asked for
        self._pending: list[bytes] | None = []

    def _record(self, key: bytes, value: bytes | None) -> None:
        writes = self._writes
        if key not in writes:
            pending = self._pending
            if pending is None:
                bisect.insort(self._keys, key)
            else:
                pending.append(key)
        writes[key] = value

    def _sorted_keys(self) -> list[bytes]:
        """Every written key in order; new keys are inserted in order from now on."""
        pending = self._pending
        if pending is not None:
            keys = self._keys
            if len(pending) <= _INSERT_LIMIT:
                for key in pending:
                    bisect.insort(keys, key)
            else:
                keys.extend(pending)
                keys.sort()
            self._pending = None
        return self._keys

    def get(self, key: bytes) -> bytes | None:
        writes = self._writes
        if key in writes:
            return writes[key]
        return self._base.get(key)

    def put(self, key: bytes, value: bytes) -> None:
        self._record(key, value)

    def delete(self, key: bytes) -> None:
        self._record(key, _DELETED)

    def get_value(self, key: bytes) -> Any:
        """Decode the canonical value stored at `key`, or None if absent."""
        raw = self.get(key)
        return None if raw is None else codec.decode_stored(raw)

    def put_value(self, key: bytes, value: Any) -> None:
        self.put(key, codec.encode(value))

    def get_int(self, key: bytes) -> int:
        """An integer counter or balance; absent means zero."""
        raw = self.get(key)
        if raw is None:
            return 0
        value = codec.decode_stored(raw)
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"state value at {key!r} is not an integer")
        return value

    def put_int(self, key: bytes, value: int) -> None:
        """Store an integer; zero deletes the key so empty balances leave no trace."""
        if value == 0:
            self.delete(key)
        else:
            self.put(key, codec.encode(value))

    def iterate(self, prefix: bytes, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        """Merged view of base and local writes under `prefix`, in key order.

        Lazy on both sides: reading the first n items costs n steps, not a pass
        over every key this view wrote under the prefix (an order book's best
        order is read with one `next` while the block's view holds every order
        placed before it). Callers do not write to the view while iterating it;
        if one did, nothing would be produced twice or out of order."""
        if reverse:
            yield from self._iterate_reverse(prefix)
            return
        keys = self._sorted_keys()
        writes = self._writes
        index = bisect.bisect_left(keys, prefix)
        if index == len(keys) or not keys[index].startswith(prefix):
            yield from self._base.iterate(prefix)
            return
        base_iter = self._base.iterate(prefix)
        base_item = next(base_iter, None)
        count = len(keys)
        last: bytes | None = None  # the last local key produced
        while True:
            if len(keys) != count:  # a key was written meanwhile: find our place again
                index = (
                    bisect.bisect_left(keys, prefix)
                    if last is None
                    else bisect.bisect_right(keys, last)
                )
                count = len(keys)
            local_key = keys[index] if index < count else None
            if local_key is None or not local_key.startswith(prefix):
                if base_item is not None:
                    yield base_item
                    yield from base_iter
                return
            if base_item is not None and base_item[0] < local_key:
                yield base_item
                base_item = next(base_iter, None)
                continue
            index += 1
            last = local_key
            if base_item is not None and base_item[0] == local_key:
                base_item = next(base_iter, None)
            value = writes[local_key]
            if value is not None:
                yield local_key, value

    def _iterate_reverse(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """`iterate(prefix, reverse=True)`: the same merge from the last key down."""
        keys = self._sorted_keys()
        writes = self._writes
        low = bisect.bisect_left(keys, prefix)
        end = prefix_end(prefix)
        index = (len(keys) if end is None else bisect.bisect_left(keys, end)) - 1
        if index < low:
            yield from self._base.iterate(prefix, True)
            return
        base_iter = self._base.iterate(prefix, True)
        base_item = next(base_iter, None)
        count = len(keys)
        last = keys[index] + b"\x00"  # just above the first local key produced
        while True:
            if len(keys) != count:  # a key was written meanwhile: find our place again
                index = bisect.bisect_left(keys, last) - 1
                count = len(keys)
            local_key = keys[index] if index >= 0 else None
            if local_key is None or not local_key.startswith(prefix):
                if base_item is not None:
                    yield base_item
                    yield from base_iter
                return
            if base_item is not None and base_item[0] > local_key:
                yield base_item
                base_item = next(base_iter, None)
                continue
            index -= 1
            last = local_key
            if base_item is not None and base_item[0] == local_key:
                base_item = next(base_iter, None)
            value = writes[local_key]
            if value is not None:
                yield local_key, value

    def seek(self, prefix: bytes, start: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Merged view of base and local writes under `prefix` from key `start` on,
        ascending and lazy (see KVReader.seek)."""
        keys = self._sorted_keys()
        writes = self._writes
        index = bisect.bisect_left(keys, max(prefix, start))
        base_iter = self._base.seek(prefix, start)
        base_item = next(base_iter, None)
        while True:
            local_key = keys[index] if index < len(keys) else None
            if local_key is not None and not local_key.startswith(prefix):
                local_key = None
            if local_key is None and base_item is None:
                return
            if local_key is not None and (base_item is None or local_key <= base_item[0]):
                index += 1
                if base_item is not None and base_item[0] == local_key:
                    base_item = next(base_iter, None)
                value = writes[local_key]
                if value is not None:
                    yield local_key, value
            elif base_item is not None:
                yield base_item
                base_item = next(base_iter, None)

    def child(self) -> StateView:
        return StateView(self)

    def merge_into_parent(self) -> None:
        """Apply this view's writes to the view it was created from."""
        parent = self._base
        if not isinstance(parent, StateView):
            raise TypeError("only a child view can be merged into its parent")
        writes = parent._writes
        pending = parent._pending
        keys = parent._keys
        for key, value in self._writes.items():
            if key not in writes:
                if pending is None:
                    bisect.insort(keys, key)
                else:
                    pending.append(key)
            writes[key] = value

    def write_set(self) -> list[tuple[bytes, bytes | None]]:
        """This view's writes in key order (None marks a deletion)."""
        writes = self._writes
        return [(key, writes[key]) for key in self._sorted_keys()]
