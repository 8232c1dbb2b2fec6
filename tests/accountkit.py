"""Builders for multi-key account tests: policies in wire form and co-signed transactions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ledger.execution import account_nonce
from ledger.keys import PrivateKey
from ledger.receipt import Receipt
from ledger.tx import Transaction
from tests.chainkit import CHAIN_ID, Chain

IDR = "IDR"
HOUR_MS = 3600 * 1000


def coin_state(holders: Sequence[bytes], amount: int = 1_000_000) -> list[Any]:
    """Genesis app_state: an IDR asset and `amount` for each holder."""
    issuer = holders[0]
    return [
        [
            "coin",
            [
                [[IDR, "rupiah", 2, issuer, 10**15, "open"]],
                [[holder, IDR, amount] for holder in holders],
            ],
        ]
    ]


def policy(
    keys: Sequence[tuple[PrivateKey | bytes, int]],
    thresholds: tuple[int, int, int],
    large_amount: int = 0,
    scoped: Sequence[tuple[PrivateKey | bytes, Sequence[str], int | None]] = (),
    recovery: tuple[Sequence[tuple[PrivateKey | bytes, int]], int, int] | None = None,
) -> list[Any]:
    """A policy in wire form, with keys and methods put in canonical order."""

    def raw(key: PrivateKey | bytes) -> bytes:
        return key.public_key if isinstance(key, PrivateKey) else key

    def weighted(pairs: Sequence[tuple[PrivateKey | bytes, int]]) -> list[Any]:
        return sorted([raw(key), weight] for key, weight in pairs)

    return [
        weighted(keys),
        list(thresholds),
        large_amount,
        sorted([raw(key), sorted(methods), allowance] for key, methods, allowance in scoped),
        None if recovery is None else [weighted(recovery[0]), recovery[1], recovery[2]],
    ]


def cosign(
    chain: Chain, account: bytes, signers: Sequence[PrivateKey], method: str, *args: Any
) -> Receipt:
    """Run one transaction of `account` signed by `signers`, in its own block."""
    nonce = account_nonce(chain.store, account)
    tx = Transaction(CHAIN_ID, account, nonce, method, tuple(args))
    return chain.block(tx.sign(*signers))[0]
