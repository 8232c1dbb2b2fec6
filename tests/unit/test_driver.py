"""The consensus driver: effects in order (persist before send), synced blocks checked."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest

from consensus.messages import PrepareVote
from consensus.replica import Broadcast, Commit, Persist, Replica, Send
from consensus.state import PersistedState
from contracts.registry import APPLICATION
from ledger.block import Block, CommitCertificate, sign_commit_vote
from ledger.errors import InvalidBlock
from ledger.genesis import Genesis
from ledger.keys import PrivateKey, address_to_text
from ledger.tx import MAX_ARG_VALUES, SignedTransaction, Transaction
from node import node as node_module
from node.chain import Chain
from node.driver import ConsensusDriver
from node.home import BlockLimits, Home, MempoolLimits, NodeConfig, genesis_from_json
from node.mempool import GAP_TIMEOUT_SECONDS, held_bytes
from node.node import ADMIT_CHUNK, INLINE_GOSSIP_CHECKS, INTAKE_LIMIT, Node
from node.rpc.routes_txs import tx_outcome
from node.storage import LevelDBStore
from node.votestore import BLOCK_PREFIX, PERSISTED_STATE_KEY

VALIDATOR = PrivateKey.from_seed(bytes([7]) * 32)
OTHER = PrivateKey.from_seed(bytes([3]) * 32)


def genesis() -> Genesis:
    key = address_to_text(VALIDATOR.public_key)
    document = {
        "chain_id": "t",
        "genesis_time_ms": 1_000,
        "validators": [{"name": "v", "key": key}],
    }
    return genesis_from_json(document)


class RecordingStore:
    """Wraps the LevelDB store and logs writes into a shared journal."""

    def __init__(self, store: LevelDBStore, journal: list[str]) -> None:
        self.store = store
        self.journal = journal

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def write(self, batch: Any, sync: bool = True) -> None:
        self.journal.append(f"write sync={sync} keys={sorted(batch)[0]!r}")
        self.store.write(batch, sync)


class RecordingPeers:
    def __init__(self, journal: list[str]) -> None:
        self.journal = journal

    def broadcast(self, frame: Any) -> None:
        self.journal.append(f"broadcast {frame[0]}")

    def send(self, peer: bytes, frame: Any) -> bool:
        self.journal.append(f"send {frame[0]}")
        return True


def make_driver(tmp_path: Path, journal: list[str]) -> tuple[ConsensusDriver, Chain]:
    store = LevelDBStore(tmp_path / "db")
    chain = Chain(store, APPLICATION, genesis())
    chain.store = RecordingStore(store, journal)  # type: ignore[assignment]
    node = SimpleNamespace(
        chain=chain,
        peers=RecordingPeers(journal),
        config=SimpleNamespace(
            block=BlockLimits(max_txs=100, max_bytes=1 << 20),
            view_timeout_ms=1_000,
            censorship_timeout_ms=10_000,
        ),
        key=VALIDATOR,
        chain_id="t",
    )
    return ConsensusDriver(node), chain  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def open_node(
    tmp_path: Path, config: NodeConfig | None = None, key: PrivateKey = VALIDATOR
) -> AsyncIterator[Node]:
    """A real node on a fresh home under `tmp_path` (not started), stopped however the
    test ends: its store, pool threads and block worker are let go."""
    home = Home(tmp_path / "node", NodeConfig("t", "v") if config is None else config, genesis())
    node = Node(home, key)
    try:
        yield node
    finally:
        await node.stop()


def certify(block: Block) -> CommitCertificate:
    vote = sign_commit_vote(VALIDATOR, "t", block.height, 0, block.hash)
    return CommitCertificate.build(block.height, 0, block.hash, {VALIDATOR.public_key: vote})


def test_persist_is_written_with_sync_before_the_sends_that_follow(tmp_path: Path) -> None:
    journal: list[str] = []
    driver, chain = make_driver(tmp_path, journal)
    state = PersistedState(1, 0, False, (0, bytes(32)), None, None, ())
    vote = PrepareVote.create(VALIDATOR, "t", 1, 0, bytes(32))
    asyncio.run(driver._apply([Persist(state), Broadcast(vote), Send(OTHER.public_key, vote)]))
    assert journal == [
        f"write sync=True keys={PERSISTED_STATE_KEY!r}",
        "broadcast c",
        "send c",
    ]
    assert PersistedState.decode(chain.store.get(PERSISTED_STATE_KEY)) == state


def test_a_voted_block_is_written_once_and_a_restarted_replica_gets_it_back(
    tmp_path: Path,
) -> None:
    # Every vote used to re-encode and re-write the whole block it names (synced):
    # now the PREPARE's batch writes the block's own bytes once, the COMMIT's does not.
    batches: list[dict[bytes, bytes | None]] = []
    driver, chain = make_driver(tmp_path, [])
    block = chain.propose(VALIDATOR.public_key, 5_000, [user_tx("a"), user_tx("b")])
    write = chain.store.write

    def recording(batch: dict[bytes, bytes | None], sync: bool = True) -> None:
        assert sync
        batches.append(dict(batch))
        write(batch, sync)

    chain.store.write = recording  # type: ignore[method-assign]
    prepare = PersistedState(1, 0, False, (0, block.hash), None, None, (block,))
    asyncio.run(driver._apply([Persist(prepare)]))
    assert batches[-1][BLOCK_PREFIX + block.hash] == block.encoded
    assert PersistedState.decode(batches[-1][PERSISTED_STATE_KEY] or b"").blocks == ()
    commit = PersistedState(1, 0, False, (0, block.hash), (0, block.hash), None, (block,))
    asyncio.run(driver._apply([Persist(commit)]))
    assert set(batches[-1]) == {PERSISTED_STATE_KEY}  # the block is on disk already

    chain.store.store.close()  # as a crash would leave it: the store is all there is
    restarted, chain = make_driver(tmp_path, [])
    store = chain.store
    assert restarted.votes.load() == commit
    replica = restarted._make_replica()
    assert replica.persisted_state() == commit  # votes and the block itself are back

    # The next height's first record names no block: the old one is deleted with it.
    following = PersistedState(2, 0, False, None, None, None, ())
    asyncio.run(restarted._apply([Persist(following)]))
    assert store.get(BLOCK_PREFIX + block.hash) is None
    assert restarted.votes.load() == following
    store.close()


def test_a_vote_record_with_its_blocks_inline_still_restores(tmp_path: Path) -> None:
    # what a node before the split wrote: the blocks inside the record
    driver, chain = make_driver(tmp_path, [])
    block = chain.propose(VALIDATOR.public_key, 5_000, [user_tx("a")])
    state = PersistedState(1, 0, False, (0, block.hash), None, None, (block,))
    chain.store.write({PERSISTED_STATE_KEY: state.encode()}, sync=True)
    assert driver.votes.load() == state
    assert driver._make_replica().persisted_state() == state


def test_commit_effect_commits_the_next_block_only(tmp_path: Path) -> None:
    driver, chain = make_driver(tmp_path, [])
    block = chain.propose(VALIDATOR.public_key, 5_000, [])
    asyncio.run(driver._apply([Commit(block, certify(block))]))
    assert chain.height == 1
    asyncio.run(driver._apply([Commit(block, certify(block))]))  # already committed: ignored
    assert chain.height == 1


def test_synced_blocks_need_a_valid_certificate(tmp_path: Path) -> None:
    # Build two certified blocks on one store, then feed them to a fresh node.
    driver_a, chain_a = make_driver(tmp_path / "a", [])
    first = chain_a.propose(VALIDATOR.public_key, 5_000, [])
    chain_a.commit(first, certify(first))
    second = chain_a.propose(VALIDATOR.public_key, 6_000, [])
    chain_a.commit(second, certify(second))

    driver_b, chain_b = make_driver(tmp_path / "b", [])
    replica = SimpleNamespace(on_block_synced=lambda *args: [])
    forged = CommitCertificate.build(1, 0, first.hash, {OTHER.public_key: bytes(64)})
    with pytest.raises(InvalidBlock, match="bad_certificate"):
        asyncio.run(driver_b._commit_synced(replica, [(first, forged)]))  # type: ignore[arg-type]
    assert chain_b.height == 0
    pairs = [(first, certify(first)), (second, certify(second))]
    assert asyncio.run(driver_b._commit_synced(replica, pairs)) == 2  # type: ignore[arg-type]
    assert chain_b.head == chain_a.head
    assert asyncio.run(driver_b._commit_synced(replica, pairs)) == 0  # type: ignore[arg-type]


def test_removed_transactions_reach_the_replica_without_new_pending_ones(
    tmp_path: Path,
) -> None:
    # A commit can drop stale txs and leave nothing pending; the replica must still hear
    # of the removal, or it would later complain about a primary censoring them.
    driver, _ = make_driver(tmp_path, [])
    calls: list[tuple[str, list[bytes]]] = []
    replica = SimpleNamespace(
        on_transactions_removed=lambda hashes, now: calls.append(("removed", hashes)) or [],
        on_transactions_pending=lambda hashes, now: calls.append(("pending", hashes)) or [],
    )
    driver.transactions_removed([b"x" * 32])
    driver.transactions_removed([b"y" * 32])
    assert driver.queue.qsize() == 1  # one wake-up for both
    asyncio.run(driver._handle(replica, driver.queue.get_nowait()))  # type: ignore[arg-type]
    assert calls == [("removed", [b"x" * 32, b"y" * 32]), ("pending", [])]


# --- notices that reach the replica after the commit they are about ------------------------


def user_tx(label: str, symbol: str = "COIN") -> SignedTransaction:
    """Nonce 0 of the account named `label`: one per label can commit."""
    sender = PrivateKey.from_seed(label.encode().ljust(32, b"."))
    tx = Transaction("t", sender.public_key, 0, "coin.create", (symbol, symbol, 2, 10))
    return tx.sign(sender)


async def commit_queued_behind_admission(
    tmp_path: Path, admitted: SignedTransaction, committed: SignedTransaction
) -> tuple[Node, Replica]:
    """A real node (not started): a certified block holding `committed` is queued for the
    driver (block sync) just before `admitted` passes admission; then the driver works
    through its queue in order, as its task would."""
    node = Node(Home(tmp_path / "node", NodeConfig("t", "v"), genesis()), VALIDATOR)
    driver = node.consensus
    replica = driver.replica = driver._make_replica()
    replica.on_timer(time.monotonic())
    _, other = make_driver(tmp_path / "other", [])  # another validator's copy of the chain
    block = other.propose(VALIDATOR.public_key, 5_000, [committed])
    synced = asyncio.ensure_future(driver.apply_synced([(block, certify(block))]))
    await asyncio.sleep(0)  # the synced block is on the queue first
    (admission,) = await node.submit([admitted.encoded])
    assert admission.code == "accepted"
    while not driver.queue.empty():
        await driver._handle(replica, driver.queue.get_nowait())
    assert await synced == 1
    assert node.chain.height == 1
    return node, replica


async def stays_idle(node: Node, replica: Replica) -> bool:
    """Nothing pending, and an hour of timers later no new block (an empty one today)."""
    later = time.monotonic() + 3600
    await node.consensus._apply(replica.on_timer(later))
    return replica.status()["pending"] == 0 and node.chain.height == 1


def test_pending_notice_handled_after_its_block_committed_leaves_the_node_idle(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        tx = user_tx("late")
        node, replica = await commit_queued_behind_admission(tmp_path, tx, tx)
        try:
            assert tx.hash not in node.mempool
            assert await stays_idle(node, replica)
        finally:
            await node.stop()

    asyncio.run(scenario())


def test_stale_removal_batched_with_the_older_pending_notice_leaves_the_node_idle(
    tmp_path: Path,
) -> None:
    # the same sender and nonce: the synced block commits `winner`, so `loser` goes
    # stale; its removal joins the batch that still holds its pending notice
    async def scenario() -> None:
        loser, winner = user_tx("same", "LOSE"), user_tx("same", "WIN")
        node, replica = await commit_queued_behind_admission(tmp_path, loser, winner)
        try:
            assert loser.hash not in node.mempool
            assert await stays_idle(node, replica)
        finally:
            await node.stop()

    asyncio.run(scenario())


def test_the_replica_forwards_and_complains_after_the_configured_censorship_timeout(
    tmp_path: Path,
) -> None:
    config = NodeConfig("t", "v", censorship_timeout_ms=60_000)
    node = Node(Home(tmp_path / "node", config, genesis()), VALIDATOR)
    try:
        assert node.consensus._make_replica().config.censorship_timeout == 60.0
    finally:
        asyncio.run(node.stop())


def test_proposals_hold_no_more_than_validates_well_within_the_view_timeout(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        config = NodeConfig("t", "v", view_timeout_ms=2_000)
        async with open_node(tmp_path, config) as node:
            for index in range(300):
                stx = user_tx(f"cost-{index}", f"C{index}")
                assert node.mempool.add(stx, 0) == "accepted"
            app = node.consensus.app
            assert len(app.propose(1, 0, 5_000).transactions) == 300  # 500 us/tx: 1,000 fit
            # blocks measured at 2.5 ms per transaction: a quarter of the 2 s timeout
            # holds 200 of them, not the configured 2,000
            for _ in range(40):
                app.cost.observe(100, 0.25)
            assert app.proposal_cap() == 200
            assert len(app.propose(1, 0, 5_000).transactions) == 200

    asyncio.run(scenario())


def test_one_senders_batch_beyond_its_share_is_refused_before_its_signatures_are_checked(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        limits = MempoolLimits(floor_txs=40, sender_share_percent=25)  # 10 per sender
        async with open_node(tmp_path, NodeConfig("t", "v", mempool=limits), key=OTHER) as node:
            sender = PrivateKey.from_seed(b"flood".ljust(32, b"."))
            batch = [
                Transaction("t", sender.public_key, nonce, "coin.create", (f"F{nonce}", "F", 2, 1))
                .sign(sender)
                .encoded
                for nonce in range(30)
            ]
            answers = await node.submit(batch)
            codes = [answer.code for answer in answers]
            assert codes == ["accepted"] * 10 + ["sender_backlog_full"] * 20
            assert node.metrics.signatures_verified._value.get() == 10

    asyncio.run(scenario())


def account_tx(seed: str, nonce: int) -> SignedTransaction:
    sender = PrivateKey.from_seed(seed.encode().ljust(32, b"."))
    symbol = f"G{nonce}"
    tx = Transaction("t", sender.public_key, nonce, "coin.create", (symbol, symbol, 2, 10))
    return tx.sign(sender)


def test_a_transaction_behind_a_nonce_gap_starts_no_consensus_work(tmp_path: Path) -> None:
    # Under load a client's nonces can arrive out of order (a refused batch retried
    # later). A gapped transaction announced as ready made the primary propose empty
    # blocks, one after another, and never let the chain go idle.
    async def scenario() -> None:
        async with open_node(tmp_path) as node:
            driver = node.consensus
            replica = driver.replica = driver._make_replica()
            replica.on_timer(time.monotonic())
            second, third = account_tx("gap", 1), account_tx("gap", 2)
            admissions = await node.submit([second.encoded, third.encoded])
            assert [a.code for a in admissions] == ["accepted", "accepted"]
            while not driver.queue.empty():
                await driver._handle(replica, driver.queue.get_nowait())
            assert replica.status()["pending"] == 0
            await node.consensus._apply(replica.on_timer(time.monotonic() + 3600))
            assert node.chain.height == 0  # no empty block for work nobody can propose
            # the missing nonce arrives: the whole run behind it is ready
            (admission,) = await node.submit([account_tx("gap", 0).encoded])
            assert admission.code == "accepted"
            while not driver.queue.empty():
                await driver._handle(replica, driver.queue.get_nowait())
            assert replica.status()["pending"] == 3

    asyncio.run(scenario())


def test_a_proposal_is_checked_on_the_worker_thread_and_the_replica_finds_the_result(
    tmp_path: Path,
) -> None:
    # Executing a block on the event loop stalled the RPC for its whole length: the
    # excess load then got its 429 only after a block's execution, not at once.
    import threading

    from consensus.messages import PrePrepare, encode_message

    async def scenario() -> None:
        async with open_node(tmp_path) as node:
            driver = node.consensus
            replica = driver.replica = driver._make_replica()
            replica.on_timer(time.monotonic())
            threads: list[str] = []
            execute = node.chain.execute_check

            def recording(block: Block, now_ms: int | None, root_checked: bool = False) -> Any:
                threads.append(threading.current_thread().name)
                return execute(block, now_ms, root_checked)

            node.chain.execute_check = recording  # type: ignore[method-assign]
            _, other = make_driver(tmp_path / "other", [])
            block = other.propose(VALIDATOR.public_key, int(time.time() * 1000), [user_tx("w")])
            raw = encode_message(PrePrepare.create(VALIDATOR, "t", 1, 0, block))
            event = await driver._check_arriving_proposal(replica, ("message", b"p", raw))
            assert threads and threads[0].startswith("blocks")
            assert threading.current_thread().name not in threads
            assert node.chain.is_checked(block.hash)
            assert isinstance(event[2], PrePrepare)  # decoded once, handed on decoded
            assert event[2].header_checked  # its body matched: the replica need not hash it
            assert driver.app.validate(block) is None
            assert len(threads) == 1  # the replica's validate did not execute it again

    asyncio.run(scenario())


def test_the_primary_builds_its_proposal_on_the_worker_thread(tmp_path: Path) -> None:
    import threading

    async def scenario() -> None:
        async with open_node(tmp_path) as node:
            driver = node.consensus
            replica = driver.replica = driver._make_replica()
            replica.on_timer(time.monotonic())
            threads: list[str] = []
            build = node.chain.build

            def recording(*args: Any) -> Any:
                threads.append(threading.current_thread().name)
                return build(*args)

            node.chain.build = recording  # type: ignore[method-assign]
            (admission,) = await node.submit([user_tx("b").encoded])
            assert admission.code == "accepted"
            while not driver.queue.empty():
                await driver._handle(replica, driver.queue.get_nowait())
            later = time.monotonic() + 1
            assert replica.proposal_due(later)
            await driver._build_proposal()
            assert threads and threads[0].startswith("blocks")
            prebuilt = driver.app.prebuilt
            assert prebuilt is not None and len(prebuilt.transactions) == 1
            await driver._apply(replica.on_timer(later))  # proposes, and alone decides at once
            assert node.chain.height == 1 and node.chain.head.block_hash == prebuilt.hash
            assert len(threads) == 1

    asyncio.run(scenario())


def test_votes_and_the_commit_batch_are_written_on_the_worker_then_the_head_moves(
    tmp_path: Path,
) -> None:
    # A synced LevelDB write on the event loop stalled the RPC and the peer links for
    # the whole fsync, three times per height (PREPARE vote, COMMIT vote, block batch).
    import threading

    async def scenario() -> None:
        async with open_node(tmp_path) as node:
            driver = node.consensus
            replica = driver.replica = driver._make_replica()
            replica.on_timer(time.monotonic())
            loop_thread = threading.current_thread().name
            writes: list[tuple[str, bool, int]] = []  # (thread, sync, chain height meanwhile)
            write = node.chain.store.write

            def recording(batch: Any, sync: bool = True) -> None:
                writes.append((threading.current_thread().name, sync, node.chain.height))
                write(batch, sync)

            node.chain.store.write = recording  # type: ignore[method-assign]
            committed: list[int] = []
            node.chain.listeners.append(
                lambda done: (
                    committed.append(done.block.height)
                    if threading.current_thread().name == loop_thread
                    else None
                )
            )
            (admission,) = await node.submit([user_tx("w").encoded])
            assert admission.code == "accepted"
            while not driver.queue.empty():
                await driver._handle(replica, driver.queue.get_nowait())
            await driver._apply(replica.on_timer(time.monotonic() + 1))  # alone: decides
            assert node.chain.height == 1 and committed == [1]  # listeners ran on the loop
            assert len(writes) >= 3  # PREPARE vote, COMMIT vote, block batch
            assert all(name.startswith("blocks") and sync for name, sync, _ in writes)
            assert writes[-1][2] == 0  # the head moved only after the batch was durable

    asyncio.run(scenario())


def test_a_single_submitted_signature_is_checked_on_the_pool_not_the_event_loop(
    tmp_path: Path,
) -> None:
    import threading

    import node.node as node_module

    async def scenario() -> None:
        async with open_node(tmp_path) as node:
            threads: list[str] = []
            check = node_module.verify_each

            def recording(checks: Any) -> list[bool]:
                threads.append(threading.current_thread().name)
                return check(checks)

            node_module.verify_each = recording  # type: ignore[assignment]
            try:
                (admission,) = await node.submit([user_tx("one").encoded])
                assert admission.code == "accepted"
                assert threads and all(name.startswith("verify") for name in threads)
            finally:
                node_module.verify_each = check  # type: ignore[assignment]

    asyncio.run(scenario())


def test_a_submission_of_a_few_dozen_signatures_is_split_over_both_pool_threads(
    tmp_path: Path,
) -> None:
    import node.node as node_module

    async def scenario() -> None:
        async with open_node(tmp_path) as node:
            sizes: list[int] = []
            check = node_module.verify_each

            def recording(checks: Any) -> list[bool]:
                sizes.append(len(checks))
                return check(checks)

            node_module.verify_each = recording  # type: ignore[assignment]
            try:
                txs = [user_tx(f"split{i}").encoded for i in range(40)]
                admissions = await node.submit(txs)
                assert [a.code for a in admissions] == ["accepted"] * 40
                assert sizes == [20, 20]  # both threads, so both cores, check them
                sizes.clear()
                (admission,) = await node.submit([user_tx("alone").encoded])
                assert admission.code == "accepted" and sizes == [1]
            finally:
                node_module.verify_each = check  # type: ignore[assignment]

    asyncio.run(scenario())


def test_the_transaction_index_is_read_only_for_a_nonce_already_used(tmp_path: Path) -> None:
    # A LevelDB miss per new transaction (the usual case) showed in the profile; a
    # transaction whose nonce its sender has not used yet cannot be in a block.
    from ledger import chainstore

    async def scenario() -> None:
        async with open_node(tmp_path) as node:
            driver = node.consensus
            replica = driver.replica = driver._make_replica()
            replica.on_timer(time.monotonic())
            lookups: list[bytes] = []
            find_tx = chainstore.find_tx

            def recording(reader: Any, tx_hash: bytes) -> Any:
                lookups.append(tx_hash)
                return find_tx(reader, tx_hash)

            chainstore.find_tx = recording  # type: ignore[assignment]
            try:
                first = user_tx("idx")
                (admission,) = await node.submit([first.encoded])
                assert admission.code == "accepted" and lookups == []
                while not driver.queue.empty():
                    await driver._handle(replica, driver.queue.get_nowait())
                await driver._apply(replica.on_timer(time.monotonic() + 1))  # alone: decides
                assert node.chain.height == 1
                (again,) = await node.submit([first.encoded])  # nonce 0 is used now
                assert (again.accepted, again.code, again.message) == (
                    True,
                    "duplicate",
                    "already committed",
                )
                assert lookups == [first.hash]
            finally:
                chainstore.find_tx = find_tx  # type: ignore[assignment]

    asyncio.run(scenario())


def test_gossip_from_several_peers_is_admitted_as_one_batch(tmp_path: Path) -> None:
    # one round of signature checks (one hand-off to the pool) for every frame waiting
    async def scenario() -> None:
        async with open_node(tmp_path) as node:
            frames = [[user_tx(f"peer{p}-{i}").encoded for i in range(3)] for p in range(3)]
            link = SimpleNamespace(peer=OTHER.public_key)
            for frame in frames:
                node._on_frame(link, ["txs", frame])  # type: ignore[arg-type]
            batch, sources = await node._next_intake()
            assert batch == [raw for frame in frames for raw in frame]
            assert sources == [OTHER.public_key] * 9
            assert node._intake.empty() and node._intake_size == 0
            answers, _ = await node._admit(batch, from_peer=True)
            assert [a.code for a in answers] == ["accepted"] * 9
            assert node.metrics.signatures_verified._value.get() == 9

    asyncio.run(scenario())


def test_a_small_gossip_batch_is_checked_on_the_loop_clients_batches_on_the_pool(
    tmp_path: Path,
) -> None:
    # A round through the pool costs more than a few checks do: a gossip batch of up
    # to INLINE_GOSSIP_CHECKS signatures is checked in place while the pool is less
    # than half full and no gossip waits in the intake; a larger one, one when the
    # pool is fuller or gossip waits behind it, and every client submission on the
    # pool. Bad signatures are found either way.
    async def scenario() -> None:
        async with open_node(tmp_path) as node:
            handed: list[int] = []
            submit = node.executor.submit

            def counted(fn: Any, *args: Any) -> Any:
                handed.append(len(args[0]) if args else 0)
                return submit(fn, *args)

            node.executor.submit = counted  # type: ignore[method-assign]
            forged = bytearray(user_tx("small-forged").encoded)
            forged[-1] ^= 1
            small = [user_tx(f"small{i}").encoded for i in range(INLINE_GOSSIP_CHECKS - 1)]
            answers, _ = await node._admit([*small, bytes(forged)], from_peer=True)
            assert [a.code for a in answers][-2:] == ["accepted", "bad_signature"]
            assert handed == []
            large = [user_tx(f"large{i}").encoded for i in range(INLINE_GOSSIP_CHECKS + 1)]
            large_forged = bytearray(large[-1])
            large_forged[-1] ^= 1
            large[-1] = bytes(large_forged)
            answers, _ = await node._admit(large, from_peer=True)
            assert [a.code for a in answers] == ["accepted"] * INLINE_GOSSIP_CHECKS + [
                "bad_signature"
            ]
            assert sum(handed) == len(large)
            handed.clear()
            answers, _ = await node._admit([user_tx("client").encoded])
            assert [a.code for a in answers] == ["accepted"] and handed == [1]
            # with gossip waiting behind it, a small gossip batch goes to the pool
            handed.clear()
            node._intake_size = 3
            answers, _ = await node._admit([user_tx("queued").encoded], from_peer=True)
            assert [a.code for a in answers] == ["accepted"] and handed == [1]
            node._intake_size = 0
            # with the pool half full, a small gossip batch goes to the pool too
            handed.clear()
            pending = len(node.mempool)
            node.mempool.admit_limit = lambda: 2 * pending  # type: ignore[method-assign]
            answers, _ = await node._admit([user_tx("busy").encoded], from_peer=True)
            assert [a.code for a in answers] == ["accepted"] and handed == [1]

    asyncio.run(scenario())


def heavy_tx(label: str, nonce: int) -> SignedTransaction:
    """A transfer whose memo holds 1,020 empty arrays: within every limit, 1.2 KB, and
    some 66 KB once decoded."""
    sender = PrivateKey.from_seed(label.encode().ljust(32, b"."))
    memo = [[]] * (MAX_ARG_VALUES - 4)
    args = ("COIN", OTHER.public_key, 1, memo)
    return Transaction("t", sender.public_key, nonce, "coin.transfer", args).sign(sender)


def test_the_intake_decodes_a_batch_a_bounded_weight_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Gossip is admitted in batches of up to INTAKE_BATCH transactions. Decoded at
    # once, a batch of transactions at the value limit would hold 130 MB: the intake
    # decodes and admits a batch INTAKE_DECODED_BYTES at a time instead.
    txs = [heavy_tx(f"heavy{s}", n) for s in range(3) for n in range(20)]
    weight = held_bytes(txs[0])
    monkeypatch.setattr(node_module, "INTAKE_DECODED_BYTES", 8 * weight)

    async def scenario() -> None:
        async with open_node(tmp_path) as node:
            held: list[list[int]] = []  # per admission, the held bytes of what it was given
            admit = node._admit

            async def recorded(raws: Any, from_peer: bool = False) -> Any:
                decoded = [SignedTransaction.decode(r) if isinstance(r, bytes) else r for r in raws]
                held.append([held_bytes(d) for d in decoded if isinstance(d, SignedTransaction)])
                return await admit(raws, from_peer)

            node._admit = recorded  # type: ignore[method-assign]
            intake = asyncio.create_task(node._intake_loop())
            try:
                link = SimpleNamespace(peer=OTHER.public_key)
                for start in range(0, len(txs), 20):
                    frame = [stx.encoded for stx in txs[start : start + 20]]
                    node._on_frame(link, ["txs", frame])  # type: ignore[arg-type]
                for _ in range(500):
                    if sum(map(len, held)) == len(txs):
                        break
                    await asyncio.sleep(0.01)
                assert sum(map(len, held)) == len(txs)
                assert len(held) == len(txs) // 8 + 1
                assert all(sum(part) <= 8 * weight for part in held)
                assert node.metrics.peers_muted._value.get() == 0  # nothing counted as faulty
            finally:
                intake.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await intake

    asyncio.run(scenario())


def test_a_peer_gossiping_a_forged_signature_is_not_heard_for_a_while(tmp_path: Path) -> None:
    # Validators gossip only what they verified: a bad signature in a peer's frame
    # marks that peer faulty, and its frames are dropped (no decoding, no signature
    # checks, no intake room taken from clients) until the mute ends; others' are not.
    async def scenario() -> None:
        async with open_node(tmp_path) as node:
            faulty = SimpleNamespace(peer=OTHER.public_key)
            honest = SimpleNamespace(peer=PrivateKey.from_seed(bytes([4]) * 32).public_key)
            good = user_tx("good-0")
            forged = bytearray(user_tx("forged").encoded)
            forged[-1] ^= 1  # the signature's last byte
            node._on_frame(faulty, ["txs", [good.encoded, bytes(forged)]])  # type: ignore[arg-type]
            raws, sources = await node._next_intake()
            answers, _ = await node._admit(raws, from_peer=True)
            assert [a.code for a in answers] == ["accepted", "bad_signature"]
            node._mute_faulty(answers, sources)
            assert node.metrics.peers_muted._value.get() == 1
            # the faulty peer's next frame is dropped as it arrives
            dropped = node.gossip_dropped
            node._on_frame(faulty, ["txs", [user_tx("muted-0").encoded]])  # type: ignore[arg-type]
            assert node._intake.empty() and node._intake_size == 0
            assert node.gossip_dropped == dropped + 1
            # an honest peer is still heard, and so is the faulty one once the mute ends
            node._on_frame(honest, ["txs", [user_tx("honest-0").encoded]])  # type: ignore[arg-type]
            assert (await node._next_intake())[1] == [honest.peer]
            node._muted[OTHER.public_key] = 0.0
            node._on_frame(faulty, ["txs", [user_tx("later-0").encoded]])  # type: ignore[arg-type]
            assert (await node._next_intake())[1] == [OTHER.public_key]
            # what a muted peer had queued before its mute is dropped from the intake too
            node._on_frame(faulty, ["txs", [user_tx("queued-0").encoded]])  # type: ignore[arg-type]
            node._on_frame(honest, ["txs", [user_tx("honest-1").encoded]])  # type: ignore[arg-type]
            node._muted[OTHER.public_key] = float("inf")
            raws, sources = await node._next_intake()
            assert (raws, sources) == ([user_tx("honest-1").encoded], [honest.peer])
            assert node._intake_size == 0 and node.mempool.incoming == 0

    asyncio.run(scenario())


def test_a_stalled_node_relays_what_peers_gave_it_to_every_peer(tmp_path: Path) -> None:
    # Work one peer alone was given (a faulty validator gossiping to it only, or an
    # intake that dropped frames elsewhere) would run its view timer alone. Once no block
    # commits for half a view timeout while the pool holds work, the node relays the
    # ready transactions peers gave it (not its clients', which it gossiped already, nor
    # those behind a nonce gap), at most once per half view timeout.
    async def scenario() -> None:
        config = NodeConfig("t", "v", view_timeout_ms=1_000)
        async with open_node(tmp_path, config) as node:
            sent: list[list[Any]] = []
            node.peers.broadcast = sent.append  # type: ignore[assignment,method-assign]
            from_peer = [user_tx(f"peer-{i}") for i in range(3)]
            answers, _ = await node._admit([stx.encoded for stx in from_peer], from_peer=True)
            behind_gap, _ = await node._admit([account_tx("gap", 2).encoded], from_peer=True)
            assert [a.code for a in answers + behind_gap] == ["accepted"] * 4
            assert [a.code for a in await node.submit([user_tx("client").encoded])] == ["accepted"]
            clock = [1_000.0]
            with mock.patch("node.node.time.monotonic", lambda: clock[0]):
                node._relay_if_stalled()  # the first look: the stall starts now
                clock[0] += 0.4
                node._relay_if_stalled()  # under half the view timeout: nothing
                assert sent == []
                clock[0] += 0.2
                node._relay_if_stalled()
                assert sent == [["txs", [stx.encoded for stx in from_peer]]]
                assert node.metrics.txs_relayed._value.get() == 3
                clock[0] += 0.1
                node._relay_if_stalled()  # not again so soon
                assert len(sent) == 1
                node.chain.head = dataclasses.replace(node.chain.head, height=5)
                clock[0] += 1.0
                node._relay_if_stalled()  # a block committed: the stall starts again
                assert len(sent) == 1

    asyncio.run(scenario())


def test_a_resent_pool_costs_the_receiver_no_decoding_and_no_intake_room(
    tmp_path: Path,
) -> None:
    # a peer that reconnects is sent the whole pool (node.pool_resend): what this node
    # holds already is recognised by its bytes in the frame handler, before the intake
    async def scenario() -> None:
        async with open_node(tmp_path) as node:
            decode = SignedTransaction.decode
            decoded: list[bytes] = []

            def counting_decode(data: bytes) -> SignedTransaction:
                decoded.append(data)
                return decode(data)

            try:
                held = [user_tx(f"held-{i}").encoded for i in range(5)]
                answers, _ = await node._admit(held, from_peer=True)
                assert [a.code for a in answers] == ["accepted"] * 5
                verified = node.metrics.signatures_verified._value.get()
                SignedTransaction.decode = counting_decode  # type: ignore[method-assign]
                link = SimpleNamespace(peer=OTHER.public_key)
                node._on_frame(link, ["txs", held])  # type: ignore[arg-type]
                assert node._intake.empty() and node._intake_size == 0
                new = user_tx("new").encoded
                node._on_frame(link, ["txs", [*held, new]])  # type: ignore[arg-type]
                assert await node._next_intake() == (
                    [new],
                    [OTHER.public_key],
                )  # only what it lacks
                answers, _ = await node._admit([new], from_peer=True)
                assert [a.code for a in answers] == ["accepted"]
                assert decoded == [new]
                assert node.metrics.signatures_verified._value.get() == verified + 1
            finally:
                SignedTransaction.decode = decode  # type: ignore[method-assign]

    asyncio.run(scenario())


def test_a_proposal_goes_compact_with_only_the_ungossiped_transactions_whole(
    tmp_path: Path,
) -> None:
    # Peers hold gossiped transactions; the ones this node's clients sent since the
    # last gossip round cannot be there yet, so they travel inside the proposal.
    from consensus.messages import CompactPrePrepare, PrePrepare, decode_message, encode_message

    async def scenario() -> None:
        async with open_node(tmp_path) as node:
            gossiped, fresh = user_tx("gossiped"), user_tx("fresh")
            for stx in (gossiped, fresh):
                (answer,) = await node.submit([stx.encoded])
                assert answer.code == "accepted"
            node._gossip = [fresh.encoded]  # the gossip round took `gossiped` already
            block = node.chain.propose(VALIDATOR.public_key, 5_000, [gossiped, fresh])
            message = PrePrepare.create(VALIDATOR, "t", 1, 0, block)
            kind, wire = node.consensus._frame(message)
            compact = decode_message(wire)
            assert kind == "c" and isinstance(compact, CompactPrePrepare)
            assert compact.entries[0] == gossiped.hash
            assert isinstance(compact.entries[1], SignedTransaction)
            assert compact.entries[1].encoded == fresh.encoded
            assert compact.complete([gossiped, fresh]).block.hash == block.hash
            assert len(wire) < len(encode_message(message))
            # kept to serve peers that lack some of it, even once out of the mempool
            node.mempool.remove([gossiped.hash])
            assert node.consensus.proposals.lookup(gossiped.hash) is gossiped

    asyncio.run(scenario())


def test_a_sender_refused_for_room_in_a_batch_has_its_later_nonces_refused_too(
    tmp_path: Path,
) -> None:
    # A block that commits while a batch is added chunk by chunk frees room: without
    # holding the sender back, nonce 1 got in after nonce 0 was refused, and waited
    # behind that gap until the client's retry after its Retry-After.
    async def scenario() -> None:
        limits = MempoolLimits(floor_txs=1_000)
        async with open_node(tmp_path, NodeConfig("t", "v", mempool=limits), key=OTHER) as node:
            batch = [account_tx("held", 0)]
            batch += [user_tx(f"filler-{i}") for i in range(ADMIT_CHUNK - 1)]
            batch.append(account_tx("held", 1))  # in the next chunk
            verify_all = node.verify_all

            async def room_taken_while_verifying(
                txs: list[SignedTransaction], gossip: bool = False
            ) -> list[bool]:
                # gossip fills the room during the checks; it is free again (a commit)
                # by the time admission gives the loop back after the first chunk
                results = await verify_all(txs, gossip)
                node.mempool.incoming = 10_000
                asyncio.get_running_loop().call_soon(setattr, node.mempool, "incoming", 0)
                return results

            node.verify_all = room_taken_while_verifying  # type: ignore[method-assign]
            answers = await node.submit([stx.encoded for stx in batch])
            assert answers[0].code == "mempool_full"
            assert answers[-1].code == "mempool_full"
            assert batch[-1].hash not in node.mempool
            # the room was there for it: another sender's transaction gets in
            node.verify_all = verify_all  # type: ignore[method-assign]
            (again,) = await node.submit([account_tx("other", 0).encoded])
            assert again.code == "accepted"

    asyncio.run(scenario())


def test_a_transaction_evicted_from_behind_a_nonce_gap_is_no_longer_reported_pending(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with open_node(tmp_path) as node:
            now = [1_000.0]
            node.mempool._clock = lambda: now[0]
            gapped, ready = account_tx("stuck", 1), account_tx("fine", 0)
            answers = await node.submit([gapped.encoded, ready.encoded])
            assert [a.code for a in answers] == ["accepted", "accepted"]
            now[0] += GAP_TIMEOUT_SECONDS / 2
            node.evict_stuck()
            assert tx_outcome(node, gapped.hash)["status"] == "pending"
            now[0] += GAP_TIMEOUT_SECONDS
            node.evict_stuck()
            assert tx_outcome(node, gapped.hash)["status"] == "unknown"
            assert tx_outcome(node, ready.hash)["status"] == "pending"  # no gap: it stays
            assert node.metrics.txs_evicted._value.get() == 1
            # sent again with the nonce it waited for, it is admitted and ready
            answers = await node.submit([account_tx("stuck", 0).encoded, gapped.encoded])
            assert [a.code for a in answers] == ["accepted", "accepted"]
            assert node.mempool.behind_gap(node.chain.next_nonce) == []

    asyncio.run(scenario())


def test_metrics_show_the_admission_state_and_transactions_behind_a_gap(tmp_path: Path) -> None:
    async def scenario() -> None:
        limits = MempoolLimits(floor_txs=40)
        async with open_node(tmp_path, NodeConfig("t", "v", mempool=limits), key=OTHER) as node:
            answers = await node.submit(
                [
                    account_tx("m", 0).encoded,
                    account_tx("gap", 2).encoded,
                    account_tx("gap", 3).encoded,
                ]
            )
            assert [a.code for a in answers] == ["accepted"] * 3
            response = await node.metrics_handler(None)  # type: ignore[arg-type]
            assert isinstance(response.body, bytes)
            samples = dict(
                line.rsplit(" ", 1)
                for line in response.body.decode().splitlines()
                if line and not line.startswith("#")
            )
            assert float(samples["pasar_mempool_size"]) == 3
            assert float(samples["pasar_mempool_behind_gap"]) == 2
            assert float(samples["pasar_mempool_admit_limit"]) == 40
            assert float(samples["pasar_mempool_local"]) == 3
            assert float(samples["pasar_mempool_evicted_total"]) == 0
            assert float(samples["pasar_gossip_dropped_total"]) == 0
            assert float(samples["pasar_mempool_oldest_seconds"]) >= 0
            # a frame that does not fit the gossip intake is dropped, and counted
            link = SimpleNamespace(peer=VALIDATOR.public_key)
            node._on_frame(link, ["txs", [b"x"] * (INTAKE_LIMIT + 1)])  # type: ignore[arg-type]
            assert node.metrics.gossip_dropped._value.get() == INTAKE_LIMIT + 1

            assert float(samples["pasar_mempool_gap_limit"]) == 16  # MIN_GAP_TXS

            # The pool keeps its gap count as transactions come and go: a scrape reads
            # it and never walks the pool.
            walks: list[int] = []
            walk = node.mempool.behind_gap

            def counted(next_nonce: Any) -> list[bytes]:
                walks.append(1)
                return walk(next_nonce)

            node.mempool.behind_gap = counted  # type: ignore[method-assign]
            await node.submit([account_tx("gap", 4).encoded])
            for _ in range(3):
                await node.metrics_handler(None)  # type: ignore[arg-type]
            assert (len(walks), node.metrics.behind_gap._value.get()) == (0, 3)
            # the missing nonces come: nothing waits behind a gap any more
            await node.submit([account_tx("gap", 0).encoded, account_tx("gap", 1).encoded])
            await node.metrics_handler(None)  # type: ignore[arg-type]
            assert node.metrics.behind_gap._value.get() == 0

    asyncio.run(scenario())


def test_the_driver_wakes_for_the_replicas_deadline_on_one_kept_timer(tmp_path: Path) -> None:
    # Waiting on the queue with asyncio.wait_for made a task and a timeout handle per
    # wait, several times a block; the driver now keeps one timer handle until the
    # replica's deadline moves, and the proposal a lone validator waits
    # `interval_ms` for is made by that timer alone (no event arrives meanwhile).
    async def scenario() -> None:
        async with open_node(tmp_path) as node:
            driver = node.consensus
            task = asyncio.create_task(driver.run())
            try:
                await asyncio.sleep(0.05)
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 60
                driver._arm_timer(deadline)
                kept = driver._timer
                driver._arm_timer(deadline)
                assert kept is not None and driver._timer is kept and not kept.cancelled()
                driver._arm_timer(deadline + 1)
                assert kept.cancelled() and driver._timer is not kept
                driver._arm_timer(None)
                assert driver._timer is None
                (admission,) = await node.submit([user_tx("t").encoded])
                assert admission.code == "accepted"
                for _ in range(200):  # bounded: 10 s
                    if node.chain.height == 1:
                        break
                    await asyncio.sleep(0.05)
                assert node.chain.height == 1
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    asyncio.run(scenario())
