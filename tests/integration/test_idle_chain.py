"""Four real validators on LevelDB: after a burst of transactions the chain goes idle.

Before the replica checked mempool notices against the mempool, a "pending"
notice handled after its block committed left a committed hash pending for ever:
the chain then made empty blocks and view changes without end. Here: a burst,
every transaction committed, then height and `pasar_view_changes_total` (from
/metrics) stay constant on all four nodes for 20 s.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.tx import SignedTransaction
from tests.integration.harness import LocalNet, http, wait_until
from tests.integration.test_network import view_changes, wait_agreement

# Rounds of parallel batches: with the old replica about half the runs left a committed
# hash pending (the race needs gossip admission to land between a node's vote and its
# commit); each round is another chance.
ROUNDS = 8
TXS_PER_SENDER = 30  # per round; each node gets two senders' transactions
IDLE_SECONDS = 20.0


@pytest.fixture
def net(tmp_path: Path) -> Iterator[LocalNet]:
    local = LocalNet(tmp_path, count=4, accounts=8)
    try:
        yield local
    finally:
        local.close()


def committed(net: LocalNet, index: int, tx: SignedTransaction) -> bool:
    code, body = http("GET", net.url(index, f"/v1/txs/{tx.hash.hex()}?wait=2"), timeout=5)
    return code == 200 and body.get("status") == "committed"


def burst(net: LocalNet) -> list[SignedTransaction]:
    """Rounds of one batch per node (each node its own senders), sent to the four nodes
    at once: the others admit them by gossip while blocks holding them are decided.
    Returns the last transaction of each sender."""
    per_node = len(net.accounts) // 4
    rounds = [
        [
            [
                net.transfer(s, (s + 1) % len(net.accounts))
                for s in range(per_node * index, per_node * (index + 1))
                for _ in range(TXS_PER_SENDER)
            ]
            for index in range(4)
        ]
        for _ in range(ROUNDS)
    ]
    errors: list[BaseException] = []

    def send(index: int, txs: list[SignedTransaction]) -> None:
        try:
            # a roomy timeout: a busy machine is no reason to fail this test
            body = {"txs": [stx.encode().hex() for stx in txs]}
            code, answer = http("POST", net.url(index, "/v1/txs/batch"), body, timeout=60)
            assert code == 200, answer
            assert all(result["accepted"] for result in answer["results"]), answer
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    for batches in rounds:
        threads = [threading.Thread(target=send, args=pair) for pair in enumerate(batches)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=90)
    assert not errors, errors
    return list({tx.tx.sender: tx for txs in rounds[-1] for tx in txs}.values())


def test_after_a_burst_height_and_view_changes_stay_constant(net: LocalNet) -> None:
    net.start_all()
    wait_until(lambda: net.status(0)["peers_connected"] == 3, 15, "full mesh")
    for tx in burst(net):  # a sender's last tx commits only after all its earlier ones
        wait_until(lambda t=tx: committed(net, 0, t), 120, "the burst to commit")  # type: ignore[misc]
    wait_agreement(net, range(4), timeout=60)

    def snapshot() -> list[tuple[int, float]]:
        return [(net.height(i), view_changes(net, i)) for i in range(4)]

    before = snapshot()
    deadline = time.monotonic() + IDLE_SECONDS
    while time.monotonic() < deadline:  # bounded: 20 s of polling every 2 s
        time.sleep(2.0)
        assert snapshot() == before, "an idle chain made blocks or changed views"
    for index in range(4):
        assert net.status(index)["mempool_size"] == 0
