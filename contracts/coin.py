"""The coin contract: assets, balances, mint, burn and transfer.

State:
    coin/asset/<symbol>            -> [symbol, name, decimals, issuer, cap, supply, policy]
    coin/bal/<account>/<symbol>    -> balance (absent = 0)

`move`, `credit` and `debit` are the only ways any contract changes a balance,
so supply conservation is checked in one place: only `mint_to` and `burn_from`
change an asset's supply. `policy` is "open" (any key may create one),
"platform" (a platform's coin, tradeable on the exchange) or "exclusive"
(a loyalty coin confined to its group).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from contracts import args as A
from contracts.amounts import MAX_AMOUNT, check_amount, checked_add
from ledger import codec
from ledger.errors import InvalidTransaction
from ledger.execution import Context, Handler
from ledger.genesis import Genesis
from ledger.kv import KVReader
from ledger.state import StateView

ASSET_PREFIX = b"coin/asset/"
BALANCE_PREFIX = b"coin/bal/"
SYMBOL_PATTERN = re.compile(r"[A-Z][A-Z0-9]{1,11}")
MAX_DECIMALS = 18
POLICIES = ("open", "platform", "exclusive")


@dataclass(frozen=True, slots=True)
class Asset:
    symbol: str
    name: str
    decimals: int
    issuer: bytes
    cap: int
    supply: int
    policy: str

    def to_list(self) -> list[Any]:
        return [
            self.symbol,
            self.name,
            self.decimals,
            self.issuer,
            self.cap,
            self.supply,
            self.policy,
        ]

    @staticmethod
    def from_list(value: list[Any]) -> Asset:
        return Asset(*value)


def asset_key(symbol: str) -> bytes:
    return ASSET_PREFIX + symbol.encode()


def balance_key(account: bytes, symbol: str) -> bytes:
    return BALANCE_PREFIX + account + b"/" + symbol.encode()


def check_symbol(value: Any) -> str:
    if not isinstance(value, str) or not SYMBOL_PATTERN.fullmatch(value):
        raise InvalidTransaction(
            "bad_symbol", "symbol must be 2-12 characters A-Z and 0-9, starting with a letter"
        )
    return value


# Stored encoding -> Asset: nearly every transaction of a block reads the same few
# assets, and an Asset is immutable, so one decoded from the same bytes is shared.
_ASSETS: dict[bytes, Asset] = {}
_ASSETS_KEPT = 256


def load_asset(state: StateView | KVReader, symbol: str) -> Asset | None:
    raw = state.get(asset_key(symbol))
    if raw is None:
        return None
    asset = _ASSETS.get(raw)
    if asset is None:
        asset = Asset.from_list(codec.decode_stored(raw))
        if len(_ASSETS) >= _ASSETS_KEPT:
            _ASSETS.clear()
        _ASSETS[raw] = asset
    return asset


def require_asset(state: StateView, symbol: Any) -> Asset:
    symbol = check_symbol(symbol)
    asset = load_asset(state, symbol)
    if asset is None:
        raise InvalidTransaction("unknown_asset", f"no asset with symbol {symbol}")
    return asset


def save_asset(state: StateView, asset: Asset) -> None:
    state.put_value(asset_key(asset.symbol), asset.to_list())


def balance(state: StateView | KVReader, account: bytes, symbol: str) -> int:
    raw = state.get(balance_key(account, symbol))
    if raw is None:
        return 0

    return int(codec.decode_stored(raw))


def balances_of(reader: KVReader | StateView, account: bytes) -> list[tuple[str, int]]:
    """Every non-zero balance of an account, by symbol."""

    prefix = BALANCE_PREFIX + account + b"/"
    return [
        (key[len(prefix) :].decode(), int(codec.decode(value)))
        for key, value in reader.iterate(prefix)
    ]


def credit(state: StateView, account: bytes, symbol: str, amount: int) -> None:
    key = balance_key(account, symbol)
    state.put_int(key, checked_add(state.get_int(key), amount))


def debit(state: StateView, account: bytes, symbol: str, amount: int) -> None:
    key = balance_key(account, symbol)
    current = state.get_int(key)
    if current < amount:
        raise InvalidTransaction(
            "insufficient_funds", f"balance of {symbol} is {current}, {amount} is needed"
        )
    state.put_int(key, current - amount)


def move(state: StateView, symbol: str, source: bytes, target: bytes, amount: int) -> None:
    """Move `amount` of `symbol` between accounts; the sum of balances is unchanged."""
    if amount == 0 or source == target:
        return
    debit(state, source, symbol, amount)
    credit(state, target, symbol, amount)


def mint_to(state: StateView, asset: Asset, target: bytes, amount: int) -> Asset:
    """Create new units within the cap; returns the updated asset."""
    supply = asset.supply + amount
    if supply > asset.cap:
        raise InvalidTransaction(
            "cap_exceeded", f"minting {amount} would exceed the {asset.symbol} cap of {asset.cap}"
        )
    credit(state, target, asset.symbol, amount)
    updated = Asset(
        asset.symbol, asset.name, asset.decimals, asset.issuer, asset.cap, supply, asset.policy
    )
    save_asset(state, updated)
    return updated


def burn_from(state: StateView, asset: Asset, source: bytes, amount: int) -> Asset:
    debit(state, source, asset.symbol, amount)
    updated = Asset(
        asset.symbol,
        asset.name,
        asset.decimals,
        asset.issuer,
        asset.cap,
        asset.supply - amount,
        asset.policy,
    )
    save_asset(state, updated)
    return updated


def create_asset(
    state: StateView, symbol: Any, name: Any, decimals: Any, cap: Any, issuer: bytes, policy: str
) -> Asset:
    """Register a new asset with zero supply; shared by coin.create and platform coins."""
    symbol = check_symbol(symbol)
    name = A.text(name, "name", 64, 1)
    decimals = A.integer(decimals, "decimals", 0, MAX_DECIMALS)
    cap = check_amount(cap, "cap")
    if policy not in POLICIES:
        raise InvalidTransaction("bad_policy", f"policy must be one of {', '.join(POLICIES)}")
    if load_asset(state, symbol) is not None:
        raise InvalidTransaction("asset_exists", f"an asset with symbol {symbol} already exists")
    asset = Asset(symbol, name, decimals, issuer, cap, 0, policy)
    save_asset(state, asset)
    return asset


def create(ctx: Context, args: tuple[Any, ...]) -> None:
    """coin.create(symbol, name, decimals, cap): the sender becomes the issuer."""
    symbol, name, decimals, cap = A.unpack(args, ("symbol", "name", "decimals", "cap"))
    asset = create_asset(ctx.state, symbol, name, decimals, cap, ctx.sender, "open")
    ctx.emit(
        "coin.created",
        ("symbol", asset.symbol),
        ("issuer", asset.issuer),
        ("decimals", asset.decimals),
        ("cap", asset.cap),
        ("policy", asset.policy),
    )


def mint(ctx: Context, args: tuple[Any, ...]) -> None:
    """coin.mint(symbol, to, amount): issuer only, within the supply cap."""
    symbol, to, amount = A.unpack(args, ("symbol", "to", "amount"))
    asset = require_asset(ctx.state, symbol)
    target = A.account(to, "to")
    amount = check_amount(amount)
    if ctx.sender != asset.issuer:
        raise InvalidTransaction("not_issuer", f"only the issuer of {asset.symbol} may mint it")
    if asset.policy == "platform":
        from contracts.roles import require_platform

        # A platform whose role was revoked keeps its coin trading but cannot inflate it.
        require_platform(ctx.state, ctx.sender, "issuer")
    mint_to(ctx.state, asset, target, amount)
    ctx.emit("coin.minted", ("symbol", asset.symbol), ("to", target), ("amount", amount))


def burn(ctx: Context, args: tuple[Any, ...]) -> None:
    """coin.burn(symbol, amount): the issuer destroys units from its own balance."""
    symbol, amount = A.unpack(args, ("symbol", "amount"))
    asset = require_asset(ctx.state, symbol)
    amount = check_amount(amount)
    if ctx.sender != asset.issuer:
        raise InvalidTransaction("not_issuer", f"only the issuer of {asset.symbol} may burn it")
    burn_from(ctx.state, asset, ctx.sender, amount)
    ctx.emit("coin.burned", ("symbol", asset.symbol), ("from", ctx.sender), ("amount", amount))


def transfer(ctx: Context, args: tuple[Any, ...]) -> None:
    """coin.transfer(symbol, to, amount[, memo])."""
    symbol, to, amount, memo = A.unpack(args, ("symbol", "to", "amount", "memo"), optional=1)
    asset = require_asset(ctx.state, symbol)
    target = A.account(to, "to")
    amount = check_amount(amount)
    memo = "" if memo is None else A.text(memo, "memo", 256)
    if target == ctx.sender:
        raise InvalidTransaction("self_transfer", "sender and recipient are the same account")
    rules.check_transfer(ctx.state, asset, ctx.sender, target)
    move(ctx.state, asset.symbol, ctx.sender, target, amount)
    ctx.emit(
        "coin.transfer",
        ("symbol", asset.symbol),
        ("from", ctx.sender),
        ("to", target),
        ("amount", amount),
        ("memo", memo),
    )


def genesis_section(genesis: Genesis, name: str) -> Any:
    """The app_state section a contract owns: app_state is [[name, value], ...]."""
    state = genesis.app_state
    if not isinstance(state, list):
        raise InvalidTransaction("bad_genesis", "genesis app_state must be a list of sections")
    for item in state:
        if isinstance(item, list) and len(item) == 2 and item[0] == name:
            return item[1]
    return None


def init_genesis(ctx: Context, genesis: Genesis) -> None:
    """Genesis section "coin": [[[symbol, name, decimals, issuer, cap, policy], ...],
    [[account, symbol, amount], ...]]; genesis balances count as minted supply."""
    section = genesis_section(genesis, "coin")
    if section is None:
        return
    if not isinstance(section, list) or len(section) != 2:
        raise InvalidTransaction("bad_genesis", "coin section is [assets, balances]")
    assets, balances = section
    for item in assets:
        symbol, name, decimals, issuer, cap, policy = A.unpack(
            item, ("symbol", "name", "decimals", "issuer", "cap", "policy")
        )
        create_asset(ctx.state, symbol, name, decimals, cap, A.account(issuer, "issuer"), policy)
    for item in balances:
        account, symbol, amount = A.unpack(item, ("account", "symbol", "amount"))
        asset = require_asset(ctx.state, symbol)
        mint_to(ctx.state, asset, A.account(account, "account"), check_amount(amount))


HANDLERS: dict[str, Handler] = {
    "coin.create": create,
    "coin.mint": mint,
    "coin.burn": burn,
    "coin.transfer": transfer,
}
GENESIS_HOOKS = (init_genesis,)

# The transfer rules build on this module (Asset), so they are imported once it is
# complete; `transfer` reaches them through the module at call time.
from contracts import policy as rules  # noqa: E402

__all__ = ["MAX_AMOUNT", "HANDLERS", "GENESIS_HOOKS", "Asset", "move", "credit", "debit"]
