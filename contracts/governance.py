"""Governance: validators decide platform roles and the validator set by 2/3 vote.

    gov/next               -> the id the next proposal gets (ids start at 1)
    gov/prop/<id:8>        -> [id, action, params, proposer, created_height,
                               expiry_ms, approvals, status, executed_height]

A validator (its validator key is an ordinary account that signs transactions)
proposes an action; other validators approve it. The proposal executes inside
the transaction that brings the approvals of the current validator set (the set
voting on the block that carries it) to at least two thirds: 3 * approvals >=
2 * validators. Approvals of accounts that have meanwhile left the set no longer
count. A proposal that has not passed by its expiry (block time) can no longer
be approved; nothing needs to clean it up because it holds no funds.

Actions and their params:
    grant_platform    [account, name, commission_bps]
    revoke_platform   [account]
    add_validator     [account, effective_height]
    remove_validator  [account, effective_height]

Validator changes are written with `ledger.validators.schedule_validators` and
take effect from `effective_height`, which must still lie in the future when the
proposal passes, so every replica switches sets at the same block.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from contracts import args as A
from contracts import roles
from ledger import codec
from ledger.errors import InvalidTransaction
from ledger.execution import Context, Handler
from ledger.kv import KVReader
from ledger.state import StateView
from ledger.validators import (
    VALIDATORS_SCHEDULED_EVENT,
    schedule_validators,
    validator_schedule,
    validators_at,
)

NEXT_ID_KEY = b"gov/next"
PROPOSAL_PREFIX = b"gov/prop/"
MAX_PROPOSAL_TTL_MS = 30 * 24 * 3600 * 1000  # a month: stale proposals should be re-proposed
MAX_VALIDATORS = 64
OPEN = "open"
EXECUTED = "executed"
EXPIRED = "expired"  # derived for queries; never stored


@dataclass(frozen=True, slots=True)
class Proposal:
    id: int
    action: str
    params: tuple[Any, ...]
    proposer: bytes
    created_height: int
    expiry_ms: int
    approvals: tuple[bytes, ...]
    status: str
    executed_height: int

    def to_list(self) -> list[Any]:
        return [
            self.id,
            self.action,
            list(self.params),
            self.proposer,
            self.created_height,
            self.expiry_ms,
            list(self.approvals),
            self.status,
            self.executed_height,
        ]

    @staticmethod
    def from_list(value: list[Any]) -> Proposal:
        return Proposal(
            value[0],
            value[1],
            tuple(value[2]),
            value[3],
            value[4],
            value[5],
            tuple(value[6]),
            value[7],
            value[8],
        )

    def status_at(self, now_ms: int) -> str:
        """The stored status, or "expired" for an open proposal past its expiry."""
        if self.status == OPEN and now_ms > self.expiry_ms:
            return EXPIRED
        return self.status


def proposal_key(proposal_id: int) -> bytes:
    return PROPOSAL_PREFIX + proposal_id.to_bytes(8, "big")


def load_proposal(reader: StateView | KVReader, proposal_id: int) -> Proposal | None:
    raw = reader.get(proposal_key(proposal_id))
    return None if raw is None else Proposal.from_list(codec.decode(raw))


def save_proposal(state: StateView, proposal: Proposal) -> None:
    state.put_value(proposal_key(proposal.id), proposal.to_list())


def proposals(reader: StateView | KVReader, after_id: int = 0, limit: int = 50) -> list[Proposal]:
    """Proposals with id > after_id in id order, at most `limit` (cursor pagination)."""
    found: list[Proposal] = []
    for _, value in reader.seek(PROPOSAL_PREFIX, proposal_key(after_id + 1)):
        found.append(Proposal.from_list(codec.decode(value)))
        if len(found) >= limit:
            break
    return found


def approvals_needed(validator_count: int) -> int:
    """The smallest count with 3 * count >= 2 * validator_count."""
    return (2 * validator_count + 2) // 3


# --- actions: each checks its params against the state, then applies them ------------

Params = tuple[Any, ...]


def _check_grant(state: StateView, height: int, params: Params) -> Params:
    account, name, commission = A.unpack(params, ("account", "name", "commission_bps"))
    account = A.account(account, "account")
    name = roles.check_platform_name(name)
    commission = roles.check_commission(commission)
    if roles.is_platform(state, account):
        raise InvalidTransaction("already_platform", "the account already holds the platform role")
    return (account, name, commission)


def _apply_grant(ctx: Context, params: Params) -> None:
    account, name, commission = params
    roles.grant_platform(ctx.state, account, name, commission)
    ctx.emit(
        "roles.platform_granted",
        ("account", account),
        ("name", name),
        ("commission_bps", commission),
    )


def _check_revoke(state: StateView, height: int, params: Params) -> Params:
    (account,) = A.unpack(params, ("account",))
    account = A.account(account, "account")
    roles.require_platform(state, account)
    return (account,)


def _apply_revoke(ctx: Context, params: Params) -> None:
    (account,) = params
    roles.revoke_platform(ctx.state, account)
    ctx.emit("roles.platform_revoked", ("account", account))


def _check_height(height: int, effective_height: Any) -> int:
    effective = A.integer(effective_height, "effective_height", 1)
    if effective <= height:
        raise InvalidTransaction(
            "effective_height_passed",
            f"effective height {effective} is not after the current height {height}",
        )
    return effective


def _check_add(state: StateView, height: int, params: Params) -> Params:
    account, effective_height = A.unpack(params, ("account", "effective_height"))
    account = A.account(account, "account")
    effective = _check_height(height, effective_height)
    current = validators_at(state, effective)
    if account in current:
        raise InvalidTransaction("already_validator", "the account is already a validator")
    if len(current) >= MAX_VALIDATORS:
        raise InvalidTransaction(
            "too_many_validators", f"the validator set is capped at {MAX_VALIDATORS}"
        )
    return (account, effective)


def _check_remove(state: StateView, height: int, params: Params) -> Params:
    account, effective_height = A.unpack(params, ("account", "effective_height"))
    account = A.account(account, "account")
    effective = _check_height(height, effective_height)
    current = validators_at(state, effective)
    if account not in current:
        raise InvalidTransaction("unknown_validator", "the account is not a validator then")
    if len(current) == 1:
        raise InvalidTransaction("last_validator", "the last validator cannot be removed")
    return (account, effective)


def _reschedule(
    ctx: Context, effective: int, change: Callable[[Sequence[bytes]], list[bytes]]
) -> None:
    """Apply `change` to the set in force from `effective` and to every later entry.

    `schedule_validators` drops entries after the one it writes, so already
    scheduled later changes are re-written with this change applied too.
    """
    later = [(start, keys) for start, keys in validator_schedule(ctx.state) if start > effective]
    updated = change(validators_at(ctx.state, effective))
    schedule_validators(ctx.state, effective, updated)
    ctx.emit(VALIDATORS_SCHEDULED_EVENT, ("start_height", effective), ("validators", updated))
    for start, keys in later:
        rewritten = change(keys)
        schedule_validators(ctx.state, start, rewritten)
        ctx.emit(VALIDATORS_SCHEDULED_EVENT, ("start_height", start), ("validators", rewritten))


def _apply_add(ctx: Context, params: Params) -> None:
    account, effective = params

    def add(keys: Sequence[bytes]) -> list[bytes]:
        return list(keys) if account in keys else [*keys, account]

    _reschedule(ctx, effective, add)


def _apply_remove(ctx: Context, params: Params) -> None:
    account, effective = params

    def remove(keys: Sequence[bytes]) -> list[bytes]:
        remaining = [key for key in keys if key != account]
        return remaining if remaining else list(keys)  # never empty a later set

    _reschedule(ctx, effective, remove)


Checker = Callable[[StateView, int, Params], Params]
Applier = Callable[[Context, Params], None]
ACTIONS: dict[str, tuple[Checker, Applier]] = {
    "grant_platform": (_check_grant, _apply_grant),
    "revoke_platform": (_check_revoke, _apply_revoke),
    "add_validator": (_check_add, _apply_add),
    "remove_validator": (_check_remove, _apply_remove),
}


# --- handlers ------------------------------------------------------------------------


def _require_validator(ctx: Context) -> tuple[bytes, ...]:
    validators = validators_at(ctx.state, ctx.block.height)
    if ctx.sender not in validators:
        raise InvalidTransaction("not_validator", "only a current validator may do this")
    return validators


def _counted(approvals: Sequence[bytes], validators: Sequence[bytes]) -> int:
    members = set(validators)
    return sum(1 for account in approvals if account in members)


def _maybe_execute(ctx: Context, proposal: Proposal, validators: Sequence[bytes]) -> Proposal:
    """Execute the proposal if its approvals reach 2/3; return what to store."""
    count = _counted(proposal.approvals, validators)
    needed = approvals_needed(len(validators))
    ctx.emit(
        "governance.approved",
        ("id", proposal.id),
        ("validator", ctx.sender),
        ("approvals", count),
        ("needed", needed),
    )
    if count < needed:
        return proposal
    check, apply = ACTIONS[proposal.action]
    # Re-check: the state may have changed since the proposal was made.
    params = check(ctx.state, ctx.block.height, proposal.params)
    apply(ctx, params)
    ctx.emit("governance.executed", ("id", proposal.id), ("action", proposal.action))
    return Proposal(
        proposal.id,
        proposal.action,
        proposal.params,
        proposal.proposer,
        proposal.created_height,
        proposal.expiry_ms,
        proposal.approvals,
        EXECUTED,
        ctx.block.height,
    )


def propose(ctx: Context, args: tuple[Any, ...]) -> None:
    """governance.propose(action, params, expiry_ms): the proposer's approval counts."""
    action, params, expiry_ms = A.unpack(args, ("action", "params", "expiry_ms"))
    validators = _require_validator(ctx)
    if not isinstance(action, str) or action not in ACTIONS:
        raise InvalidTransaction(
            "unknown_action", f"action must be one of {', '.join(sorted(ACTIONS))}"
        )
    if not isinstance(params, list):
        raise InvalidTransaction("bad_args", "params must be a list")
    now = ctx.block.timestamp_ms
    expiry = A.integer(expiry_ms, "expiry_ms")
    if not now < expiry <= now + MAX_PROPOSAL_TTL_MS:
        raise InvalidTransaction(
            "bad_expiry", f"expiry must be after the block time and within {MAX_PROPOSAL_TTL_MS} ms"
        )
    check, _ = ACTIONS[action]
    checked = check(ctx.state, ctx.block.height, tuple(params))
    proposal_id = ctx.state.get_int(NEXT_ID_KEY) or 1
    ctx.state.put_int(NEXT_ID_KEY, proposal_id + 1)
    proposal = Proposal(
        proposal_id, action, checked, ctx.sender, ctx.block.height, expiry, (ctx.sender,), OPEN, 0
    )
    ctx.emit(
        "governance.proposed",
        ("id", proposal_id),
        ("action", action),
        ("params", list(checked)),
        ("proposer", ctx.sender),
        ("expiry_ms", expiry),
    )
    save_proposal(ctx.state, _maybe_execute(ctx, proposal, validators))


def approve(ctx: Context, args: tuple[Any, ...]) -> None:
    """governance.approve(id): a validator's vote; the 2/3-th vote executes the action."""
    (proposal_id,) = A.unpack(args, ("id",))
    proposal_id = A.integer(proposal_id, "id", 1)
    proposal = load_proposal(ctx.state, proposal_id)
    if proposal is None:
        raise InvalidTransaction("unknown_proposal", f"no proposal {proposal_id}")
    if proposal.status != OPEN:
        raise InvalidTransaction("proposal_closed", f"proposal {proposal_id} already executed")
    if ctx.block.timestamp_ms > proposal.expiry_ms:
        raise InvalidTransaction("proposal_expired", f"proposal {proposal_id} has expired")
    validators = _require_validator(ctx)
    if ctx.sender in proposal.approvals:
        raise InvalidTransaction("already_approved", "this validator already approved it")
    approved = Proposal(
        proposal.id,
        proposal.action,
        proposal.params,
        proposal.proposer,
        proposal.created_height,
        proposal.expiry_ms,
        (*proposal.approvals, ctx.sender),
        proposal.status,
        proposal.executed_height,
    )
    save_proposal(ctx.state, _maybe_execute(ctx, approved, validators))


HANDLERS: dict[str, Handler] = {
    "governance.propose": propose,
    "governance.approve": approve,
}
