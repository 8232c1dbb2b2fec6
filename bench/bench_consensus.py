"""Consensus overhead per committed block in the simulator with a zero-latency network.

For n = 4, 7 and 10 validators it runs real replicas over real (empty) ledger
blocks and reports, per committed block:
  - consensus CPU per validator: time inside the replica (decode, signature
    checks, signing, bookkeeping) minus time inside the application (building,
    checking and executing blocks, which includes verifying the parent
    certificate), plus the driver's message encoding;
  - messages per block, counting every point-to-point delivery.

    python bench/bench_consensus.py [--blocks 300]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from consensus import messages as consensus_messages  # noqa: E402
from consensus.replica import Replica, ReplicaConfig  # noqa: E402
from tests.sim import simnet  # noqa: E402
from tests.sim.simnet import CHAIN_ID, Simulation  # noqa: E402

CONFIG = ReplicaConfig(
    chain_id=CHAIN_ID,
    base_timeout=1.0,
    max_timeout=8.0,
    resend_interval=1.0,
    empty_block_interval=0.001,
)


class Meter:
    """Accumulates process CPU time spent in the replica and, separately, in the app."""

    def __init__(self) -> None:
        self.replica = 0.0
        self.app = 0.0
        self.encode = 0.0

    def wrap_replica(self, replica: Replica) -> None:
        for name in (
            "on_message",
            "on_timer",
            "on_transactions_pending",
            "on_block_synced",
            "next_deadline",
        ):
            setattr(replica, name, self._timed(getattr(replica, name), "replica"))
        app = replica.app
        for name in ("propose", "validate"):
            setattr(app, name, self._timed(getattr(app, name), "app"))

    def _timed(self, function: Any, bucket: str) -> Any:
        def call(*args: Any) -> Any:
            start = time.process_time()
            try:
                return function(*args)
            finally:
                setattr(self, bucket, getattr(self, bucket) + time.process_time() - start)

        return call


def measure(validators: int, blocks: int) -> dict[str, float]:
    meter = Meter()
    encode_message = consensus_messages.encode_message

    def timed_encode(message: Any) -> bytes:
        start = time.process_time()
        try:
            return encode_message(message)
        finally:
            meter.encode += time.process_time() - start

    simnet.encode_message = timed_encode  # type: ignore[assignment]
    try:
        sim = Simulation(0, validators, delay=(0.0, 0.0), config=CONFIG)
        sim.run_until(sim.now + 0.05)  # warm up a few blocks before measuring
        for node in sim.nodes:
            meter.wrap_replica(node.replica)
        start_height = sim.nodes[0].app.height
        start_messages = sim.messages_sent
        sim.run_until(
            sim.now + 3600.0,
            stop=lambda: sim.min_honest_height() >= start_height + blocks,
        )
        committed = sim.min_honest_height() - start_height
    finally:
        simnet.encode_message = encode_message  # type: ignore[assignment]
    consensus_cpu = meter.replica - meter.app + meter.encode
    return {
        "validators": validators,
        "blocks": committed,
        "cpu_ms_per_block_per_validator": 1000 * consensus_cpu / committed / validators,
        "cpu_ms_per_block_all_validators": 1000 * consensus_cpu / committed,
        "app_ms_per_block_all_validators": 1000 * meter.app / committed,
        "messages_per_block": (sim.messages_sent - start_messages) / committed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=300)
    arguments = parser.parse_args()
    print(
        f"{'n':>3} {'blocks':>6} {'consensus ms/block/validator':>29} "
        f"{'all validators':>15} {'app (excluded)':>15} {'messages/block':>15}"
    )
    for validators in (4, 7, 10):
        row = measure(validators, arguments.blocks)
        print(
            f"{row['validators']:>3} {row['blocks']:>6} "
            f"{row['cpu_ms_per_block_per_validator']:>29.3f} "
            f"{row['cpu_ms_per_block_all_validators']:>15.3f} "
            f"{row['app_ms_per_block_all_validators']:>15.3f} "
            f"{row['messages_per_block']:>15.1f}"
        )


if __name__ == "__main__":
    main()
