"""Webhook relay throughput and delay: events per second delivered to a loopback
endpoint, and the delay from a block's commit time to the event's arrival.

Starts one validator (tests/integration/harness.py), a loopback endpoint that
verifies every signature, and `pasar webhooks run` as its own process; submits
N transfers to one merchant in batches (`--batch`, `--pause-s` apart: small batches
offer a load below what the relay delivers, so the delay is the pipeline's and not
a queue's), and waits until every one has arrived.
Events/s counts from the first arrival to the last; the delay of each event is
its arrival time minus its block's `timestamp_ms` (one machine, one clock).

Run from the repository root:
    python bench/bench_webhooks.py [--transfers N] [--batch B] [--pause-s S]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cli.webhooks.signing import new_secret  # noqa: E402
from ledger.keys import address_to_text  # noqa: E402
from tests.integration.harness import ROOT, LocalNet, wait_until  # noqa: E402
from tests.integration.webhook_endpoint import WebhookEndpoint, relay_config  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transfers", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=200, help="transfers per submission")
    parser.add_argument("--pause-s", type=float, default=0.05, help="pause between batches")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        net = LocalNet(root / "net", count=1, accounts=2)
        endpoint = WebhookEndpoint(new_secret())
        relay: subprocess.Popen[bytes] | None = None
        try:
            net.start_all()
            endpoint.start()
            merchant = address_to_text(net.accounts[1].public_key)
            config = root / "webhooks.toml"
            config.write_text(
                relay_config(net.nodes[0].rpc_url, endpoint, merchant, "first_delay_s = 0.2")
            )
            relay = subprocess.Popen(
                [sys.executable, "-m", "cli.main", "webhooks", "run", "--config", str(config)],
                cwd=ROOT,
                env=dict(os.environ, PYTHONPATH=str(ROOT)),
                stderr=subprocess.DEVNULL,
            )
            sent: set[str] = set()
            for start in range(0, args.transfers, args.batch):
                count = min(args.batch, args.transfers - start)
                txs = [net.transfer(0, 1) for _ in range(count)]
                net.submit(0, txs)
                sent.update(stx.hash.hex() for stx in txs)
                time.sleep(args.pause_s)
            wait_until(lambda: sent <= endpoint.tx_hashes(), 600, "every delivery", step=0.5)
        finally:
            if relay is not None:
                relay.kill()
                relay.wait(10)
            endpoint.close()
            net.close()
    first: dict[str, tuple[float, int]] = {}
    for event_id, body, arrived_ms in endpoint.received:
        first.setdefault(event_id, (arrived_ms, int(body["timestamp_ms"])))
    arrivals = sorted(arrived for arrived, _ in first.values())
    delays = sorted(arrived - block_ms for arrived, block_ms in first.values())
    span_s = max((arrivals[-1] - arrivals[0]) / 1000, 1e-3)
    cuts = statistics.quantiles(delays, n=100)
    print(f"events delivered:      {len(first)} (bad signatures: {endpoint.bad_signatures})")
    print(f"events/s delivered:    {len(first) / span_s:.0f}")
    print(f"commit to delivery:    p50 {cuts[49]:.0f} ms, p99 {cuts[98]:.0f} ms")


if __name__ == "__main__":
    main()
