"""Account roles: which accounts are e-commerce platforms, and their commission.

    roles/platform/<account> -> [name, commission_bps]

Platforms are granted in genesis (app_state section "roles": a list of
[account, name, commission_bps]) or by a governance proposal approved by 2/3 of
the validators (`contracts.governance`). Only platforms create platform coins,
act as arbiters and set a commission rate (capped at MAX_COMMISSION_BPS) for
sales made through them. Revoking the role deletes the record: the account's
rate reads as zero from then on and it can no longer be named as a platform.
"""

from __future__ import annotations

from typing import Any

from contracts import args as A
from contracts.amounts import MAX_COMMISSION_BPS, check_basis_points
from contracts.coin import genesis_section
from ledger import codec
from ledger.errors import InvalidTransaction
from ledger.execution import Context, Handler
from ledger.genesis import Genesis
from ledger.kv import KVReader
from ledger.state import StateView

PLATFORM_PREFIX = b"roles/platform/"
REFUND_SHARE_PREFIX = b"roles/refund-share/"
MAX_PLATFORM_NAME = 64


def platform_key(account: bytes) -> bytes:
    return PLATFORM_PREFIX + account


def platform_record(state: StateView | KVReader, account: bytes) -> list[Any] | None:
    raw = state.get(platform_key(account))
    return None if raw is None else list(codec.decode(raw))


def is_platform(state: StateView | KVReader, account: bytes) -> bool:
    return state.get(platform_key(account)) is not None


def require_platform(state: StateView, account: bytes, what: str = "account") -> list[Any]:
    record = platform_record(state, account)
    if record is None:
        raise InvalidTransaction("not_platform", f"{what} does not hold the platform role")
    return record


def commission_bps(state: StateView | KVReader, platform: bytes) -> int:
    """The platform's current commission rate in basis points (0 if not a platform)."""
    record = platform_record(state, platform)
    return 0 if record is None else int(record[1])


def refund_share_bps(state: StateView | KVReader, platform: bytes) -> int:
    """The share of its commission the platform returns on refunds, in basis points of
    the commission on the refunded part (0, the default: it keeps all of it)."""
    raw = state.get(REFUND_SHARE_PREFIX + platform)
    return 0 if raw is None else int(codec.decode(raw))


def set_refund_share(state: StateView, account: bytes, share_bps: int) -> None:
    require_platform(state, account)
    state.put_int(REFUND_SHARE_PREFIX + account, check_basis_points(share_bps, "refund share"))


def check_platform_name(value: Any) -> str:
    return A.text(value, "platform name", MAX_PLATFORM_NAME, 1)


def check_commission(value: Any) -> int:
    return check_basis_points(value, "commission", MAX_COMMISSION_BPS)


def grant_platform(state: StateView, account: bytes, name: str, commission: int) -> None:
    state.put_value(platform_key(account), [name, commission])


def revoke_platform(state: StateView, account: bytes) -> None:
    require_platform(state, account)
    state.delete(platform_key(account))


def set_commission(state: StateView, account: bytes, commission: int) -> None:
    name = require_platform(state, account)[0]
    grant_platform(state, account, name, check_commission(commission))


def set_platform_name(state: StateView, account: bytes, name: str) -> None:
    commission = require_platform(state, account)[1]
    grant_platform(state, account, check_platform_name(name), commission)


def platforms(reader: KVReader | StateView) -> list[tuple[bytes, str, int]]:
    """Every platform as (account, name, commission_bps), in account byte order."""
    return [
        (key[len(PLATFORM_PREFIX) :], *_name_and_rate(codec.decode(value)))
        for key, value in reader.iterate(PLATFORM_PREFIX)
    ]


def _name_and_rate(record: Any) -> tuple[str, int]:
    return str(record[0]), int(record[1])


def init_genesis(ctx: Context, genesis: Genesis) -> None:
    """Genesis section "roles": [[account, name, commission_bps], ...]."""
    section = genesis_section(genesis, "roles")
    if section is None:
        return
    if not isinstance(section, list):
        raise InvalidTransaction("bad_genesis", "roles section is a list of platforms")
    for item in section:
        account, name, commission = A.unpack(item, ("account", "name", "commission_bps"))
        account = A.account(account, "platform account")
        if is_platform(ctx.state, account):
            raise InvalidTransaction("bad_genesis", "a platform is listed twice in genesis")
        grant_platform(ctx.state, account, check_platform_name(name), check_commission(commission))
        ctx.emit(
            "roles.platform_granted",
            ("account", account),
            ("name", name),
            ("commission_bps", commission),
        )


HANDLERS: dict[str, Handler] = {}
GENESIS_HOOKS = (init_genesis,)
