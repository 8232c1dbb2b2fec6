"""Unit tests of the replica state machine driven by hand (no simulated network)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from consensus.messages import (
    CommitVote,
    CompactPrePrepare,
    Complaint,
    Decision,
    NewView,
    PreparedCertificate,
    PrepareVote,
    PrePrepare,
    Status,
    ViewChange,
    decode_message,
    encode_for_peers,
    encode_message,
    message_head,
)
from consensus.replica import (
    FALSE_SIGNATURE,
    OLD_HEIGHT,
    Broadcast,
    CatchUp,
    Commit,
    Effect,
    FetchProposal,
    ForwardTransactions,
    Persist,
    Replica,
    ReplicaConfig,
    ReportEvidence,
)
from consensus.state import PersistedState
from ledger import codec
from ledger.block import Block, CommitCertificate, sign_commit_vote
from ledger.errors import CodecError
from ledger.merkle import merkle_root
from ledger.tx import SignedTransaction, Transaction
from tests.sim.simnet import CHAIN_ID, NODE_POLICY, SIM_CONFIG, START_TIME, SimApp, make_key
from tests.sim.simnet import Simulation as _Simulation

KEYS = [make_key(f"unit-validator-{i}") for i in range(4)]


def make_app(count: int = 4) -> SimApp:
    simulation = _Simulation(0, count)
    return simulation.nodes[0].app


def app_for(keys: list[bytes]) -> SimApp:
    from ledger.genesis import Genesis

    genesis = Genesis(CHAIN_ID, int(START_TIME * 1000) - 1000, tuple((k, "v") for k in keys), [])
    return SimApp(genesis, set())


def broadcasts(effects: list[Effect], kind: type) -> list:
    return [e.message for e in effects if isinstance(e, Broadcast) and isinstance(e.message, kind)]


def four() -> tuple[list[SimApp], list[Replica]]:
    public = [k.public_key for k in KEYS]
    apps = [app_for(public) for _ in KEYS]
    for app, key in zip(apps, KEYS, strict=True):
        app._proposer = key.public_key
    replicas = [Replica(SIM_CONFIG, key, app) for key, app in zip(KEYS, apps, strict=True)]
    return apps, replicas


def user_tx(label: str, nonce: int = 0) -> SignedTransaction:
    """A valid `coin.create` from a fresh account (sim-style)."""
    sender = make_key(f"unit-user-{label}")
    symbol = "U" + label.upper()[:6]
    tx = Transaction(CHAIN_ID, sender.public_key, nonce, "coin.create", (symbol, symbol, 2, 10))
    return tx.sign(sender)


def primary_index(replica: Replica) -> int:
    return [k.public_key for k in KEYS].index(replica.primary())


def test_single_validator_commits_its_own_blocks() -> None:
    app = app_for([KEYS[0].public_key])
    app._proposer = KEYS[0].public_key
    replica = Replica(SIM_CONFIG, KEYS[0], app)
    now = START_TIME
    for _ in range(12):
        effects = replica.on_timer(now)
        for effect in effects:
            if isinstance(effect, Commit):
                assert effect.certificate.verify(CHAIN_ID, [KEYS[0].public_key])
                app.apply(effect.block, effect.certificate)
        now = max(now, replica.next_deadline() or now)
    assert app.height >= 3
    assert replica.metrics["blocks_committed"] == app.height


def test_normal_case_persists_before_voting_and_builds_a_certificate() -> None:
    apps, replicas = four()
    now = START_TIME
    for replica in replicas:
        replica.on_timer(now)
    now += SIM_CONFIG.empty_block_interval or 0
    leader = primary_index(replicas[0])
    effects = replicas[leader].on_timer(now)
    kinds = [type(e).__name__ for e in effects]
    assert kinds.index("Persist") < kinds.index("Broadcast")
    (proposal,) = broadcasts(effects, PrePrepare)
    pending: list[tuple[int, object]] = [(i, proposal) for i in range(4) if i != leader] + [
        (i, m) for i in range(4) if i != leader for m in broadcasts(effects, PrepareVote)
    ]
    commits: list[Commit] = []
    while pending:
        target, message = pending.pop(0)
        out = replicas[target].on_message(encode_message(message), now)  # type: ignore[arg-type]
        for effect in out:
            if isinstance(effect, Broadcast):
                pending.extend((i, effect.message) for i in range(4) if i != target)
            if isinstance(effect, Persist):
                assert effect.state.height == 1
            if isinstance(effect, Commit):
                commits.append(effect)
                apps[target].apply(effect.block, effect.certificate)
    assert len(commits) == 4
    assert {c.block.hash for c in commits} == {proposal.block.hash}
    for commit in commits:
        assert commit.certificate.verify(CHAIN_ID, [k.public_key for k in KEYS])


def test_garbage_unknown_senders_and_bad_signatures_are_dropped_and_counted() -> None:
    apps, replicas = four()
    replica = replicas[0]
    replica.on_timer(START_TIME)
    assert replica.on_message(b"\xc1garbage", START_TIME) == []
    assert replica.on_message(b"", START_TIME) == []
    assert replica.on_message(encode_message(Status.create(KEYS[1], CHAIN_ID, 1, 0))[:-3], 0) == []
    assert replica.metrics["dropped_malformed"] == 3
    outsider = make_key("outsider")
    vote = PrepareVote.create(outsider, CHAIN_ID, 1, 0, bytes(32))
    assert replica.on_message(vote, START_TIME) == []
    assert replica.metrics["dropped_unknown_sender"] == 1
    forged = PrepareVote(1, 0, bytes(32), KEYS[1].public_key, bytes(64))
    assert replica.on_message(forged, START_TIME) == []
    assert replica.metrics["dropped_bad_signature"] == 1
    wrong_chain = PrepareVote.create(KEYS[1], "other-chain", 1, 0, bytes(32))
    replica.on_message(wrong_chain, START_TIME)
    assert replica.metrics["dropped_bad_signature"] == 2
    stale = PrepareVote.create(KEYS[1], CHAIN_ID, 0, 0, bytes(32))
    replica.on_message(stale, START_TIME)
    assert replica.metrics["dropped_old_height"] == 1
    replica.on_message(object(), START_TIME)  # type: ignore[arg-type]
    assert replica.metrics["dropped_malformed"] == 4


def test_message_far_ahead_asks_the_driver_to_catch_up() -> None:
    _, replicas = four()
    replica = replicas[0]
    replica.on_timer(START_TIME)
    ahead = PrepareVote.create(KEYS[1], CHAIN_ID, 9, 0, bytes(32))
    effects = replica.on_message(ahead, START_TIME)
    assert effects == [CatchUp(KEYS[1].public_key, 1)]
    assert replica.on_message(ahead, START_TIME) == []  # rate-limited


def test_conflicting_prepares_are_kept_as_evidence() -> None:
    _, replicas = four()
    replica = replicas[0]
    replica.on_timer(START_TIME)
    first = PrepareVote.create(KEYS[2], CHAIN_ID, 1, 0, b"\x01" * 32)
    second = PrepareVote.create(KEYS[2], CHAIN_ID, 1, 0, b"\x02" * 32)
    replica.on_message(first, START_TIME)
    effects = replica.on_message(second, START_TIME)
    (report,) = [e for e in effects if isinstance(e, ReportEvidence)]
    assert report.evidence.validator == KEYS[2].public_key
    assert report.evidence.kind == "prepare"
    assert replica.evidence() == (report.evidence,)
    assert replica.metrics["evidence"] == 1
    replica.on_message(second, START_TIME)
    assert replica.metrics["evidence"] == 1


def test_restarted_replica_never_prepares_a_second_block_in_the_same_view() -> None:
    apps, replicas = four()
    now = START_TIME
    leader = primary_index(replicas[0])
    follower = (leader + 1) % 4
    block_a = apps[leader].propose(1, 0, int(now * 1000))
    block_b = apps[leader].propose(1, 0, int(now * 1000) + 5)
    assert block_a.hash != block_b.hash
    proposal_a = PrePrepare.create(KEYS[leader], CHAIN_ID, 1, 0, block_a)
    effects = replicas[follower].on_message(proposal_a, now)
    (persist,) = [e for e in effects if isinstance(e, Persist)]
    assert persist.state.prepare_vote == (0, block_a.hash)
    restored = PersistedState.decode(persist.state.encode())
    assert restored == persist.state
    # crash, restart from the persisted state, then the (equivocating) primary sends B
    again = Replica(SIM_CONFIG, KEYS[follower], apps[follower], restored)
    proposal_b = PrePrepare.create(KEYS[leader], CHAIN_ID, 1, 0, block_b)
    effects = again.on_message(proposal_b, now)
    assert broadcasts(effects, PrepareVote) == []


def test_view_timeouts_double_and_are_capped() -> None:
    config = ReplicaConfig(CHAIN_ID, base_timeout=1.0, max_timeout=5.0)
    replica = Replica(config, KEYS[0], app_for([k.public_key for k in KEYS]))
    assert [replica._timeout(v) for v in range(6)] == [1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
    assert replica._timeout(10**6) == 5.0


def test_status_from_a_lagging_peer_gets_the_decision() -> None:
    sim = _Simulation(5, 4)
    sim.run_until(sim.now + 1)
    node = sim.nodes[0]
    height = node.app.height
    status = Status.create(sim.keys[1], CHAIN_ID, height, 0)
    effects = node.replica.on_message(status, sim.now)
    (send,) = effects
    assert isinstance(send.message, Decision)  # type: ignore[union-attr]
    assert send.message.height == height  # type: ignore[union-attr]


def test_every_message_round_trips_and_rejects_non_canonical_bytes() -> None:
    app = make_app()
    block = app.propose(1, 0, int(START_TIME * 1000))
    key = KEYS[0]
    prepared = PreparedCertificate.build(
        1, 0, block.hash, {k.public_key: bytes(64) for k in KEYS[:3]}
    )
    change = ViewChange.create(key, CHAIN_ID, 1, 1, prepared, block)
    certificate = CommitCertificate.build(1, 0, block.hash, {key.public_key: bytes(64)})
    messages = [
        PrePrepare.create(key, CHAIN_ID, 1, 0, block),
        PrepareVote.create(key, CHAIN_ID, 1, 0, block.hash),
        CommitVote.create(key, CHAIN_ID, 1, 0, block.hash),
        change,
        NewView.create(key, CHAIN_ID, 1, 1, [change], block),
        Complaint.create(key, CHAIN_ID, 1, 0),
        Status.create(key, CHAIN_ID, 1, 0),
        Decision(block, certificate),
    ]
    for message in messages:
        wire = encode_message(message)
        assert encode_message(decode_message(wire)) == wire
        assert wire[1] >= 20  # tag byte after the array header: never a ledger tag
    with pytest.raises(CodecError):
        decode_message(b"\x92\x03\x01")  # a ledger tag
    with pytest.raises(CodecError):
        decode_message(b"\x92\xd0\x14\x01")  # 20 encoded non-canonically


def test_overdue_transaction_is_forwarded_and_f_plus_one_complaints_change_the_view() -> None:
    config = ReplicaConfig(
        CHAIN_ID, base_timeout=50.0, empty_block_interval=None, censorship_timeout=1.0
    )
    public = [k.public_key for k in KEYS]
    apps = [app_for(public) for _ in KEYS]
    replicas = [Replica(config, key, app) for key, app in zip(KEYS, apps, strict=True)]
    now = START_TIME
    for replica in replicas:
        replica.on_timer(now)
    leader = primary_index(replicas[0])
    a, b = [i for i in range(4) if i != leader][:2]
    tx = user_tx("censored")
    tx_hash = tx.hash
    for index in (a, b):
        assert apps[index].admit(tx)
        assert replicas[index].on_transactions_pending([tx_hash], now) == []
    assert replicas[a].on_timer(now + 0.5) == []  # not overdue yet
    effects = replicas[a].on_timer(now + 1.0)
    forwarded = [e for e in effects if isinstance(e, ForwardTransactions)]
    assert forwarded == [ForwardTransactions(public[leader], (tx_hash,))]
    (complaint,) = broadcasts(effects, Complaint)
    assert broadcasts(effects, ViewChange) == []  # one complaint is not enough (f = 1)
    assert replicas[a].on_timer(now + 1.5) == []  # one complaint per view
    other = broadcasts(replicas[b].on_timer(now + 1.0), Complaint)
    effects = replicas[a].on_message(encode_message(other[0]), now + 1.1)
    (change,) = broadcasts(effects, ViewChange)
    assert change.view == 1 and change.sender == public[a]
    assert replicas[a].metrics["complaints_sent"] == 1
    assert replicas[a].metrics["view_changes_complaints"] == 1  # the cause is counted
    assert replicas[a].metrics["view_changes_timeout"] == 0
    assert complaint.view == 0


def test_tampered_block_body_under_a_valid_signature_is_dropped() -> None:
    apps, replicas = four()
    now = START_TIME
    leader = primary_index(replicas[0])
    follower = (leader + 1) % 4
    block = apps[leader].propose(1, 0, int(now * 1000))
    intruder = make_key("sim-user-x")
    extra = Transaction(CHAIN_ID, intruder.public_key, 0, "coin.create", ("ZZ", "z", 0, 5))
    tampered = replace(block, transactions=(extra.sign(intruder),))
    assert tampered.hash == block.hash  # the hash covers the header only
    forged = PrePrepare.create(KEYS[leader], CHAIN_ID, 1, 0, tampered)
    assert replicas[follower].on_message(encode_message(forged), now) == []
    assert replicas[follower].metrics["dropped_malformed"] == 1
    genuine = PrePrepare.create(KEYS[leader], CHAIN_ID, 1, 0, block)
    (vote,) = broadcasts(replicas[follower].on_message(genuine, now), PrepareVote)
    assert vote.block_hash == block.hash


def test_new_view_must_carry_the_highest_prepared_block() -> None:
    apps, replicas = four()
    now = START_TIME
    public = [k.public_key for k in KEYS]
    leader = primary_index(replicas[0])
    new_primary = public.index(replicas[0].primary(1, 1))
    target = next(i for i in range(4) if i not in (leader, new_primary))
    block_a = apps[leader].propose(1, 0, int(now * 1000))
    votes = {
        public[i]: PrepareVote.create(KEYS[i], CHAIN_ID, 1, 0, block_a.hash).signature
        for i in range(3)
    }
    prepared = PreparedCertificate.build(1, 0, block_a.hash, votes)
    # a quorum of view changes; only the old primary's reports the prepared block A
    changes = [
        ViewChange.create(KEYS[i], CHAIN_ID, 1, 1, prepared, block_a)
        if i == leader
        else ViewChange.create(KEYS[i], CHAIN_ID, 1, 1, None, None)
        for i in range(4)
        if i != target
    ]
    block_b = apps[new_primary].propose(1, 1, int(now * 1000) + 9)
    assert block_b.hash != block_a.hash
    forged = NewView.create(KEYS[new_primary], CHAIN_ID, 1, 1, changes, block_b)
    effects = replicas[target].on_message(encode_message(forged), now)
    assert broadcasts(effects, PrepareVote) == []
    assert replicas[target].metrics["dropped_invalid_block"] == 1
    honest = NewView.create(KEYS[new_primary], CHAIN_ID, 1, 1, changes, block_a)
    effects = replicas[target].on_message(encode_message(honest), now)
    (vote,) = broadcasts(effects, PrepareVote)
    assert (vote.view, vote.block_hash) == (1, block_a.hash)
    assert replicas[target].view == 1


# --- an idle chain stays idle, whatever order the driver's notices arrive in -------------


def idle_four() -> tuple[list[SimApp], list[Replica]]:
    """Four replicas with the node's block policy (no empty blocks), started."""
    public = [k.public_key for k in KEYS]
    apps = [app_for(public) for _ in KEYS]
    for app, key in zip(apps, KEYS, strict=True):
        app._proposer = key.public_key
    replicas = [Replica(NODE_POLICY, key, app) for key, app in zip(KEYS, apps, strict=True)]
    for replica in replicas:
        replica.on_timer(START_TIME)
    return apps, replicas


def certify(block: Block, view: int = 0) -> CommitCertificate:
    votes = {
        key.public_key: sign_commit_vote(key, CHAIN_ID, block.height, view, block.hash)
        for key in KEYS[:3]
    }
    return CommitCertificate.build(block.height, view, block.hash, votes)


def stirs(effects: list[Effect]) -> list[object]:
    """What an idle replica must never emit: proposals, view changes, complaints, commits."""
    return [e for e in effects if isinstance(e, Commit)] + [
        m
        for kind in (PrePrepare, NewView, ViewChange, Complaint)
        for m in broadcasts(effects, kind)
    ]


def run_idle(replica: Replica, start: float, seconds: float) -> list[object]:
    """Call on_timer at every deadline for `seconds`; everything that stirred."""
    stirred: list[object] = []
    now = start
    while now < start + seconds:
        stirred += stirs(replica.on_timer(now))
        deadline = replica.next_deadline()
        now = max(now + 0.01, deadline if deadline is not None else start + seconds)
    return stirred


def test_pending_notice_arriving_after_its_block_committed_is_ignored() -> None:
    apps, replicas = idle_four()
    tx = user_tx("late")
    for app in apps:
        assert app.admit(tx)
    block = apps[0].propose(1, 0, int(START_TIME * 1000))
    assert [stx.hash for stx in block.transactions] == [tx.hash]
    certificate = certify(block)
    now = START_TIME + 0.1
    for app, replica in zip(apps, replicas, strict=True):
        app.apply(block, certificate)
        replica.on_block_synced(block, certificate, now)
        # the driver's queued "pending" notice for tx is handled only now
        replica.on_transactions_pending([tx.hash], now)
        assert replica.status()["pending"] == 0
    # the primary of height 2 proposes nothing, nobody changes view or complains
    for replica in replicas:
        assert run_idle(replica, now, 60.0) == []
        assert (replica.height, replica.view) == (2, 0)


def test_removal_handled_before_the_older_addition_leaves_nothing_pending() -> None:
    apps, replicas = idle_four()
    tx = user_tx("stale")
    replica = replicas[(primary_index(replicas[0]) + 1) % 4]
    app = apps[replicas.index(replica)]
    assert app.admit(tx)
    del app.mempool[tx.hash]  # dropped as stale; both notices still queued
    replica.on_transactions_removed([tx.hash], START_TIME)
    replica.on_transactions_pending([tx.hash], START_TIME)
    assert replica.status()["pending"] == 0
    assert run_idle(replica, START_TIME, 60.0) == []


def test_view_timer_stops_when_the_last_pending_transaction_is_removed() -> None:
    apps, replicas = idle_four()
    index = (primary_index(replicas[0]) + 1) % 4
    replica, app = replicas[index], apps[index]
    tx = user_tx("gone")
    assert app.admit(tx)
    replica.on_transactions_pending([tx.hash], START_TIME)
    assert replica._view_deadline() is not None
    del app.mempool[tx.hash]
    replica.on_transactions_removed([tx.hash], START_TIME + 0.1)
    assert replica._view_deadline() is None
    assert run_idle(replica, START_TIME + 0.1, 60.0) == []
    assert replica.metrics["view_changes"] == 0


def test_one_validators_stray_prepare_does_not_start_a_view_change() -> None:
    _, replicas = idle_four()
    leader = primary_index(replicas[0])
    index = (leader + 1) % 4
    replica = replicas[index]
    strangers = [i for i in range(4) if i not in (index,)]
    stray = PrepareVote.create(KEYS[strangers[0]], CHAIN_ID, 1, 0, b"\x05" * 32)
    replica.on_message(encode_message(stray), START_TIME)
    assert run_idle(replica, START_TIME, 60.0) == []
    # f + 1 = 2 validators preparing mean an honest one saw a proposal: now it is timed
    second = PrepareVote.create(KEYS[strangers[1]], CHAIN_ID, 1, 0, b"\x05" * 32)
    replica.on_message(encode_message(second), START_TIME + 60.0)
    assert broadcasts(replica.on_timer(START_TIME + 61.0), ViewChange)


def test_a_transaction_the_app_dropped_silently_is_forgotten_at_the_next_height() -> None:
    apps, replicas = idle_four()
    lost, committed = user_tx("lost"), user_tx("kept")
    index = (primary_index(replicas[0]) + 1) % 4
    replica, app = replicas[index], apps[index]
    for tx in (lost, committed):
        assert app.admit(tx)
    replica.on_transactions_pending([lost.hash, committed.hash], START_TIME)
    del app.mempool[lost.hash]  # no removal notice ever comes
    builder = apps[(index + 1) % 4]
    assert builder.admit(committed)
    block = builder.propose(1, 0, int(START_TIME * 1000))
    certificate = certify(block)
    app.apply(block, certificate)
    replica.on_block_synced(block, certificate, START_TIME + 0.1)
    assert replica.status()["pending"] == 0
    assert run_idle(replica, START_TIME + 0.1, 60.0) == []


def slow_validation_round() -> tuple[list[Replica], int, int, float, list[Effect]]:
    """Height 1 with one transaction: the primary proposes at once, a backup gets the
    PRE-PREPARE late and validating it takes longer than the rest of its view timer
    (the driver then calls on_timer with the clock read after validation)."""
    apps, replicas = idle_four()
    tx = user_tx("slow")
    for app, replica in zip(apps, replicas, strict=True):
        assert app.admit(tx)
        replica.on_transactions_pending([tx.hash], START_TIME)
    leader = primary_index(replicas[0])
    (proposal,) = broadcasts(replicas[leader].on_timer(START_TIME), PrePrepare)
    backup = (leader + 1) % 4
    timeout = NODE_POLICY.base_timeout
    received = START_TIME + 0.75 * timeout
    effects = replicas[backup].on_message(encode_message(proposal), received)
    assert broadcasts(effects, PrepareVote)  # valid: it votes
    validated = received + 0.5 * timeout  # past START_TIME + timeout
    return replicas, leader, backup, validated, replicas[backup].on_timer(validated)


def test_a_replica_still_validating_a_valid_proposal_does_not_change_view() -> None:
    replicas, leader, backup, validated, effects = slow_validation_round()
    assert broadcasts(effects, ViewChange) == []
    assert replicas[backup].view == 0 and replicas[backup].metrics["view_changes"] == 0
    # the others' prepares and commits arrive: the height is decided in view 0
    others = [i for i in range(4) if i not in (backup,)]
    out: list[Effect] = []
    for i in others:
        vote = PrepareVote.create(KEYS[i], CHAIN_ID, 1, 0, replicas[backup]._proposals[0].hash)
        out += replicas[backup].on_message(encode_message(vote), validated + 0.01)
    for i in others:
        vote = CommitVote.create(KEYS[i], CHAIN_ID, 1, 0, replicas[backup]._proposals[0].hash)
        out += replicas[backup].on_message(encode_message(vote), validated + 0.02)
    (commit,) = [e for e in out if isinstance(e, Commit)]
    assert commit.certificate.view == 0


def test_progress_restarts_the_view_timer_but_a_stalled_view_still_times_out() -> None:
    replicas, _, backup, validated, _ = slow_validation_round()
    replica = replicas[backup]
    # nobody else prepares: one full timeout after the progress, the view changes
    timeout = NODE_POLICY.base_timeout
    assert broadcasts(replica.on_timer(validated + 0.9 * timeout), ViewChange) == []
    assert broadcasts(replica.on_timer(validated + timeout), ViewChange)


def test_waiting_behind_blocks_that_commit_transactions_is_not_censorship() -> None:
    # Under load a transaction queues behind full blocks for longer than the
    # censorship timeout; complaints then changed views that load, not a primary, caused.
    config = ReplicaConfig(
        CHAIN_ID, base_timeout=50.0, empty_block_interval=None, censorship_timeout=1.0
    )
    public = [k.public_key for k in KEYS]
    apps = [app_for(public) for _ in KEYS]
    replicas = [Replica(config, key, app) for key, app in zip(KEYS, apps, strict=True)]
    now = START_TIME
    for replica in replicas:
        replica.on_timer(now)
    index = (primary_index(replicas[0]) + 2) % 4  # primary of neither height 1 nor 2
    replica, app = replicas[index], apps[index]
    queued, served = user_tx("queued"), user_tx("served")
    assert app.admit(queued)
    replica.on_transactions_pending([queued.hash], now)
    builder = apps[(index + 1) % 4]
    builder._proposer = public[(index + 1) % 4]
    assert builder.admit(served)
    block = builder.propose(1, 0, int(now * 1000))
    certificate = certify(block)
    app.apply(block, certificate)
    replica.on_block_synced(block, certificate, now + 0.9)  # progress, without `queued`
    assert broadcasts(replica.on_timer(now + 1.5), Complaint) == []
    # no block with transactions since: the clock runs out from the last progress
    (complaint,) = broadcasts(replica.on_timer(now + 1.95), Complaint)
    assert complaint.height == 2


# -- compact proposals (PRE-PREPARE version 2) ----------------------------------------------


def compact_round(
    count: int = 2,
) -> tuple[list[SimApp], list[Replica], int, int, PrePrepare]:
    """Height 1 with `count` transactions everyone holds: the primary's proposal."""
    apps, replicas = idle_four()
    txs = [user_tx(f"compact{i}") for i in range(count)]
    for app, replica in zip(apps, replicas, strict=True):
        for tx in txs:
            assert app.admit(tx)
        replica.on_transactions_pending([tx.hash for tx in txs], START_TIME)
    leader = primary_index(replicas[0])
    (proposal,) = broadcasts(replicas[leader].on_timer(START_TIME), PrePrepare)
    return apps, replicas, leader, (leader + 1) % 4, proposal


def fetches(effects: list[Effect]) -> list[CompactPrePrepare]:
    return [e.message for e in effects if isinstance(e, FetchProposal)]


def test_a_compact_proposal_signs_the_same_body_and_round_trips() -> None:
    *_, proposal = compact_round()
    wire = encode_for_peers(proposal)
    compact = decode_message(wire)
    assert isinstance(compact, CompactPrePrepare)
    assert wire[1:3] == bytes([20, 2])  # tag 20, version 2
    assert encode_message(compact) == wire
    assert compact.body() == proposal.body() and compact.verify(CHAIN_ID)
    assert compact.tx_hashes == tuple(stx.hash for stx in proposal.block.transactions)
    assert all(isinstance(entry, bytes) for entry in compact.entries)  # one-key envelopes
    assert len(wire) < len(encode_message(proposal))
    full = compact.complete(list(proposal.block.transactions))
    assert full.block.hash == proposal.block.hash and full.signature == proposal.signature
    # the whole block (version 1) is still accepted
    assert decode_message(encode_message(proposal)) == proposal


def test_a_co_signed_envelope_travels_inline_and_only_its_copy_fits() -> None:
    *_, proposal = compact_round(1)
    (single,) = proposal.block.transactions
    sender, cosigner = make_key("unit-user-multi"), make_key("unit-user-cosigner")
    tx = Transaction(CHAIN_ID, sender.public_key, 0, "coin.create", ("UM", "UM", 2, 10))
    multi = tx.sign(sender, cosigner)
    txs = (single, multi)
    header = replace(
        proposal.block.header, tx_count=2, tx_root=merkle_root([stx.hash for stx in txs])
    )
    block = Block(header, txs, proposal.block.last_certificate)
    message = PrePrepare.create(KEYS[0], CHAIN_ID, 1, 0, block)
    compact = decode_message(encode_for_peers(message))
    assert isinstance(compact, CompactPrePrepare)
    assert compact.entries[0] == single.hash
    assert isinstance(compact.entries[1], SignedTransaction)
    assert compact.entries[1].encoded == multi.encoded
    assert compact.fits(0, single) and compact.fits(1, multi)
    # a listed hash stands for the one-key envelope: another envelope of it does not fit
    assert not compact.fits(0, single.tx.sign(KEYS[1], KEYS[2]))
    with pytest.raises(ValueError):
        compact.complete([multi, multi])
    assert compact.complete([single, multi]).block.hash == block.hash


def _mutated(proposal: PrePrepare, index: int, value: object) -> bytes:
    fields = CompactPrePrepare.of(proposal).to_list()
    fields[index] = value
    return codec.encode(fields)


def test_malformed_compact_proposals_are_refused_and_counted() -> None:
    _, replicas, _, backup, proposal = compact_round(3)
    fields = CompactPrePrepare.of(proposal).to_list()
    hashes = fields[5]
    header = fields[4]
    other_height = list(header)
    other_height[3] = 2
    cases = {
        "order": _mutated(proposal, 5, [hashes[1], hashes[0], hashes[2]]),  # not the tx root
        "missing": _mutated(proposal, 5, hashes[:2]),  # not the header's tx_count
        "twice": _mutated(proposal, 5, [hashes[0], hashes[0], hashes[2]]),
        "short hash": _mutated(proposal, 5, [hashes[0], hashes[1], hashes[2][:31]]),
        "not a list": _mutated(proposal, 5, hashes[0]),
        "certificate": _mutated(
            proposal, 6, CommitCertificate.build(0, 0, bytes(32), {}).to_list()
        ),
        "header height": _mutated(proposal, 4, other_height),
        "version 3": _mutated(proposal, 1, 3),
        "short": codec.encode(fields[:8]),
    }
    for name, wire in cases.items():
        with pytest.raises(CodecError):
            decode_message(wire)
        before = replicas[backup].metrics["dropped_malformed"]
        effects = replicas[backup].on_message(wire, START_TIME)
        assert fetches(effects) == [] and broadcasts(effects, PrepareVote) == [], name
        assert replicas[backup].metrics["dropped_malformed"] == before + 1, name


def test_an_incomplete_proposal_asks_for_its_transactions_and_votes_once_completed() -> None:
    _, replicas, leader, backup, proposal = compact_round()
    replica = replicas[backup]
    effects = replica.on_message(encode_for_peers(proposal), START_TIME + 0.1)
    (compact,) = fetches(effects)
    assert compact.block_hash == proposal.block.hash
    assert broadcasts(effects, PrepareVote) == []  # no vote without the block
    assert replica.metrics["proposals_announced"] == 1
    # the primary re-sends: asked again (the first gathering may have failed), no vote
    effects = replica.on_message(encode_for_peers(proposal), START_TIME + 0.2)
    assert fetches(effects) == [compact] and broadcasts(effects, PrepareVote) == []
    # a forged completion (another signature) is refused
    forged = PrePrepare(1, 0, proposal.block, proposal.sender, bytes(64))
    assert broadcasts(replica.on_message(forged, START_TIME + 0.25), PrepareVote) == []
    assert replica.metrics["dropped_bad_signature"] == 1
    effects = replica.on_message(
        compact.complete(list(proposal.block.transactions)), START_TIME + 0.3
    )
    (vote,) = broadcasts(effects, PrepareVote)
    assert vote.block_hash == proposal.block.hash
    # completed once: a late completion or compact copy is a duplicate
    assert replica.on_message(encode_for_peers(proposal), START_TIME + 0.4) == []


def test_a_completed_compact_proposal_is_not_hashed_again_but_other_blocks_are(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Decoding a compact proposal checks its hashes and certificate against the
    # header; the driver and the replica each recomputed the transaction root and the
    # certificate hash of the completed block (a Merkle root over every transaction).
    import consensus.messages as messages

    _, replicas, leader, backup, proposal = compact_round(3)
    compact = decode_message(encode_for_peers(proposal))
    assert isinstance(compact, CompactPrePrepare) and compact.header_checked
    completed = compact.complete(list(proposal.block.transactions))
    assert completed.header_checked and completed == proposal  # the mark is not compared
    assert encode_message(completed) == encode_message(proposal)  # nor on the wire
    # built here rather than decoded: its hashes were never checked against the header
    local = CompactPrePrepare.of(proposal)
    assert not local.complete(list(proposal.block.transactions)).header_checked
    whole = decode_message(encode_message(proposal))
    assert isinstance(whole, PrePrepare) and not whole.header_checked
    checked: list[Block] = []
    original = messages.block_matches_header

    def counting(block: Block) -> bool:
        checked.append(block)
        return original(block)

    monkeypatch.setattr(messages, "block_matches_header", counting)
    (vote,) = broadcasts(replicas[backup].on_message(completed, START_TIME), PrepareVote)
    assert vote.block_hash == proposal.block.hash and checked == []
    # a whole block from the wire is still checked, and a tampered body still dropped
    other = (backup + 1) % 4 if (backup + 1) % 4 != leader else (backup + 2) % 4
    assert broadcasts(replicas[other].on_message(whole, START_TIME), PrepareVote)
    assert len(checked) == 1
    intruder = make_key("sim-user-y")
    extra = Transaction(CHAIN_ID, intruder.public_key, 0, "coin.create", ("ZY", "z", 0, 5))
    tampered = replace(proposal.block, transactions=(extra.sign(intruder),))
    third = next(i for i in range(4) if i not in (leader, backup, other))
    forged = PrePrepare(1, 0, tampered, proposal.sender, proposal.signature)
    assert replicas[third].on_message(forged, START_TIME) == []
    assert replicas[third].metrics["dropped_malformed"] == 1


def test_a_fetch_in_progress_holds_the_view_timer_once_and_a_stalled_one_times_out() -> None:
    _, replicas, _, backup, proposal = compact_round()
    replica = replicas[backup]
    timeout = NODE_POLICY.base_timeout
    received = START_TIME + 0.75 * timeout  # the view timer started at START_TIME
    assert fetches(replica.on_message(encode_for_peers(proposal), received))
    assert broadcasts(replica.on_timer(received), ViewChange) == []  # restarts from here
    # past the first deadline: the fetch is still under way, no view change
    assert broadcasts(replica.on_timer(START_TIME + 1.2 * timeout), ViewChange) == []
    # re-sent announcements do not extend it: the primary never completes it
    replica.on_message(encode_for_peers(proposal), received + 0.5 * timeout)
    assert broadcasts(replica.on_timer(received + 0.99 * timeout), ViewChange) == []
    effects = replica.on_timer(received + timeout)
    assert broadcasts(effects, ViewChange) and replica.view == 1
    assert broadcasts(effects, PrepareVote) == []


def test_a_full_block_is_proposed_at_once_and_a_small_one_after_the_interval() -> None:
    public = [k.public_key for k in KEYS]
    apps = [app_for(public) for _ in KEYS]
    for app, key in zip(apps, KEYS, strict=True):
        app._proposer = key.public_key
    config = replace(NODE_POLICY, min_block_interval=0.5)
    replicas = [Replica(config, key, app) for key, app in zip(KEYS, apps, strict=True)]
    leader = primary_index(replicas[0])
    replica, app = replicas[leader], apps[leader]
    replica.on_timer(START_TIME)
    txs = [user_tx(f"full{i}") for i in range(3)]
    for stx in txs[:2]:
        assert app.admit(stx)
    replica.full_block = 3
    replica.on_transactions_pending([stx.hash for stx in txs[:2]], START_TIME)
    # two of three: the interval gives the block time to fill
    assert replica._propose_at() == START_TIME + 0.5
    assert not replica.proposal_due(START_TIME + 0.1)
    assert app.admit(txs[2])
    replica.on_transactions_pending([txs[2].hash], START_TIME + 0.1)
    # full: proposed now, not at the end of the interval
    assert replica.proposal_due(START_TIME + 0.1)
    (proposal,) = broadcasts(replica.on_timer(START_TIME + 0.1), PrePrepare)
    assert len(proposal.block.transactions) == 3


def primary_of_height_two(
    interval: float,
) -> tuple[Replica, SimApp, Block, CommitCertificate]:
    """Four replicas with a block interval, height 1's block (one transaction) ready to
    commit, and the replica that is primary at height 2 with its app."""
    apps = [app_for([k.public_key for k in KEYS]) for _ in KEYS]
    for app, key in zip(apps, KEYS, strict=True):
        app._proposer = key.public_key
    config = replace(NODE_POLICY, min_block_interval=interval)
    replicas = [Replica(config, key, app) for key, app in zip(KEYS, apps, strict=True)]
    for replica in replicas:
        replica.on_timer(START_TIME)
    builder = apps[primary_index(replicas[0])]
    assert builder.admit(user_tx("inblock"))
    block = builder.propose(1, 0, int(START_TIME * 1000))
    index = [k.public_key for k in KEYS].index(replicas[0].primary(2, 0))
    return replicas[index], apps[index], block, certify(block)


def test_transactions_that_waited_through_the_last_height_are_proposed_when_it_commits() -> None:
    replica, app, block, certificate = primary_of_height_two(0.5)
    # one transaction pending since before height 1 committed (it waited the whole
    # height), another since just before the commit
    early, late = user_tx("early"), user_tx("late")
    assert app.admit(early) and app.admit(late)
    replica.on_transactions_pending([early.hash], START_TIME)
    committed_at = START_TIME + 0.6
    replica.on_transactions_pending([late.hash], committed_at - 0.1)
    app.apply(block, certificate)
    replica.on_block_synced(block, certificate, committed_at)
    assert replica.height == 2
    # proposed as the height starts, not an interval later
    assert replica.proposal_due(committed_at)
    (proposal,) = broadcasts(replica.on_timer(committed_at), PrePrepare)
    assert {stx.hash for stx in proposal.block.transactions} == {early.hash, late.hash}


def test_a_transaction_from_the_last_height_waits_only_the_rest_of_the_interval() -> None:
    replica, app, block, certificate = primary_of_height_two(0.5)
    tx = user_tx("during")
    assert app.admit(tx)
    arrived = START_TIME + 0.4
    replica.on_transactions_pending([tx.hash], arrived)
    app.apply(block, certificate)
    replica.on_block_synced(block, certificate, START_TIME + 0.6)
    # it has waited 0.2 s of the 0.5 s interval: 0.3 s more, not a whole interval
    assert replica._propose_at() == pytest.approx(arrived + 0.5)
    assert not replica.proposal_due(arrived + 0.45)
    assert replica.proposal_due(arrived + 0.5)


def test_a_transaction_arriving_after_the_height_started_waits_the_whole_interval() -> None:
    replica, app, block, certificate = primary_of_height_two(0.5)
    committed_at = START_TIME + 0.6
    app.apply(block, certificate)
    replica.on_block_synced(block, certificate, committed_at)
    tx = user_tx("after")
    assert app.admit(tx)
    replica.on_transactions_pending([tx.hash], committed_at + 0.2)
    # a light load: the block still gets its interval to fill, from the height's start
    assert replica._propose_at() == pytest.approx(committed_at + 0.5)


# -- the next height's buffer, and heads read before decoding ----------------------------------


def test_next_height_messages_are_checked_before_they_are_kept_and_each_sender_has_a_share() -> (
    None
):
    _, replicas = idle_four()
    replica = replicas[0]
    forged = PrepareVote(2, 0, b"\x01" * 32, KEYS[1].public_key, bytes(64))
    replica.on_message(encode_message(forged), START_TIME)
    assert replica.last_false_signatures == 1  # counted now, against its sender
    assert replica.metrics["dropped_bad_signature"] == 1
    share = max(16, SIM_CONFIG.max_future_messages // 8)
    for i in range(share + 5):
        vote = PrepareVote.create(KEYS[1], CHAIN_ID, 2, 0, bytes([i]) * 32)
        replica.on_message(vote, START_TIME)
        assert replica.last_false_signatures == 0
    assert replica.metrics["dropped_buffer_full"] == 5
    other = PrepareVote.create(KEYS[2], CHAIN_ID, 2, 0, b"\x02" * 32)
    replica.on_message(other, START_TIME)  # another sender's share is untouched
    assert replica.metrics["dropped_buffer_full"] == 5
    assert len(replica._future) == share + 1


def test_a_head_is_judged_at_the_height_the_replica_would_be_in() -> None:
    apps, replicas = idle_four()
    replica = replicas[0]
    block = apps[1].propose(1, 0, int(START_TIME * 1000))
    decision = Decision(block, certify(block))
    effects = replica.on_message(decision, START_TIME)
    (commit,) = [e for e in effects if isinstance(e, Commit)]
    apps[0].apply(commit.block, commit.certificate)  # committed; the replica not told yet
    apps[0]._proposer = KEYS[2].public_key
    later = apps[0].propose(2, 0, int(START_TIME * 1000) + 1)
    message = PrePrepare.create(KEYS[2], CHAIN_ID, 2, 0, later)
    head = message_head(encode_message(message))
    assert head is not None
    # decided at height 1, but the app has committed it: as on_message would, the
    # replica enters height 2 first, so the proposal is not taken for an old one
    assert replica.on_head(head, START_TIME + 0.1)[0] is None
    stale = message_head(encode_message(decision))
    assert stale is not None
    assert replica.on_head(stale, START_TIME + 0.2)[0] == OLD_HEIGHT
    forged = message_head(encode_message(replace(message, signature=bytes(64))))
    assert forged is not None
    assert replica.on_head(forged, START_TIME + 0.3)[0] == FALSE_SIGNATURE


def test_a_forgery_from_far_ahead_asks_no_one_to_catch_this_replica_up() -> None:
    """A STATUS or vote for a far height, in an honest validator's name but not signed
    by it, would have this replica ask that validator for blocks it may not have (and
    count the empty answer against it): only a message its sender signed asks."""
    _, replicas = four()
    replica = replicas[0]
    replica.on_timer(START_TIME)
    status = Status(1_000, 0, KEYS[2].public_key, bytes(64))
    vote = PrepareVote(1_000, 0, bytes(32), KEYS[2].public_key, bytes(64))
    for forged in (status, vote):
        assert replica.on_message(encode_message(forged), START_TIME) == []
        assert replica.last_false_signatures == 1
    genuine = Status.create(KEYS[2], CHAIN_ID, 1_000, 0)
    assert replica.on_message(genuine, START_TIME) == [CatchUp(KEYS[2].public_key, 1)]
