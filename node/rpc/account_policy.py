"""The JSON form of an account's policy, as `GET /v1/accounts/{address}` shows it."""

from __future__ import annotations

from typing import Any

from contracts.account import Policy, load_pending_recovery, load_policy
from ledger.keys import address_to_text
from ledger.kv import KVReader


def _weighted(keys: tuple[tuple[bytes, int], ...]) -> list[dict[str, Any]]:
    return [{"key": address_to_text(key), "weight": weight} for key, weight in keys]


def policy_json(policy: Policy, account: bytes) -> dict[str, Any]:
    low, medium, high = policy.thresholds
    recovery = policy.recovery
    return {
        "default": policy == Policy.default(account),
        "keys": _weighted(policy.keys),
        "thresholds": {"low": low, "medium": medium, "high": high},
        "large_amount": policy.large_amount,
        "scoped_keys": [
            {
                "key": address_to_text(scoped.key),
                "methods": list(scoped.methods),
                "allowance": scoped.allowance,
            }
            for scoped in policy.scoped
        ],
        "recovery": None
        if recovery is None
        else {
            "keys": _weighted(recovery.keys),
            "threshold": recovery.threshold,
            "delay_ms": recovery.delay_ms,
        },
    }


def account_policy_json(reader: KVReader, account: bytes) -> dict[str, Any]:
    """The policy in effect, plus the recovery waiting to replace it, if any."""
    body = policy_json(load_policy(reader, account), account)
    pending = load_pending_recovery(reader, account)
    body["pending_recovery"] = (
        None
        if pending is None
        else {"effective_ms": pending[1], "policy": policy_json(pending[0], account)}
    )
    return body
