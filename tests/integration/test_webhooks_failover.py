"""The relay reads one of four real validators and moves on when that one fails.

`nodes = [...]` lists the four validators. The node the relay reads is first
frozen (SIGSTOP: it keeps its connections but says nothing, while the other
three commit), and later, on whichever node the relay switched to, killed with
SIGKILL while transfers are committing. Every transfer's event still reaches the
endpoint; copies of an event carry the same id and the same body; the payload
names the transaction, its height, the decoded event and a proof bundle URL that
serves the bundle of that transaction.
"""

from __future__ import annotations

import json
import re
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.webhooks.signing import new_secret
from ledger.keys import address_to_text
from tests.integration.harness import LocalNet, http, wait_until
from tests.integration.test_webhooks_relay import start_relay
from tests.integration.webhook_endpoint import WebhookEndpoint, relay_config

STALL_S = 2  # the relay's silence limit, short so the frozen node is left quickly
ROUNDS, PER_ROUND = 6, 4  # transfers committing while the relay's node is killed


@pytest.fixture()
def net(tmp_path: Path) -> Iterator[LocalNet]:
    network = LocalNet(tmp_path / "net", count=4, accounts=2)
    try:
        network.start_all()
        yield network
    finally:
        for process in network.processes.values():
            process.send_signal(signal.SIGCONT)  # a frozen node must be able to die
        network.close()


def send(net: LocalNet, via: int, count: int) -> list[str]:
    txs = [net.transfer(0, 1, amount=1) for _ in range(count)]
    results = net.submit(via, txs)
    assert all(r["accepted"] for r in results), results
    return [stx.hash.hex() for stx in txs]


def followed(log: Path, net: LocalNet) -> list[int]:
    """The nodes the relay switched to, in order, from its log."""
    urls = [node.rpc_url for node in net.nodes]
    found = re.findall(r"following (\S+) from cursor", log.read_text(errors="replace"))
    return [urls.index(url) for url in found]


def test_relay_switches_validator_when_its_node_stalls_or_dies(
    net: LocalNet, tmp_path: Path
) -> None:
    endpoint = WebhookEndpoint(new_secret())
    endpoint.start()
    config = tmp_path / "webhooks.toml"
    config.write_text(
        relay_config(
            [node.rpc_url for node in net.nodes],
            endpoint,
            address_to_text(net.accounts[1].public_key),
            "first_delay_s = 0.2\nmax_delay_s = 0.4\ndisable_after = 1000",
            top=f"stall_s = {STALL_S}",
        )
    )
    log = tmp_path / "relay.log"
    relay = start_relay(config, log)
    try:
        sent = send(net, 1, 4)
        wait_until(lambda: set(sent) <= endpoint.tx_hashes(), 30, "deliveries from node 0")
        assert followed(log, net) == []  # still on the first node

        # The relay's node freezes; the other three keep committing.
        net.processes[0].send_signal(signal.SIGSTOP)
        try:
            sent += send(net, 1, 4)
            wait_until(lambda: set(sent) <= endpoint.tx_hashes(), 40, "deliveries past a stall")
        finally:
            net.processes[0].send_signal(signal.SIGCONT)
        reading = followed(log, net)[-1]
        assert reading != 0

        # Kill -9 the node the relay now reads while transfers are committing.
        net.wait_height([0], net.height(reading), timeout=30)  # three live validators remain
        via = next(i for i in (1, 2, 3) if i != reading)
        errors: list[BaseException] = []

        def feed() -> None:
            try:
                for _ in range(ROUNDS):
                    sent.extend(send(net, via, PER_ROUND))
                    time.sleep(0.25)
            except BaseException as exc:  # reported by the test thread
                errors.append(exc)

        feeder = threading.Thread(target=feed)
        feeder.start()
        wait_until(lambda: len(sent) >= 8 + PER_ROUND * ROUNDS // 2, 20, "half the feed")
        net.kill(reading)
        feeder.join(60)
        assert not errors, errors
        wait_until(lambda: set(sent) <= endpoint.tx_hashes(), 60, "every transfer delivered")
        assert followed(log, net)[-1] != reading

        by_id: dict[str, str] = {}
        for event_id, body, _ in endpoint.received:
            text = json.dumps(body, sort_keys=True)
            assert by_id.setdefault(event_id, text) == text  # a duplicate is the same event
        assert len(by_id) == len(sent) == 8 + ROUNDS * PER_ROUND
        assert endpoint.bad_signatures == 0

        # The payload: transaction, height, decoded event, and where its proof is.
        event_id, body, _ = endpoint.received[-1]
        data = body["data"]
        code, tx = http("GET", net.url(via, f"/v1/txs/{data['tx_hash']}"))
        assert code == 200 and tx["height"] == data["height"]
        assert event_id == f"evt_{tx['height']}_{tx['index']}_{data['event_index']}"
        assert data["attributes"]["to"] == {"hex": net.accounts[1].public_key.hex()}
        assert data["attributes"]["amount"] == 1
        assert data["bundle_url"].startswith(net.nodes[0].rpc_url)  # the first node's URL
        code, bundle = http("GET", data["bundle_url"])
        assert code == 200, bundle
        assert data["tx_hash"] in json.dumps(bundle)
    finally:
        relay.kill()
        relay.wait(10)
        endpoint.close()
