"""A misbehaving validator for fault tests: the real node, patched as it starts.

    python -m tests.faults.byzantine MODE[,MODE...] node --home DIR [...]

runs `pasar node` with these behaviours patched in (and logs each misdeed as an
`event=byzantine_*` line, so a test can tell the fault really happened):

  equivocate      as primary, one valid block to half the peers and another valid
                  block to the rest; every prepare and commit vote is sent along
                  with a second one for a made-up block (provable double votes)
  invalid_blocks  as primary, proposes blocks whose header claims a wrong state root
  withhold_votes  never sends a prepare or commit vote (still proposes)
  lie_height      tells peers it is LIE blocks ahead of where it is
  forge_sync      answers block sync with forged blocks: its own blocks with a
                  changed state root under their real certificates, a valid next
                  block certified by its own vote alone, garbage past that
  withhold_gossip never gossips the transactions its clients submit (nor sends its
                  pool to a peer that connects), so as primary
                  it proposes transactions no other validator holds (they must
                  fetch them to vote)
  forge_gossip    gossips transfers from fresh keys whose signatures do not verify,
                  a frame of them every 50 ms for 30 s
  gossip_one_peer gossips valid transfers from fresh (unfunded) keys to one peer
                  only, 20 frames of them 50 ms apart: with withhold_votes, that
                  peer alone holds work, and its view timer alone runs
  forge_votes     sends every peer PREPARE votes in its own name whose signatures
                  do not verify, 500 of them every 20 ms for 30 s (each costs its
                  receiver a decoding and a signature check)
  flood_votes     the same with votes it really signs, each for another made-up
                  block: valid signatures, double votes after the first
  junk_frames     sends every peer an 8 MiB frame of empty arrays (a million objects
                  to decode) of an unknown kind every second for 30 s

This module lives under tests/ only: nothing in the node, its configuration or
the installed package imports it, so no production setting can turn it on.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
from typing import Any

from consensus.messages import CommitVote, Message, PrepareVote, PrePrepare, encode_message
from consensus.replica import Broadcast, Effect, Send
from ledger.block import Block, CommitCertificate, sign_commit_vote
from ledger.keys import PrivateKey
from ledger.tx import Transaction
from node.driver import ConsensusDriver, NodeConsensusApp, wall_ms
from node.log import log
from node.node import Node
from node.peers import Link, PeerNetwork
from node.pool_resend import PoolResend
from node.service import Admission
from node.sync import BATCH_BLOCKS, BlockSync

MODES = (
    "equivocate",
    "invalid_blocks",
    "withhold_votes",
    "lie_height",
    "forge_sync",
    "withhold_gossip",
    "forge_gossip",
    "gossip_one_peer",
    "forge_votes",
    "flood_votes",
    "junk_frames",
)
FORGED_PER_FRAME = 200
FORGED_FRAMES = 600  # 30 s of forged frames: a peer that listened would pay each time
ONE_PEER_FRAMES = 20  # 4,000 valid transfers that one peer alone receives
LIE = 1_000
FORGED_VOTES_PER_BURST = 500
JUNK_FRAME_BYTES = 8 * 1024 * 1024
JUNK_FRAMES = 30
FORGED_VOTE_BURSTS = 1_500  # 20 ms apart: 30 s


def _send_each(driver: ConsensusDriver, pick: Any) -> None:
    """Send `pick(i)` (a message, or a list of them) to the i-th connected peer."""
    peers = driver.node.peers
    for index, peer in enumerate(peers.connected()):
        chosen = pick(index)
        for message in chosen if isinstance(chosen, list) else [chosen]:
            peers.send(peer, ["c", encode_message(message)])


def _equivocate(driver: ConsensusDriver, message: PrePrepare) -> None:
    node = driver.node
    block = message.block
    other = node.chain.propose(
        node.node_id, block.header.timestamp_ms + 7, list(block.transactions)
    )
    twin = PrePrepare.create(node.key, node.chain_id, message.height, message.view, other)
    _send_each(driver, lambda i: message if i % 2 == 0 else twin)
    log("byzantine_equivocated", height=message.height, view=message.view)


def _double_vote(driver: ConsensusDriver, message: PrepareVote | CommitVote) -> None:
    node = driver.node
    forged = type(message).create(
        node.key, node.chain_id, message.height, message.view, os.urandom(32)
    )
    _send_each(driver, lambda i: [message, forged])
    log("byzantine_double_voted", height=message.height, view=message.view)


def _junk_frame(node: Node, forge: bool) -> list[Any]:
    """A gossip frame of transfers from fresh keys, each signature's last byte flipped
    when `forge`."""
    junk = []
    for _ in range(FORGED_PER_FRAME):
        key = PrivateKey.from_seed(os.urandom(32))
        tx = Transaction(node.chain_id, key.public_key, 0, "coin.transfer", ("X", bytes(32), 1))
        raw = bytearray(tx.sign(key).encode())
        if forge:
            raw[-1] ^= 1
        junk.append(bytes(raw))
    return ["txs", junk]


def patch(modes: set[str]) -> None:
    """Patch the node's classes; call before the node is built."""
    original_apply = ConsensusDriver._apply

    async def apply(self: ConsensusDriver, effects: list[Effect]) -> None:
        honest: list[Effect] = []
        for effect in effects:
            message: Message | None = None
            if isinstance(effect, Broadcast | Send):
                message = effect.message
            if isinstance(message, PrepareVote | CommitVote) and "withhold_votes" in modes:
                log("byzantine_withheld", height=message.height, view=message.view)
                continue
            if isinstance(effect, Broadcast) and "equivocate" in modes:
                if isinstance(message, PrePrepare):
                    _equivocate(self, message)
                    continue
                if isinstance(message, PrepareVote | CommitVote):
                    _double_vote(self, message)
                    continue
            honest.append(effect)
        await original_apply(self, honest)

    ConsensusDriver._apply = apply  # type: ignore[method-assign]

    if "invalid_blocks" in modes:
        original_propose = NodeConsensusApp.propose

        def propose(self: NodeConsensusApp, height: int, view: int, timestamp_ms: int) -> Block:
            block = original_propose(self, height, view, timestamp_ms)
            header = dataclasses.replace(block.header, state_root=os.urandom(32))
            log("byzantine_invalid_block", height=height, view=view)
            return Block(header, block.transactions, block.last_certificate)

        NodeConsensusApp.propose = propose  # type: ignore[method-assign]

    if "lie_height" in modes:
        original_broadcast = PeerNetwork.broadcast

        def broadcast(self: PeerNetwork, frame: list[Any] | bytes) -> None:
            if isinstance(frame, list) and frame and frame[0] == "height":
                frame = ["height", frame[1] + LIE]
            original_broadcast(self, frame)

        def on_connect(self: Node, link: Link) -> None:
            link.send(["height", self.chain.height + LIE])
            log("byzantine_lied_height", height=self.chain.height + LIE)

        PeerNetwork.broadcast = broadcast  # type: ignore[method-assign]
        Node._on_peer_connect = on_connect  # type: ignore[method-assign]

    if "withhold_gossip" in modes:

        async def submit(self: Node, raw_transactions: list[bytes]) -> list[Admission]:
            admissions, accepted = await self._admit(raw_transactions)
            log("byzantine_withheld_gossip", txs=len(accepted))
            return admissions

        def peer_connected(self: PoolResend, peer: bytes) -> None:
            pass  # nor sends its pool to a peer that connects

        Node.submit = submit  # type: ignore[method-assign]
        PoolResend.peer_connected = peer_connected  # type: ignore[method-assign]

    if "forge_gossip" in modes or "gossip_one_peer" in modes:
        original_start = Node.start
        forge = "forge_gossip" in modes

        async def flood(node: Node) -> None:
            for _ in range(FORGED_FRAMES if forge else ONE_PEER_FRAMES):
                connected = node.peers.connected()
                if connected:
                    frame = _junk_frame(node, forge)
                    if forge:
                        node.peers.broadcast(frame)
                        log("byzantine_forged_gossip", txs=len(frame[1]))
                    else:  # a peer that is not the next height's primary: it waits
                        height = node.chain.height + 1
                        validators = node.chain.validators()
                        primary = validators[height % len(validators)]
                        target = next((p for p in connected if p != primary), connected[0])
                        node.peers.send(target, frame)
                        log("byzantine_gossip_one_peer", txs=len(frame[1]), height=height)
                await asyncio.sleep(0.05)

        async def flooding_start(self: Node) -> None:
            await original_start(self)
            self._spawn(flood(self))

        Node.start = flooding_start  # type: ignore[method-assign]

    if "forge_votes" in modes or "flood_votes" in modes:
        original_vote_start = Node.start
        signed = "flood_votes" in modes

        def vote(node: Node, height: int) -> PrepareVote:
            if signed:
                return PrepareVote.create(node.key, node.chain_id, height, 0, os.urandom(32))
            return PrepareVote(height, 0, os.urandom(32), node.node_id, os.urandom(64))

        async def vote_flood(node: Node) -> None:
            for burst in range(FORGED_VOTE_BURSTS):
                height = node.chain.height + 1
                frames = [
                    ["c", encode_message(vote(node, height))] for _ in range(FORGED_VOTES_PER_BURST)
                ]
                for peer in node.peers.connected():
                    for frame in frames:
                        node.peers.send(peer, frame)
                if burst % 50 == 0:
                    log("byzantine_forged_votes", votes=len(frames), height=height)
                await asyncio.sleep(0.02)

        async def vote_flooding_start(self: Node) -> None:
            await original_vote_start(self)
            self._spawn(vote_flood(self))

        Node.start = vote_flooding_start  # type: ignore[method-assign]

    if "junk_frames" in modes:
        original_junk_start = Node.start
        count = JUNK_FRAME_BYTES - 8
        # ["zz", [[], [], ...]]: canonical msgpack, one byte per empty array
        junk = b"\x92\xa2zz\xdd" + count.to_bytes(4, "big") + b"\x90" * count

        async def junk_flood(node: Node) -> None:
            for _ in range(JUNK_FRAMES):
                for peer in node.peers.connected():
                    node.peers.send(peer, junk)
                log("byzantine_junk_frames", bytes=len(junk))
                await asyncio.sleep(1.0)

        async def junk_start(self: Node) -> None:
            await original_junk_start(self)
            self._spawn(junk_flood(self))

        Node.start = junk_start  # type: ignore[method-assign]

    if "forge_sync" in modes:

        def serve(self: BlockSync, link: Link, start: Any, count: Any) -> None:
            if not isinstance(start, int) or not isinstance(count, int) or start < 1:
                return
            node = self.node
            chain = node.chain
            pairs: list[list[bytes]] = []
            for height in range(start, min(chain.height, start + min(count, BATCH_BLOCKS)) + 1):
                item = chain.block_with_certificate(height)
                if item is not None:  # a real block changed, under its real certificate
                    block = Block.decode(item[0])
                    header = dataclasses.replace(block.header, state_root=os.urandom(32))
                    forged = Block(header, block.transactions, block.last_certificate)
                    pairs.append([forged.encode(), item[1]])
            if start == chain.height + 1:  # a valid next block, certified by our vote alone
                txs = node.mempool.reap(50, 10**6, chain.next_nonce)
                block = chain.propose(node.node_id, wall_ms(), txs)
                vote = sign_commit_vote(node.key, node.chain_id, start, 0, block.hash)
                alone = {node.node_id: vote}
                certificate = CommitCertificate.build(start, 0, block.hash, alone)
                pairs.append([block.encode(), certificate.encode()])
            if not pairs:  # asked past anything we could dress up: garbage
                pairs.append([os.urandom(200), os.urandom(100)])
            link.send(["blocks", start, pairs])
            log("byzantine_forged_sync", start=start, blocks=len(pairs))

        BlockSync._serve = serve  # type: ignore[method-assign]


def main(argv: list[str]) -> None:
    if not argv:
        raise SystemExit(f"usage: python -m tests.faults.byzantine MODE[,MODE...] node ... {MODES}")
    modes = set(argv[0].split(","))
    unknown = modes - set(MODES)
    if unknown:
        raise SystemExit(f"unknown modes {sorted(unknown)}; known: {', '.join(MODES)}")
    patch(modes)
    from cli.main import cli

    cli.main(args=argv[1:], prog_name="pasar")


if __name__ == "__main__":
    main(sys.argv[1:])
