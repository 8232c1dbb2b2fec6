"""The account contract: who may sign for an account, and how that changes.

An account is its original public key forever; its policy says which keys may
sign for it. Without a stored policy an account has the default one: its own
key with weight 1 and every threshold 1, i.e. exactly the one-key rule every
account had before policies existed.

State:
    account/policy/<account>   -> Policy.to_list()   (absent = the default policy)
    account/recovery/<account> -> [Policy.to_list(), effective_ms]   (a pending recovery)

Policy wire form (the argument of `account.set_policy` and `account.recover`):
    [[[key, weight], ...], [low, medium, high], large_amount,
     [[scoped_key, [method, ...], allowance or nil], ...],
     [[[key, weight], ...], threshold, delay_ms] or nil]

Authorization (`authorize`, called by the ledger before every handler):
- a **full key** counts its weight; the signers' weights must reach the threshold
  of the transaction's class (`OPERATION_CLASSES`, the one table mapping methods
  to classes). A transfer-like method (`SPENDING`) above `large_amount` is high.
- a **scoped key** signs alone, only for its listed methods, and spends at most
  its allowance (decreased as it spends; nil means no limit).
- **recovery keys** sign `account.recover` only; the new policy takes effect after
  the account's delay (block time), unless a current key cancels it first.
Every signer must be known to the policy (`unknown_signer`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from contracts import args as A
from contracts import deadlines
from contracts.amounts import MAX_AMOUNT
from ledger import codec
from ledger.errors import InvalidTransaction
from ledger.execution import Context, Handler
from ledger.keys import PUBLIC_KEY_SIZE, address_to_text
from ledger.kv import KVReader
from ledger.state import StateView
from ledger.tx import Transaction

POLICY_PREFIX = b"account/policy/"
RECOVERY_PREFIX = b"account/recovery/"
RECOVERY_DEADLINE = "account.recover"

MAX_KEYS = 10
MAX_WEIGHT = 255
MAX_SCOPED_KEYS = 10
MAX_SCOPED_METHODS = 16
MIN_RECOVERY_DELAY_MS = 1_000
MAX_RECOVERY_DELAY_MS = 365 * 24 * 3600 * 1000

LOW, MEDIUM, HIGH = "low", "medium", "high"
ANY_KEY = "any_key"  # one current full key is enough (cancelling a recovery)
RECOVERY = "recovery"  # the recovery keys and their threshold

# The one table of operation classes. Methods not listed are MEDIUM; a SPENDING
# method moving more than the policy's `large_amount` is HIGH.
OPERATION_CLASSES: dict[str, str] = {
    "invoice.create": LOW,
    "invoice.cancel": LOW,
    "escrow.ship": LOW,
    "escrow.evidence": LOW,
    "listing.create": LOW,
    "listing.update": LOW,
    "listing.withdraw": LOW,
    "account.set_policy": HIGH,
    "account.cancel_recovery": ANY_KEY,
    "account.recover": RECOVERY,
    "coin.create": HIGH,
    "coin.mint": HIGH,
    "coin.burn": HIGH,
    "platform.create_coin": HIGH,
    "platform.set_commission": HIGH,
    "loyalty.create": HIGH,
    "loyalty.set_rewards": HIGH,
    "franchise.open_program": HIGH,
    "arbiter.publish": HIGH,
    "governance.propose": HIGH,
    "governance.approve": HIGH,
}


def _arg(index: int) -> Callable[[tuple[Any, ...]], int]:
    def amount(args: tuple[Any, ...]) -> int:
        value = args[index] if len(args) > index else 0
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    return amount


def _order_total(args: tuple[Any, ...]) -> int:
    quantity, price = _arg(1)(args), _arg(2)(args)
    return min(quantity * price, MAX_AMOUNT)


# What a method can move out of the sender's balances, from its arguments (the
# upper bound the sender signs for: max_pay, quantity x max_unit_price). A
# malformed argument counts as 0 here; the handler then refuses the transaction.
SPENDING: dict[str, Callable[[tuple[Any, ...]], int]] = {
    "coin.transfer": _arg(2),
    "payment.pay": _arg(3),
    "invoice.pay": _arg(2),
    "invoice.refund": _arg(1),
    "escrow.refund": _arg(1),
    "exchange.swap": _arg(3),
    "order.place": _order_total,
}


def operation_class(method: str, args: tuple[Any, ...], large_amount: int) -> str:
    """The class whose threshold a call of `method` with `args` must reach."""
    spend = SPENDING.get(method)
    if spend is not None and large_amount and spend(args) > large_amount:
        return HIGH
    return OPERATION_CLASSES.get(method, MEDIUM)


@dataclass(frozen=True, slots=True)
class ScopedKey:
    """A key allowed only `methods`, spending at most `allowance` (None: no limit)."""

    key: bytes
    methods: tuple[str, ...]
    allowance: int | None

    def to_list(self) -> list[Any]:
        return [self.key, list(self.methods), self.allowance]


@dataclass(frozen=True, slots=True)
class Recovery:
    """Keys that may replace the policy, `delay_ms` after they ask."""

    keys: tuple[tuple[bytes, int], ...]
    threshold: int
    delay_ms: int

    def to_list(self) -> list[Any]:
        return [[list(pair) for pair in self.keys], self.threshold, self.delay_ms]


@dataclass(frozen=True, slots=True)
class Policy:
    keys: tuple[tuple[bytes, int], ...]
    thresholds: tuple[int, int, int]  # low, medium, high
    large_amount: int = 0  # 0: no transfer is large
    scoped: tuple[ScopedKey, ...] = ()
    recovery: Recovery | None = None

    def to_list(self) -> list[Any]:
        return [
            [list(pair) for pair in self.keys],
            list(self.thresholds),
            self.large_amount,
            [scoped.to_list() for scoped in self.scoped],
            None if self.recovery is None else self.recovery.to_list(),
        ]

    def threshold(self, operation: str) -> int:
        if operation == ANY_KEY:
            return 1
        return self.thresholds[(LOW, MEDIUM, HIGH).index(operation)]

    def weight_of(self, key: bytes) -> int | None:
        for candidate, weight in self.keys:
            if candidate == key:
                return weight
        return None

    def scoped_key(self, key: bytes) -> ScopedKey | None:
        for scoped in self.scoped:
            if scoped.key == key:
                return scoped
        return None

    @staticmethod
    def default(account: bytes) -> Policy:
        return Policy(((account, 1),), (1, 1, 1))


def _bad(message: str) -> InvalidTransaction:
    return InvalidTransaction("bad_policy", message)


def _weighted_keys(value: Any, what: str) -> tuple[tuple[bytes, int], ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_KEYS:
        raise _bad(f"{what} must list 1 to {MAX_KEYS} [key, weight] pairs")
    pairs: list[tuple[bytes, int]] = []
    for item in value:
        key, weight = A.unpack(item, ("key", "weight"))
        pairs.append((A.account(key, what), A.integer(weight, f"{what} weight", 1, MAX_WEIGHT)))
    _check_ascending([key for key, _ in pairs], what)
    return tuple(pairs)


def _check_ascending(keys: list[bytes], what: str) -> None:
    for before, after in zip(keys, keys[1:], strict=False):
        if before >= after:
            raise _bad(f"{what} must be sorted by key, each key once")


def _scoped_key(value: Any) -> ScopedKey:
    key, methods, allowance = A.unpack(value, ("key", "methods", "allowance"))
    if not isinstance(methods, list) or not 1 <= len(methods) <= MAX_SCOPED_METHODS:
        raise _bad(f"a scoped key lists 1 to {MAX_SCOPED_METHODS} methods")
    names = [A.text(method, "method", 64, 1) for method in methods]
    if names != sorted(set(names)):
        raise _bad("a scoped key's methods must be sorted, each once")
    for name in names:
        if OPERATION_CLASSES.get(name, MEDIUM) != LOW and name not in SPENDING:
            raise InvalidTransaction(
                "scope_not_allowed",
                f"a scoped key may call low-class or metered spending methods, not {name}",
            )
    limit = None if allowance is None else A.integer(allowance, "allowance", 0, MAX_AMOUNT)
    return ScopedKey(A.account(key, "scoped key"), tuple(names), limit)


def _recovery(value: Any) -> Recovery:
    keys, threshold, delay_ms = A.unpack(value, ("keys", "threshold", "delay_ms"))
    pairs = _weighted_keys(keys, "recovery keys")
    total = sum(weight for _, weight in pairs)
    return Recovery(
        pairs,
        A.integer(threshold, "recovery threshold", 1, total),
        A.integer(delay_ms, "recovery delay_ms", MIN_RECOVERY_DELAY_MS, MAX_RECOVERY_DELAY_MS),
    )


def parse_policy(value: Any) -> Policy:
    """Validate a policy in wire form; refuse any policy that could lock the account."""
    keys, thresholds, large_amount, scoped, recovery = A.unpack(
        value, ("keys", "thresholds", "large_amount", "scoped", "recovery")
    )
    pairs = _weighted_keys(keys, "keys")
    total = sum(weight for _, weight in pairs)
    if not isinstance(thresholds, list) or len(thresholds) != 3:
        raise _bad("thresholds are [low, medium, high]")
    levels = tuple(A.integer(t, "threshold", 1, MAX_WEIGHT * MAX_KEYS) for t in thresholds)
    low, medium, high = levels
    if not low <= medium <= high:
        raise _bad("thresholds must satisfy low <= medium <= high")
    if high > total:
        # an unreachable threshold would lock the account's funds for good
        raise _bad(f"the high threshold {high} exceeds the total key weight {total}")
    if not isinstance(scoped, list) or len(scoped) > MAX_SCOPED_KEYS:
        raise _bad(f"scoped keys must be a list of at most {MAX_SCOPED_KEYS}")
    scoped_keys = tuple(_scoped_key(item) for item in scoped)
    _check_ascending([item.key for item in scoped_keys], "scoped keys")
    full = {key for key, _ in pairs}
    if any(item.key in full for item in scoped_keys):
        raise _bad("a key is either a full key or a scoped key, not both")
    return Policy(
        pairs,
        (low, medium, high),
        A.integer(large_amount, "large_amount", 0, MAX_AMOUNT),
        scoped_keys,
        None if recovery is None else _recovery(recovery),
    )


def policy_key(account: bytes) -> bytes:
    return POLICY_PREFIX + account


def recovery_key(account: bytes) -> bytes:
    return RECOVERY_PREFIX + account


def load_policy(reader: KVReader | StateView, account: bytes) -> Policy:
    """The account's policy in effect (the default one when none is stored)."""
    raw = reader.get(policy_key(account))
    if raw is None:
        return Policy.default(account)
    return parse_policy(codec.decode(raw))


def save_policy(state: StateView, account: bytes, policy: Policy) -> None:
    if policy == Policy.default(account):
        state.delete(policy_key(account))  # the default leaves no trace
    else:
        state.put_value(policy_key(account), policy.to_list())


def load_pending_recovery(
    reader: KVReader | StateView, account: bytes
) -> tuple[Policy, int] | None:
    """The policy a recovery will install and the block time from which it does."""
    raw = reader.get(recovery_key(account))
    if raw is None:
        return None
    policy, effective_ms = codec.decode(raw)
    return parse_policy(policy), int(effective_ms)


def _names(keys: tuple[bytes, ...]) -> str:
    return ", ".join(address_to_text(key) for key in keys) or "none"


def _require_known(signers: tuple[bytes, ...], known: dict[bytes, int], what: str) -> int:
    unknown = [key for key in signers if key not in known]
    if unknown:
        raise InvalidTransaction(
            "unknown_signer", f"{_names(tuple(unknown))} is not one of the account's {what}"
        )
    return sum(known[key] for key in signers)


def _require_weight(weight: int, needed: int, what: str, signers: tuple[bytes, ...]) -> None:
    if weight < needed:
        raise InvalidTransaction(
            "insufficient_signatures",
            f"weight {weight} of {needed} needed for {what}; signed by {_names(signers)}",
        )


def authorize(ctx: Context, tx: Transaction, signers: tuple[bytes, ...]) -> None:
    """Refuse unless `signers` may send `tx` for `ctx.sender` under its policy."""
    raw = ctx.state.get(policy_key(ctx.sender))
    if raw is None and signers == (ctx.sender,) and tx.method != "account.recover":
        # The default policy (the account's own key, weight 1 of 1 for every class)
        # signed by that key: the common case, decided without building the policy.
        return
    policy = Policy.default(ctx.sender) if raw is None else parse_policy(codec.decode(raw))
    if tx.method == "account.recover":
        if policy.recovery is None:
            raise InvalidTransaction("no_recovery", "the account has no recovery keys")
        weight = _require_known(signers, dict(policy.recovery.keys), "recovery keys")
        _require_weight(weight, policy.recovery.threshold, "a recovery", signers)
        return
    scoped = [key for key in signers if policy.scoped_key(key) is not None]
    if scoped:
        _authorize_scoped(ctx, tx, signers, policy)
        return
    weight = _require_known(signers, dict(policy.keys), "keys")
    operation = operation_class(tx.method, tx.args, policy.large_amount)
    _require_weight(
        weight, policy.threshold(operation), f"{operation} operation {tx.method}", signers
    )


def _authorize_scoped(
    ctx: Context, tx: Transaction, signers: tuple[bytes, ...], policy: Policy
) -> None:
    if len(signers) != 1:
        raise InvalidTransaction("bad_signers", "a scoped key signs alone")
    scoped = policy.scoped_key(signers[0])
    if scoped is None:  # unreachable: the caller found it
        raise InvalidTransaction("unknown_signer", "not a scoped key")
    if tx.method not in scoped.methods:
        raise InvalidTransaction(
            "key_scope",
            f"scoped key {address_to_text(scoped.key)} may call only "
            f"{', '.join(scoped.methods)}, not {tx.method}",
        )
    spend = SPENDING.get(tx.method)
    if scoped.allowance is None or spend is None:
        return
    amount = spend(tx.args)
    if amount > scoped.allowance:
        raise InvalidTransaction(
            "allowance_exceeded",
            f"scoped key {address_to_text(scoped.key)} may spend {scoped.allowance} more,"
            f" not {amount}",
        )
    charged = replace(scoped, allowance=scoped.allowance - amount)
    updated = tuple(charged if item.key == scoped.key else item for item in policy.scoped)
    # Written on the transaction's own view: a refused handler drops the charge too.
    save_policy(ctx.state, ctx.sender, replace(policy, scoped=updated))


def _end_pending_recovery(ctx: Context) -> bool:
    pending = load_pending_recovery(ctx.state, ctx.sender)
    if pending is None:
        return False
    deadlines.cancel(ctx.state, pending[1], RECOVERY_DEADLINE, ctx.sender)
    ctx.state.delete(recovery_key(ctx.sender))
    return True


def _policy_events(ctx: Context, name: str, account: bytes, policy: Policy) -> None:
    ctx.emit(
        name,
        ("account", account),
        ("keys", len(policy.keys)),
        ("thresholds", list(policy.thresholds)),
        ("scoped_keys", len(policy.scoped)),
        ("recovery", policy.recovery is not None),
    )


def set_policy(ctx: Context, args: tuple[Any, ...]) -> None:
    """account.set_policy(policy): signed under the current policy's high threshold.
    It also ends a pending recovery: the current keys are evidently in control."""
    (value,) = A.unpack(args, ("policy",))
    policy = parse_policy(value)
    if _end_pending_recovery(ctx):
        ctx.emit("account.recovery_cancelled", ("account", ctx.sender))
    save_policy(ctx.state, ctx.sender, policy)
    _policy_events(ctx, "account.policy_set", ctx.sender, policy)


def recover(ctx: Context, args: tuple[Any, ...]) -> None:
    """account.recover(policy): signed by the recovery keys; `policy` replaces the
    current one once the account's recovery delay has passed (block time)."""
    (value,) = A.unpack(args, ("policy",))
    policy = parse_policy(value)
    current = load_policy(ctx.state, ctx.sender)
    if current.recovery is None:  # authorize already refused; keeps the type checker informed
        raise InvalidTransaction("no_recovery", "the account has no recovery keys")
    if load_pending_recovery(ctx.state, ctx.sender) is not None:
        raise InvalidTransaction(
            "recovery_pending", "a recovery is already pending; it must end or be cancelled first"
        )
    effective_ms = ctx.block.timestamp_ms + current.recovery.delay_ms
    ctx.state.put_value(recovery_key(ctx.sender), [policy.to_list(), effective_ms])
    deadlines.schedule(ctx.state, effective_ms, RECOVERY_DEADLINE, ctx.sender)
    ctx.emit("account.recovery_started", ("account", ctx.sender), ("effective_ms", effective_ms))


def cancel_recovery(ctx: Context, args: tuple[Any, ...]) -> None:
    """account.cancel_recovery(): any one current full key stops a pending recovery."""
    A.unpack(args, ())
    if not _end_pending_recovery(ctx):
        raise InvalidTransaction("no_pending_recovery", "no recovery is pending")
    ctx.emit("account.recovery_cancelled", ("account", ctx.sender))


def finish_recovery(ctx: Context, deadline: deadlines.Deadline) -> None:
    """The delay has passed with no cancellation: install the recovered policy."""
    account = deadline.ident
    if len(account) != PUBLIC_KEY_SIZE:
        return
    pending = load_pending_recovery(ctx.state, account)
    if pending is None or pending[1] != deadline.time_ms:
        return  # cancelled, or replaced by a later recovery with its own entry
    policy = pending[0]
    ctx.state.delete(recovery_key(account))
    save_policy(ctx.state, account, policy)
    _policy_events(ctx, "account.recovered", account, policy)


HANDLERS: dict[str, Handler] = {
    "account.set_policy": set_policy,
    "account.recover": recover,
    "account.cancel_recovery": cancel_recovery,
}
DEADLINE_HANDLERS = {RECOVERY_DEADLINE: finish_recovery}
AUTHORIZE = authorize
