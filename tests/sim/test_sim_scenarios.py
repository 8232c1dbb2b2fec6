"""Named fault scenarios in the simulator, each proving one property of the protocol.

Every simulation also checks, as it runs, that no two honest nodes commit
different blocks at a height and that every committed block has a valid
certificate (it raises InvariantViolation otherwise).
"""

from __future__ import annotations

from contracts.governance import proposal_key
from ledger.block import CommitCertificate
from ledger.execution import account_nonce
from ledger.tx import Transaction
from ledger.validators import validators_at
from tests.sim.simnet import CHAIN_ID, START_TIME, Node, Simulation

LIVENESS = 20.0  # virtual seconds; many view timeouts at the simulator's settings


def primary_node(sim: Simulation) -> Node:
    reference = max(sim.honest_nodes(), key=lambda node: node.app.height)
    primary = reference.replica.primary()
    assert primary is not None
    return sim.node_of(primary)


def signers(certificate: CommitCertificate) -> set[bytes]:
    return {validator for validator, _ in certificate.signatures}


def test_single_validator_commits_alone() -> None:
    sim = Simulation(11, 1)
    sim.submit(3)
    sim.wait_for_progress(10, 5.0)
    assert not sim.nodes[0].app.mempool


def test_primary_crash_leads_to_a_view_change_and_commits_resume() -> None:
    sim = Simulation(12, 4)
    sim.wait_for_progress(3, LIVENESS)
    victim = primary_node(sim)
    sim.crash(victim)
    stuck_at = victim.app.height
    sim.submit(5)
    sim.wait_for_progress(6, LIVENESS, "after the primary crashed")
    assert any(node.replica.metrics["view_changes"] > 0 for node in sim.honest_nodes())
    assert victim.app.height == stuck_at
    # the crashed primary comes back, catches up and takes part again
    sim.restart(victim)
    sim.wait_for_progress(6, LIVENESS, "after the primary restarted")
    assert victim.app.height >= max(node.app.height for node in sim.nodes) - 1
    assert not any(node.app.mempool for node in sim.honest_nodes())


def test_primary_equivocation_is_kept_as_evidence_and_does_not_split_the_chain() -> None:
    sim = Simulation(13, 4, behaviours={1: "equivocate"})
    liar = sim.nodes[1].key.public_key
    sim.submit(4)
    sim.wait_for_progress(16, LIVENESS, "with an equivocating primary")
    evidence = [e for node in sim.honest_nodes() for e in node.replica.evidence()]
    assert evidence, "nobody noticed the equivocation"
    assert {e.validator for e in evidence} == {liar}
    assert {e.kind for e in evidence} <= {"pre_prepare", "prepare", "commit"}
    for item in evidence:
        assert item.first != item.second
        assert item.first.height == item.second.height
    assert all(node.replica.metrics["evidence"] > 0 for node in sim.honest_nodes())


def test_partition_of_f_and_heal() -> None:
    sim = Simulation(14, 7, drop=0.02)
    sim.wait_for_progress(2, LIVENESS)
    minority = sim.nodes[:2]  # f = 2
    majority = sim.nodes[2:]
    sim.partition([minority, majority])
    cut_height = max(node.app.height for node in minority)
    sim.submit(5)
    sim.run_until(sim.now + 3.0)
    assert max(node.app.height for node in minority) <= cut_height + 1
    assert min(node.app.height for node in majority) >= cut_height + 5, "2f+1 must go on"
    sim.heal()
    took = sim.wait_for_progress(3, LIVENESS, "after healing")
    assert took < LIVENESS
    heights = {node.app.height for node in sim.nodes}
    assert max(heights) - min(heights) <= 1
    assert sim.max_log_size < 1200


def test_partition_without_a_quorum_stops_commits_then_heals() -> None:
    sim = Simulation(15, 4)
    sim.wait_for_progress(2, LIVENESS)
    sim.partition([sim.nodes[:2], sim.nodes[2:]])
    sim.run_until(sim.now + 0.5)  # let blocks in flight settle
    frozen = [node.app.height for node in sim.nodes]
    sim.submit(2)
    sim.run_until(sim.now + 10.0)
    assert [node.app.height for node in sim.nodes] == frozen, "committed without a quorum"
    views = [node.replica.view for node in sim.nodes]
    assert max(views) <= 2, "views ran away while no quorum could form"
    sim.heal()
    sim.wait_for_progress(3, LIVENESS, "after healing a split brain")


def test_full_network_restart_resumes_from_persisted_state() -> None:
    sim = Simulation(16, 4, drop=0.05)
    sim.submit(3)
    sim.wait_for_progress(5, LIVENESS)
    for round_ in range(3):
        sim.run_until(sim.now + 0.013 * (round_ + 1))  # stop at different points of a height
        for node in sim.nodes:
            sim.crash(node)
        sim.run_until(sim.now + 1.0)
        for node in sim.nodes:
            sim.restart(node)
        sim.submit(2)
        sim.wait_for_progress(3, LIVENESS, f"after full restart {round_}")
    assert not any(node.app.mempool for node in sim.nodes)


def test_two_copies_of_one_validator_cannot_split_the_chain() -> None:
    sim = Simulation(17, 4, behaviours={2: "twin"}, drop=0.02)
    assert len(sim.nodes) == 5
    sim.submit(6)
    sim.wait_for_progress(20, LIVENESS, "with twins")
    assert not any(node.app.mempool for node in sim.honest_nodes())


def test_garbage_and_replays_are_dropped_and_counted() -> None:
    sim = Simulation(18, 4, behaviours={3: "garbage"})
    sim.wait_for_progress(10, LIVENESS, "under garbage")
    for node in sim.honest_nodes():
        metrics = node.replica.metrics
        assert metrics["dropped_malformed"] + metrics["dropped_bad_signature"] > 0


def test_long_run_memory_stays_bounded() -> None:
    sim = Simulation(19, 4, drop=0.05, duplicate=0.05)
    sim.wait_for_progress(150, 200.0, "long run")
    for node in sim.nodes:
        assert node.replica.log_size() < 200
        assert len(node.replica._decisions) <= node.replica.config.decisions_kept


def _governance_tx(sim: Simulation, signer_index: int, method: str, *args: object) -> bytes:
    signer = sim.keys[signer_index]
    reference = sim.nodes[0].app.store
    nonce = account_nonce(reference, signer.public_key) + sum(
        1 for tx in sim.nodes[0].app.mempool.values() if tx.tx.sender == signer.public_key
    )
    tx = Transaction(CHAIN_ID, signer.public_key, nonce, method, tuple(args)).sign(signer)
    return sim.submit_tx(tx)


def _pass_proposal(sim: Simulation, action: str, params: list[object], voters: list[int]) -> int:
    """One validator proposes, the others approve until 2/3 of the set agreed."""
    expiry = int((START_TIME + 3600) * 1000)
    _governance_tx(sim, voters[0], "governance.propose", action, params, expiry)
    sim.wait_for_progress(2, LIVENESS)
    store = sim.nodes[0].app.store
    proposal_id = 1
    while store.get(proposal_key(proposal_id + 1)) is not None:
        proposal_id += 1
    for voter in voters[1:]:
        _governance_tx(sim, voter, "governance.approve", proposal_id)
    sim.wait_for_progress(2, LIVENESS)
    return proposal_id


def test_validator_added_and_removed_while_transactions_flow() -> None:
    sim = Simulation(20, 4, extra_keys=1, drop=0.02)
    newcomer = sim.nodes[4]
    leaving = sim.nodes[0]
    assert not newcomer.replica._is_validator
    sim.wait_for_progress(2, LIVENESS)

    join_at = sim.nodes[1].app.height + 8
    sim.submit(3)
    _pass_proposal(sim, "add_validator", [newcomer.key.public_key, join_at], voters=[1, 2, 3])
    store = sim.nodes[1].app.store
    assert newcomer.key.public_key in validators_at(store, join_at)
    assert newcomer.key.public_key not in validators_at(store, join_at - 1)
    sim.submit(3)
    sim.run_until(sim.now + 0.1)
    sim.wait_for_progress(max(0, join_at - sim.nodes[1].app.height) + 4, LIVENESS)
    assert newcomer.replica._is_validator

    leave_at = sim.nodes[1].app.height + 8
    _pass_proposal(sim, "remove_validator", [leaving.key.public_key, leave_at], voters=[1, 2, 3, 4])
    sim.submit(3)
    sim.wait_for_progress(max(0, leave_at - sim.nodes[1].app.height) + 4, LIVENESS)
    # the leaver stops voting; five then four validators keep committing
    sim.crash(leaving)
    sim.submit(3)
    sim.wait_for_progress(6, LIVENESS, "after the removed validator left")

    chain = sim.nodes[1].app
    for block, certificate in zip(chain.blocks, chain.certificates, strict=True):
        members = validators_at(chain.store, block.height)
        assert certificate.verify(CHAIN_ID, members)
        expected = 5 if join_at <= block.height < leave_at else 4
        assert len(members) == expected, (block.height, join_at, leave_at)
        if block.height >= leave_at:
            assert leaving.key.public_key not in signers(certificate)
    late = [c for b, c in zip(chain.blocks, chain.certificates, strict=True) if b.height >= join_at]
    assert any(newcomer.key.public_key in signers(c) for c in late)
    assert not chain.mempool


def test_a_lagging_node_refuses_a_lying_peers_forged_blocks_and_syncs_from_an_honest_one() -> None:
    # n3 double votes and, in block sync, claims to be far ahead and serves forgeries
    sim = Simulation(23, 7, behaviours={3: "double_vote"})  # f = 2: n3 and the crash
    lagging, liar = sim.nodes[2], sim.nodes[3]
    sim.crash(lagging)
    sim.submit(5)
    sim.wait_for_progress(8, LIVENESS, "while n2 is down")
    target = max(node.app.height for node in sim.honest_nodes())
    sim.restart(lagging)
    sim.run_until(sim.now + LIVENESS, stop=lambda: lagging.app.height >= target)
    assert lagging.app.height >= target  # every block it took passed the agreement check
    assert sim.sync_refused > 0 and lagging.sync_strikes.get(liar.name, 0) > 0
    assert not lagging.catching_up  # the liar still claims to be far ahead: not its word
    sim.wait_for_progress(2, LIVENESS, "after the lagging node rejoined")
