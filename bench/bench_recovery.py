"""Recovery bench: how long 4 validators under load take to get over a fault.

    python bench/bench_recovery.py --rounds 3 [--membership 3]

Two measurements, each repeated `--rounds` times on one network whose peer
links all pass through the loopback fault proxy (tests/faults/proxy.py), under
the history load client of tests/faults (transfers, mints and burns):

  primary partitioned: the validator the others name as primary is cut off both
      ways; the figure is the time from the cut to the first block that the other
      three commit with another proposer (view timer, view change, new proposal).
  f validators restarted: one validator (f = 1) is killed with SIGKILL, stays
      down `--down` seconds while the others commit, and is started again; the
      figures are the time from the start to serving RPC, and to holding the
      height the others had when it started (caught up by block sync).

The history checker (tests/faults/checker.py) runs at the end over all four,
and its verdict is printed with the figures. `--membership SEED` then runs
tests/faults/membership.py: a validator added and removed through governance
while SEED's faults run, checked by the checker, with its timings. Nothing
here is asserted: it prints numbers, from a machine that may be shared (the
load average is printed).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ledger.keys import address_to_text  # noqa: E402
from tests.faults import membership  # noqa: E402
from tests.faults.campaign import primary_index  # noqa: E402
from tests.faults.checker import check  # noqa: E402
from tests.faults.history import LoadClient  # noqa: E402
from tests.faults.proxy import FaultNet  # noqa: E402
from tests.integration.harness import SYMBOL, LocalNet, http, wait_until  # noqa: E402

VALIDATORS = 4
POLL = 0.02


def first_commit_by_another(net: LocalNet, watch: list[int], cut: int, above: int) -> float:
    """Poll until a node of `watch` holds a block above `above` not proposed by `cut`;
    return the monotonic time it was first seen."""
    cut_address = address_to_text(net.nodes[cut].key)
    checked = above
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for index in watch:
            try:
                height = net.height(index)
            except (OSError, ValueError):
                continue
            while checked < height:
                code, block = http("GET", net.url(index, f"/v1/blocks/{checked + 1}"))
                if code != 200:
                    break
                checked += 1
                if block["header"]["proposer"] != cut_address:
                    return time.monotonic()
        time.sleep(POLL)
    raise RuntimeError("no block by another proposer within 60 s")


def partition_primary(net: LocalNet, faults: FaultNet) -> float:
    primary = primary_index(net)
    others = [i for i in range(VALIDATORS) if i != primary]
    above = max(net.height(i) for i in others)
    cut_at = time.monotonic()
    faults.partition([primary])
    try:
        seen = first_commit_by_another(net, others, primary, above)
    finally:
        faults.heal()
    return seen - cut_at


def restart_one(net: LocalNet, index: int, down: float) -> tuple[float, float]:
    others = [i for i in range(VALIDATORS) if i != index]
    net.kill(index)
    time.sleep(down)
    target = max(net.height(i) for i in others)
    started = time.monotonic()
    net.start(index)
    wait_until(lambda: net.status(index), 60, "the validator to serve", step=POLL)
    serving = time.monotonic() - started
    wait_until(lambda: net.height(index) >= target, 60, "the validator to catch up", step=POLL)
    return serving, time.monotonic() - started


def summary(values: list[float]) -> str:
    return (
        f"n={len(values)} median={statistics.median(values):.2f}s "
        f"min={min(values):.2f}s max={max(values):.2f}s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--down", type=float, default=5.0, help="seconds a killed node stays down")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds between faults")
    parser.add_argument(
        "--membership",
        type=int,
        metavar="SEED",
        help="also add then remove a validator through governance under SEED's faults",
    )
    parser.add_argument("--keep", action="store_true", help="keep homes and logs")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="pasar-recovery-"))
    net = LocalNet(root, count=VALIDATORS, accounts=12)
    faults = FaultNet([net.p2p_port(i) for i in range(VALIDATORS)], seed=1)
    net.route_peers(faults.url)
    load = LoadClient(net)
    partition: list[float] = []
    serving: list[float] = []
    caught_up: list[float] = []
    try:
        net.start_all()
        load.start()
        wait_until(lambda: min(net.height(i) for i in range(VALIDATORS)) >= 3, 30, "commits")
        for _ in range(args.rounds):
            time.sleep(args.settle)
            partition.append(partition_primary(net, faults))
        for round_ in range(args.rounds):
            time.sleep(args.settle)
            up, done = restart_one(net, round_ % VALIDATORS, args.down)
            serving.append(up)
            caught_up.append(done)
        time.sleep(args.settle)
        load.stop()
        verdict = check(net, load.history, list(range(VALIDATORS)), {SYMBOL: 12 * 10**9})
    finally:
        load.stop()
        net.close()
        faults.close()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    load1, load5, _ = os.getloadavg()
    restarted = f"1 validator (f) restarted after {args.down:.0f}s down"
    print(f"primary partitioned -> next commit by another proposer: {summary(partition)}")
    print(f"{restarted} -> serving: {summary(serving)}")
    print(f"{restarted} -> caught up: {summary(caught_up)}")
    print(
        f"checker: {'ok' if verdict.ok else 'FAILED'} height={verdict.height} "
        f"committed_answers={verdict.committed} loadavg={load1:.1f}/{load5:.1f}"
    )
    for defect in verdict.defects:
        print(f"  DEFECT {defect}")
    if args.membership is not None:
        where = Path(tempfile.mkdtemp(prefix="pasar-membership-"))
        result = membership.run(args.membership, where)
        print(result.summary(), flush=True)
        if result.verdict.ok and not args.keep:
            shutil.rmtree(where, ignore_errors=True)


if __name__ == "__main__":
    main()
