"""Completing compact proposals at the node (node/proposals.py): from the mempool,
by fetching what is missing from the proposer and then other peers, and serving
peers' requests within bounds."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from consensus.messages import CompactPrePrepare, PrePrepare
from ledger.block import Block, BlockHeader
from ledger.keys import PrivateKey
from ledger.merkle import merkle_root
from ledger.tx import SignedTransaction, Transaction
from node.home import BlockLimits
from node.mempool import VerifiedCache
from node.metrics import NodeMetrics
from node.proposals import MAX_REQUEST_HASHES, REQUEST_BURST, ProposalTransactions

CHAIN = "t"
PRIMARY = PrivateKey.from_seed(bytes([1]) * 32)
HELPER = PrivateKey.from_seed(bytes([2]) * 32)
LIAR = PrivateKey.from_seed(bytes([4]) * 32)


def transfer(label: int, signer: PrivateKey | None = None) -> SignedTransaction:
    sender = PrivateKey.from_seed(bytes([100 + label]) * 32)
    tx = Transaction(CHAIN, sender.public_key, 0, "coin.transfer", ("X", b"\x01" * 32, label))
    return tx.sign(signer or sender)


def proposal(txs: list[SignedTransaction], height: int = 1) -> PrePrepare:
    header = BlockHeader(
        CHAIN,
        height,
        bytes(32),
        1_000,
        PRIMARY.public_key,
        len(txs),
        merkle_root([stx.hash for stx in txs]),
        0,
        bytes(32),
        bytes(32),
        bytes(32),
        bytes(32),
    )
    return PrePrepare.create(PRIMARY, CHAIN, height, 0, Block(header, tuple(txs), None))


class Pool:
    def __init__(self, txs: list[SignedTransaction]) -> None:
        self.txs = {stx.hash: stx for stx in txs}

    def get(self, tx_hash: bytes) -> SignedTransaction | None:
        return self.txs.get(tx_hash)


class Peers:
    """Records requests; a peer with a responder answers through `proposals.on_frame`."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, list[Any]]] = []
        self.responders: dict[bytes, Callable[[list[Any]], list[Any] | None]] = {}
        self.proposals: ProposalTransactions | None = None

    def connected(self) -> list[bytes]:
        return sorted([PRIMARY.public_key, HELPER.public_key, LIAR.public_key])

    def send(self, peer: bytes, frame: list[Any]) -> bool:
        self.sent.append((peer, frame))
        responder = self.responders.get(peer)
        reply = None if responder is None else responder(frame)
        if reply is not None and self.proposals is not None:
            link = SimpleNamespace(peer=peer)
            asyncio.get_running_loop().call_soon(self.proposals.on_frame, link, reply)
        return True


def setup(
    held: list[SignedTransaction],
) -> tuple[ProposalTransactions, Any, list[PrePrepare], Peers]:
    peers = Peers()
    node = SimpleNamespace(
        mempool=Pool(held),
        chain=SimpleNamespace(height=0),
        peers=peers,
        metrics=NodeMetrics(),
        verified=VerifiedCache(),
        config=SimpleNamespace(block=BlockLimits()),
    )
    delivered: list[PrePrepare] = []

    async def verify_all(txs: list[SignedTransaction]) -> list[bool]:
        return [stx.verify_signature() for stx in txs]

    proposals = ProposalTransactions(
        node,  # type: ignore[arg-type]
        lambda _sender, message: delivered.append(message),
        verify_all,
    )
    peers.proposals = proposals
    return proposals, node, delivered, peers


def answer_with(txs: list[SignedTransaction]) -> Callable[[list[Any]], list[Any]]:
    return lambda frame: ["txs_for", frame[1], [stx.encoded for stx in txs]]


def run_fetch(proposals: ProposalTransactions, compact: CompactPrePrepare) -> None:
    async def scenario() -> None:
        proposals.fetch(compact, timeout=0.4)
        for task in list(proposals._fetching.values()):
            await asyncio.wait_for(task, 5)

    asyncio.run(scenario())


def test_a_proposal_whose_transactions_are_all_held_is_rebuilt_without_asking() -> None:
    txs = [transfer(i) for i in range(5)]
    full = proposal(txs)
    proposals, _, delivered, peers = setup(txs)
    rebuilt = proposals.rebuild(CompactPrePrepare.of(full))
    assert rebuilt is not None
    assert rebuilt.block.hash == full.block.hash and rebuilt.signature == full.signature
    assert rebuilt.block.transactions == full.block.transactions
    run_fetch(proposals, CompactPrePrepare.of(full))
    assert [m.block.hash for m in delivered] == [full.block.hash] and peers.sent == []


def test_missing_transactions_are_fetched_from_the_proposer() -> None:
    txs = [transfer(i) for i in range(6)]
    full = proposal(txs)
    proposals, node, delivered, peers = setup(txs[:4])
    compact = CompactPrePrepare.of(full)
    assert proposals.rebuild(compact) is None
    peers.responders[PRIMARY.public_key] = answer_with(txs)
    run_fetch(proposals, compact)
    ((peer, request),) = peers.sent
    assert peer == PRIMARY.public_key
    assert request == ["get_txs", full.block.hash, [txs[4].hash, txs[5].hash]]  # only those
    (message,) = delivered
    assert message.block.hash == full.block.hash and message.signature == full.signature
    assert [stx.hash for stx in message.block.transactions] == [stx.hash for stx in txs]
    assert txs[5].verification_key in node.verified  # checked once, here
    # kept: completes a re-sent announcement at once, and is served to others
    assert proposals.rebuild(compact) is not None


def test_a_peer_sending_other_or_forged_transactions_is_not_believed() -> None:
    txs = [transfer(i) for i in range(3)]
    full = proposal(txs)
    proposals, node, delivered, peers = setup(txs[:2])
    wanted = txs[2]
    forged = SignedTransaction.single(wanted.tx, bytes(64))  # right hash, bad signature
    co_signed = wanted.tx.sign(PrivateKey.from_seed(bytes([102]) * 32), HELPER)  # other envelope
    # the proposer answers with junk; the next peer asked has the real one
    peers.responders[PRIMARY.public_key] = lambda frame: [
        "txs_for",
        frame[1],
        [forged.encoded, co_signed.encoded, transfer(9).encoded, b"\x00garbage", 7],
    ]
    peers.responders[HELPER.public_key] = answer_with([wanted])
    run_fetch(proposals, CompactPrePrepare.of(full))
    assert [peer for peer, _ in peers.sent][:2] == [PRIMARY.public_key, HELPER.public_key]
    (message,) = delivered
    assert message.block.transactions[2].encoded == wanted.encoded
    assert forged.verification_key not in node.verified


def test_a_primary_that_never_answers_is_worked_around_through_another_peer() -> None:
    txs = [transfer(i) for i in range(2)]
    full = proposal(txs)
    proposals, _, delivered, peers = setup([])
    peers.responders[HELPER.public_key] = answer_with(txs)  # the primary stays silent
    run_fetch(proposals, CompactPrePrepare.of(full))
    assert peers.sent[0][0] == PRIMARY.public_key
    assert [m.block.hash for m in delivered] == [full.block.hash]


def test_a_fetch_nobody_answers_gives_up_without_delivering() -> None:
    full = proposal([transfer(1)])
    proposals, node, delivered, peers = setup([])
    run_fetch(proposals, CompactPrePrepare.of(full))  # returns: bounded by the timeout
    assert delivered == []
    assert {peer for peer, _ in peers.sent} == set(peers.connected())  # everyone was asked
    assert proposals._fetching == {}
    metric = node.metrics.proposal_fetches.labels("failed")
    assert metric._value.get() == 1


def test_a_fetch_stops_once_the_height_is_committed() -> None:
    full = proposal([transfer(1)])
    proposals, node, delivered, peers = setup([])
    node.chain.height = 1  # committed meanwhile (e.g. through a DECISION)
    run_fetch(proposals, CompactPrePrepare.of(full))
    assert delivered == [] and peers.sent == []


def serve(proposals: ProposalTransactions, frame: list[Any], peer: bytes = HELPER.public_key):
    sent: list[list[Any]] = []
    proposals.serve(SimpleNamespace(peer=peer, send=sent.append), frame)  # type: ignore[arg-type]
    return sent


def test_requests_are_served_only_from_pending_and_proposed_transactions() -> None:
    pending, proposed, unknown = transfer(1), transfer(2), transfer(3)
    proposals, node, _, _ = setup([pending])
    own = proposal([proposed])
    proposals.remember(own.block)
    hashes = [pending.hash, proposed.hash, unknown.hash]
    ((kind, block_hash, raws),) = serve(proposals, ["get_txs", own.block.hash, hashes])
    assert kind == "txs_for" and block_hash == own.block.hash
    assert raws == [pending.encoded, proposed.encoded]
    node.chain.height = 1  # the proposal's height committed: no longer served
    ((_, _, raws),) = serve(proposals, ["get_txs", own.block.hash, hashes])
    assert raws == [pending.encoded]


def test_malformed_requests_are_refused_whole(caplog: pytest.LogCaptureFixture) -> None:
    tx = transfer(1)
    proposals, node, _, _ = setup([tx])
    block_hash = bytes(32)
    bad = [
        ["get_txs", block_hash],
        ["get_txs", block_hash[:31], [tx.hash]],
        ["get_txs", block_hash, tx.hash],
        ["get_txs", block_hash, []],
        ["get_txs", block_hash, [tx.hash, tx.hash]],  # asking twice for one
        ["get_txs", block_hash, [tx.hash[:31]]],
        ["get_txs", block_hash, [tx.hash, 5]],
        ["get_txs", block_hash, [bytes([i % 256, i // 256]) * 16 for i in range(4097)]],
    ]
    assert len(bad[-1][2]) == MAX_REQUEST_HASHES + 1
    with caplog.at_level(logging.INFO, logger="pasar"):
        for frame in bad:
            assert serve(proposals, frame) == []
    assert proposals.refused == len(bad)
    assert node.metrics.proposal_requests.labels("malformed")._value.get() == len(bad)
    # logged at the 1st, 2nd, 4th and 8th, not once each: a flood writes little
    logged = [r.getMessage() for r in caplog.records if "peer_bad_request" in r.getMessage()]
    assert [line.split("count=")[1].split()[0] for line in logged] == ["1", "2", "4", "8"]


def test_requests_beyond_the_rate_limit_are_dropped_per_peer() -> None:
    tx = transfer(1)
    proposals, _, _, _ = setup([tx])
    frame = ["get_txs", bytes(32), [tx.hash]]
    answered = sum(len(serve(proposals, frame)) for _ in range(REQUEST_BURST + 5))
    assert answered == REQUEST_BURST
    assert serve(proposals, frame, LIAR.public_key)  # another peer has its own budget


def test_a_reply_never_exceeds_one_block_of_bytes() -> None:
    txs = [transfer(i) for i in range(20)]
    proposals, node, _, _ = setup(txs)
    node.config.block = BlockLimits(max_bytes=5 * len(txs[0].encoded))
    ((_, _, raws),) = serve(proposals, ["get_txs", bytes(32), [stx.hash for stx in txs]])
    assert 0 < len(raws) <= 5
