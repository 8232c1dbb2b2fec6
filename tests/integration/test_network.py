"""Four real validator processes: agreement, crash tolerance, restart and block sync."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from ledger.keys import address_from_text, address_to_text
from node.home import load_home
from tests.integration.harness import LocalNet, http, wait_until


@pytest.fixture
def net(tmp_path: Path) -> Iterator[LocalNet]:
    local = LocalNet(tmp_path, count=4)
    try:
        yield local
    finally:
        local.close()


def heads(net: LocalNet, indexes: Sequence[int]) -> set[tuple[int, str, str]]:
    result = set()
    for index in indexes:
        status = net.status(index)
        result.add((status["height"], status["last_block_hash"], status["state_root"]))
    return result


def wait_agreement(net: LocalNet, indexes: Sequence[int], timeout: float = 30.0) -> int:
    """Wait until the nodes report one identical head; return its height."""
    agreed = wait_until(
        lambda: len(h := heads(net, indexes)) == 1 and h,
        timeout,
        f"nodes {list(indexes)} to agree on one head",
    )
    return int(next(iter(agreed))[0])


def committed(net: LocalNet, index: int, tx_hash: str) -> bool:
    code, body = http("GET", net.url(index, f"/v1/txs/{tx_hash}?wait=2"), timeout=5)
    return code == 200 and body.get("status") == "committed"


def push_blocks(net: LocalNet, indexes: Sequence[int], blocks: int) -> None:
    """Drive `blocks` more commits by submitting a transfer per round to live nodes."""
    start = max(net.height(i) for i in indexes)
    round_ = 0
    deadline = time.monotonic() + 60 + blocks
    while net.height(indexes[0]) < start + blocks:
        if time.monotonic() > deadline:
            raise AssertionError(f"only reached {net.height(indexes[0])} of {start + blocks}")
        sender = round_ % len(net.accounts)
        net.submit(indexes[round_ % len(indexes)], [net.transfer(sender, (sender + 1) % 8)])
        round_ += 1
        time.sleep(0.12)


def view_changes(net: LocalNet, index: int) -> float:
    code, text = http("GET", net.url(index, "/metrics"))
    assert code == 200
    for line in str(text).splitlines():
        if line.startswith("pasar_view_changes_total "):
            return float(line.split()[1])
    raise AssertionError("pasar_view_changes_total is missing from /metrics")


def index_of(net: LocalNet, address: str) -> int:
    key = address_from_text(address)
    return next(i for i, node in enumerate(net.nodes) if node.key == key)


def test_txs_to_different_nodes_commit_everywhere_with_one_state(net: LocalNet) -> None:
    net.start_all()
    wait_until(lambda: net.status(0)["peers_connected"] == 3, 15, "full mesh")
    hashes = []
    for index in range(4):
        batch = [net.transfer(2 * index % 8, (2 * index + 1) % 8, 5) for _ in range(3)]
        hashes += [result["hash"] for result in net.submit(index, batch)]
    for position, tx_hash in enumerate(hashes):
        reader = position % 4
        wait_until(lambda r=reader, h=tx_hash: committed(net, r, h), 20, f"{tx_hash} committed")
    height = wait_agreement(net, range(4))
    assert height >= 1
    code, block = http("GET", net.url(3, f"/v1/blocks/{height}"))
    assert code == 200
    # every node knows every transaction, whichever node it was sent to
    assert all(committed(net, i, hashes[-1]) for i in range(4))


def test_kill_non_primary_then_primary_and_restart_both(net: LocalNet) -> None:
    net.start_all()
    wait_until(lambda: net.status(0)["peers_connected"] == 3, 15, "full mesh")
    # before any block every node names the primary of height 1, view 0
    keys = load_home(net.nodes[0].home).genesis.validator_keys
    first = address_to_text(keys[1 % len(keys)])
    assert [net.status(i)["primary"] for i in range(4)] == [first] * 4
    push_blocks(net, [0, 1, 2, 3], 2)
    primary = index_of(net, net.status(0)["primary"])
    victim = (primary + 1) % 4
    net.kill(victim)
    alive = [i for i in range(4) if i != victim]
    push_blocks(net, alive, 2)
    # the primary of the next height after these commits
    primary = index_of(net, net.status(alive[0])["primary"])
    net.kill(primary)
    survivors = [i for i in alive if i != primary]
    assert len(survivors) == 2
    # 2 of 4 cannot commit; bring the first victim back so 3 of 4 form a quorum again
    net.start(victim)
    net.wait_up(victim)
    quorum = sorted([*survivors, victim])
    push_blocks(net, quorum, 3)
    assert any(view_changes(net, i) > 0 for i in quorum)  # the dead primary was replaced
    net.start(primary)
    net.wait_up(primary)
    push_blocks(net, quorum, 2)
    height = wait_agreement(net, range(4), timeout=40)  # both restarted nodes caught up
    assert height >= 9


@pytest.mark.parametrize(
    "blocks", [30, pytest.param(200, marks=pytest.mark.slow, id="200-blocks")], ids=str
)
def test_a_stopped_node_rejoins_by_block_sync(net: LocalNet, blocks: int) -> None:
    net.start_all()
    wait_until(lambda: net.status(0)["peers_connected"] == 3, 15, "full mesh")
    push_blocks(net, [0, 1, 2, 3], 1)
    primary = index_of(net, net.status(0)["primary"])
    lagging = (primary + 2) % 4
    assert net.terminate(lagging) == 0
    others = [i for i in range(4) if i != lagging]
    push_blocks(net, others, blocks)
    net.start(lagging)
    net.wait_up(lagging)
    target = net.height(others[0])
    net.wait_height([lagging], target, timeout=60 + blocks / 2)
    assert "event=catching_up" in net.log_text(lagging)
    push_blocks(net, others, 2)
    wait_agreement(net, range(4))
