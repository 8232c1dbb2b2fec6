"""The relay's configuration file (TOML): the nodes, the database, retries, endpoints.

```toml
nodes = ["http://127.0.0.1:26600", "http://127.0.0.1:26602"]   # or node = "..." for one
database = "webhooks.sqlite"
start = "0"                 # cursor when the database has none ("" = next block)
stall_s = 20                # silence (no byte, not even a keepalive) before nodes are compared
retention_days = 30         # finished messages and the delivery log are kept; 0 = for ever

[retry]
first_delay_s = 5           # doubles each attempt, with jitter
max_delay_s = 3600
horizon_s = 259200          # give up on a delivery 3 days after the event
disable_after = 20          # consecutive failed attempts that disable an endpoint
timeout_s = 10

[[endpoints]]
name = "shop"
url = "https://shop.example/pasar/webhooks"
secrets = ["whsec_..."]     # two during a rollover: both sign
accounts = ["pasar1..."]    # events naming these accounts; empty = all
kinds = ["invoice.paid", "payment.received"]   # empty or ["*"] = all kinds
```
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cli.common import CliError
from cli.webhooks.kinds import KINDS
from cli.webhooks.signing import secret_key
from ledger.keys import address_from_text, address_to_text


@dataclass(frozen=True)
class RetryPolicy:
    first_delay_s: float = 5.0
    max_delay_s: float = 3600.0
    horizon_s: float = 3 * 24 * 3600.0
    disable_after: int = 20
    timeout_s: float = 10.0


@dataclass(frozen=True)
class Endpoint:
    name: str
    url: str
    secrets: tuple[str, ...]
    accounts: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    account_keys: frozenset[str] = field(default=frozenset())

    def wants(self, kind: str, sender: str | None, mentions_account: bool) -> bool:
        if self.kinds and kind not in self.kinds:
            return False
        return not self.accounts or mentions_account or sender in self.accounts


@dataclass(frozen=True)
class RelayConfig:
    nodes: tuple[str, ...]
    database: Path
    start: str
    retry: RetryPolicy
    endpoints: tuple[Endpoint, ...]
    stall_s: float = 20.0
    retention_s: float = 30 * 24 * 3600.0  # 0: keep everything

    @property
    def node(self) -> str:
        """The first node: the URLs inside payloads name it, so that an event read
        from any node of the list has the same body."""
        return self.nodes[0]

    def endpoint(self, name: str) -> Endpoint:
        for endpoint in self.endpoints:
            if endpoint.name == name:
                return endpoint
        raise CliError(f"no endpoint named {name!r} in the configuration")


def _endpoint(raw: Any, position: int) -> Endpoint:
    where = f"endpoints[{position}]"
    if not isinstance(raw, dict):
        raise CliError(f"{where} must be a table")
    name, url = raw.get("name"), raw.get("url")
    if not isinstance(name, str) or not name:
        raise CliError(f"{where}.name must be a non-empty string")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise CliError(f"{where}.url must be an http(s) URL")
    secrets = raw.get("secrets", [])
    if not isinstance(secrets, list) or not secrets or len(secrets) > 2:
        raise CliError(f"{where}.secrets must list one secret, or two during a rollover")
    for secret in secrets:
        try:
            secret_key(str(secret))
        except ValueError as exc:
            raise CliError(f"{where}.secrets: {exc}") from exc
    accounts = raw.get("accounts", [])
    keys = []
    for account in accounts:
        try:
            keys.append(address_from_text(str(account)).hex())
        except ValueError as exc:
            raise CliError(f"{where}.accounts: {account!r} is not an address") from exc
    kinds = [k for k in raw.get("kinds", []) if k != "*"]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise CliError(f"{where}.kinds: unknown kind {unknown[0]!r} (known: {', '.join(KINDS)})")
    addresses = tuple(address_to_text(bytes.fromhex(key)) for key in keys)
    return Endpoint(name, url, tuple(map(str, secrets)), addresses, tuple(kinds), frozenset(keys))


def parse_config(raw: dict[str, Any], base: Path) -> RelayConfig:
    retry_raw = raw.get("retry", {})
    try:
        retry = RetryPolicy(
            first_delay_s=float(retry_raw.get("first_delay_s", 5.0)),
            max_delay_s=float(retry_raw.get("max_delay_s", 3600.0)),
            horizon_s=float(retry_raw.get("horizon_s", 3 * 24 * 3600.0)),
            disable_after=int(retry_raw.get("disable_after", 20)),
            timeout_s=float(retry_raw.get("timeout_s", 10.0)),
        )
    except (TypeError, ValueError, AttributeError) as exc:
        raise CliError(f"[retry]: {exc}") from exc
    if retry.first_delay_s <= 0 or retry.max_delay_s < retry.first_delay_s:
        raise CliError("[retry]: need 0 < first_delay_s <= max_delay_s")
    endpoints = tuple(_endpoint(e, i) for i, e in enumerate(raw.get("endpoints", [])))
    names = [e.name for e in endpoints]
    if len(set(names)) != len(names):
        raise CliError("endpoint names must be unique")
    database = Path(str(raw.get("database", "webhooks.sqlite")))
    try:
        stall_s = float(raw.get("stall_s", 20.0))
    except (TypeError, ValueError) as exc:
        raise CliError(f"stall_s: {exc}") from exc
    if stall_s <= 0:
        raise CliError("stall_s must be a positive number of seconds")
    try:
        retention_days = float(raw.get("retention_days", 30))
    except (TypeError, ValueError) as exc:
        raise CliError(f"retention_days: {exc}") from exc
    if not 0 <= retention_days <= 36_500:
        raise CliError("retention_days must be between 0 (keep for ever) and 36500")
    # A message still being retried must outlive its retry horizon.
    if 0 < retention_days * 86_400 < retry.horizon_s:
        raise CliError("retention_days must cover [retry] horizon_s (or be 0)")
    return RelayConfig(
        nodes=_nodes(raw),
        database=database if database.is_absolute() else base / database,
        start=str(raw.get("start", "0")),
        retry=retry,
        endpoints=endpoints,
        stall_s=stall_s,
        retention_s=retention_days * 86_400,
    )


def _nodes(raw: dict[str, Any]) -> tuple[str, ...]:
    """`nodes = [...]` (validators of one chain) or the older single `node = "..."`."""
    if "nodes" in raw and "node" in raw:
        raise CliError("give either node or nodes, not both")
    listed = raw["nodes"] if "nodes" in raw else [raw.get("node", "http://127.0.0.1:26600")]
    if not isinstance(listed, list) or not listed:
        raise CliError("nodes must list at least one node URL")
    urls: list[str] = []
    for url in listed:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise CliError(f"nodes: {url!r} is not an http(s) URL")
        if url.rstrip("/") not in urls:
            urls.append(url.rstrip("/"))
    return tuple(urls)


def load_config(path: Path) -> RelayConfig:
    try:
        raw = tomllib.loads(path.read_text())
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CliError(f"{path} is not valid TOML: {exc}") from exc
    return parse_config(raw, path.resolve().parent)
