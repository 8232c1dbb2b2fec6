"""Seeded random fault schedules for the simulator: everything follows from the seed.

A schedule picks n (4, 7 or 10 by seed, `validators_for`), a network (delay, loss,
duplication), how late the simulated driver hands mempool notices to the
replica, up to f permanently faulty validators (crashed, equivocating,
double-voting, spraying garbage and replays, or running twice; the three
Byzantine kinds also claim to be far ahead and serve forged blocks to block
sync), honest validators that crash and restart, and partitions, all during a
chaos phase in
which transactions keep arriving (independent ones, conflicting pairs that leave
one stale, and nonce sequences). Then the network heals, crashed honest
validators restart, and the run must make progress: every live honest node
commits new blocks and every submitted transaction within bounded virtual time.
With the node's block policy (the default) the chain must then stay idle: no
new height and no view change for IDLE_SECONDS, and no honest node left behind,
in a view change, with something pending or not ready (reporting `catching_up`,
as the node does while a peer it has not yet caught lying claims to be ahead).
Safety and bounded logs are checked throughout by the simulation itself.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from consensus.replica import ReplicaConfig
from ledger.block import max_faulty
from tests.sim.simnet import NODE_POLICY, Node, Simulation

CHAOS_SECONDS = 4.0
LIVENESS_SECONDS = 40.0  # virtual seconds after healing; the capped timeout is 3.2 s
FAULTS = ("crash", "equivocate", "double_vote", "garbage", "twin")
LOG_BOUND = 1200  # messages and blocks one replica holds, whatever the run length
# Longer than the censorship timeout (3 s) and several view timeouts (0.4 s doubling):
# a stale pending hash shows up within it as a proposal, a complaint or a view change.
IDLE_SECONDS = 5.0
EVENT_DELAYS = (0.0, 0.05, 0.2, 0.5)  # virtual seconds a mempool notice may be late


def validators_for(seed: int) -> int:
    """n of a seed: 4 for even seeds, 7 for seeds 1 mod 4, 10 for seeds 3 mod 4."""
    return (4, 7, 4, 10)[seed % 4]


@dataclass
class Outcome:
    seed: int
    validators: int
    faults: dict[str, str]
    heights: list[int]
    heal_to_progress: float
    messages: int
    event_delay: float


def run_schedule(
    seed: int, validators: int | None = None, config: ReplicaConfig = NODE_POLICY
) -> Outcome:
    """One seeded schedule. With `config.empty_block_interval` None (as the node runs),
    blocks only come with transactions, so recovery is measured with fresh ones and
    the chain must then stay idle."""
    rng = random.Random(seed)
    n = validators if validators is not None else validators_for(seed)
    f = max_faulty(n)
    faulty = rng.sample(range(n), rng.randint(0, f))
    behaviours = {index: rng.choice(FAULTS) for index in faulty}
    sim = Simulation(
        seed,
        n,
        behaviours={i: b for i, b in behaviours.items() if b != "crash"},
        delay=(0.001, rng.uniform(0.003, 0.06)),
        drop=rng.choice((0.0, 0.0, 0.02, 0.1)),
        duplicate=rng.choice((0.0, 0.05)),
        config=config,
        event_delay=rng.choice(EVENT_DELAYS),
    )
    start = sim.now
    for index, behaviour in behaviours.items():
        if behaviour == "crash":
            victim = sim.node_of(sim.keys[index].public_key)
            sim.schedule(rng.uniform(0, CHAOS_SECONDS), lambda v=victim: sim.crash(v))
    honest = [node for node in sim.nodes if node.honest and sim.keys.index(node.key) not in faulty]
    for node in rng.sample(honest, min(len(honest), rng.randint(0, 2))):
        down = rng.uniform(0, CHAOS_SECONDS)
        up = rng.uniform(down, CHAOS_SECONDS)
        sim.schedule(down, lambda v=node: sim.crash(v))
        sim.schedule(up, lambda v=node: sim.restart(v))
    for _ in range(rng.randint(0, 2)):
        cut = rng.uniform(0, CHAOS_SECONDS)
        mend = rng.uniform(cut, CHAOS_SECONDS)
        members = list(sim.nodes)
        rng.shuffle(members)
        split = rng.randint(1, len(members) - 1)
        groups = [members[:split], members[split:]]
        sim.schedule(cut, lambda g=groups: sim.partition(g))
        sim.schedule(mend, lambda: setattr(sim, "partitioned", False))
    for _ in range(rng.randint(1, 6)):
        sim.schedule(rng.uniform(0, CHAOS_SECONDS), lambda: sim.submit(rng.randint(1, 3)))
    for _ in range(rng.randint(0, 2)):
        sim.schedule(rng.uniform(0, CHAOS_SECONDS), sim.submit_conflict)
    for _ in range(rng.randint(0, 2)):
        sim.schedule(rng.uniform(0, CHAOS_SECONDS), lambda: sim.submit_sequence(rng.randint(2, 4)))
    sim.run_until(start + CHAOS_SECONDS)
    sim.heal()
    for node in sim.nodes:
        if not node.alive and _is_honest_crash(node, behaviours, sim):
            sim.restart(node)
    healed_at = sim.now
    if config.empty_block_interval is None:
        sim.submit(1)
    _wait_for_recovery(sim, blocks=1 if config.empty_block_interval is None else 2)
    heal_to_progress = sim.now - healed_at
    if config.empty_block_interval is None:
        _check_idle(sim)
    if sim.max_log_size > LOG_BOUND:
        raise sim.fail(f"a replica log grew to {sim.max_log_size} entries (bound {LOG_BOUND})")
    return Outcome(
        seed=seed,
        validators=n,
        faults={f"n{i}": b for i, b in sorted(behaviours.items())},
        heights=[node.app.height for node in sim.nodes],
        heal_to_progress=heal_to_progress,
        messages=sim.messages_sent,
        event_delay=sim.event_delay,
    )


def _is_honest_crash(node: Node, behaviours: dict[int, str], sim: Simulation) -> bool:
    index = next(i for i, key in enumerate(sim.keys) if key.public_key == node.key.public_key)
    return behaviours.get(index) != "crash"


def _wait_for_recovery(sim: Simulation, blocks: int) -> None:
    """New blocks on every live honest node, and every submitted transaction committed."""
    live = [node for node in sim.honest_nodes() if node.alive]
    target = max(node.app.height for node in sim.honest_nodes()) + blocks

    def recovered() -> bool:
        return sim.arrivals_in_flight == 0 and all(
            node.app.height >= target and not node.app.mempool for node in live
        )

    sim.run_until(sim.now + LIVENESS_SECONDS, stop=recovered)
    if not recovered():
        state = {
            node.name: (node.app.height, node.replica.view, len(node.app.mempool), node.alive)
            for node in sim.nodes
        }
        raise sim.fail(
            f"no recovery within {LIVENESS_SECONDS}s of healing: wanted height {target} and "
            f"empty mempools; (height, view, mempool, alive) per node: {state}"
        )


def _check_idle(sim: Simulation) -> None:
    """Every transaction committed and the network healed: nothing may happen any more
    (notices still queued in the simulated drivers arrive meanwhile), and no honest
    node may stay behind, in a view change or holding a pending hash."""
    live = [node for node in sim.honest_nodes() if node.alive]

    def snapshot() -> dict[str, tuple[int, int]]:
        return {n.name: (n.app.height, n.replica.metrics["view_changes"]) for n in live}

    before = snapshot()
    start = sim.now
    sim.run_until(start + IDLE_SECONDS, stop=lambda: snapshot() != before)
    if snapshot() != before:
        raise sim.fail(
            f"an idle chain did not stay idle: {sim.now - start:.2f}s after the last "
            f"commit, (height, view changes) per node went from {before} to {snapshot()}"
        )
    top = max(node.app.height for node in live)
    stuck = {
        node.name: {**node.replica.status(), "catching_up": node.catching_up}
        for node in live
        if node.app.height < top
        or node.replica.in_view_change
        or node.replica.status()["pending"]
        or node.catching_up  # not ready, e.g. on a lying peer's word
    }
    if stuck:
        raise sim.fail(f"honest nodes stuck at idle (height {top} elsewhere): {stuck}")
