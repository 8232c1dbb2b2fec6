"""The webhook relay end to end: a real validator, the `pasar webhooks run` process,
and a loopback aiohttp endpoint that checks every signature.

The endpoint refuses its first three deliveries and still gets the event; the
relay is killed with SIGKILL while transfers keep committing and restarted on the
same database; every transfer's event arrives at least once, and every copy of
an event carries the same id and the same body.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.webhooks.signing import new_secret
from ledger.keys import address_to_text
from tests.integration.harness import ROOT, LocalNet, http, wait_until
from tests.integration.webhook_endpoint import WebhookEndpoint, relay_config

REFUSE_FIRST = 3


@pytest.fixture()
def net(tmp_path: Path) -> Iterator[LocalNet]:
    network = LocalNet(tmp_path / "net", count=1, accounts=3)
    try:
        network.start_all()
        yield network
    finally:
        network.close()


def start_relay(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "cli.main", "webhooks", "run", "--config", str(config)],
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def send_transfers(net: LocalNet, count: int) -> list[str]:
    txs = [net.transfer(0, 1, amount=1 + i) for i in range(count)]
    results = net.submit(0, txs)
    assert all(r["accepted"] for r in results), results
    return [stx.hash.hex() for stx in txs]


def test_signed_delivery_retries_and_survives_kill(net: LocalNet, tmp_path: Path) -> None:
    secret = new_secret()
    endpoint = WebhookEndpoint(secret, refuse_first=REFUSE_FIRST)
    endpoint.start()
    merchant = address_to_text(net.accounts[1].public_key)
    config = tmp_path / "webhooks.toml"
    config.write_text(
        relay_config(
            net.nodes[0].rpc_url,
            endpoint,
            merchant,
            "first_delay_s = 0.2\nmax_delay_s = 0.4\ndisable_after = 1000",
        )
    )
    log = tmp_path / "relay.log"
    relay = start_relay(config, log)
    try:
        first = send_transfers(net, 1)
        wait_until(lambda: first[0] in endpoint.tx_hashes(), 30, "the first delivery")
        assert endpoint.calls > REFUSE_FIRST  # refused three times, then delivered
        event_id, body, _ = endpoint.received[0]
        assert body["type"] == "payment.received"
        assert body["data"]["id"] == event_id
        code, tx = http("GET", net.url(0, f"/v1/txs/{first[0]}"))
        assert code == 200
        assert event_id.startswith(f"evt_{tx['height']}_{tx['index']}_")
        assert body["data"]["bundle_url"].endswith(f"/v1/txs/{first[0]}?prove=true")
        assert body["data"]["attributes"]["to"] == {"hex": net.accounts[1].public_key.hex()}

        # Transfers keep committing while the relay is killed and restarted.
        sent = list(first)
        for round_index in range(3):
            sent += send_transfers(net, 5)
            time.sleep(0.3)
            if round_index == 1:
                relay.send_signal(signal.SIGKILL)
                relay.wait(10)
                sent += send_transfers(net, 5)
                relay = start_relay(config, log)
        wait_until(lambda: set(sent) <= endpoint.tx_hashes(), 40, "every transfer delivered")
        assert endpoint.bad_signatures == 0
        by_id: dict[str, str] = {}
        for received_id, received_body, _ in endpoint.received:
            text = json.dumps(received_body, sort_keys=True)
            assert by_id.setdefault(received_id, text) == text  # a duplicate is the same event
        assert len(by_id) == len(sent)

        shown = subprocess.run(
            [
                sys.executable,
                "-m",
                "cli.main",
                "webhooks",
                "log",
                "--config",
                str(config),
                "--event",
                event_id,
                "--json",
            ],
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert shown.returncode == 0, shown.stderr
        attempts = sorted(json.loads(shown.stdout), key=lambda row: row["attempt"])
        assert [row["status"] for row in attempts][:4] == [500, 500, 500, 200]
        assert attempts[0]["excerpt"] == "not yet"
    finally:
        relay.kill()
        relay.wait(10)
        endpoint.close()


def test_an_endpoint_that_hangs_does_not_hold_up_another(net: LocalNet, tmp_path: Path) -> None:
    """Each endpoint has its own delivery lane: while one endpoint leaves a request
    unanswered (its timeout is a minute), the other still gets every event."""
    hanging, shop = WebhookEndpoint(new_secret(), hold=True), WebhookEndpoint(new_secret())
    hanging.start()
    shop.start()
    merchant = address_to_text(net.accounts[1].public_key)
    config = tmp_path / "webhooks.toml"
    config.write_text(
        f'node = "{net.nodes[0].rpc_url}"\ndatabase = "relay.sqlite"\nstart = "0"\n'
        "[retry]\ntimeout_s = 60\n"
        + "".join(
            f'[[endpoints]]\nname = "{name}"\nurl = "{endpoint.url}"\n'
            f'secrets = ["{endpoint.secret}"]\naccounts = ["{merchant}"]\n'
            'kinds = ["payment.received"]\n'
            for name, endpoint in (("hanging", hanging), ("shop", shop))
        )
    )
    relay = start_relay(config, tmp_path / "relay.log")
    try:
        sent = send_transfers(net, 5)
        wait_until(lambda: hanging.calls >= 1, 30, "the hanging endpoint's first request")
        wait_until(lambda: set(sent) <= shop.tx_hashes(), 30, "every event at the other endpoint")
        assert hanging.calls == 1  # still waiting on its first answer
        assert shop.bad_signatures == 0
    finally:
        relay.kill()
        relay.wait(10)
        hanging.close()
        shop.close()
