"""Decoding a transaction's positional arguments into checked values.

Handlers call these first; a wrong count or type is an `InvalidTransaction` with
code `bad_args` and a message naming the argument, so a client knows what to fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ledger.errors import InvalidTransaction
from ledger.hashing import HASH_SIZE
from ledger.keys import PUBLIC_KEY_SIZE


def unpack(args: Sequence[Any], names: Sequence[str], optional: int = 0) -> list[Any]:
    """Check the argument count (the last `optional` may be omitted, as None)."""
    if not len(names) - optional <= len(args) <= len(names):
        raise InvalidTransaction(
            "bad_args", f"expected arguments ({', '.join(names)}), got {len(args)}"
        )
    return list(args) + [None] * (len(names) - len(args))


def account(value: Any, what: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != PUBLIC_KEY_SIZE:
        raise InvalidTransaction("bad_args", f"{what} must be a 32-byte account key")
    return value


def digest(value: Any, what: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise InvalidTransaction("bad_args", f"{what} must be a 32-byte hash")
    return value


def integer(value: Any, what: str, low: int = 0, high: int = (1 << 63) - 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidTransaction("bad_args", f"{what} must be an integer in {low}..{high}")
    return value


def text(value: Any, what: str, max_length: int = 256, min_length: int = 0) -> str:
    if not isinstance(value, str) or not min_length <= len(value) <= max_length:
        raise InvalidTransaction(
            "bad_args", f"{what} must be text of {min_length}..{max_length} characters"
        )
    return value


def blob(value: Any, what: str, max_length: int = 4096) -> bytes:
    if not isinstance(value, bytes) or len(value) > max_length:
        raise InvalidTransaction("bad_args", f"{what} must be bytes, at most {max_length}")
    return value


def boolean(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidTransaction("bad_args", f"{what} must be true or false")
    return value


def account_list(value: Any, what: str, max_items: int = 64) -> list[bytes]:
    if not isinstance(value, list) or len(value) > max_items:
        raise InvalidTransaction(
            "bad_args", f"{what} must be a list of at most {max_items} accounts"
        )
    accounts = [account(item, what) for item in value]
    if len(set(accounts)) != len(accounts):
        raise InvalidTransaction("bad_args", f"{what} lists an account twice")
    return accounts
