"""The history checker against real validators behind the fault proxies.

A clean run passes; a history whose "committed" answer names the wrong place, a
supply that does not add up, or a node left behind are each reported.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.keys import address_to_text
from tests.faults.checker import check, recovery_times, supply_change
from tests.faults.history import History, LoadClient
from tests.faults.proxy import FaultNet
from tests.integration.harness import SYMBOL, LocalNet, http, wait_until


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalNet, FaultNet]]:
    net = LocalNet(Path(tmp_path_factory.mktemp("checker")), count=4, accounts=6)
    faults = FaultNet([net.p2p_port(i) for i in range(4)])
    net.route_peers(faults.url)
    try:
        net.start_all()
        yield net, faults
    finally:
        net.close()
        faults.close()


def test_peers_connect_only_through_the_proxies(proxied: tuple[LocalNet, FaultNet]) -> None:
    net, faults = proxied
    # A validator reaches each peer only at its proxy, so every directed proxy is dialed.
    wait_until(lambda: all(proxy.accepted >= 1 for proxy in faults.proxies.values()), 20, "dials")
    wait_until(lambda: all(net.status(i)["peers_connected"] == 3 for i in range(4)), 20, "peers")


def test_clean_history_passes_and_forgeries_are_caught(
    proxied: tuple[LocalNet, FaultNet],
) -> None:
    net, _faults = proxied
    load = LoadClient(net, workers=2)
    load.start()
    wait_until(lambda: len(load.history.committed()) >= 20, 60, "20 committed answers")
    load.stop()
    genesis = {SYMBOL: len(net.accounts) * 10**9}
    verdict = check(net, load.history, range(4), genesis)
    assert verdict.ok, verdict.defects
    assert verdict.committed >= 20 and verdict.height >= 1
    methods = {e.detail.get("method") for e in load.history.snapshot() if e.kind == "submit"}
    assert {"coin.transfer", "coin.mint", "coin.burn"} <= methods

    # A committed answer at a place where the chain holds something else.
    tx_hash, (height, index, node) = next(iter(load.history.committed().items()))
    forged = History()
    forged.add("status", tx_hash, node, status="committed", height=height, index=index + 1)
    defects = check(net, forged, range(4), genesis).defects
    assert any(tx_hash[:16] in d and "is not there" in d for d in defects)

    # A supply that does not add up.
    defects = check(net, History(), range(4), {SYMBOL: genesis[SYMBOL] + 1}).defects
    assert sum("supply" in d for d in defects) == 4


def test_a_node_left_behind_is_reported(proxied: tuple[LocalNet, FaultNet]) -> None:
    net, faults = proxied
    faults.partition([3])
    try:
        start = net.height(0)
        key = net.accounts[0]  # the load client moved its nonce on: read it back
        address = address_to_text(key.public_key)
        net.nonces[key.public_key] = http("GET", net.url(0, f"/v1/accounts/{address}"))[1]["nonce"]
        assert net.submit(0, [net.transfer(0, 1)])[0]["accepted"]
        net.wait_height([0, 1, 2], start + 1)
        defects = check(net, History(), range(4), {}, converge_timeout=2.0).defects
        assert any("did not converge" in d for d in defects)
    finally:
        faults.heal()
    verdict = check(net, History(), range(4), {})
    assert verdict.ok, verdict.defects


def test_supply_change_and_recovery_times() -> None:
    txs = [
        {"method": "coin.mint", "args": [SYMBOL, "x", 5], "result": {"ok": True}},
        {"method": "coin.mint", "args": [SYMBOL, "x", 7], "result": {"ok": False}},
        {"method": "coin.burn", "args": [SYMBOL, 3], "result": {"ok": True}},
        {"method": "coin.mint", "args": ["OTHER", "x", 100], "result": {"ok": True}},
        {"method": "coin.transfer", "args": [SYMBOL, "x", 9], "result": {"ok": True}},
    ]
    assert supply_change(txs, SYMBOL) == 2
    history = History()
    history.add("status", "aa", 0, status="committed", height=1, index=0)
    committed_at = history.events[0].at
    assert recovery_times(history, [committed_at - 1.0, time.monotonic() + 10]) == [
        pytest.approx(1.0),
        None,
    ]
