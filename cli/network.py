"""network.toml: the description of a local testnet that `pasar up` starts.

The file names the validators, the participants' development accounts (with
public seeds), the platforms and the genesis coins and balances, all by account
name. `network_app_state` turns it into the genesis app_state sections that
node/home.py understands (names replaced by addresses). Parsed strictly with
pydantic at this edge: an unknown key or a wrong type is an error naming it.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cli.common import CliError
from ledger.keys import PrivateKey, address_to_text

NAME_PATTERN = r"^[a-z][a-z0-9-]{0,31}$"


class NetworkModel(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class ValidatorEntry(NetworkModel):
    name: str = Field(pattern=NAME_PATTERN)


class AccountEntry(NetworkModel):
    name: str = Field(pattern=NAME_PATTERN)
    seed: str = Field(pattern=r"^[0-9a-f]{64}$")

    def key(self) -> PrivateKey:
        return PrivateKey.from_seed(bytes.fromhex(self.seed))


class PlatformEntry(NetworkModel):
    account: str
    name: str = Field(min_length=1, max_length=64)
    commission_bps: int = Field(ge=0, le=10_000)


class AssetEntry(NetworkModel):
    symbol: str
    name: str
    decimals: int = Field(ge=0, le=18)
    issuer: str
    cap: int = Field(ge=1)
    policy: str


class BalanceEntry(NetworkModel):
    account: str
    asset: str
    amount: int = Field(ge=1)


class Network(NetworkModel):
    chain_id: str = Field(min_length=1, max_length=64)
    data_dir: str = ".pasar"
    base_port: int = Field(default=26600, ge=1024, le=65000)
    genesis_time_ms: int = Field(default=0, ge=0)
    validators: list[ValidatorEntry] = Field(min_length=1, max_length=64)
    accounts: list[AccountEntry] = Field(default_factory=list)
    platforms: list[PlatformEntry] = Field(default_factory=list)
    assets: list[AssetEntry] = Field(default_factory=list)
    balances: list[BalanceEntry] = Field(default_factory=list)

    def account_address(self, name: str, where: str) -> str:
        for account in self.accounts:
            if account.name == name:
                return address_to_text(account.key().public_key)
        raise CliError(f"network.toml: {where} names unknown account {name!r}")


def load_network(path: Path) -> Network:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CliError(f"{path} is not valid TOML: {exc}") from exc
    try:
        network = Network.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise CliError(f"{path}: {where}: {first['msg']}") from exc
    names = [v.name for v in network.validators]
    if len(set(names)) != len(names):
        raise CliError(f"{path}: validator names must be unique")
    accounts = [a.name for a in network.accounts]
    if len(set(accounts)) != len(accounts):
        raise CliError(f"{path}: account names must be unique")
    return network


def network_app_state(network: Network) -> dict[str, Any]:
    """Genesis app_state sections (JSON form, see node/home.py) for the network."""
    sections: dict[str, Any] = {}
    if network.assets or network.balances:
        assets = [
            [
                a.symbol,
                a.name,
                a.decimals,
                network.account_address(a.issuer, f"asset {a.symbol}"),
                a.cap,
                a.policy,
            ]
            for a in network.assets
        ]
        balances = [
            [network.account_address(b.account, "balances"), b.asset, b.amount]
            for b in network.balances
        ]
        sections["coin"] = [assets, balances]
    if network.platforms:
        sections["roles"] = [
            [network.account_address(p.account, "platforms"), p.name, p.commission_bps]
            for p in network.platforms
        ]
    return sections
