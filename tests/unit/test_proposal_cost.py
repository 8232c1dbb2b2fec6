"""What an arriving proposal costs a validator: nothing is executed unless the replica
would act on it (signed by the primary of a view it is in), within the `[block]` limits,
and a block whose check failed is not executed again (node/driver.py, node/chain.py).

A single Byzantine validator halted a four-validator chain by sending forged full
PRE-PREPAREs (any sender, a zero signature, any view, 20,000 transactions): every copy
was executed before its signature or view was looked at. Each test here counts the
calls to `Chain.execute_check`, which is where a block is executed."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from consensus.messages import (
    CompactPrePrepare,
    Decision,
    NewView,
    PrepareVote,
    PrePrepare,
    Status,
    ViewChange,
    encode_for_peers,
    encode_message,
)
from consensus.replica import Replica
from contracts.registry import APPLICATION
from ledger.block import Block, CommitCertificate, sign_commit_vote
from ledger.genesis import Genesis
from ledger.keys import PrivateKey, address_to_text
from ledger.tx import SignedTransaction, Transaction
from node.chain import Chain
from node.driver import CONSENSUS_MUTE_AFTER, PEER_QUEUE_BYTES, ConsensusDriver
from node.home import BlockLimits, Home, NodeConfig, genesis_from_json
from node.node import Node
from node.storage import LevelDBStore

KEYS = [PrivateKey.from_seed(bytes([40 + i]) * 32) for i in range(4)]
ME = KEYS[0]
BYZANTINE = KEYS[3]
ZERO_SIGNATURE = b"\0" * 64


def genesis() -> Genesis:
    return genesis_from_json(
        {
            "chain_id": "t",
            "genesis_time_ms": 1_000,
            "validators": [
                {"name": f"v{i}", "key": address_to_text(key.public_key)}
                for i, key in enumerate(KEYS)
            ],
        }
    )


def user_tx(label: str) -> SignedTransaction:
    sender = PrivateKey.from_seed(label.encode().ljust(32, b"."))
    tx = Transaction("t", sender.public_key, 0, "coin.create", (label, label, 2, 10))
    return tx.sign(sender)


def key_of(public_key: bytes | None) -> PrivateKey:
    return next(key for key in KEYS if key.public_key == public_key)


class Harness:
    """A validator (KEYS[0]) of a four-validator chain, not started, whose driver is fed
    by hand as its task would feed it; `executed` counts the blocks it executed."""

    def __init__(self, node: Node, other: Chain) -> None:
        self.node = node
        self.driver: ConsensusDriver = node.consensus
        self.replica: Replica = self.driver._make_replica()
        self.replica.on_timer(time.monotonic())
        self.other = other  # another validator's copy of the chain, to build blocks on
        self.executed: list[bytes] = []
        self.rebuilt = 0
        execute = node.chain.execute_check
        rebuild = self.driver.proposals.rebuild

        def counting(block: Block, now_ms: int | None, root_checked: bool = False) -> Any:
            self.executed.append(block.hash)
            return execute(block, now_ms, root_checked)

        def counting_rebuild(compact: CompactPrePrepare) -> Any:
            self.rebuilt += 1
            return rebuild(compact)

        node.chain.execute_check = counting  # type: ignore[method-assign]
        self.driver.proposals.rebuild = counting_rebuild  # type: ignore[method-assign]

    def primary(self, view: int) -> PrivateKey:
        return key_of(self.replica.primary(1, view))

    def block(self, proposer: PrivateKey, count: int = 2, label: str = "a") -> Block:
        txs = [user_tx(f"{label}{i}") for i in range(count)]
        return self.other.propose(proposer.public_key, int(time.time() * 1000), txs)

    async def arrive(self, raw: bytes | Any, peer: bytes = BYZANTINE.public_key) -> None:
        """One message through the driver's pre-check and then the replica."""
        event = await self.driver._check_arriving_proposal(self.replica, ("message", peer, raw))
        await self.driver._handle(self.replica, event)


def run(
    tmp_path: Path, scenario: Callable[[Harness], Awaitable[None]], block: BlockLimits | None = None
) -> None:
    async def main() -> None:
        config = NodeConfig("t", "v0", block=block or BlockLimits())
        node = Node(Home(tmp_path / "node", config, genesis()), ME)
        other = Chain(LevelDBStore(tmp_path / "other"), APPLICATION, genesis())
        try:
            await scenario(Harness(node, other))
        finally:
            await node.stop()

    asyncio.run(main())


def count_decodes(monkeypatch: Any) -> list[int]:
    """One entry per transaction decoded from now on (`SignedTransaction.from_list`)."""
    decoded: list[int] = []
    from_list = SignedTransaction.from_list

    def counting(fields: Any) -> SignedTransaction:
        decoded.append(1)
        return from_list(fields)

    monkeypatch.setattr(SignedTransaction, "from_list", staticmethod(counting))
    return decoded


def junk(block: Block) -> Block:
    """The block with a state root execution will not reproduce (the attack's junk roots)."""
    header = replace(block.header, state_root=bytes(32))
    return Block(header, block.transactions, block.last_certificate)


def test_a_proposal_with_a_forged_signature_is_not_executed(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        primary = h.primary(0)
        block = h.block(primary, 3)
        forged = PrePrepare(1, 0, block, primary.public_key, ZERO_SIGNATURE)
        await h.arrive(encode_message(forged))
        await h.arrive(encode_message(forged))
        assert h.executed == []
        assert h.replica.metrics["dropped_bad_signature"] == 2
        assert not h.node.chain.is_checked(block.hash)
        # the same block, signed by its primary, is executed once and voted for
        await h.arrive(encode_message(PrePrepare.create(primary, "t", 1, 0, block)))
        assert h.executed == [block.hash]
        assert h.node.chain.is_checked(block.hash)

    run(tmp_path, scenario)


def test_a_proposal_for_a_view_the_replica_is_not_in_is_not_executed(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        for view in (6, 1, 2):  # a PRE-PREPARE is only ever for view 0
            primary = h.primary(view)
            block = h.block(primary, 3, label=f"v{view}-")
            await h.arrive(encode_message(PrePrepare.create(primary, "t", 1, view, block)))
            forged = PrePrepare(1, view, block, primary.public_key, ZERO_SIGNATURE)
            await h.arrive(encode_message(forged))
        assert h.executed == []
        # the forged copies go before the view is looked at: their signatures are false
        assert h.replica.metrics["dropped_wrong_view"] == 3
        assert h.replica.metrics["dropped_bad_signature"] == 3

    run(tmp_path, scenario)


def test_a_proposal_from_a_validator_that_is_not_the_primary_is_not_executed(
    tmp_path: Path,
) -> None:
    async def scenario(h: Harness) -> None:
        impostor = next(k for k in KEYS[1:] if k.public_key != h.replica.primary(1, 0))
        block = h.block(impostor, 3)
        await h.arrive(encode_message(PrePrepare.create(impostor, "t", 1, 0, block)))
        assert h.executed == []
        assert h.replica.metrics["dropped_wrong_primary"] == 1

    run(tmp_path, scenario)


def test_a_proposal_over_max_txs_is_refused_without_executing_it(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        primary = h.primary(0)
        block = h.block(primary, 7)  # over twice max_txs (BLOCK_LIMIT_SLACK)
        await h.arrive(encode_message(PrePrepare.create(primary, "t", 1, 0, block)))
        assert h.executed == []
        assert h.replica.metrics["dropped_invalid_block"] == 1
        assert h.replica._prepare_vote is None  # no vote for it
        assert h.driver.app.validate(block) == "block_too_large"
        assert h.executed == []

    run(tmp_path, scenario, BlockLimits(max_txs=3))


def test_a_proposal_over_max_bytes_is_refused_without_executing_it(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        primary = h.primary(0)
        block = h.block(primary, 3)
        size = sum(len(stx.encoded) for stx in block.transactions)
        # over twice max_bytes (BLOCK_LIMIT_SLACK): refused unexecuted
        h.node.config = replace(h.node.config, block=BlockLimits(max_bytes=(size - 1) // 2))
        await h.arrive(encode_message(PrePrepare.create(primary, "t", 1, 0, block)))
        assert h.executed == []
        assert h.replica.metrics["dropped_invalid_block"] == 1
        # within twice this node's limit (another validator's may be larger): checked
        h.node.config = replace(h.node.config, block=BlockLimits(max_bytes=(size + 1) // 2))
        assert h.driver.app.validate(block) is None
        assert h.executed == [block.hash]

    run(tmp_path, scenario)


def test_the_primarys_own_proposal_fits_the_limits_it_checks_others_against(
    tmp_path: Path,
) -> None:
    async def scenario(h: Harness) -> None:
        txs = [user_tx(f"r{i}") for i in range(6)]
        admissions = await h.node.submit([stx.encoded for stx in txs])
        assert all(a.code == "accepted" for a in admissions)
        reaped = h.driver.app.reap(0)
        assert 0 < len(reaped) <= 4
        assert sum(len(stx.encoded) for stx in reaped) <= h.node.config.block.max_bytes
        block = h.node.chain.propose(h.primary(0).public_key, int(time.time() * 1000), reaped)
        assert h.driver.app.validate(block) is None

    size = len(user_tx("r0").encoded)
    run(tmp_path, scenario, BlockLimits(max_txs=4, max_bytes=3 * size + size // 2))


def test_a_block_whose_check_failed_is_executed_once_however_often_it_arrives(
    tmp_path: Path,
) -> None:
    async def scenario(h: Harness) -> None:
        primary = h.primary(0)
        bad = junk(h.block(primary, 3))
        raw = encode_message(PrePrepare.create(primary, "t", 1, 0, bad))
        for _ in range(3):
            await h.arrive(raw)
        assert h.executed == [bad.hash]  # not again by the replica's validate, nor resent
        assert h.node.chain.refusal(bad.hash) is not None
        assert h.driver.app.validate(bad) == "bad_state_root"
        assert h.executed == [bad.hash]

    run(tmp_path, scenario)


def test_the_chain_remembers_a_failed_check(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        bad = junk(h.block(h.primary(0), 2))
        for _ in range(3):
            assert h.driver.app.validate(bad) == "bad_state_root"
        assert h.executed == [bad.hash]

    run(tmp_path, scenario)


def test_a_forged_compact_proposal_is_not_completed_nor_executed(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        primary = h.primary(0)
        txs = [user_tx(f"c{i}") for i in range(3)]
        admissions = await h.node.submit([stx.encoded for stx in txs])
        assert all(a.code == "accepted" for a in admissions)
        block = h.other.propose(primary.public_key, int(time.time() * 1000), txs)
        forged = PrePrepare(1, 0, block, primary.public_key, ZERO_SIGNATURE)
        await h.arrive(encode_for_peers(forged))
        assert h.rebuilt == 0 and h.executed == []
        assert h.replica.metrics["dropped_bad_signature"] == 1
        await h.arrive(encode_for_peers(PrePrepare.create(primary, "t", 1, 0, block)))
        assert h.rebuilt == 1 and h.executed == [block.hash]  # completed from the pool

    run(tmp_path, scenario)


def view_changes(height: int, view: int, keys: list[PrivateKey]) -> list[ViewChange]:
    return [ViewChange.create(key, "t", height, view, None, None) for key in keys]


def test_a_new_view_is_executed_only_when_a_quorum_of_view_changes_justifies_it(
    tmp_path: Path,
) -> None:
    async def scenario(h: Harness) -> None:
        view = 1
        primary = h.primary(view)
        block = h.block(primary, 3)
        # signed by the primary of view 1, but with one view change: no quorum
        unjustified = NewView.create(primary, "t", 1, view, view_changes(1, view, [primary]), block)
        await h.arrive(encode_message(unjustified))
        forged = replace(
            NewView.create(primary, "t", 1, view, view_changes(1, view, KEYS[1:]), block),
            signature=ZERO_SIGNATURE,
        )
        await h.arrive(encode_message(forged))
        assert h.executed == []
        # a real view change still goes through: the replica executes and enters view 1
        justified = NewView.create(primary, "t", 1, view, view_changes(1, view, KEYS[1:]), block)
        await h.arrive(encode_message(justified))
        assert h.executed == [block.hash]
        assert h.replica.view == view and not h.replica.in_view_change

    run(tmp_path, scenario)


def test_a_flood_from_one_peer_is_dropped_once_it_holds_its_share_of_the_queue(
    tmp_path: Path,
) -> None:
    async def scenario(h: Harness) -> None:
        driver = h.driver
        driver.inbox.byte_rate = float("inf")  # the bytes waiting alone, not the byte rate
        chunk = b"\x90" * (PEER_QUEUE_BYTES // 4)
        for _ in range(6):
            driver.on_peer_message(BYZANTINE.public_key, chunk)
        assert len(driver.inbox) == 4 and driver.dropped_messages == 2
        driver.on_peer_message(KEYS[1].public_key, chunk)  # an honest peer is not affected
        assert len(driver.inbox) == 5 and driver.queue.qsize() == 5
        # taken in turn: the honest peer's message comes second, not behind the flood
        taken = [driver.inbox.take() for _ in range(2)]
        assert [peer for peer, _ in taken if peer] == [BYZANTINE.public_key, KEYS[1].public_key]
        driver.on_peer_message(BYZANTINE.public_key, chunk)  # room for one more
        driver.on_peer_message(BYZANTINE.public_key, chunk)
        assert len(driver.inbox) == 4 and driver.dropped_messages == 3

    run(tmp_path, scenario)


def test_a_message_its_sender_did_not_sign_is_dropped_without_decoding_its_block(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """The forged giants of the attack, in every form that carries a block, cost their
    head and one signature check: not one of their transactions is decoded."""

    async def scenario(h: Harness) -> None:
        primary = h.primary(0)
        block = h.block(primary, 300)
        whole = PrePrepare(1, 0, block, primary.public_key, ZERO_SIGNATURE)
        inline = encode_for_peers(whole, inline=lambda stx: True)  # compact, all carried
        changes = view_changes(1, 1, KEYS[1:])
        new_view = replace(
            NewView.create(h.primary(1), "t", 1, 1, changes, block), signature=ZERO_SIGNATURE
        )
        carrying = ViewChange(1, 1, BYZANTINE.public_key, None, block, ZERO_SIGNATURE)
        decoded = count_decodes(monkeypatch)
        forged = [encode_message(whole), inline, encode_message(new_view)]
        for raw in (*forged, encode_message(carrying)):
            await h.arrive(raw)
        assert decoded == []
        assert h.executed == [] and h.rebuilt == 0
        assert h.replica.metrics["dropped_bad_signature"] == 4
        assert h.replica.metrics["messages_received"] == 4
        assert h.driver.unsigned_messages == 4
        # the same block, signed, is decoded and executed as before
        await h.arrive(encode_message(PrePrepare.create(primary, "t", 1, 0, block)))
        assert len(decoded) == 300
        assert h.executed == [block.hash]

    run(tmp_path, scenario)


def test_a_decision_whose_certificate_fails_is_dropped_without_decoding_its_block(
    tmp_path: Path, monkeypatch: Any
) -> None:
    def certificate(block: Block, signers: list[PrivateKey]) -> CommitCertificate:
        votes = [(k.public_key, sign_commit_vote(k, "t", 1, 0, block.hash)) for k in signers]
        return CommitCertificate(1, 0, block.hash, tuple(sorted(votes)))

    async def scenario(h: Harness) -> None:
        block = h.block(h.primary(0), 300)
        other = h.block(h.primary(0), 3, label="b")
        forged = [
            Decision(block, certificate(block, KEYS[:2])),  # no quorum
            Decision(block, certificate(other, KEYS[:3])),  # another block's
            Decision(block, replace(certificate(block, KEYS[:3]), height=2)),
        ]
        zeroed = replace(
            certificate(block, KEYS[:3]),
            signatures=tuple(
                (k, ZERO_SIGNATURE) for k, _ in certificate(block, KEYS[:3]).signatures
            ),
        )
        forged.append(Decision(block, zeroed))
        decoded = count_decodes(monkeypatch)
        for message in forged:
            await h.arrive(encode_message(message))
        assert decoded == [] and h.node.chain.height == 0
        assert h.replica.metrics["dropped_bad_signature"] == 2
        assert h.replica.metrics["dropped_malformed"] == 2
        assert h.driver.unsigned_messages == 4
        # certified by a quorum: decoded and committed
        await h.arrive(encode_message(Decision(block, certificate(block, KEYS[1:]))))
        assert len(decoded) == 300
        assert h.node.chain.height == 1

    run(tmp_path, scenario)


def test_a_peer_sending_false_signatures_is_muted_and_honest_votes_still_count(
    tmp_path: Path,
) -> None:
    """Through the driver's own loop: a flood of forged PREPARE votes from one peer gets
    that peer muted after CONSENSUS_MUTE_AFTER of them, what it still has waiting is
    dropped undecoded, and an honest peer's vote sent behind the flood is counted."""

    async def scenario(h: Harness) -> None:
        driver = h.driver
        task = asyncio.create_task(driver.run())
        try:
            while driver.replica is None:
                await asyncio.sleep(0.01)
            replica = driver.replica
            forged = [
                encode_message(
                    PrepareVote(1, 0, bytes([i % 256]) * 32, BYZANTINE.public_key, bytes(64))
                )
                for i in range(500)
            ]
            for raw in forged:
                driver.on_peer_message(BYZANTINE.public_key, raw)
            honest = PrepareVote.create(KEYS[1], "t", 1, 0, b"\x07" * 32)
            driver.on_peer_message(KEYS[1].public_key, encode_message(honest))
            for _ in range(500):
                if len(driver.inbox) == 0 and driver.queue.empty():
                    break
                await asyncio.sleep(0.01)
            assert driver.inbox.is_muted(BYZANTINE.public_key)
            assert not driver.inbox.is_muted(KEYS[1].public_key)
            assert replica.metrics["dropped_bad_signature"] == CONSENSUS_MUTE_AFTER
            assert replica._prepares[0][KEYS[1].public_key] == honest
            assert h.node.metrics.consensus_peers_muted._value.get() == 1
            # still muted: more of its messages are dropped as they come
            driver.on_peer_message(BYZANTINE.public_key, forged[0])
            assert len(driver.inbox) == 0 and driver.muted_messages == 1
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    run(tmp_path, scenario)


def certified(block: Block, signers: list[PrivateKey]) -> CommitCertificate:
    votes = [(k.public_key, sign_commit_vote(k, "t", block.height, 0, block.hash)) for k in signers]
    return CommitCertificate(block.height, 0, block.hash, tuple(sorted(votes)))


async def settle(driver: ConsensusDriver) -> None:
    for _ in range(500):
        if len(driver.inbox) == 0 and driver.queue.empty():
            await asyncio.sleep(0.02)  # the last event's handling, after the queue emptied
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the driver did not take its messages")


def test_forged_next_height_messages_count_against_their_sender_not_whoever_comes_next(
    tmp_path: Path,
) -> None:
    """A forgery for the next height is checked as it is buffered, so its sender is
    struck for it; when the replica enters that height, the honest peer whose message
    happened to come first is not charged for the buffered messages replayed then."""

    async def scenario(h: Harness) -> None:
        driver = h.driver
        task = asyncio.create_task(driver.run())
        try:
            for height in range(1, CONSENSUS_MUTE_AFTER + 2):
                block = h.block(h.primary(0), 1, label=f"h{height}-")
                certificate = certified(block, KEYS[1:])
                h.other.commit(block, certificate)
                forged = PrepareVote(height + 1, 0, bytes(32), BYZANTINE.public_key, bytes(64))
                driver.on_peer_message(BYZANTINE.public_key, encode_message(forged))
                driver.on_peer_message(
                    KEYS[1].public_key, encode_message(Decision(block, certificate))
                )
                status = Status.create(KEYS[2], "t", height + 1, 0)
                driver.on_peer_message(KEYS[2].public_key, encode_message(status))
                await settle(driver)
                assert h.node.chain.height == height
            assert driver.inbox.is_muted(BYZANTINE.public_key)
            assert not driver.inbox.is_muted(KEYS[1].public_key)
            assert not driver.inbox.is_muted(KEYS[2].public_key)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    run(tmp_path, scenario)


def test_a_decision_for_another_height_is_dropped_from_its_head(
    tmp_path: Path, monkeypatch: Any
) -> None:
    async def scenario(h: Harness) -> None:
        first = h.block(h.primary(0), 2, label="one")
        h.other.commit(first, certified(first, KEYS[1:]))
        ahead = h.block(h.primary(0), 300, label="two")  # height 2: the replica is at 1
        decoded = count_decodes(monkeypatch)
        await h.arrive(encode_message(Decision(ahead, certified(ahead, KEYS[1:]))))
        assert decoded == [] and h.replica.metrics["dropped_future_height"] == 1
        await h.arrive(encode_message(Decision(first, certified(first, KEYS[1:]))))
        assert h.node.chain.height == 1 and len(decoded) == 2
        await h.arrive(encode_message(Decision(first, certified(first, KEYS[1:]))))  # again
        assert len(decoded) == 2 and h.replica.metrics["dropped_old_height"] == 1
        assert h.driver.unsigned_messages == 0  # nobody's fault: no strike, no warning

    run(tmp_path, scenario)


def test_a_signed_block_of_oversized_or_too_many_transactions_is_refused_undecoded(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """Sizes come from the head (`SignedHead.tx_sizes`): a transaction over
    MAX_TX_BYTES, or a block over twice the node's limits, is refused before any of
    its transactions is decoded, whoever signed it; and a signed proposal from a
    validator that is not the primary is dropped from its head as well."""

    async def scenario(h: Harness) -> None:
        primary = h.primary(0)
        block = h.block(primary, 3)
        sender = PrivateKey.from_seed(b"big".ljust(32, b"."))
        big = Transaction("t", sender.public_key, 0, "coin.create", (b"x" * 70_000,))
        oversized = Block(block.header, (big.sign(sender),), None)
        impostor = next(k for k in KEYS[1:] if k.public_key != primary.public_key)
        decoded = count_decodes(monkeypatch)
        await h.arrive(encode_message(PrePrepare.create(primary, "t", 1, 0, oversized)))
        assert h.driver.too_large_messages == 1
        assert h.replica.metrics["dropped_invalid_block"] == 1
        await h.arrive(encode_message(PrePrepare.create(impostor, "t", 1, 0, block)))
        assert h.replica.metrics["dropped_wrong_primary"] == 1
        assert decoded == [] and h.executed == []

    run(tmp_path, scenario)


def test_a_block_over_the_limits_by_count_is_refused_from_its_head(
    tmp_path: Path, monkeypatch: Any
) -> None:
    async def scenario(h: Harness) -> None:
        primary = h.primary(0)
        block = h.block(primary, 7)  # over twice max_txs
        monkeypatch.setattr(
            SignedTransaction, "from_list", staticmethod(lambda fields: pytest.fail("decoded"))
        )
        await h.arrive(encode_message(PrePrepare.create(primary, "t", 1, 0, block)))
        assert h.driver.too_large_messages == 1 and h.executed == []

    run(tmp_path, scenario, BlockLimits(max_txs=3))


@pytest.mark.parametrize("compact", [False, True])
def test_an_arriving_proposals_transaction_root_is_computed_once(
    tmp_path: Path, monkeypatch: Any, compact: bool
) -> None:
    """Matched against its header as it arrives (on the event loop), then not again on
    the block worker: the same root over the same hashes, a few hundred a block."""
    from consensus import messages
    from ledger import execution

    roots: list[int] = []

    def counted(function: Callable[..., bytes]) -> Callable[..., bytes]:
        def counting(*args: Any) -> bytes:
            roots.append(1)
            return function(*args)

        return counting

    async def scenario(h: Harness) -> None:
        primary = h.primary(0)
        block = h.block(primary, 5)
        message = PrePrepare.create(primary, "t", 1, 0, block)
        for tx in block.transactions:  # what gossip brought: a compact one completes
            h.node.mempool.add(tx, 0, from_peer=True)
        monkeypatch.setattr(messages, "tx_root", counted(messages.tx_root))
        monkeypatch.setattr(messages, "merkle_root", counted(messages.merkle_root))
        monkeypatch.setattr(execution, "tx_root", counted(execution.tx_root))
        await h.arrive(encode_for_peers(message) if compact else encode_message(message))
        assert h.executed == [block.hash] and h.node.chain.is_checked(block.hash)
        assert len(roots) == 1
        assert h.replica.metrics.get("dropped_invalid_block", 0) == 0

    run(tmp_path, scenario)
