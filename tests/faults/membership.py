"""A validator set change through governance on real processes, while faults run.

    python -m tests.faults.membership --seed 3

Five homes share a genesis whose validator set is v0..v3; v4 runs from the start
as a follower (it syncs blocks over the links the validators dial to it). Under
the history load client and a seeded schedule of one-at-a-time faults on v0..v3
(tests/faults/campaign.py), v0 proposes `add_validator v4` at a height a little
ahead, v1 and v2 approve (3 of 4 is two thirds); once v4 is in the set and has
signed a commit certificate, v0 proposes `remove_validator v4`, and v1..v3
approve (4 of 5). The checker then holds all five nodes to the history.
v4 must sign a commit certificate while it is a member. Timings (first
proposal to the set change) are reported, not asserted.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.genesis import Genesis
from ledger.keys import PrivateKey, address_to_text
from ledger.tx import Transaction
from node.home import GENESIS_FILE, load_home, read_genesis, write_genesis
from tests.faults.campaign import Injector, schedule
from tests.faults.checker import Verdict, check
from tests.faults.history import LoadClient
from tests.faults.proxy import FaultNet
from tests.integration.harness import SYMBOL, LocalNet, http, wait_until

VALIDATORS = 4  # in genesis; v4 joins and leaves
NODES = VALIDATORS + 1
LEAD = 40  # blocks between a proposal and the height its change takes effect


@dataclass
class MembershipResult:
    verdict: Verdict
    timings: dict[str, float] = field(default_factory=dict)
    faults: int = 0

    def summary(self) -> str:
        times = " ".join(f"{name}={value:.2f}s" for name, value in self.timings.items())
        state = "ok" if self.verdict.ok else "FAILED"
        lines = [
            f"membership: {state} height={self.verdict.height} "
            f"committed_answers={self.verdict.committed} faults={self.faults} {times}",
            *(f"  DEFECT {d}" for d in self.verdict.defects),
        ]
        return "\n".join(lines)


def genesis_without_last(net: LocalNet) -> None:
    """Rewrite every home's genesis.json: the same document, without v4 as validator."""
    genesis = read_genesis(net.nodes[0].home / GENESIS_FILE)
    fewer = Genesis(
        genesis.chain_id,
        genesis.genesis_time_ms,
        genesis.validators[:VALIDATORS],
        genesis.app_state,
    )
    for node in net.nodes:
        write_genesis(node.home / GENESIS_FILE, fewer)


def submit(net: LocalNet, key: PrivateKey, method: str, args: tuple[Any, ...]) -> int:
    """Sign and submit one tx through any answering validator; wait until it commits
    with a successful receipt; return its height."""
    address = address_to_text(key.public_key)
    deadline = time.monotonic() + 90
    attempt = 0
    while time.monotonic() < deadline:
        node = attempt % VALIDATORS
        attempt += 1
        try:
            code, account = http("GET", net.url(node, f"/v1/accounts/{address}"), timeout=3)
            if code != 200:
                continue
            tx = Transaction(net.chain_id, key.public_key, int(account["nonce"]), method, args)
            stx = tx.sign(key)
            body = {"txs": [stx.encode().hex()]}
            code, answer = http("POST", net.url(node, "/v1/txs/batch"), body, timeout=5)
            if code != 200 or not answer["results"][0].get("accepted"):
                time.sleep(0.3)
                continue
            code, status = http(
                "GET", net.url(node, f"/v1/txs/{stx.hash.hex()}?wait=10"), timeout=15
            )
        except OSError:
            time.sleep(0.3)
            continue
        if code == 200 and status.get("status") == "committed":
            if not status["receipt"]["ok"]:
                raise AssertionError(f"{method} failed: {status['receipt']}")
            return int(status["height"])
    raise AssertionError(f"{method} did not commit within 90 s")


def in_set(net: LocalNet, index: int, key: bytes) -> bool:
    """Is `key` in the set voting on validator `index`'s next block (GET /v1/validators)?"""
    code, body = http("GET", net.url(index, "/v1/validators"), timeout=3)
    if code != 200:
        raise ValueError(f"validators answered {code}")
    return address_to_text(key) in [item["address"] for item in body["validators"]]


def signers(net: LocalNet, index: int, height: int) -> list[str]:
    code, block = http("GET", net.url(index, f"/v1/blocks/{height}"))
    if code != 200 or not block.get("certificate"):
        return []
    return [item["validator"] for item in block["certificate"]["signatures"]]


def run(seed: int, root: Path, duration: float = 60.0) -> MembershipResult:
    net = LocalNet(root, count=NODES, accounts=12)
    genesis_without_last(net)
    proxies = FaultNet([net.p2p_port(i) for i in range(NODES)], seed=seed)
    net.route_peers(proxies.url)
    keys = [load_home(node.home).load_key() for node in net.nodes]
    newcomer = keys[VALIDATORS].public_key
    load = LoadClient(net, targets=list(range(VALIDATORS)))
    injector = Injector(net, proxies)
    stop = threading.Event()
    applied: list[int] = []

    def faults() -> None:
        began = time.monotonic()
        for fault in schedule(seed, duration):
            if stop.wait(max(0.0, began + fault.start - time.monotonic())):
                return
            target = injector.apply(fault)
            applied.append(target)
            stop.wait(fault.duration)
            injector.undo(fault, target)

    faulter = threading.Thread(target=faults, daemon=True)
    timings: dict[str, float] = {}
    try:
        net.start_all()
        load.start()
        faulter.start()
        wait_until(lambda: net.height(0) >= 3, 30, "first commits")
        expiry = int(time.time() * 1000) + 600_000
        began = time.monotonic()
        effective = net.height(0) + LEAD
        submit(net, keys[0], "governance.propose", ("add_validator", [newcomer, effective], expiry))
        for approver in (1, 2):
            submit(net, keys[approver], "governance.approve", (1,))
        wait_until(lambda: in_set(net, 0, newcomer), 90, "v4 to join the set")
        timings["add_proposed_to_in_set"] = time.monotonic() - began
        v4 = address_to_text(newcomer)  # a voting member, not only a name in the set:
        wait_until(lambda: v4 in signers(net, 0, net.height(0) - 1), 90, "v4 to sign a certificate")
        began = time.monotonic()
        effective = net.height(0) + LEAD
        submit(
            net, keys[0], "governance.propose", ("remove_validator", [newcomer, effective], expiry)
        )
        for approver in (1, 2, 3):
            submit(net, keys[approver], "governance.approve", (2,))
        wait_until(lambda: not in_set(net, 0, newcomer), 90, "v4 to leave the set")
        timings["remove_proposed_to_out_of_set"] = time.monotonic() - began
        stop.set()
        faulter.join(timeout=30)
        injector.release()
        proxies.heal()
        for index in range(NODES):
            if index not in net.processes:
                net.start(index)
        time.sleep(2.0)
        load.stop()
        verdict = check(net, load.history, list(range(NODES)), {SYMBOL: len(net.accounts) * 10**9})
        return MembershipResult(verdict, timings, len(applied))
    finally:
        stop.set()
        load.stop()
        injector.release()
        net.close()
        proxies.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep homes and logs")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix=f"pasar-membership-{args.seed}-"))
    result = run(args.seed, root)
    print(result.summary(), flush=True)
    if args.keep or not result.verdict.ok:
        print(f"  logs in {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if result.verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
