"""After a fault run: check a recorded history against what the honest nodes hold.

Checks (each failure is one line in `Verdict.defects`):
  - no honest node is stuck: their heights converge within a bounded wait;
  - every honest node holds the same block hash and state root at every height;
  - every tx answered "committed" at (height, index) is at that height and index
    in every honest node's chain;
  - every coin's supply (GET /v1/assets on every honest node) equals genesis plus
    the successful mints minus the successful burns found in the chain.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.faults.history import History
from tests.integration.harness import LocalNet, http


@dataclass(frozen=True)
class BlockView:
    hash: str
    state_root: str
    txs: tuple[str, ...]


@dataclass
class Verdict:
    height: int = 0
    committed: int = 0
    defects: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.defects


def converge(net: LocalNet, honest: Sequence[int], timeout: float) -> dict[int, int | None]:
    """Wait (bounded) until the honest nodes report one height; return the last heights seen."""
    deadline = time.monotonic() + timeout
    heights: dict[int, int | None] = {}
    while True:
        for index in honest:
            try:
                heights[index] = net.height(index)
            except (OSError, ValueError):
                heights[index] = None
        values = set(heights.values())
        if len(values) == 1 and None not in values:
            # Settle: the same height twice in a row, so nothing is still in flight.
            time.sleep(0.5)
            again = {net.height(i) for i in honest}
            if again == values:
                return heights
        if time.monotonic() > deadline:
            return heights
        time.sleep(0.3)


def read_chain(net: LocalNet, index: int, height: int) -> tuple[list[BlockView], list[Any]]:
    """Blocks 1..height of one node, and the transactions (JSON) in chain order."""
    blocks: list[BlockView] = []
    txs: list[Any] = []
    for h in range(1, height + 1):
        code, body = http("GET", net.url(index, f"/v1/blocks/{h}"))
        if code != 200:
            raise ValueError(f"{net.nodes[index].name} answered {code} for block {h}")
        items = body.get("transactions", [])
        blocks.append(
            BlockView(body["hash"], body["header"]["state_root"], tuple(t["hash"] for t in items))
        )
        txs.extend(items)
    return blocks, txs


def supply_change(txs: list[Any], symbol: str) -> int:
    """Successful mints minus successful burns of `symbol` in a chain's transactions."""
    change = 0
    for tx in txs:
        if not tx.get("result", {}).get("ok") or not tx["args"] or tx["args"][0] != symbol:
            continue
        if tx["method"] == "coin.mint":
            change += int(tx["args"][2])
        elif tx["method"] == "coin.burn":
            change -= int(tx["args"][1])
    return change


def check(
    net: LocalNet,
    history: History,
    honest: Sequence[int],
    genesis_supply: dict[str, int],
    converge_timeout: float = 30.0,
) -> Verdict:
    verdict = Verdict()
    heights = converge(net, honest, converge_timeout)
    if len(set(heights.values())) != 1 or None in heights.values():
        verdict.defects.append(f"honest nodes did not converge: heights {heights}")
    reachable = [i for i in honest if heights.get(i) is not None]
    if not reachable:
        return verdict
    height = min(h for h in heights.values() if h is not None)
    verdict.height = height
    chains = {i: read_chain(net, i, height) for i in reachable}
    first = reachable[0]
    reference, txs = chains[first]
    for index in reachable[1:]:
        for h, (mine, theirs) in enumerate(zip(reference, chains[index][0], strict=True), 1):
            if mine.hash != theirs.hash:
                verdict.defects.append(
                    f"block {h}: {net.nodes[first].name} has {mine.hash[:16]}, "
                    f"{net.nodes[index].name} has {theirs.hash[:16]}"
                )
            elif mine.state_root != theirs.state_root:
                verdict.defects.append(f"block {h}: state roots differ on the same block")
    committed = history.committed()
    verdict.committed = len(committed)
    for tx_hash, (h, position, answered_by) in sorted(committed.items()):
        for index in reachable:
            blocks = chains[index][0]
            if h > len(blocks):
                if h > height and heights.get(index) is not None:
                    verdict.defects.append(
                        f"tx {tx_hash[:16]} answered committed at {h} by "
                        f"{net.nodes[answered_by].name}, beyond converged height {height}"
                    )
                continue
            held = blocks[h - 1].txs
            if position >= len(held) or held[position] != tx_hash:
                verdict.defects.append(
                    f"tx {tx_hash[:16]} answered committed at {h}/{position} by "
                    f"{net.nodes[answered_by].name} is not there on {net.nodes[index].name}"
                )
    for symbol, supply in sorted(genesis_supply.items()):
        expected = supply + supply_change(txs, symbol)
        for index in reachable:
            code, body = http("GET", net.url(index, "/v1/assets"))
            found = {a["symbol"]: int(a["supply"]) for a in body.get("assets", [])}
            if code != 200 or found.get(symbol) != expected:
                verdict.defects.append(
                    f"{net.nodes[index].name}: {symbol} supply {found.get(symbol)} "
                    f"!= genesis + mints - burns = {expected}"
                )
    return verdict


def recovery_times(history: History, heals: Sequence[float]) -> list[float | None]:
    """For each heal time, seconds until the next commit answer (None if none followed)."""
    commits = history.commit_times()
    result: list[float | None] = []
    for healed in heals:
        later = [t for t in commits if t >= healed]
        result.append(later[0] - healed if later else None)
    return result
