"""How amounts and times read for people: the asset's decimals and symbol, ISO dates.

Only human output goes through here; `--json` keeps the node's integers (minor
units, milliseconds). Decimals come from the node's asset list, asked once per
command and only when an amount is shown; an asset the node does not list (or a
node that cannot be asked) shows its minor units with the symbol.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from cli.client import NodeClient
from cli.common import CliError

# Asset pages asked for at most (500 assets each) before giving up on a symbol.
MAX_ASSET_PAGES = 20
ASSET_PAGE = 500

# Event attributes that are amounts, and the attribute naming their coin.
AMOUNT_ATTRIBUTES: Mapping[str, str] = {
    "amount": "symbol",
    "net": "symbol",
    "commission": "symbol",
    "fee": "symbol",
    "arbiter_fee": "symbol",
    "due": "symbol",
    "minted": "symbol",
    "held": "symbol",
    "released": "symbol",
    "refunded": "symbol",
    "refunded_total": "symbol",
    "buyer_amount": "symbol",
    "seller_amount": "symbol",
    "cap": "symbol",
    "paid": "pay_symbol",
    "pay_amount": "pay_symbol",
    "received": "receive_symbol",
    "refund": "refund_symbol",
    "base_amount": "base",
    "quote_amount": "quote",
    "locked": "locked_symbol",
}
# Event attributes that are points in time (milliseconds since 1970, UTC).
TIME_ATTRIBUTES = frozenset(
    {
        "expiry_ms",
        "ship_by_ms",
        "release_at_ms",
        "rule_by_ms",
        "created_ms",
        "paid_ms",
        "timestamp_ms",
    }
)


def iso_time(ms: int) -> str:
    """Milliseconds since 1970 as an ISO 8601 UTC date, e.g. 2026-01-01T00:00:00Z."""
    moment = datetime.fromtimestamp(ms // 1000, tz=UTC).replace(microsecond=(ms % 1000) * 1000)
    spec = "milliseconds" if ms % 1000 else "seconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def duration(ms: int) -> str:
    """A length of time in the largest whole unit: 3d, 2h, 15m, 90s, 250ms."""
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)):
        if ms and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def decimal_amount(value: int, decimals: int) -> str:
    """Minor units as a decimal number with thousands separators: 1000000, 2 -> 10,000.00."""
    sign = "-" if value < 0 else ""
    whole, fraction = divmod(abs(value), 10**decimals)
    if decimals == 0:
        return f"{sign}{whole:,}"
    return f"{sign}{whole:,}.{fraction:0{decimals}d}"


class Display:
    """Formats amounts of any asset, looking decimals up on the node when first needed."""

    def __init__(self, client: NodeClient | None, known: Mapping[str, int] | None = None) -> None:
        self._client = client
        self._decimals: dict[str, int] = dict(known or {})
        self._loaded = client is None

    def decimals(self, symbol: str) -> int | None:
        if symbol not in self._decimals and not self._loaded:
            self._load()
        return self._decimals.get(symbol)

    def _load(self) -> None:
        self._loaded = True
        if self._client is None:
            return
        cursor: str | None = None
        try:
            for _ in range(MAX_ASSET_PAGES):
                query = {"limit": str(ASSET_PAGE)}
                if cursor:
                    query["cursor"] = cursor
                page = self._client.request("GET", "/v1/assets", query=query)
                for asset in page["assets"]:
                    self._decimals[str(asset["symbol"])] = int(asset["decimals"])
                cursor = page.get("next_cursor")
                if not cursor:
                    break
        except (CliError, KeyError, TypeError, ValueError):
            return  # amounts then read in minor units; the command's own answer stands

    def amount(self, value: Any, symbol: Any) -> str:
        """`10,000.00 IDRA`, or the minor units and symbol when the decimals are unknown."""
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{value} {symbol}"
        decimals = self.decimals(str(symbol))
        if decimals is None:
            return f"{value} {symbol} (minor units)"
        return f"{decimal_amount(value, decimals)} {symbol}"

    def attributes(
        self, attributes: Mapping[str, Any], plain: Callable[[str, Any], str]
    ) -> list[str]:
        """`name=value` for each event attribute, amounts and times made readable."""
        shown: list[str] = []
        for name, value in attributes.items():
            symbol_key = AMOUNT_ATTRIBUTES.get(name)
            if symbol_key is not None and symbol_key in attributes and isinstance(value, int):
                shown.append(f"{name}={self.amount(value, attributes[symbol_key])}")
            elif name in TIME_ATTRIBUTES and isinstance(value, int) and value > 0:
                shown.append(f"{name}={iso_time(value)}")
            else:
                shown.append(f"{name}={plain(name, value)}")
        return shown
