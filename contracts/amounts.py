"""Amounts: integers in minor units with an explicit upper bound.

Overflow and non-positive amounts are invalid transactions, never exceptions, so
a hostile transaction cannot crash a validator or wrap a balance around.
"""

from __future__ import annotations

from typing import Any

from ledger.errors import InvalidTransaction

MAX_AMOUNT = (1 << 63) - 1
BASIS_POINTS = 10_000
# 20%: a platform cannot take more than a fifth of a sale (roles; franchise royalties
# stay within what is left). Here, not in roles: franchise needs it while roles is
# still importing coin, whose transfer rules import franchise.
MAX_COMMISSION_BPS = 2_000


def check_amount(value: Any, what: str = "amount", allow_zero: bool = False) -> int:
    """A positive integer amount (or zero when allowed) no larger than MAX_AMOUNT."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidTransaction("bad_amount", f"{what} must be an integer number of minor units")
    low = 0 if allow_zero else 1
    if value < low:
        raise InvalidTransaction("bad_amount", f"{what} must be at least {low}")
    if value > MAX_AMOUNT:
        raise InvalidTransaction("amount_overflow", f"{what} exceeds the maximum {MAX_AMOUNT}")
    return value


def checked_add(a: int, b: int, what: str = "balance") -> int:
    total = a + b
    if total > MAX_AMOUNT:
        raise InvalidTransaction("amount_overflow", f"{what} would exceed the maximum {MAX_AMOUNT}")
    return total


def check_basis_points(value: Any, what: str, maximum: int = BASIS_POINTS) -> int:
    """A rate in basis points (1/100 of a percent) between 0 and `maximum`."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise InvalidTransaction("bad_rate", f"{what} must be 0..{maximum} basis points")
    return value


def share(amount: int, basis_points: int) -> int:
    """floor(amount * bp / 10000): the part a rate takes; the payer keeps the remainder."""
    return amount * basis_points // BASIS_POINTS
