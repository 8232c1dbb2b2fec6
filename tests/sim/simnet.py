"""A deterministic simulator for the PBFT replica: virtual clock, seeded network, faults.

Each simulated validator runs the real `consensus.replica.Replica` over a small
real application: genesis applied to a `ledger.kv.MemoryStore`, blocks built with
`ledger.execution.build_block` and checked with `ledger.execution.check_block`
over the real contract registry (so certificates, roots and validator-set
changes are the real ones). Transactions are `coin.create` calls; each app keeps
a mempool with the node's rules (a committed or used nonce is refused, a block
takes per sender a gapless nonce run, a commit drops the block's transactions and
its senders' stale nonces and reports which became ready).

Like the node, a simulated driver learns of mempool changes asynchronously: with
`event_delay` > 0 a transaction reaches each node's mempool after a random gossip
delay, and the "pending" / "removed" notices reach the replica batched and late
(after commits and messages that happened meanwhile, removals and additions in
either order), as the node's driver queue delivers them.

The network carries encoded message bytes and, per seeded random choices, delays,
drops, duplicates and reorders them, and drops everything across a partition.
Nodes crash (losing everything but their store and persisted consensus state)
and restart. Byzantine nodes run a real replica whose outgoing messages are
tampered with (equivocation, double votes) or who spray garbage and replays;
"twins" are two honest copies of one validator key.

Invariants are checked as the run goes: no two honest nodes commit different
blocks at a height, every committed block carries a valid certificate, and
replica logs stay bounded. `wait_for_progress` checks liveness.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from consensus.messages import (
    CommitVote,
    Message,
    NewView,
    PrepareVote,
    PrePrepare,
    encode_message,
)
from consensus.replica import (
    Broadcast,
    CatchUp,
    Commit,
    Effect,
    ForwardTransactions,
    Persist,
    Replica,
    ReplicaConfig,
    ReportEvidence,
    Send,
)
from consensus.state import PersistedState
from contracts.registry import APPLICATION
from ledger import keys
from ledger.block import Block, BlockHeader, CommitCertificate, sign_commit_vote
from ledger.errors import InvalidBlock
from ledger.execution import (
    BlockResult,
    account_nonce,
    apply_genesis,
    build_block,
    check_block,
)
from ledger.genesis import Genesis
from ledger.keys import PrivateKey
from ledger.kv import MemoryStore
from ledger.tx import SignedTransaction, Transaction
from ledger.validators import validators_at

CHAIN_ID = "pasar-sim"
START_TIME = 1_700_000_000.0  # virtual seconds; block timestamps look like real ones
MAX_TXS_PER_BLOCK = 50

SIM_CONFIG = ReplicaConfig(
    chain_id=CHAIN_ID,
    base_timeout=0.4,
    max_timeout=3.2,
    resend_interval=0.3,
    min_block_interval=0.0,
    empty_block_interval=0.1,
    censorship_timeout=3.0,
)
# The node's block policy: blocks only when transactions are ready, none when idle.
NODE_POLICY = replace(SIM_CONFIG, empty_block_interval=None)


_VERIFY = keys.verify  # the real one, kept before the fixtures patch `ledger.keys`
_VERIFY_CACHE: dict[tuple[bytes, bytes, str, bytes, bytes], bool] = {}
_VERIFY_CACHE_LIMIT = 200_000


def cached_verify(
    public_key: bytes, domain: bytes, chain_id: str, digest: bytes, signature: bytes
) -> bool:
    """`ledger.keys.verify`, memoised: the simulated nodes share one CPU, and each
    would check the same signature; verification is a pure function, so sharing
    the answer changes no behaviour, only the run time."""
    key = (public_key, domain, chain_id, digest, signature)
    known = _VERIFY_CACHE.get(key)
    if known is None:
        if len(_VERIFY_CACHE) >= _VERIFY_CACHE_LIMIT:
            _VERIFY_CACHE.clear()
        known = _VERIFY_CACHE[key] = _VERIFY(public_key, domain, chain_id, digest, signature)
    return known


VERIFY_USERS = ("ledger.keys",)  # the module whose functions every check looks up
# the checks it makes: on worker threads, and in place with the interpreter lock held
VERIFY_FUNCTIONS = ("verify", "verify_inline")

# Byzantine behaviours that also lie in block sync: they claim to be SYNC_LIE blocks
# ahead and answer with forged blocks (node/sync.py must refuse every one).
SYNC_LIARS = ("equivocate", "double_vote", "garbage")
SYNC_LIE = 1_000
HEIGHT_GOSSIP = 1.0  # seconds between height announcements, as the node's height loop
BENCH_START, BENCH_CAP = 1.0, 30.0  # node/sync.py's bench after a strike, doubling


class InvariantViolation(AssertionError):
    """A safety property failed; the message names the seed to replay."""


def make_key(label: str) -> PrivateKey:
    seed = label.encode().ljust(32, b".")[:32]
    return PrivateKey.from_seed(seed)


class SimApp:
    """One node's application: a real ledger chain in memory, shared-nothing."""

    def __init__(self, genesis: Genesis, verified: set[bytes]) -> None:
        self.genesis = genesis
        self.store = MemoryStore()
        result = apply_genesis(APPLICATION, self.store, genesis)
        self.store.write(result.state_batch())
        self.state_root = result.state_root
        self.height = 0
        self.head: BlockHeader | None = None
        self.head_hash = genesis.hash
        self.blocks: list[Block] = []
        self.certificates: list[CommitCertificate] = []
        self.mempool: dict[bytes, SignedTransaction] = {}
        self._results: dict[bytes, BlockResult] = {}
        self._verified = verified  # tx signatures already checked anywhere in the sim

    # ConsensusApp
    def committed_height(self) -> int:
        return self.height

    def validators_at(self, height: int) -> tuple[bytes, ...]:
        return validators_at(self.store, height)

    def is_pending(self, tx_hash: bytes) -> bool:
        return tx_hash in self.mempool

    def propose(self, height: int, view: int, timestamp_ms: int) -> Block:
        if self.head is not None:
            timestamp_ms = max(timestamp_ms, self.head.timestamp_ms + 1)
        transactions = self.reap(MAX_TXS_PER_BLOCK)
        last_certificate = self.certificates[-1] if self.certificates else None
        block, result = build_block(
            APPLICATION,
            self.store,
            self.head,
            self.head_hash,
            self.state_root,
            CHAIN_ID,
            timestamp_ms,
            self._proposer,
            transactions,
            last_certificate,
            verified=self._verified,
        )
        self._results[block.hash] = result
        return block

    def validate(self, block: Block) -> str | None:
        try:
            result = check_block(
                APPLICATION,
                self.store,
                block,
                self.head,
                self.head_hash,
                self.state_root,
                CHAIN_ID,
                verified=self._verified,
            )
        except InvalidBlock as exc:
            return exc.code
        self._results[block.hash] = result
        return None

    # mempool (node.mempool's rules, on a plain dict in arrival order)
    def _nonces(self, sender: bytes) -> dict[int, bytes]:
        return {
            stx.tx.nonce: tx_hash
            for tx_hash, stx in self.mempool.items()
            if stx.tx.sender == sender
        }

    def admit(self, stx: SignedTransaction) -> list[bytes] | None:
        """Admission: None when refused (known, nonce used or taken), else the hashes
        that became ready (node.mempool.Mempool.ready_run: a gapless run from the
        committed nonce; the node tells consensus only of ready ones)."""
        tx = stx.tx
        committed = account_nonce(self.store, tx.sender)
        if stx.hash in self.mempool or tx.nonce < committed:
            return None
        nonces = self._nonces(tx.sender)
        if tx.nonce in nonces:
            return None
        self.mempool[stx.hash] = stx
        nonces[tx.nonce] = stx.hash
        if any(nonce not in nonces for nonce in range(committed, tx.nonce)):
            return []
        run = []
        nonce = tx.nonce
        while nonce in nonces:
            run.append(nonces[nonce])
            nonce += 1
        return run

    def reap(self, limit: int) -> list[SignedTransaction]:
        """Per sender (in arrival order) a gapless nonce run from the committed nonce."""
        chosen: list[SignedTransaction] = []
        senders = dict.fromkeys(stx.tx.sender for stx in self.mempool.values())
        for sender in senders:
            nonces = self._nonces(sender)
            nonce = account_nonce(self.store, sender)
            while nonce in nonces and len(chosen) < limit:
                chosen.append(self.mempool[nonces[nonce]])
                nonce += 1
        return chosen

    def ready(self) -> list[bytes]:
        """Every pending transaction that could go into the next block."""
        return [stx.hash for stx in self.reap(len(self.mempool))]

    # driver side
    _proposer = b""

    def apply(
        self, block: Block, certificate: CommitCertificate
    ) -> tuple[list[bytes], list[bytes]]:
        """Commit `block`; returns (stale hashes dropped, hashes now ready) as
        node.mempool.Mempool.recheck does."""
        if block.height != self.height + 1:
            raise InvariantViolation(f"commit of height {block.height} at height {self.height}")
        result = self._results.pop(block.hash, None)
        if result is None:
            result = check_block(
                APPLICATION,
                self.store,
                block,
                self.head,
                self.head_hash,
                self.state_root,
                CHAIN_ID,
                verified=self._verified,
            )
        self.store.write(result.state_batch())
        self.state_root = result.state_root
        self.height = block.height
        self.head = block.header
        self.head_hash = block.hash
        self.blocks.append(block)
        self.certificates.append(certificate)
        self._results.clear()
        for stx in block.transactions:
            self.mempool.pop(stx.hash, None)
        stale: list[bytes] = []
        ready: list[bytes] = []
        for sender in dict.fromkeys(stx.tx.sender for stx in block.transactions):
            floor = account_nonce(self.store, sender)
            nonces = self._nonces(sender)
            for nonce, tx_hash in sorted(nonces.items()):
                if nonce < floor:
                    stale.append(tx_hash)
                    del self.mempool[tx_hash]
            nonce = floor
            while nonce in nonces:
                ready.append(nonces[nonce])
                nonce += 1
        return stale, ready


@dataclass
class Node:
    """A simulated validator process."""

    name: str
    key: PrivateKey
    app: SimApp
    replica: Replica
    behaviour: str = "honest"  # honest | equivocate | double_vote | garbage | twin
    alive: bool = True
    persisted: PersistedState | None = None
    group: int = 0  # partition group; messages cross groups only when not partitioned
    deadline: float | None = None  # the replica's next_deadline() after its last call
    evidence: list[Any] = field(default_factory=list)
    # the driver's queued mempool notices, not yet handed to the replica
    notices_pending: list[bytes] = field(default_factory=list)
    notices_removed: list[bytes] = field(default_factory=list)
    incarnation: int = 0  # a crash loses the queue: older deliveries are void
    # block sync, as node/sync.py judges peers: strikes and bench per peer name, and
    # whether the node would report `catching_up` (behind by an unjudged peer's word)
    sync_strikes: dict[str, int] = field(default_factory=dict)
    sync_benched: dict[str, float] = field(default_factory=dict)
    catching_up: bool = False

    @property
    def honest(self) -> bool:
        return self.behaviour == "honest"

    @property
    def lies_in_sync(self) -> bool:
        return self.behaviour in SYNC_LIARS


@dataclass(order=True)
class _Event:
    time: float
    seq: int
    action: Callable[[], None] = field(compare=False)


class Simulation:
    """Nodes, a virtual clock and a seeded network between them."""

    def __init__(
        self,
        seed: int,
        validator_count: int,
        behaviours: dict[int, str] | None = None,
        extra_keys: int = 0,
        delay: tuple[float, float] = (0.001, 0.02),
        drop: float = 0.0,
        duplicate: float = 0.0,
        config: ReplicaConfig = SIM_CONFIG,
        encode: bool = True,
        event_delay: float = 0.0,
    ) -> None:
        self.seed = seed
        self.event_delay = event_delay  # gossip and driver-queue lateness of tx notices
        self.arrivals_in_flight = 0
        self.rng = random.Random(seed)
        self.config = config
        self.encode = encode
        self.now = START_TIME
        self.delay = delay
        self.drop = drop
        self.duplicate = duplicate
        self.partitioned = False
        self._queue: list[_Event] = []
        self._seq = 0
        self.verified: set[bytes] = set()
        self.messages_sent = 0
        self._replayed: dict[str, bytes] = {}
        self._interactions = 0
        self.keys = [make_key(f"sim-validator-{i}") for i in range(validator_count + extra_keys)]
        self.genesis = Genesis(
            CHAIN_ID,
            int(START_TIME * 1000) - 1000,
            tuple((k.public_key, f"v{i}") for i, k in enumerate(self.keys[:validator_count])),
            [],
        )
        self.nodes: list[Node] = []
        behaviours = behaviours or {}
        for index, key in enumerate(self.keys):
            behaviour = behaviours.get(index, "honest")
            self.nodes.append(self._new_node(f"n{index}", key, behaviour))
            if behaviour == "twin":
                self.nodes.append(self._new_node(f"n{index}-twin", key, "twin"))
        self.committed: dict[int, bytes] = {}  # height -> block hash decided by honest nodes
        self._certified: set[tuple[bytes, bytes]] = set()
        self.tx_counter = 0
        self.max_log_size = 0
        self.sync_refused = 0  # forged blocks a syncing honest node refused
        for node in self.nodes:
            self._after(node, node.replica.on_timer(self.now))
        self.schedule(HEIGHT_GOSSIP, self._height_gossip)

    # ------------------------------------------------------------ setup

    def _new_node(self, name: str, key: PrivateKey, behaviour: str) -> Node:
        app = SimApp(self.genesis, self.verified)
        app._proposer = key.public_key
        replica = Replica(self.config, key, app, None)
        return Node(name, key, app, replica, behaviour)

    def fail(self, message: str) -> InvariantViolation:
        return InvariantViolation(f"seed {self.seed}: {message}")

    # ------------------------------------------------------------ clock

    def schedule(self, delay: float, action: Callable[[], None]) -> None:
        self._seq += 1
        heapq.heappush(self._queue, _Event(self.now + delay, self._seq, action))

    def run_until(self, end: float, stop: Callable[[], bool] | None = None) -> None:
        """Advance virtual time to `end`, delivering messages and firing timers."""
        same_time_steps = 0
        while True:
            if stop is not None and stop():
                return
            node, deadline = self._earliest_timer()
            event_time = self._queue[0].time if self._queue else None
            if deadline is not None and (event_time is None or deadline <= event_time):
                if deadline > end:
                    break
                step_time = max(self.now, deadline)
                same_time_steps = same_time_steps + 1 if step_time == self.now else 0
                if same_time_steps > 10_000:
                    raise self.fail(f"{node.name} keeps asking for on_timer at {self.now}")
                self.now = step_time
                assert node is not None
                self._after(node, node.replica.on_timer(self.now))
                continue
            if event_time is None or event_time > end:
                break
            event = heapq.heappop(self._queue)
            self.now = max(self.now, event.time)
            same_time_steps = 0
            event.action()
        self.now = max(self.now, end)

    def _earliest_timer(self) -> tuple[Node | None, float | None]:
        best: Node | None = None
        best_time: float | None = None
        for node in self.nodes:
            if not node.alive:
                continue
            deadline = node.deadline
            if deadline is not None and (best_time is None or deadline < best_time):
                best, best_time = node, deadline
        return best, best_time

    # ------------------------------------------------------------ network

    def _connected(self, a: Node, b: Node) -> bool:
        return not self.partitioned or a.group == b.group

    def _transmit(self, source: Node, target: Node, payload: Message | bytes) -> None:
        if not self._connected(source, target):
            return
        if self.drop and self.rng.random() < self.drop:
            return
        copies = 2 if self.duplicate and self.rng.random() < self.duplicate else 1
        for _ in range(copies):
            self.messages_sent += 1
            latency = self.rng.uniform(*self.delay)
            self.schedule(latency, lambda t=target, p=payload, s=source: self._deliver(s, t, p))

    def _deliver(self, source: Node, target: Node, payload: Message | bytes) -> None:
        if not target.alive or not self._connected(source, target):
            return
        self._after(target, target.replica.on_message(payload, self.now))

    def _wire(self, message: Message) -> Message | bytes:
        return encode_message(message) if self.encode else message

    def _send_to_key(self, source: Node, public_key: bytes, payload: Message | bytes) -> None:
        for node in self.nodes:
            if node is not source and node.key.public_key == public_key:
                self._transmit(source, node, payload)

    def _broadcast(self, source: Node, payload: Message | bytes) -> None:
        for node in self.nodes:
            if node is not source:
                self._transmit(source, node, payload)

    # ------------------------------------------------------------ effects

    def _after(self, node: Node, effects: Iterable[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Persist):
                node.persisted = effect.state
            elif isinstance(effect, Broadcast):
                self._outgoing(node, effect.message)
            elif isinstance(effect, Send):
                self._send_to_key(node, effect.to, self._wire(effect.message))
            elif isinstance(effect, Commit):
                self._commit(node, effect.block, effect.certificate)
            elif isinstance(effect, CatchUp):
                self.schedule(self.rng.uniform(*self.delay) * 2, lambda n=node: self._sync(n))
            elif isinstance(effect, ReportEvidence):
                node.evidence.append(effect.evidence)
            elif isinstance(effect, ForwardTransactions):
                pass  # every node already holds every submitted transaction
        node.deadline = node.replica.next_deadline()
        self._interactions += 1
        if self._interactions % 16 == 0:
            self.max_log_size = max(self.max_log_size, node.replica.log_size())

    def _outgoing(self, node: Node, message: Message) -> None:
        if node.behaviour == "equivocate" and isinstance(message, PrePrepare | NewView):
            self._equivocate(node, message)
            return
        if node.behaviour in ("double_vote", "equivocate") and isinstance(
            message, PrepareVote | CommitVote
        ):
            self._double_vote(node, message)
            return
        self._broadcast(node, self._wire(message))
        if node.behaviour == "garbage":
            self._spray_garbage(node, message)

    def _equivocate(self, node: Node, message: PrePrepare | NewView) -> None:
        """Send one block to half the validators and a different valid block to the rest.

        A NEW-VIEW gets a fresh block instead of the one its view changes justify;
        correct replicas must refuse it whenever a prepared block exists.
        """
        other_block = node.app.propose(
            message.height, message.view, message.block.header.timestamp_ms + 7
        )
        other: PrePrepare | NewView
        if isinstance(message, PrePrepare):
            other = PrePrepare.create(node.key, CHAIN_ID, message.height, message.view, other_block)
        else:
            other = NewView.create(
                node.key, CHAIN_ID, message.height, message.view, message.view_changes, other_block
            )
        targets = [n for n in self.nodes if n is not node]
        self.rng.shuffle(targets)
        half = len(targets) // 2
        for index, target in enumerate(targets):
            self._transmit(node, target, self._wire(message if index < half else other))

    def _double_vote(self, node: Node, message: PrepareVote | CommitVote) -> None:
        forged_hash = bytes(self.rng.getrandbits(8) for _ in range(32))
        kind = type(message)
        forged = kind.create(node.key, CHAIN_ID, message.height, message.view, forged_hash)
        for target in self.nodes:
            if target is not node:
                roll = self.rng.random()
                if roll < 0.7:
                    self._transmit(node, target, self._wire(message))
                if roll > 0.3:  # some peers get both: provable double votes
                    self._transmit(node, target, self._wire(forged))

    def _spray_garbage(self, node: Node, message: Message) -> None:
        garbage = bytes(self.rng.getrandbits(8) for _ in range(self.rng.randint(0, 80)))
        wire = encode_message(message)
        mutated = bytearray(wire)
        if mutated:
            mutated[self.rng.randrange(len(mutated))] ^= 1 << self.rng.randrange(8)
        replay = self._replayed.get(node.name)
        for target in self.nodes:
            if target is not node:
                self._transmit(node, target, garbage)
                self._transmit(node, target, bytes(mutated))
                if replay is not None:
                    self._transmit(node, target, replay)
        self._replayed[node.name] = wire

    def _commit(self, node: Node, block: Block, certificate: CommitCertificate) -> None:
        validators = node.app.validators_at(block.height)
        key = (block.hash, certificate.hash)
        if key not in self._certified:
            if certificate.block_hash != block.hash or certificate.height != block.height:
                raise self.fail(f"{node.name} committed a block with a foreign certificate")
            if not certificate.verify(CHAIN_ID, validators):
                raise self.fail(f"{node.name} committed height {block.height} without a quorum")
            self._certified.add(key)
        stale, ready = node.app.apply(block, certificate)
        self._notify(node, ready, stale)
        self._check_agreement(node, block)

    def _check_agreement(self, node: Node, block: Block) -> None:
        if not node.honest:
            return
        known = self.committed.get(block.height)
        if known is None:
            self.committed[block.height] = block.hash
        elif known != block.hash:
            raise self.fail(
                f"agreement broken at height {block.height}: {node.name} committed "
                f"{block.hash.hex()[:12]}, another honest node {known.hex()[:12]}"
            )

    def _height_gossip(self) -> None:
        """Every node hears its peers' heights each second and syncs if one is ahead,
        as the node's height loop and block sync do (not only on consensus' CatchUp)."""
        for node in self.nodes:
            if node.alive and node.honest:
                self._sync(node)
        self.schedule(HEIGHT_GOSSIP, self._height_gossip)

    def claimed_height(self, peer: Node) -> int:
        return peer.app.height + (SYNC_LIE if peer.lies_in_sync else 0)

    def _sync_target(self, node: Node) -> Node | None:
        """node/sync.py's choice: among reachable peers claiming to be ahead and not
        benched, the fewest strikes, then the highest claim."""
        candidates = [
            peer
            for peer in self.nodes
            if peer is not node
            and peer.alive
            and peer.key.public_key != node.key.public_key
            and self.claimed_height(peer) > node.app.height
            and node.sync_benched.get(peer.name, 0.0) <= self.now
            and self._connected(node, peer)
        ]
        if not candidates:
            return None
        return min(
            candidates,
            key=lambda p: (node.sync_strikes.get(p.name, 0), -self.claimed_height(p), p.name),
        )

    def _sync(self, node: Node) -> None:
        """Block sync: ask the best peer for certified blocks, commit each one that
        checks out, strike and bench a peer that brings none; then the next peer."""
        if not node.alive:
            return
        for _ in range(len(self.nodes)):
            peer = self._sync_target(node)
            if peer is None:
                break
            node.catching_up = node.sync_strikes.get(peer.name, 0) == 0
            if self._fetch(node, peer):
                node.sync_strikes.pop(peer.name, None)
                node.sync_benched.pop(peer.name, None)
            else:
                strikes = node.sync_strikes.get(peer.name, 0) + 1
                node.sync_strikes[peer.name] = strikes
                bench = min(BENCH_CAP, BENCH_START * 2 ** min(strikes - 1, 16))
                node.sync_benched[peer.name] = self.now + bench
        target = self._sync_target(node)
        node.catching_up = target is not None and node.sync_strikes.get(target.name, 0) == 0

    def _fetch(self, node: Node, peer: Node) -> bool:
        """Take `peer`'s blocks after our head; True when at least one was committed."""
        applied = 0
        while node.app.height < peer.app.height + (1 if peer.lies_in_sync else 0):
            if peer.lies_in_sync:
                block, certificate = self._forged(peer, node.app.height + 1)
            else:
                index = node.app.height
                block, certificate = peer.app.blocks[index], peer.app.certificates[index]
            if not self._sync_commit(node, block, certificate):
                if not peer.lies_in_sync:
                    raise self.fail(f"sync of height {block.height} from honest {peer.name} failed")
                self.sync_refused += 1
                return applied > 0
            applied += 1
        return applied > 0

    def _sync_commit(self, node: Node, block: Block, certificate: CommitCertificate) -> bool:
        """node.chain.Chain.commit's checks on a synced block; commit it if they pass."""
        if block.height != node.app.height + 1:
            return False
        if certificate.block_hash != block.hash or certificate.height != block.height:
            return False
        if not certificate.verify(CHAIN_ID, node.app.validators_at(block.height)):
            return False
        try:
            stale, ready = node.app.apply(block, certificate)
        except InvalidBlock:
            return False
        self._notify(node, ready, stale)
        self._check_agreement(node, block)
        self._after(node, node.replica.on_block_synced(block, certificate, self.now))
        return True

    def _forged(self, liar: Node, height: int) -> tuple[Block, CommitCertificate]:
        """What a lying peer serves for `height`: a real block with another state root
        under its real certificate, a real block under a certificate of the liar's
        vote alone, or a block of its own making with a forged certificate."""
        kind = self.rng.randrange(3)
        if kind < 2 and height <= liar.app.height:
            block, certificate = liar.app.blocks[height - 1], liar.app.certificates[height - 1]
            if kind == 0:
                header = replace(block.header, state_root=bytes(32))
                return Block(header, block.transactions, block.last_certificate), certificate
        else:
            block = liar.app.propose(height, 0, int(self.now * 1000))
        vote = sign_commit_vote(liar.key, CHAIN_ID, height, 0, block.hash)
        alone = CommitCertificate.build(height, 0, block.hash, {liar.key.public_key: vote})
        return block, alone

    # ------------------------------------------------------------ faults

    def node(self, which: int | Node) -> Node:
        return self.nodes[which] if isinstance(which, int) else which

    def node_of(self, public_key: bytes) -> Node:
        return next(node for node in self.nodes if node.key.public_key == public_key)

    def crash(self, which: int | Node) -> None:
        node = self.node(which)
        node.alive = False
        node.incarnation += 1
        node.notices_pending.clear()
        node.notices_removed.clear()

    def restart(self, which: int | Node) -> None:
        """A new process: same store and persisted votes, fresh memory."""
        node = self.node(which)
        persisted = None
        if node.persisted is not None:
            persisted = PersistedState.decode(node.persisted.encode())
        node.replica = Replica(self.config, node.key, node.app, persisted)
        node.alive = True
        self._after(node, node.replica.on_timer(self.now))
        pending = node.app.ready()
        if pending:
            self._after(node, node.replica.on_transactions_pending(pending, self.now))

    def partition(self, groups: list[list[int]] | list[list[Node]]) -> None:
        """Split the network; nodes in no group form one more group of their own."""
        for node in self.nodes:
            node.group = len(groups)
        for group_index, members in enumerate(groups):
            for member in members:
                self.node(member).group = group_index
        self.partitioned = True

    def heal(self) -> None:
        self.partitioned = False
        self.drop = 0.0

    # ------------------------------------------------------------ load

    def submit(self, count: int = 1) -> list[bytes]:
        """New valid transactions, into every node's mempool."""
        hashes = []
        for _ in range(count):
            self.tx_counter += 1
            sender = make_key(f"sim-user-{self.tx_counter}")
            symbol = "S" + str(self.tx_counter)
            tx = Transaction(
                CHAIN_ID, sender.public_key, 0, "coin.create", (symbol, symbol, 2, 10**9)
            ).sign(sender)
            hashes.append(self.submit_tx(tx))
        return hashes

    def submit_tx(self, tx: SignedTransaction, to: Iterable[Node] | None = None) -> bytes:
        """Into the mempool of every node (or of `to`): at once, or after a gossip delay
        when `event_delay` is set. A node that already committed it refuses it."""
        for node in self.nodes if to is None else to:
            if self.event_delay <= 0:
                self._arrive(node, tx)
            else:
                self.arrivals_in_flight += 1
                self.schedule(
                    self.rng.uniform(0, self.event_delay), lambda n=node: self._land(n, tx)
                )
        return tx.hash

    def _land(self, node: Node, tx: SignedTransaction) -> None:
        self.arrivals_in_flight -= 1
        self._arrive(node, tx)

    def _arrive(self, node: Node, tx: SignedTransaction) -> None:
        ready = node.app.admit(tx)
        if not ready:
            return
        if self.event_delay <= 0:
            if node.alive:
                self._after(node, node.replica.on_transactions_pending(ready, self.now))
        else:
            self._notify(node, ready, [])

    def submit_conflict(self) -> list[bytes]:
        """Two transactions with one sender and nonce, each to a part of the nodes (the
        node refuses a second one with `nonce_taken`): whichever commits first makes
        the other stale where it waits, and those mempools drop it."""
        self.tx_counter += 1
        sender = make_key(f"sim-user-{self.tx_counter}")
        members = list(self.nodes)
        self.rng.shuffle(members)
        split = self.rng.randint(1, len(members) - 1)
        hashes = []
        for part, suffix in ((members[:split], "A"), (members[split:], "B")):
            symbol = f"S{self.tx_counter}{suffix}"
            tx = Transaction(
                CHAIN_ID, sender.public_key, 0, "coin.create", (symbol, symbol, 2, 10**9)
            ).sign(sender)
            hashes.append(self.submit_tx(tx, part))
        return hashes

    def submit_sequence(self, count: int) -> list[bytes]:
        """`count` transactions of one sender with consecutive nonces: arriving out of
        order, later ones wait for a gap to close and become ready after commits."""
        self.tx_counter += 1
        sender = make_key(f"sim-user-{self.tx_counter}")
        hashes = []
        for nonce in range(count):
            symbol = f"S{self.tx_counter}N{nonce}"
            tx = Transaction(
                CHAIN_ID, sender.public_key, nonce, "coin.create", (symbol, symbol, 2, 10**9)
            ).sign(sender)
            hashes.append(self.submit_tx(tx))
        return hashes

    # ------------------------------------------------------------ the driver's queue

    def _notify(self, node: Node, pending: list[bytes], removed: list[bytes]) -> None:
        """Queue mempool notices for the replica, delivered as one later batch (never
        from inside the effects being applied: the replica must not be re-entered)."""
        if not node.alive or not (pending or removed):
            return
        wake = not node.notices_pending and not node.notices_removed
        node.notices_pending.extend(pending)
        node.notices_removed.extend(removed)
        if wake:
            incarnation = node.incarnation
            delay = self.rng.uniform(0, self.event_delay) if self.event_delay > 0 else 0.0
            self.schedule(delay, lambda: self._deliver_notices(node, incarnation))

    def _deliver_notices(self, node: Node, incarnation: int) -> None:
        if not node.alive or node.incarnation != incarnation:
            return
        pending, node.notices_pending = node.notices_pending, []
        removed, node.notices_removed = node.notices_removed, []
        calls = [
            lambda: node.replica.on_transactions_removed(removed, self.now),
            lambda: node.replica.on_transactions_pending(pending, self.now),
        ]
        if self.event_delay > 0 and self.rng.random() < 0.5:
            calls.reverse()  # a removal may be handled before or after an older addition
        for call in calls:
            self._after(node, call())

    # ------------------------------------------------------------ checks

    def honest_nodes(self) -> list[Node]:
        return [node for node in self.nodes if node.honest]

    def min_honest_height(self, live_only: bool = True) -> int:
        heights = [n.app.height for n in self.honest_nodes() if n.alive or not live_only]
        return min(heights) if heights else 0

    def wait_for_progress(self, blocks: int, within: float, what: str = "") -> float:
        """Every live honest node gains `blocks` heights within `within` virtual seconds."""
        target = max(n.app.height for n in self.honest_nodes()) + blocks
        start = self.now
        self.run_until(start + within, stop=lambda: self.min_honest_height() >= target)
        if self.min_honest_height() < target:
            heights = {n.name: (n.app.height, n.replica.view) for n in self.nodes}
            raise self.fail(
                f"no liveness {what}: wanted height {target} within {within}s, "
                f"(height, view) per node: {heights}"
            )
        return self.now - start
