"""The JSON form of canonical values (transaction arguments, event attributes).

Canonical values are integers, bytes, text, booleans, nil and arrays of them.
JSON has no bytes type, so the mapping is:

    canonical        JSON
    ---------        ----
    int              number (an integer; floats are refused)
    str              string
    bool / nil       true, false / null
    bytes            {"hex": "<lowercase hex>"}
    array            array
    account (input)  {"address": "pasar1..."} anywhere, or a bare "pasar1..." string at
                     an argument position that `ACCOUNT_ARGUMENTS` marks as an account

Rendering always uses {"hex": ...} for bytes, so `from_json(to_json(v)) == v`.
Contract modules that add methods with account arguments add their positions to
`ACCOUNT_ARGUMENTS` so clients can pass addresses as plain text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ledger.keys import address_from_text
from node.rpc.openapi import ADDRESS_PATTERN

# Method -> positions (0-based) of arguments that are accounts.
ACCOUNT_ARGUMENTS: dict[str, frozenset[int]] = {
    "coin.mint": frozenset({1}),
    "coin.transfer": frozenset({1}),
    "payment.pay": frozenset({0, 1}),
    "loyalty.add_member": frozenset({1}),
    "loyalty.remove_member": frozenset({1}),
    "loyalty.bind_validator": frozenset({1}),
    "listing.create": frozenset({5}),
    "order.place": frozenset({3}),
}
MAX_JSON_DEPTH = 16
_ADDRESS = re.compile(ADDRESS_PATTERN.strip("^$"))


class JsonValueError(ValueError):
    """A JSON value with no canonical form; `path` says where (e.g. "args[1].hex")."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def from_json(value: Any, path: str = "value", account: bool = False, depth: int = 0) -> Any:
    """Convert a decoded JSON value to its canonical value (see the module docstring)."""
    if depth > MAX_JSON_DEPTH:
        raise JsonValueError(path, "nested too deeply")
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        raise JsonValueError(path, "numbers must be integers (amounts are in minor units)")
    if isinstance(value, str):
        if account and value.startswith("pasar1"):
            return _address(value, path)
        return value
    if isinstance(value, list):
        return [
            from_json(item, f"{path}[{index}]", False, depth + 1)
            for index, item in enumerate(value)
        ]
    if isinstance(value, dict):
        if set(value) == {"hex"}:
            text = value["hex"]
            if not isinstance(text, str):
                raise JsonValueError(f"{path}.hex", "must be a string of hex digits")
            try:
                return bytes.fromhex(text)
            except ValueError as exc:
                raise JsonValueError(f"{path}.hex", "is not valid hex") from exc
        if set(value) == {"address"}:
            text = value["address"]
            if not isinstance(text, str):
                raise JsonValueError(f"{path}.address", "must be an address string")
            return _address(text, f"{path}.address")
        raise JsonValueError(path, 'objects must be {"hex": ...} or {"address": ...}')
    raise JsonValueError(path, f"unsupported JSON type {type(value).__name__}")


def _address(text: str, path: str) -> bytes:
    # The same text form as everywhere in the RPC (see node.rpc.params.parse_address).
    if not _ADDRESS.fullmatch(text):
        raise JsonValueError(path, "invalid address: not pasar1 + 58 base32 characters, or hex")
    try:
        return address_from_text(text)
    except ValueError as exc:
        raise JsonValueError(path, f"invalid address: {exc}") from exc


def args_from_json(method: str, args: Sequence[Any]) -> tuple[Any, ...]:
    """A transaction's JSON arguments as canonical values, honouring account positions."""
    accounts = ACCOUNT_ARGUMENTS.get(method, frozenset())
    return tuple(
        from_json(item, f"args[{index}]", index in accounts) for index, item in enumerate(args)
    )


def to_json(value: Any) -> Any:
    """Render a canonical value as JSON (bytes as {"hex": ...})."""
    if isinstance(value, bytes | bytearray):
        return {"hex": bytes(value).hex()}
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    return value
