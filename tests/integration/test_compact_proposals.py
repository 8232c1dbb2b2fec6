"""Compact proposals on four real validators: a primary proposes transactions no
other validator holds (its clients' transactions are never gossiped), and the
others fetch them from it before they vote; the chain commits them everywhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.keys import address_to_text
from tests.integration.harness import LocalNet, http, wait_until

SILENT = 3  # its clients' transactions reach no other validator by gossip
OTHERS = [0, 1, 2]


@pytest.fixture
def net(tmp_path: Path) -> Iterator[LocalNet]:
    local = LocalNet(tmp_path, count=4)
    try:
        yield local
    finally:
        local.close()


def metric(net: LocalNet, index: int, name: str) -> float:
    code, text = http("GET", net.url(index, "/metrics"))
    assert code == 200
    total = 0.0
    for line in str(text).splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.split()[-1])
    return total


def test_transactions_only_the_primary_holds_are_fetched_and_committed(net: LocalNet) -> None:
    for index in OTHERS:
        net.start(index)
    net.start(SILENT, entry=("-m", "tests.faults.byzantine", "withhold_gossip"))
    for index in range(4):
        net.wait_up(index)
    silent_key = address_to_text(net.nodes[SILENT].key)
    # the idle chain's next primary must be the silent validator: move the height until it is
    rounds = 0
    while net.status(SILENT)["primary"] != silent_key:
        assert rounds < 8, "the silent validator never became the next primary"
        height = net.height(0)
        net.submit(0, [net.transfer(rounds % 4, 4 + rounds % 4)])
        net.wait_height(list(range(4)), height + 1)
        wait_until(lambda: net.status(SILENT)["primary"] is not None, 10, "a primary")
        rounds += 1
    height = net.height(SILENT)
    txs = [net.transfer(sender, (sender + 1) % len(net.accounts)) for sender in range(6)]
    answers = net.submit(SILENT, txs)
    assert all(answer["accepted"] for answer in answers), answers
    hashes = [stx.hash.hex() for stx in txs]

    def committed(index: int) -> bool:
        return all(
            http("GET", net.url(index, f"/v1/txs/{h}"))[1].get("status") == "committed"
            for h in hashes
        )

    for index in range(4):
        wait_until(
            lambda i=index: committed(i),  # type: ignore[misc]
            30,
            f"node {index} to commit the transactions only the primary held",
        )
    assert "event=byzantine_withheld_gossip" in net.log_text(SILENT)
    # the block that holds them was the silent primary's: the others fetched its transactions
    for index in OTHERS:
        assert metric(net, index, "pasar_proposal_txs_fetched_total") >= len(txs), index
        assert "event=proposal_fetched" in net.log_text(index)
    assert metric(net, SILENT, "pasar_proposal_bytes_sent_total") > 0
    assert metric(net, SILENT, 'pasar_proposal_requests_total{outcome="served"}') >= 1
    top = max(net.height(i) for i in range(4))
    assert top > height
    net.wait_height(list(range(4)), top)
    assert net.agree(list(range(4)), top)
    assert sum(metric(net, i, "pasar_view_changes_total") for i in range(4)) == 0
