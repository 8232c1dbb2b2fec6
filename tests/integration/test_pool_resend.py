"""Validators that start late are sent what the running ones hold pending (real nodes).

Four validators, two of them down: the primary of height 1 (view 0) and one more.
A transfer admitted by a running validator is gossiped to the other running one
only. When the two start, the running ones send each the transactions they hold
pending as its link comes up (node/pool_resend.py), so the primary proposes the
transfer in view 0 and it commits. Nothing else could bring it there: the view
timeout and the censorship timeout (which forwards an overdue transaction to the
primary) are set far longer than the test waits, and the block's certificate says
view 0 and its header names that primary as proposer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.keys import address_to_text
from node.home import CONFIG_FILE, config_to_toml, load_home
from tests.integration.harness import LocalNet, http, wait_until

# neither a view change nor a censorship forward can happen while the test waits
VIEW_TIMEOUT_MS = 120_000
CENSORSHIP_TIMEOUT_MS = 600_000


@pytest.fixture
def net(tmp_path: Path) -> Iterator[LocalNet]:
    local = LocalNet(tmp_path / "net", count=4, view_timeout_ms=VIEW_TIMEOUT_MS)
    for node in local.nodes:
        config = load_home(node.home).config
        config = dataclasses.replace(config, censorship_timeout_ms=CENSORSHIP_TIMEOUT_MS)
        (node.home / CONFIG_FILE).write_text(config_to_toml(config))
    try:
        yield local
    finally:
        local.close()


def test_a_primary_that_starts_late_is_sent_the_pending_transfer_and_proposes_it(
    net: LocalNet,
) -> None:
    keys = load_home(net.nodes[0].home).genesis.validator_keys
    first = [node.key for node in net.nodes].index(keys[1 % len(keys)])  # height 1, view 0
    primary = address_to_text(net.nodes[first].key)
    late = [first, (first + 1) % 4]
    running = [i for i in range(4) if i not in late]
    for index in running:
        net.start(index)
    for index in running:
        net.wait_up(index)
        wait_until(lambda i=index: net.status(i)["peers_connected"] >= 1, 20, "a link")
    stx = net.transfer(0, 1)
    assert [r["code"] for r in net.submit(running[0], [stx])] == ["accepted"]
    wait_until(lambda: net.status(running[1])["mempool_size"] == 1, 20, "gossip")
    assert net.height(running[0]) == 0  # two of four: no quorum, and the primary is down

    for index in late:
        net.start(index)
    net.wait_height(range(4), 1, timeout=40)

    code, block = http("GET", net.url(running[0], "/v1/blocks/1"))
    assert code == 200
    assert [tx["hash"] for tx in block["transactions"]] == [stx.hash.hex()]
    assert block["header"]["proposer"] == primary and block["certificate"]["view"] == 0
    assert "event=pool_resent" in net.log_text(running[0])
