"""Redemption: merchants cash platform coins out to fiat through the issuing platform.

A platform coin is backed by rupiah the platform holds. A holder asks the coin's
issuing platform to pay it out: the coins wait in REDEMPTION_VAULT until the
platform either settles (it paid the fiat off-chain: the coins are burned) or
rejects (they go back). A request the platform leaves alone goes back by itself
at the deadline the platform published, through the deadline index.

    redeem/terms/<platform>                      -> deadline_ms (how long it has to pay)
    redeem/item/<id>                             -> Redemption.to_list()
    redeem/by-requester/<account>/<created:8><id> -> b"\\x01"
    redeem/stats/<platform>                      -> PlatformStats.to_list()
    redeem/coin/<symbol>                         -> [burned_by_redemption, outstanding]
    redeem/median/<platform>/lo/<MAX - ms:8><id> -> b"\\x01"  (lower half of settle times)
    redeem/median/<platform>/hi/<ms:8><id>       -> b"\\x01"  (upper half)
    redeem/attest/<symbol>/<period:8>            -> [hash, uri, time_ms, supply]

The median settle time is kept exactly with two halves of the settle times (a
two-heap median on ordered keys): each settle inserts one time and moves at most
one entry across, so the work is O(log n) and the median is read from the first
key of each half. With an even count it is the floor of the mean of the middle
two; integers throughout.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from contracts import args as A
from contracts import deadlines
from contracts.amounts import check_amount, checked_add
from contracts.coin import Asset, burn_from, load_asset, move, require_asset
from contracts.deadlines import Deadline, DeadlineHandler
from contracts.pages import index_page
from contracts.roles import require_platform
from contracts.vaults import REDEMPTION_VAULT
from ledger import codec
from ledger.errors import InvalidTransaction
from ledger.execution import Context, Handler
from ledger.hashing import tagged_hash
from ledger.kv import KVReader
from ledger.state import StateView

TERMS_PREFIX = b"redeem/terms/"
ITEM_PREFIX = b"redeem/item/"
BY_REQUESTER_PREFIX = b"redeem/by-requester/"
STATS_PREFIX = b"redeem/stats/"
COIN_PREFIX = b"redeem/coin/"
MEDIAN_PREFIX = b"redeem/median/"
ATTEST_PREFIX = b"redeem/attest/"
ID_DOMAIN = b"pasar/redemption"
RETURN_DEADLINE = "redeem.return"
MIN_DEADLINE_MS = 3_600_000  # an hour
MAX_DEADLINE_MS = 30 * 24 * 3_600_000  # 30 days
MAX_REASON = 256
MAX_URI = 256
TIME_TOP = (1 << 64) - 1  # lower-half keys store TIME_TOP - ms so the largest sorts first

PENDING = "pending"
SETTLED = "settled"
REJECTED = "rejected"
RETURNED = "returned"  # the platform let the deadline pass


@dataclass(frozen=True, slots=True)
class Redemption:
    id: bytes
    requester: bytes
    symbol: str
    platform: bytes
    amount: int
    payout_ref: bytes  # hash of the bank details the fiat goes to (kept off-chain)
    state: str
    created_ms: int
    due_ms: int
    closed_ms: int
    bank_ref: bytes | None  # hash of the platform's bank transfer reference, once settled
    reason: str

    def to_list(self) -> list[Any]:
        return [
            self.requester,
            self.symbol,
            self.platform,
            self.amount,
            self.payout_ref,
            self.state,
            self.created_ms,
            self.due_ms,
            self.closed_ms,
            self.bank_ref,
            self.reason,
        ]

    @staticmethod
    def from_list(redemption_id: bytes, value: list[Any]) -> Redemption:
        return Redemption(redemption_id, *value)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id.hex(),
            "requester": self.requester.hex(),
            "symbol": self.symbol,
            "platform": self.platform.hex(),
            "amount": self.amount,
            "payout_ref": self.payout_ref.hex(),
            "state": self.state,
            "created_ms": self.created_ms,
            "due_ms": self.due_ms,
            "closed_ms": self.closed_ms,
            "bank_ref": None if self.bank_ref is None else self.bank_ref.hex(),
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class PlatformStats:
    outstanding_count: int = 0
    outstanding_amount: int = 0  # summed over the platform's coins, in minor units
    settled_count: int = 0
    settled_volume: int = 0
    rejected_count: int = 0
    returned_count: int = 0
    lower_count: int = 0  # settle times in the lower half of the median structure
    upper_count: int = 0

    def to_list(self) -> list[int]:
        return [
            self.outstanding_count,
            self.outstanding_amount,
            self.settled_count,
            self.settled_volume,
            self.rejected_count,
            self.returned_count,
            self.lower_count,
            self.upper_count,
        ]


# --- state access --------------------------------------------------------------------------


def redemption_id_for(tx_hash: bytes) -> bytes:
    return tagged_hash(ID_DOMAIN, tx_hash)


def load_redemption(reader: StateView | KVReader, redemption_id: bytes) -> Redemption | None:
    raw = reader.get(ITEM_PREFIX + redemption_id)
    return None if raw is None else Redemption.from_list(redemption_id, codec.decode(raw))


def _save(state: StateView, item: Redemption) -> None:
    state.put_value(ITEM_PREFIX + item.id, item.to_list())


def terms_ms(reader: StateView | KVReader, platform: bytes) -> int | None:
    """How long the platform gives itself to pay a request (None: it takes none)."""
    raw = reader.get(TERMS_PREFIX + platform)
    return None if raw is None else int(codec.decode(raw))


def platform_stats(reader: StateView | KVReader, platform: bytes) -> PlatformStats:
    raw = reader.get(STATS_PREFIX + platform)
    return PlatformStats() if raw is None else PlatformStats(*codec.decode(raw))


def _save_stats(state: StateView, platform: bytes, stats: PlatformStats) -> None:
    state.put_value(STATS_PREFIX + platform, stats.to_list())


def coin_totals(reader: StateView | KVReader, symbol: str) -> tuple[int, int]:
    """(burned by redemption, outstanding in redemption) of a coin."""
    raw = reader.get(COIN_PREFIX + symbol.encode())
    if raw is None:
        return 0, 0
    burned, outstanding = codec.decode(raw)
    return int(burned), int(outstanding)


def _add_coin_totals(state: StateView, symbol: str, burned: int, outstanding: int) -> None:
    old_burned, old_outstanding = coin_totals(state, symbol)
    state.put_value(
        COIN_PREFIX + symbol.encode(), [old_burned + burned, old_outstanding + outstanding]
    )


# --- the median of settle times ------------------------------------------------------------


def _half_prefix(platform: bytes, half: bytes) -> bytes:
    return MEDIAN_PREFIX + platform + b"/" + half + b"/"


def _half_key(platform: bytes, half: bytes, duration_ms: int, ident: bytes) -> bytes:
    stored = TIME_TOP - duration_ms if half == b"lo" else duration_ms
    return _half_prefix(platform, half) + stored.to_bytes(8, "big") + ident


def _top(reader: StateView | KVReader, platform: bytes, half: bytes) -> tuple[int, bytes] | None:
    """The largest time of the lower half or the smallest of the upper half, with its id."""
    prefix = _half_prefix(platform, half)
    first = next(reader.seek(prefix, prefix), None)
    if first is None:
        return None
    stored = int.from_bytes(first[0][len(prefix) : len(prefix) + 8], "big")
    ident = first[0][len(prefix) + 8 :]
    return (TIME_TOP - stored if half == b"lo" else stored), ident


def _move_top(state: StateView, platform: bytes, source: bytes, target: bytes) -> None:
    top = _top(state, platform, source)
    if top is None:  # the counts say otherwise; they are kept with the keys
        raise InvalidTransaction("corrupt_median", "the settle-time index is inconsistent")
    duration, ident = top
    state.delete(_half_key(platform, source, duration, ident))
    state.put(_half_key(platform, target, duration, ident), b"\x01")


def _insert_settle_time(
    state: StateView, platform: bytes, stats: PlatformStats, duration_ms: int, ident: bytes
) -> PlatformStats:
    lower_top = _top(state, platform, b"lo")
    lower, upper = stats.lower_count, stats.upper_count
    if lower_top is None or duration_ms <= lower_top[0]:
        state.put(_half_key(platform, b"lo", duration_ms, ident), b"\x01")
        lower += 1
    else:
        state.put(_half_key(platform, b"hi", duration_ms, ident), b"\x01")
        upper += 1
    # Keep lower == upper or lower == upper + 1, so the median sits at the halves' tops.
    if lower > upper + 1:
        _move_top(state, platform, b"lo", b"hi")
        lower, upper = lower - 1, upper + 1
    elif upper > lower:
        _move_top(state, platform, b"hi", b"lo")
        lower, upper = lower + 1, upper - 1
    return replace(stats, lower_count=lower, upper_count=upper)


def median_settle_ms(reader: StateView | KVReader, platform: bytes) -> int | None:
    """The median time from request to settlement (None before the first settlement);
    with an even count, the floor of the mean of the middle two."""
    stats = platform_stats(reader, platform)
    lower_top = _top(reader, platform, b"lo")
    if lower_top is None:
        return None
    if stats.lower_count > stats.upper_count:
        return lower_top[0]
    upper_top = _top(reader, platform, b"hi")
    if upper_top is None:
        return lower_top[0]
    return (lower_top[0] + upper_top[0]) // 2


# --- handlers ------------------------------------------------------------------------------


def _platform_coin(state: StateView, symbol: Any) -> Asset:
    asset = require_asset(state, symbol)
    if asset.policy != "platform":
        raise InvalidTransaction(
            "not_platform_coin", f"{asset.symbol} is not a platform coin: nobody redeems it"
        )
    return asset


def set_terms(ctx: Context, args: tuple[Any, ...]) -> None:
    """redeem.set_terms(deadline_ms): a platform publishes how long it takes at most to
    pay a redemption of its coins; requests made from now on are returned at that
    deadline if it has not settled or rejected them."""
    (deadline_ms,) = A.unpack(args, ("deadline_ms",))
    require_platform(ctx.state, ctx.sender, "sender")
    deadline_ms = A.integer(deadline_ms, "deadline_ms")
    if not MIN_DEADLINE_MS <= deadline_ms <= MAX_DEADLINE_MS:
        raise InvalidTransaction(
            "bad_window", f"deadline_ms must be {MIN_DEADLINE_MS}..{MAX_DEADLINE_MS}"
        )
    ctx.state.put_int(TERMS_PREFIX + ctx.sender, deadline_ms)
    ctx.emit("redeem.terms_set", ("platform", ctx.sender), ("deadline_ms", deadline_ms))


def request(ctx: Context, args: tuple[Any, ...]) -> None:
    """redeem.request(symbol, amount, payout_ref_hash): lock coins for a fiat payout."""
    symbol, amount, payout_ref = A.unpack(args, ("symbol", "amount", "payout_ref_hash"))
    asset = _platform_coin(ctx.state, symbol)
    amount = check_amount(amount)
    payout_ref = A.digest(payout_ref, "payout_ref_hash")
    platform = asset.issuer
    window = terms_ms(ctx.state, platform)
    if window is None:
        raise InvalidTransaction(
            "no_redemption_terms", "the issuing platform has not published redemption terms"
        )
    if ctx.sender == platform:
        raise InvalidTransaction("self_redemption", "the issuer burns its own coins directly")
    now = ctx.block.timestamp_ms
    item = Redemption(
        id=redemption_id_for(ctx.tx_hash),
        requester=ctx.sender,
        symbol=asset.symbol,
        platform=platform,
        amount=amount,
        payout_ref=payout_ref,
        state=PENDING,
        created_ms=now,
        due_ms=min(now + window, deadlines.MAX_TIME_MS),
        closed_ms=0,
        bank_ref=None,
        reason="",
    )
    move(ctx.state, asset.symbol, ctx.sender, REDEMPTION_VAULT, amount)
    _save(ctx.state, item)
    position = now.to_bytes(8, "big") + item.id
    ctx.state.put(BY_REQUESTER_PREFIX + ctx.sender + b"/" + position, b"\x01")
    stats = platform_stats(ctx.state, platform)
    _save_stats(
        ctx.state,
        platform,
        replace(
            stats,
            outstanding_count=stats.outstanding_count + 1,
            outstanding_amount=checked_add(stats.outstanding_amount, amount, "outstanding"),
        ),
    )
    _add_coin_totals(ctx.state, asset.symbol, 0, amount)
    deadlines.schedule(ctx.state, item.due_ms, RETURN_DEADLINE, item.id)
    _emit(ctx, "redeem.requested", item, ("payout_ref", payout_ref), ("due_ms", item.due_ms))


def _require_pending_for_issuer(ctx: Context, redemption_id: Any) -> Redemption:
    redemption_id = A.digest(redemption_id, "redemption id")
    item = load_redemption(ctx.state, redemption_id)
    if item is None:
        raise InvalidTransaction("unknown_redemption", "no redemption with this id")
    if ctx.sender != item.platform:
        raise InvalidTransaction("not_issuer", "only the coin's issuing platform decides")
    if item.state != PENDING:
        raise InvalidTransaction("redemption_closed", f"the redemption is already {item.state}")
    if ctx.block.timestamp_ms >= item.due_ms:
        raise InvalidTransaction(
            "redemption_deadline_passed", "the deadline passed: the coins go back by themselves"
        )
    return item


def _close(ctx: Context, item: Redemption, state: str, **changes: Any) -> Redemption:
    """End a pending request: drop its deadline and take it out of the outstanding totals."""
    deadlines.cancel(ctx.state, item.due_ms, RETURN_DEADLINE, item.id)
    closed = replace(item, state=state, closed_ms=ctx.block.timestamp_ms, **changes)
    _save(ctx.state, closed)
    stats = platform_stats(ctx.state, item.platform)
    stats = replace(
        stats,
        outstanding_count=stats.outstanding_count - 1,
        outstanding_amount=stats.outstanding_amount - item.amount,
    )
    if state == SETTLED:
        stats = replace(
            stats,
            settled_count=stats.settled_count + 1,
            settled_volume=checked_add(stats.settled_volume, item.amount, "settled volume"),
        )
        stats = _insert_settle_time(
            ctx.state, item.platform, stats, closed.closed_ms - item.created_ms, item.id
        )
    elif state == REJECTED:
        stats = replace(stats, rejected_count=stats.rejected_count + 1)
    else:
        stats = replace(stats, returned_count=stats.returned_count + 1)
    _save_stats(ctx.state, item.platform, stats)
    burned = item.amount if state == SETTLED else 0
    _add_coin_totals(ctx.state, item.symbol, burned, -item.amount)
    return closed


def settle(ctx: Context, args: tuple[Any, ...]) -> None:
    """redeem.settle(id, bank_ref_hash): the platform paid the fiat; the coins are burned."""
    redemption_id, bank_ref = A.unpack(args, ("id", "bank_ref_hash"))
    item = _require_pending_for_issuer(ctx, redemption_id)
    bank_ref = A.digest(bank_ref, "bank_ref_hash")
    asset = load_asset(ctx.state, item.symbol)
    if asset is None:  # coins are never deleted
        raise InvalidTransaction("unknown_asset", f"no coin {item.symbol}")
    burn_from(ctx.state, asset, REDEMPTION_VAULT, item.amount)
    closed = _close(ctx, item, SETTLED, bank_ref=bank_ref)
    _emit(
        ctx,
        "redeem.settled",
        item,
        ("bank_ref", bank_ref),
        ("settle_ms", closed.closed_ms - item.created_ms),
    )


def reject(ctx: Context, args: tuple[Any, ...]) -> None:
    """redeem.reject(id, reason): the platform refuses; the coins go back."""
    redemption_id, reason = A.unpack(args, ("id", "reason"))
    item = _require_pending_for_issuer(ctx, redemption_id)
    reason = A.text(reason, "reason", MAX_REASON, 1)
    move(ctx.state, item.symbol, REDEMPTION_VAULT, item.requester, item.amount)
    _close(ctx, item, REJECTED, reason=reason)
    _emit(ctx, "redeem.rejected", item, ("reason", reason))


def on_return_deadline(ctx: Context, entry: Deadline) -> None:
    """The platform neither paid nor refused in time: the coins go back to the requester."""
    item = load_redemption(ctx.state, entry.ident)
    if item is None or item.state != PENDING or item.due_ms != entry.time_ms:
        raise InvalidTransaction("stale_deadline", "the deadline no longer applies")
    move(ctx.state, item.symbol, REDEMPTION_VAULT, item.requester, item.amount)
    _close(ctx, item, RETURNED, reason="deadline passed")
    _emit(ctx, "redeem.returned", item)


def attest(ctx: Context, args: tuple[Any, ...]) -> None:
    """redeem.attest(symbol, period, reserve_hash, uri): the issuer publishes a reserve
    attestation for a period (e.g. 202611); one per period, never replaced."""
    symbol, period, reserve_hash, uri = A.unpack(args, ("symbol", "period", "reserve_hash", "uri"))
    asset = _platform_coin(ctx.state, symbol)
    if ctx.sender != asset.issuer:
        raise InvalidTransaction("not_issuer", "only the coin's issuer attests its reserves")
    period = A.integer(period, "period", 1, (1 << 64) - 1)
    reserve_hash = A.digest(reserve_hash, "reserve_hash")
    uri = A.text(uri, "uri", MAX_URI, 1)
    key = ATTEST_PREFIX + asset.symbol.encode() + b"/" + period.to_bytes(8, "big")
    if ctx.state.get(key) is not None:
        raise InvalidTransaction("attestation_exists", f"period {period} is already attested")
    ctx.state.put_value(key, [reserve_hash, uri, ctx.block.timestamp_ms, asset.supply])
    ctx.emit(
        "redeem.attested",
        ("symbol", asset.symbol),
        ("issuer", ctx.sender),
        ("period", period),
        ("reserve_hash", reserve_hash),
        ("uri", uri),
        ("supply", asset.supply),
    )


def _emit(ctx: Context, name: str, item: Redemption, *attributes: tuple[str, Any]) -> None:
    ctx.emit(
        name,
        ("id", item.id),
        ("requester", item.requester),
        ("platform", item.platform),
        ("symbol", item.symbol),
        ("amount", item.amount),
        *attributes,
    )


# --- queries -------------------------------------------------------------------------------


def redemptions_of(
    reader: StateView | KVReader, requester: bytes, cursor: bytes | None = None, limit: int = 50
) -> tuple[list[Redemption], bytes | None]:
    """An account's redemption requests, oldest first, one page at a time."""
    prefix = BY_REQUESTER_PREFIX + requester + b"/"
    positions, next_cursor = index_page(reader, prefix, cursor, limit)
    page = [load_redemption(reader, position[8:]) for position in positions]
    return [item for item in page if item is not None], next_cursor


def attestations(
    reader: StateView | KVReader, symbol: str, after_period: int = 0, limit: int = 50
) -> list[dict[str, Any]]:
    """A coin's reserve attestations by period, from `after_period` + 1 on."""
    prefix = ATTEST_PREFIX + symbol.encode() + b"/"
    found: list[dict[str, Any]] = []
    for key, raw in reader.seek(prefix, prefix + (after_period + 1).to_bytes(8, "big")):
        reserve_hash, uri, time_ms, supply = codec.decode(raw)
        period = int.from_bytes(key[len(prefix) :], "big")
        found.append(
            {
                "period": period,
                "reserve_hash": reserve_hash.hex(),
                "uri": uri,
                "time_ms": time_ms,
                "supply": supply,
            }
        )
        if len(found) >= limit:
            break
    return found


def issuance(reader: StateView | KVReader, symbol: str) -> dict[str, Any] | None:
    """Supply, burned by redemption and outstanding in redemption of a coin."""
    asset = load_asset(reader, symbol)
    if asset is None:
        return None
    burned, outstanding = coin_totals(reader, symbol)
    return {
        "symbol": asset.symbol,
        "issuer": asset.issuer.hex(),
        "policy": asset.policy,
        "supply": asset.supply,
        "cap": asset.cap,
        "burned_by_redemption": burned,
        "outstanding_redemptions": outstanding,
    }


def redemption_summary(reader: StateView | KVReader, platform: bytes) -> dict[str, Any]:
    """What a merchant looks at to pick a platform: how it pays."""
    stats = platform_stats(reader, platform)
    return {
        "platform": platform.hex(),
        "deadline_ms": terms_ms(reader, platform),
        "outstanding_count": stats.outstanding_count,
        "outstanding_amount": stats.outstanding_amount,
        "settled_count": stats.settled_count,
        "settled_volume": stats.settled_volume,
        "rejected_count": stats.rejected_count,
        "returned_count": stats.returned_count,
        "median_settle_ms": median_settle_ms(reader, platform),
    }


HANDLERS: dict[str, Handler] = {
    "redeem.set_terms": set_terms,
    "redeem.request": request,
    "redeem.settle": settle,
    "redeem.reject": reject,
    "redeem.attest": attest,
}
DEADLINE_HANDLERS: dict[str, DeadlineHandler] = {RETURN_DEADLINE: on_return_deadline}
