"""Account roles: which accounts are e-commerce platforms, and their commission.

    roles/platform/<account> -> [name, commission_bps]

Platforms are granted in genesis or by governance approved by 2/3 of the
validators. Only platforms create platform coins, act as arbiters and set a
commission rate (capped at MAX_COMMISSION_BPS) for sales made through them.
"""

from __future__ import annotations

from typing import Any

from ledger import codec
from ledger.errors import InvalidTransaction
from ledger.kv import KVReader
from ledger.state import StateView

PLATFORM_PREFIX = b"roles/platform/"
MAX_COMMISSION_BPS = 2_000  # 20%: a platform cannot take more than a fifth of a sale


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


def grant_platform(state: StateView, account: bytes, name: str, commission: int) -> None:
    state.put_value(platform_key(account), [name, commission])
