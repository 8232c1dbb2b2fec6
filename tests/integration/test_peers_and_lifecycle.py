"""A real validator process: peer authentication, metrics, clean SIGTERM stop."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from ledger.keys import PrivateKey, address_to_text
from ledger.tx import SignedTransaction, Transaction
from node.home import load_home
from node.peers import HandshakeError, client_handshake
from tests.integration.harness import ROOT, LocalNet, http, wait_until


@pytest.fixture
def net(tmp_path: Path) -> Iterator[LocalNet]:
    local = LocalNet(tmp_path, count=2)
    try:
        yield local
    finally:
        local.close()


async def handshake(url: str, key: PrivateKey, chain_id: str) -> bytes:
    async with aiohttp.ClientSession() as session, session.ws_connect(url + "/p2p") as ws:
        return await client_handshake(ws, key, chain_id, None)


def test_peer_outside_the_validator_set_is_refused(net: LocalNet) -> None:
    net.start_all()
    wait_until(lambda: net.status(0)["peers_connected"] == 1, 15, "the two validators to link")
    p2p = net.nodes[0].p2p_url
    with pytest.raises(HandshakeError, match="refused"):
        asyncio.run(handshake(p2p, PrivateKey.generate(), net.chain_id))
    assert "event=peer_refused" in net.log_text(0)
    # a member key passes the same handshake and gets the node's own key back
    member = load_home(net.nodes[1].home).load_key(None)
    assert asyncio.run(handshake(p2p, member, net.chain_id)) == net.nodes[0].key
    # a member signing for another chain is refused too (the signature is chain-bound)
    with pytest.raises(HandshakeError):
        asyncio.run(handshake(p2p, member, "other-chain"))
    code, text = http("GET", net.url(0, "/metrics"))
    assert code == 200 and "pasar_peers_connected 1.0" in text


def test_peers_route_and_cli_show_each_link_and_a_lost_peer(net: LocalNet) -> None:
    net.start_all()
    wait_until(lambda: net.status(0)["peers_connected"] == 1, 15, "the two validators to link")
    other = address_to_text(net.nodes[1].key)

    def peer() -> dict[str, object]:
        code, body = http("GET", net.url(0, "/v1/peers"))
        assert code == 200
        [only] = body["peers"]
        assert only["node_id"] == other and only["name"] == net.nodes[1].name
        return dict(only)

    # Both dials come up, and the peer announces the height it committed.
    wait_until(lambda: peer()["outbound"] and peer()["inbound"], 15, "both dials")
    wait_until(lambda: peer()["height"] is not None, 15, "the peer's height")
    assert peer()["connected"] is True and peer()["validator"] is True

    shown = subprocess.run(
        [sys.executable, "-m", "cli.main", "query", "peers", "--node", net.url(0, "")],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert f"{net.nodes[1].name} {other}: connected (outbound and inbound)" in shown.stdout

    net.kill(1)
    wait_until(lambda: not peer()["connected"], 15, "the lost peer to show")
    assert peer()["outbound"] is False and peer()["inbound"] is False


def test_health_ready_and_sigterm_stop(net: LocalNet) -> None:
    net.start(0)
    net.wait_up(0)
    assert http("GET", net.url(0, "/health"))[0] == 200
    wait_until(lambda: http("GET", net.url(0, "/ready"))[0] == 200, 10, "readiness")
    assert net.terminate(0, timeout=10) == 0
    assert "event=node_stopped" in net.log_text(0)


def test_the_real_node_refuses_bad_transactions_and_changes_nothing(net: LocalNet) -> None:
    net.start_all()
    wait_until(lambda: net.status(0)["peers_connected"] == 1, 15, "the two validators to link")
    good = net.transfer(0, 1)
    [answer] = net.submit(0, [good])
    assert answer["accepted"], answer
    net.wait_height([0, 1], 1)
    before = net.status(0)
    forged = SignedTransaction.single(net.transfer(0, 1).tx, bytes(64))
    foreign_tx = Transaction("other-chain", good.tx.sender, 1, "coin.transfer", good.tx.args)
    foreign = foreign_tx.sign(net.accounts[0])
    for stx, code in ((forged, "bad_signature"), (foreign, "wrong_chain")):
        status, body = http("POST", net.url(0, "/v1/txs"), {"tx": stx.encode().hex()})
        assert 400 <= status < 500 and body["error"]["code"] == code, (status, body)
    status, body = http("POST", net.url(0, "/v1/txs"), {"tx": "zz"})
    assert status == 400 and "error" in body
    [again] = net.submit(0, [good])  # the committed tx is a duplicate, not a second payment
    assert again["code"] == "duplicate", again
    after = net.status(0)
    assert (after["height"], after["state_root"], after["mempool_size"]) == (
        before["height"],
        before["state_root"],
        0,
    )
