"""Seeded fault campaigns on real validator processes under load.

    python -m tests.faults.campaign --seeds 20            # seeds 0..19
    python -m tests.faults.campaign --seed 7 --keep       # replay one seed, keep logs

A seed fixes the schedule (`schedule(seed, duration)`): which faults, on which
validator, when and for how long. Faults: partition the primary away, partition
one validator two-way or one-way (its outgoing bytes lost), a latency spike with
jitter on every link, one validator's links thinned to 32 KiB/s both ways, one
validator's outgoing links slowed by 300 ms, kill -9 of one validator and a
restart, SIGSTOP then SIGCONT of one validator. At most one fault runs at a time,
so the other three of four validators always form a quorum and every node must
come back.

Each run starts 4 validators whose peer links all go through `FaultNet`
(tests/faults/proxy.py), runs `LoadClient` (tests/faults/history.py) for the
whole schedule, heals everything, and runs the checker (tests/faults/checker.py).
Wall-clock timing differs between runs; the schedule does not.
"""

from __future__ import annotations

import argparse
import random
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ledger.keys import address_to_text
from tests.faults.checker import Verdict, check, recovery_times
from tests.faults.history import LoadClient
from tests.faults.proxy import FaultNet
from tests.integration.harness import SYMBOL, LocalNet, wait_until

KINDS = (
    "partition_primary",
    "partition_two_way",
    "partition_one_way",
    "latency",
    "kill_restart",
    "stop_cont",
    "bandwidth",
    "slow_link",
)
THIN_LINK_BYTES_PER_S = 32 * 1024  # "bandwidth": the target's links both ways
SLOW_LINK_MS = 300  # "slow_link": bytes the target sends, on every one of its links
VALIDATORS = 4


@dataclass(frozen=True)
class Fault:
    start: float  # seconds after the load started
    duration: float
    kind: str
    target: int  # validator index (ignored by "latency" and "partition_primary")
    latency_ms: int = 0


@dataclass
class RunResult:
    seed: int
    faults: list[Fault]
    verdict: Verdict
    recoveries: list[float | None] = field(default_factory=list)
    targets: list[int] = field(default_factory=list)  # the validator each fault hit

    def summary(self) -> str:
        rec = ", ".join("-" if r is None else f"{r:.2f}s" for r in self.recoveries)
        state = "ok" if self.verdict.ok else "FAILED"
        lines = [
            f"seed {self.seed}: {state} height={self.verdict.height} "
            f"committed_answers={self.verdict.committed} recoveries=[{rec}]",
            *(
                f"  fault {f.kind} target=v{f.target} at {f.start:.1f}s for {f.duration:.1f}s"
                for f in self.faults
            ),
            *(f"  DEFECT {d}" for d in self.verdict.defects),
        ]
        return "\n".join(lines)


def schedule(seed: int, duration: float) -> list[Fault]:
    """The faults of one seed: back to back with gaps, within `duration` seconds."""
    rng = random.Random(seed)
    faults: list[Fault] = []
    at = 1.5 + rng.random()
    while True:
        length = round(rng.uniform(2.0, 5.0), 2)
        if at + length > duration - 2.0:  # leave time to recover under load
            return faults
        kind = rng.choice(KINDS)
        faults.append(
            Fault(
                start=round(at, 2),
                duration=length,
                kind=kind,
                target=rng.randrange(VALIDATORS),
                latency_ms=rng.choice((25, 75, 150)) if kind == "latency" else 0,
            )
        )
        at += length + rng.uniform(1.0, 3.0)


def primary_index(net: LocalNet) -> int:
    """The validator that node 0 (or the first answering node) names as primary."""
    names = {address_to_text(node.key): i for i, node in enumerate(net.nodes)}
    for index in range(len(net.nodes)):
        try:
            return names[str(net.status(index)["primary"])]
        except (OSError, ValueError, KeyError):
            continue
    return 0


class Injector:
    """Applies and undoes one fault at a time."""

    def __init__(self, net: LocalNet, faults: FaultNet) -> None:
        self.net = net
        self.faults = faults
        self.stopped: set[int] = set()

    def apply(self, fault: Fault) -> int:
        target = fault.target
        if fault.kind == "partition_primary":
            target = primary_index(self.net)
            self.faults.partition([target])
        elif fault.kind == "partition_two_way":
            self.faults.partition([target])
        elif fault.kind == "partition_one_way":
            self.faults.partition([target], two_way=False)
        elif fault.kind == "latency":
            self.faults.set_latency(fault.latency_ms, fault.latency_ms / 3)
        elif fault.kind == "bandwidth":
            links = [(target, j) for j in range(VALIDATORS) if j != target]
            self.faults.cap_bandwidth(THIN_LINK_BYTES_PER_S, links + [(j, i) for i, j in links])
        elif fault.kind == "slow_link":
            for j in range(VALIDATORS):
                if j != target:
                    self.faults.slow_link(target, j, SLOW_LINK_MS)
        elif fault.kind == "kill_restart":
            self.net.kill(target)
        elif fault.kind == "stop_cont":
            self.net.processes[target].send_signal(signal.SIGSTOP)
            self.stopped.add(target)
        return target

    def undo(self, fault: Fault, target: int) -> None:
        if fault.kind == "kill_restart":
            self.net.start(target)
        elif fault.kind == "stop_cont":
            self.net.processes[target].send_signal(signal.SIGCONT)
            self.stopped.discard(target)
        else:
            self.faults.heal()

    def release(self) -> None:
        for index in list(self.stopped):
            process = self.net.processes.get(index)
            if process is not None:
                process.send_signal(signal.SIGCONT)
        self.stopped.clear()


def run(seed: int, duration: float, root: Path, plan: list[Fault] | None = None) -> RunResult:
    """Start a network behind proxies, run the seed's schedule (or `plan`) under load, check."""
    faults_plan = schedule(seed, duration) if plan is None else plan
    net = LocalNet(root, count=VALIDATORS, accounts=12)
    proxies = FaultNet([net.p2p_port(i) for i in range(VALIDATORS)], seed=seed)
    net.route_peers(proxies.url)
    load = LoadClient(net)
    injector = Injector(net, proxies)
    heals: list[float] = []
    targets: list[int] = []
    try:
        net.start_all()
        wait_until(
            lambda: all(net.status(i)["peers_connected"] >= 2 for i in range(VALIDATORS)),
            20,
            "validators to connect through the proxies",
        )
        load.start()
        began = time.monotonic()
        for fault in faults_plan:
            time.sleep(max(0.0, began + fault.start - time.monotonic()))
            target = injector.apply(fault)
            targets.append(target)
            time.sleep(fault.duration)
            injector.undo(fault, target)
            heals.append(time.monotonic())
        time.sleep(max(0.0, began + duration - time.monotonic()))
        load.stop()
        injector.release()
        genesis = {SYMBOL: len(net.accounts) * 10**9}
        verdict = check(net, load.history, list(range(VALIDATORS)), genesis)
        recoveries = recovery_times(load.history, heals)
        return RunResult(seed, faults_plan, verdict, recoveries, targets)
    finally:
        load.stop()
        injector.release()
        net.close()
        proxies.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="run seeds 0..N-1")
    parser.add_argument("--first", type=int, default=0, help="first seed")
    parser.add_argument("--seed", type=int, default=None, help="replay only this seed")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load per seed")
    parser.add_argument("--keep", action="store_true", help="keep homes and logs")
    args = parser.parse_args(argv)
    seeds = [args.seed] if args.seed is not None else range(args.first, args.first + args.seeds)
    failed = []
    for seed in seeds:
        root = Path(tempfile.mkdtemp(prefix=f"pasar-faults-{seed}-"))
        result = run(seed, args.duration, root)
        print(result.summary(), flush=True)
        if not result.verdict.ok:
            failed.append(seed)
        if args.keep or not result.verdict.ok:
            print(f"  logs in {root}", flush=True)
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(f"{len(list(seeds))} seeds, failed: {failed or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
