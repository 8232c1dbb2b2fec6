"""Arbiter fee schedules: what a platform charges to rule a dispute, and how fast it rules.

    arbiter/schedule/<platform> -> [fee_bps, ruling_ms, coin_bounds, updated_ms]
    coin_bounds = [[symbol, min_fee, max_fee], ...]   (sorted by symbol)

Only platforms arbitrate. A platform publishes its schedule before any order may
name it as arbiter; an order copies the schedule at the time it is placed
(`ArbiterTerms`), so later changes never alter the terms of an open order.

The fee is taken from the escrowed amount when the arbiter rules:
    fee = min(held, max_fee, max(min_fee, floor(held * fee_bps / 10000)))
where the bounds are the ones published for the order's coin (none: 0 and no cap).
`ruling_ms` is how long the arbiter has to rule after a dispute opens; after
that the escrow's default ruling applies and the arbiter earns nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contracts import args as A
from contracts.amounts import MAX_AMOUNT, check_amount, check_basis_points, share
from contracts.coin import require_asset
from contracts.roles import is_platform, require_platform
from ledger import codec
from ledger.errors import InvalidTransaction
from ledger.execution import Context, Handler
from ledger.kv import KVReader
from ledger.state import StateView

SCHEDULE_PREFIX = b"arbiter/schedule/"
MAX_ARBITER_FEE_BPS = 2_000  # an arbiter never takes more than a fifth of what it rules on
MIN_RULING_MS = 60_000
MAX_RULING_MS = 30 * 24 * 3600 * 1000
MAX_COIN_BOUNDS = 16


@dataclass(frozen=True, slots=True)
class ArbiterTerms:
    """The part of a schedule that applies to one order (copied into it at order time)."""

    fee_bps: int
    min_fee: int
    max_fee: int
    ruling_ms: int

    def fee(self, held: int) -> int:
        return min(held, self.max_fee, max(self.min_fee, share(held, self.fee_bps)))


@dataclass(frozen=True, slots=True)
class Schedule:
    arbiter: bytes
    fee_bps: int
    ruling_ms: int
    coin_bounds: tuple[tuple[str, int, int], ...]
    updated_ms: int

    def terms_for(self, symbol: str) -> ArbiterTerms:
        for bound_symbol, min_fee, max_fee in self.coin_bounds:
            if bound_symbol == symbol:
                return ArbiterTerms(self.fee_bps, min_fee, max_fee, self.ruling_ms)
        return ArbiterTerms(self.fee_bps, 0, MAX_AMOUNT, self.ruling_ms)

    def to_json(self) -> dict[str, Any]:
        return {
            "arbiter": self.arbiter.hex(),
            "fee_bps": self.fee_bps,
            "ruling_ms": self.ruling_ms,
            "coin_bounds": [
                {"symbol": s, "min_fee": lo, "max_fee": hi} for s, lo, hi in self.coin_bounds
            ],
            "updated_ms": self.updated_ms,
        }


def schedule_key(arbiter: bytes) -> bytes:
    return SCHEDULE_PREFIX + arbiter


def load_schedule(reader: StateView | KVReader, arbiter: bytes) -> Schedule | None:
    raw = reader.get(schedule_key(arbiter))
    if raw is None:
        return None
    fee_bps, ruling_ms, bounds, updated_ms = codec.decode(raw)
    return Schedule(
        arbiter,
        fee_bps,
        ruling_ms,
        tuple((str(s), int(lo), int(hi)) for s, lo, hi in bounds),
        updated_ms,
    )


def available_terms(state: StateView, arbiter: bytes, symbol: str) -> ArbiterTerms:
    """The terms an order in `symbol` gets from `arbiter` now, or `arbiter_unavailable`."""
    schedule = load_schedule(state, arbiter)
    if schedule is None or not is_platform(state, arbiter):
        raise InvalidTransaction(
            "arbiter_unavailable", "the arbiter is not a platform with a published fee schedule"
        )
    return schedule.terms_for(symbol)


def _coin_bounds(state: StateView, value: Any) -> list[list[Any]]:
    if not isinstance(value, list) or len(value) > MAX_COIN_BOUNDS:
        raise InvalidTransaction(
            "bad_args", f"coin bounds must be a list of at most {MAX_COIN_BOUNDS} entries"
        )
    bounds: list[list[Any]] = []
    seen: set[str] = set()
    for item in value:
        symbol, min_fee, max_fee = A.unpack(item, ("symbol", "min_fee", "max_fee"))
        asset = require_asset(state, symbol)
        min_fee = check_amount(min_fee, "min_fee", allow_zero=True)
        max_fee = check_amount(max_fee, "max_fee", allow_zero=True)
        if min_fee > max_fee:
            raise InvalidTransaction(
                "bad_fee_bounds", f"min_fee {min_fee} exceeds max_fee {max_fee} for {symbol}"
            )
        if asset.symbol in seen:
            raise InvalidTransaction("bad_args", f"coin {asset.symbol} is bounded twice")
        seen.add(asset.symbol)
        bounds.append([asset.symbol, min_fee, max_fee])
    bounds.sort()
    return bounds


def publish(ctx: Context, args: tuple[Any, ...]) -> None:
    """arbiter.publish(fee_bps, ruling_ms[, coin_bounds]): a platform's (new) schedule."""
    fee_bps, ruling_ms, bounds = A.unpack(args, ("fee_bps", "ruling_ms", "coin_bounds"), 1)
    require_platform(ctx.state, ctx.sender, "the arbiter")
    fee_bps = check_basis_points(fee_bps, "fee_bps", MAX_ARBITER_FEE_BPS)
    if isinstance(ruling_ms, bool) or not isinstance(ruling_ms, int):
        raise InvalidTransaction("bad_args", "ruling_ms must be an integer")
    if not MIN_RULING_MS <= ruling_ms <= MAX_RULING_MS:
        raise InvalidTransaction(
            "bad_window", f"ruling_ms must be {MIN_RULING_MS}..{MAX_RULING_MS} ms"
        )
    coin_bounds = _coin_bounds(ctx.state, [] if bounds is None else bounds)
    ctx.state.put_value(
        schedule_key(ctx.sender), [fee_bps, ruling_ms, coin_bounds, ctx.block.timestamp_ms]
    )
    ctx.emit(
        "arbiter.published",
        ("arbiter", ctx.sender),
        ("fee_bps", fee_bps),
        ("ruling_ms", ruling_ms),
        ("coin_bounds", coin_bounds),
    )


def retire(ctx: Context, args: tuple[Any, ...]) -> None:
    """arbiter.retire(): take no new orders; open orders keep their terms and arbiter."""
    A.unpack(args, ())
    if load_schedule(ctx.state, ctx.sender) is None:
        raise InvalidTransaction("no_schedule", "the sender has no published fee schedule")
    ctx.state.delete(schedule_key(ctx.sender))
    ctx.emit("arbiter.retired", ("arbiter", ctx.sender))


HANDLERS: dict[str, Handler] = {
    "arbiter.publish": publish,
    "arbiter.retire": retire,
}
