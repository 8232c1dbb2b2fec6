"""The deadline index: timeouts that fire in end-of-block processing.

    deadlines/<time_ms: 8 bytes big-endian>/<kind>/<id> -> b"\\x01"

Contracts schedule an entry when an object gets a timeout (an order that must be
shipped by a time, a protection window, an arbiter's ruling deadline) and cancel
it when the object moves on before the timeout. Because the time is the leading,
fixed-width, big-endian part of the key, byte order is time order: the
end-of-block hook reads the index from the start and stops at the first entry
whose time is after the block's timestamp, so it touches due entries only and
never scans the objects themselves.

Rules (identical on every validator):
- An entry with time T is due in the first block whose timestamp is >= T.
- Due entries are processed in key order (time, then kind, then id), at most
  `MAX_DEADLINES_PER_BLOCK` per block; the rest stay in the index and are
  processed by the next blocks, oldest first.
- Each entry is removed from the index before its handler runs, and each runs on
  its own child view: a handler that raises `InvalidTransaction` leaves no writes
  behind, the entry is dropped and a `deadline.failed` event records the code.
  Handlers are written so that this cannot leave funds stuck (the parties keep
  their own ways out, see docs/contracts.md).

Handlers are registered per kind by the contract modules (`DEADLINE_HANDLERS`);
`contracts.registry` gathers them into the one hook built by `end_block_hook`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ledger.errors import InvalidTransaction
from ledger.execution import Context, Hook
from ledger.state import StateView

PREFIX = b"deadlines/"
TIME_BYTES = 8
MAX_TIME_MS = (1 << 63) - 1
MAX_DEADLINES_PER_BLOCK = 256
MAX_KIND_LENGTH = 32
PRESENT = b"\x01"


@dataclass(frozen=True, slots=True)
class Deadline:
    """One index entry: `ident` of kind `kind` times out at `time_ms`."""

    time_ms: int
    kind: str
    ident: bytes


DeadlineHandler = Callable[[Context, Deadline], None]


def _check(time_ms: int, kind: str) -> None:
    # These are programming errors of a contract, not of a transaction.
    if not 0 <= time_ms <= MAX_TIME_MS:
        raise ValueError(f"deadline time {time_ms} out of range")
    if not kind or len(kind) > MAX_KIND_LENGTH or "/" in kind or not kind.isascii():
        raise ValueError(f"bad deadline kind {kind!r}")


def deadline_key(time_ms: int, kind: str, ident: bytes) -> bytes:
    _check(time_ms, kind)
    return PREFIX + time_ms.to_bytes(TIME_BYTES, "big") + b"/" + kind.encode() + b"/" + ident


def parse_key(key: bytes) -> Deadline:
    body = key[len(PREFIX) :]
    time_ms = int.from_bytes(body[:TIME_BYTES], "big")
    kind, _, ident = body[TIME_BYTES + 1 :].partition(b"/")
    return Deadline(time_ms, kind.decode(), ident)


def schedule(state: StateView, time_ms: int, kind: str, ident: bytes) -> None:
    """Add an entry; scheduling the same (time, kind, id) twice is one entry."""
    state.put(deadline_key(time_ms, kind, ident), PRESENT)


def cancel(state: StateView, time_ms: int, kind: str, ident: bytes) -> None:
    """Remove an entry (a no-op when it is not there, e.g. already processed)."""
    state.delete(deadline_key(time_ms, kind, ident))


def is_scheduled(state: StateView, time_ms: int, kind: str, ident: bytes) -> bool:
    return state.get(deadline_key(time_ms, kind, ident)) is not None


def due(state: StateView, now_ms: int, limit: int = MAX_DEADLINES_PER_BLOCK) -> list[Deadline]:
    """The first `limit` entries with time <= now_ms, in key order."""
    entries: list[Deadline] = []
    if limit <= 0:
        return entries
    for key, _ in state.iterate(PREFIX):
        entry = parse_key(key)
        if entry.time_ms > now_ms:
            break  # keys are time-ordered: nothing after this one is due
        entries.append(entry)
        if len(entries) >= limit:
            break
    return entries


def process_due(
    ctx: Context,
    handlers: Mapping[str, DeadlineHandler],
    limit: int = MAX_DEADLINES_PER_BLOCK,
) -> int:
    """Run the handlers of due entries; returns how many entries were processed."""
    entries = due(ctx.state, ctx.block.timestamp_ms, limit)
    for entry in entries:
        ctx.state.delete(deadline_key(entry.time_ms, entry.kind, entry.ident))
        handler = handlers.get(entry.kind)
        if handler is None:
            # An entry nobody handles would otherwise sit at the head of the index forever.
            ctx.emit("deadline.failed", ("kind", entry.kind), ("id", entry.ident), ("code", ""))
            continue
        child = ctx.state.child()
        sub = Context(child, ctx.block, ctx.sender, ctx.tx_hash)
        try:
            handler(sub, entry)
        except InvalidTransaction as exc:
            ctx.emit(
                "deadline.failed", ("kind", entry.kind), ("id", entry.ident), ("code", exc.code)
            )
            continue
        child.merge_into_parent()
        ctx.events.extend(sub.events)
    return len(entries)


def end_block_hook(handlers: Mapping[str, DeadlineHandler]) -> Hook:
    """The end-of-block hook that processes due deadlines with `handlers` by kind."""
    frozen = dict(sorted(handlers.items()))

    def process_deadlines(ctx: Context) -> None:
        process_due(ctx, frozen)

    return process_deadlines
