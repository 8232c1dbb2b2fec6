"""The validator process: one object that owns the store, mempool, peers and consensus.

`Node` implements `node.service.NodeService` for the RPC. Its life:

    node = Node(home, key)       # opens LevelDB, writes genesis on first start
    await node.start()           # HTTP (RPC + metrics) and P2P listeners, dialers, tasks
    await node.stop()            # bounded, idempotent; closes LevelDB last

`run_node` wraps that with signal handling: SIGTERM or Ctrl-C set the shutdown
event and the node stops within a few seconds. Nothing committed is ever lost on
any stop (or crash): a block is on disk, in one synced batch, before anyone is
told it committed.

Concurrency rule: one task (the consensus driver) owns the replica and is the
only caller of `Chain.commit`. RPC handlers and peer frames only verify, admit
to the mempool and put events on the driver's queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from contracts.registry import APPLICATION
from ledger import chainstore
from ledger.chainstore import Head
from ledger.errors import CodecError
from ledger.execution import Application, BlockInfo
from ledger.keys import (
    PrivateKey,
    SignatureCheck,
    address_to_text,
    verify_each,
    verify_each_inline,
)
from ledger.kv import KVReader
from ledger.state_tree import set_hash_memo_bytes
from ledger.tx import SignedTransaction
from node import gc_tuning
from node import mempool as pool
from node.chain import Chain, CommittedBlock
from node.driver import ConsensusDriver
from node.front_process import (
    RUN_DIR_POINTER,
    FrontProcess,
    front_run_dir,
    remove_temporary_run_dir,
)
from node.front_state import LISTEN_BACKLOG, StateWriter
from node.home import Home
from node.log import log
from node.loop_slices import LoopSlices
from node.mempool import Mempool, VerifiedCache
from node.metrics import CONTENT_TYPE_LATEST, NodeMetrics
from node.peers import Link, PeerNetwork
from node.pool_resend import PoolResend
from node.rpc.limits import GATES_KEY, TRUST_CLIENT_HEADER, Gates
from node.service import Admission, NodeStatus, PeerStatus
from node.storage import LevelDBStore, StorageError
from node.sync import BlockSync
from node.tasks import cancel_all
from node.worker_threads import batch_pool

GOSSIP_INTERVAL = 0.02
GOSSIP_BATCH = 500
INTAKE_LIMIT = 20_000
INTAKE_BATCH = 2_000  # gossiped transactions admitted together...
# ...decoded and admitted this many held bytes at a time (`mempool.held_bytes`: the
# bytes and 64 per value of the args). 2,000 transfers take 0.9 MB decoded, but as
# many transactions each at the value limit would take 130 MB: a faulty peer's
# frames may hold only those.
INTAKE_DECODED_BYTES = 16 * 1024 * 1024
# A peer whose gossip held a transaction that is not one (undecodable, or a signature
# that does not verify) is not heard for this long: validators gossip only what they
# decoded and verified, so that peer is faulty, and each of its frames would cost this
# node signature checks and take its clients' room in the intake meanwhile.
PEER_MUTE_SECONDS = 60.0
# A node that holds transactions a peer gossiped while no block commits for half a view
# timeout relays up to this many of them to every peer (what the others hold already
# costs them a set lookup). Gossip reaches everyone from the node a client chose, but a
# faulty validator may gossip to one peer only, and the intake drops frames when full:
# a validator alone with work the primary lacks would time out alone, move to the
# next view alone and, with one validator down, leave the rest short of a quorum.
RELAY_STALLED_TXS = 2_000
STOP_TIMEOUT = 5.0
# Checks per pool task, at least: a submission of a few hundred signatures is split
# in two so both pool threads (both cores: PyNaCl releases the GIL) check it; a
# handful is not worth a second hand-off.
VERIFY_CHUNK = 16
# A gossip batch of at most this many signature checks is checked on the event loop
# itself (about 3 ms at most), with the interpreter lock held through each check
# (`verify_each_inline`). Through the pool a round costs CPU of its own: 37 checks
# in two parts cost the process 170-900 µs more than in place, most of it the event
# loop's wake-ups and futures and the two threads taking the lock back in turn
# (`python bench/bench_handoff.py`), and at 1,500 tx/s a gossip frame is usually one
# batch of 37, some 30 a second from each busy peer. Larger batches still use both
# pool threads (under a flood of gossip, frames queue while a batch is checked and
# the intake takes them together, over the limit), and so does every batch while the
# mempool is half full or more, or while more gossip waits in the intake: near its
# capacity a validator's event loop is what its admissions and votes wait for (4
# validators at 2,800 tx/s offered committed 1-2% less, with a p99 0.15-0.2 s
# longer, when every small gossip batch was checked in place). Clients' submissions
# always go to the pool: a stream of small ones would otherwise hold the loop with
# their checks, and one validator alone needs both cores for them.
INLINE_GOSSIP_CHECKS = 64
FIRST_SEEN_LIMIT = 200_000
# Admission adds a verified batch to the mempool this many at a time, giving the event
# loop back in between (each is an authorization check and the pool's bookkeeping)
ADMIT_CHUNK = 256
LAG_PROBE_INTERVAL = 0.05  # the event loop's lag is sampled this often...
# ...and this often while the pool and the gossip intake are empty: a step that holds
# the loop still shows whole in the next sample, and the front's room stays fresh
# (its STALE_MS is 2 s); an idle node then wakes once a second for it, not 20 times
LAG_PROBE_IDLE_INTERVAL = 1.0
# The RPC front refuses this node's clients once the pool is at its limits, and the
# node refuses a request at its door only this far beyond them: what the front
# relayed while the node's loop ran late (behind a batch that took the last room,
# with gossip coming in) then finds the door open, instead of a refusal from the node
# as slow as the loop (docs/node.md, "RPC front")
FRONT_HEADROOM_PERCENT = 10
# Finding what waited behind a nonce gap too long walks the whole pool and reads each
# sender's committed nonce: the eviction walk runs at most this often
EVICT_INTERVAL = 10.0


Undecoded = bytes | SignedTransaction | CodecError


async def decode_all(
    raws: Sequence[Undecoded], budget: int | None = None
) -> list[SignedTransaction | CodecError]:
    """Each transaction decoded (the RPC hands some over decoded already, having
    answered 400 for bad bytes), or why it does not decode; the event loop is given
    back between slices of the input (node/loop_slices.py), before anything about
    the pool is looked at.

    With a `budget`, only the first transactions: decoding stops once those decoded
    hold `budget` bytes or more (`mempool.held_bytes`), and the caller decodes the
    rest after it has let go of these."""
    slices = LoopSlices()
    decoded: list[SignedTransaction | CodecError] = []
    held = 0
    for raw in raws:
        if budget is not None and held >= budget:
            break
        if not isinstance(raw, bytes):
            decoded.append(raw)
            continue
        try:
            stx = SignedTransaction.decode(raw)
        except CodecError as exc:
            decoded.append(exc)
        else:
            decoded.append(stx)
            held += pool.held_bytes(stx)
        await slices.spent(len(raw))
    return decoded


class Node:
    """One validator: implements NodeService on top of Chain, Mempool and PeerNetwork."""

    def __init__(
        self,
        home: Home,
        key: PrivateKey,
        app: Application = APPLICATION,
        shutdown: asyncio.Event | None = None,
    ) -> None:
        self.home = home
        self.config = home.config
        self.key = key
        self.app = app
        self.chain_id = home.genesis.chain_id
        self.node_id = key.public_key
        self.shutdown = shutdown
        self.metrics = NodeMetrics()
        self.executor = batch_pool(2, "verify")
        self.verified = VerifiedCache()
        self._store = LevelDBStore(home.data_dir)
        set_hash_memo_bytes(self.config.state_tree_cache_mb << 20)  # one per process
        try:
            self.chain = Chain(
                self._store,
                app,
                home.genesis,
                self.executor,
                self.verified,
                self.config.max_clock_drift_ms,
                self.config.state_versions_kept,
            )
        except BaseException:
            self._store.close()
            self.executor.shutdown(wait=False)
            raise
        self.chain.listeners.append(self._on_commit)
        self.fault: StorageError | None = None  # why the node stopped, if storage failed
        self._store.on_fault.append(self._storage_failed)
        self.mempool = Mempool(self.config.mempool)
        self.mempool.validators = len(self.chain.validators())  # they share the limit
        self.peers = PeerNetwork(
            self.chain_id,
            key,
            self.config.peers,
            self.chain.validators,
            self._on_frame,
            self._on_peer_connect,
            self.config.limits,
        )
        self.resend = PoolResend(self.mempool, self.peers.link, self._spawn, GOSSIP_BATCH)
        self.catching_up = False
        self.view = 0
        self.primary: bytes | None = None
        self._first_seen: dict[bytes, float] = {}
        self._gossip: list[bytes] = []
        self._gossip_waiting = asyncio.Event()  # set when `_gossip` has something
        # gossiped transactions waiting to be admitted, with the peer that sent them
        self._intake: asyncio.Queue[tuple[bytes, list[bytes]]] = asyncio.Queue()
        self._muted: dict[bytes, float] = {}  # peer -> until when its gossip is dropped
        self._intake_size = 0
        self.gossip_dropped = 0
        self._lag_max = 0.0  # the event loop's longest lag since /metrics was last read
        self._evict_due = 0.0  # when the next eviction walk may run (monotonic clock)
        # the height and since when it has not moved while the pool held work
        self._stall_height = -1
        self._stall_since = 0.0
        self._height_event = asyncio.Event()
        self._last_commit_time: float | None = None
        self._runners: list[web.AppRunner] = []
        self.front: FrontProcess | None = None
        self._front_state: StateWriter | None = None
        self._front_refusals = 0  # the front's count of refused requests, as last read
        self._frames_dropped = 0
        self._run_dir: Path | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopped = False
        self._refused_reported = 0
        self.ready = False
        self._gates: Gates | None = None
        self.sync = BlockSync(self)
        self.consensus = ConsensusDriver(self)  # the one owner of the replica
        self.metrics.height.set(self.chain.height)
        log(
            "node_opened",
            chain=self.chain_id,
            key=address_to_text(self.node_id),
            height=self.chain.height,
        )

    # -- NodeService ---------------------------------------------------------------------------

    @property
    def store(self) -> KVReader:
        return self._store

    def head(self) -> Head:
        return self.chain.head

    def status(self) -> NodeStatus:
        return NodeStatus(
            chain_id=self.chain_id,
            node_id=self.node_id,
            height=self.chain.height,
            last_block_hash=self.chain.head.block_hash,
            state_root=self.chain.head.state_root,
            view=self.view,
            primary=self.primary,
            validators=self.chain.validators(),
            peers_connected=len(self.peers.connected()),
            catching_up=self.catching_up,
            mempool_size=len(self.mempool),
            extra={
                "mempool_bytes": self.mempool.size_bytes,
                "mempool_gapped": self.mempool.gapped_count,
                "peers_refused": self.peers.refused,
                "gossip_dropped": self.gossip_dropped,
            },
            peers=self._peer_statuses(),
        )

    def _peer_statuses(self) -> tuple[PeerStatus, ...]:
        names = {peer.key: peer.name for peer in self.peers.peers}
        validators = set(self.chain.validators())
        statuses = []
        for key in self.peers.known():
            outbound, inbound, dropped = self.peers.link_state(key)
            statuses.append(
                PeerStatus(
                    node_id=key,
                    name=names.get(key, ""),
                    outbound=outbound,
                    inbound=inbound,
                    frames_dropped=dropped,
                    height=self.sync.peer_heights.get(key),
                    validator=key in validators,
                )
            )
        return tuple(statuses)

    def is_pending(self, tx_hash: bytes) -> bool:
        return tx_hash in self.mempool

    def mempool_full(self) -> bool:
        return self.mempool.is_full()

    def retry_after_ms(self) -> int:
        return self.mempool.retry_after_ms()

    async def wait_for_height(self, height: int, timeout: float) -> int:
        deadline = time.monotonic() + max(0.0, timeout)
        while self.chain.height < height:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            event = self._height_event
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)
        return self.chain.height

    async def submit(
        self, raw_transactions: Sequence[bytes | SignedTransaction]
    ) -> list[Admission]:
        """Admit transactions from a client (bytes, or already decoded by the RPC);
        accepted ones are gossiped to peers."""
        admissions, accepted = await self._admit(raw_transactions)
        refused = any(admission.code in _ROOM_CODES for admission in admissions)
        self.mempool.note_requests(1, int(refused))
        if accepted:
            self._gossip.extend(accepted)
            self._gossip_waiting.set()
        return admissions

    def note_refused_request(self) -> None:
        self.mempool.note_requests(1, 1)

    def ungossiped(self) -> set[bytes]:
        """Transactions (encoded) admitted from clients and not yet gossiped to peers."""
        return set(self._gossip)

    # -- admission -------------------------------------------------------------------------------

    async def _admit(
        self, raws: Sequence[Undecoded], from_peer: bool = False
    ) -> tuple[list[Admission], list[bytes]]:
        answers: list[Admission | None] = [None] * len(raws)
        candidates: list[tuple[int, SignedTransaction]] = []
        seen: set[bytes] = set()
        from_sender: dict[bytes, int] = {}  # candidates so far, by sender
        committed_nonces: dict[bytes, int] = {}  # read once per sender, for the check below
        # per sender, the lowest nonce of this submission refused for room, and why: its
        # later nonces are refused too, so what is admitted never waits behind a gap the
        # client only fills after its Retry-After (docs/node.md, "Admission")
        held_back: dict[bytes, tuple[int, str]] = {}
        # per sender, the nonce that continues its gapless run (the pool's, then this
        # submission's): a higher one waits behind a gap, and only takes the gap share
        run_ends: dict[bytes, int] = {}
        ready_ahead = gapped_ahead = 0  # candidates so far, ready and behind a gap
        for index, item in enumerate(await decode_all(raws)):
            if isinstance(item, CodecError):
                answers[index] = Admission(None, False, item.code, item.message)
                continue
            stx = item
            tx_hash = stx.hash
            if stx.tx.chain_id != self.chain_id:
                answers[index] = Admission(
                    tx_hash, False, "wrong_chain", f"transaction is for chain {stx.tx.chain_id!r}"
                )
            elif tx_hash in seen or tx_hash in self.mempool:
                answers[index] = Admission(tx_hash, True, pool.DUPLICATE, "already pending")
            elif self._is_committed(stx, committed_nonces):
                answers[index] = Admission(tx_hash, True, pool.DUPLICATE, "already committed")
            else:
                sender, nonce = stx.tx.sender, stx.tx.nonce
                if from_peer:  # only the hard caps: whether it waits behind a gap is moot
                    run_end, gapped = nonce + 1, False
                else:
                    known = run_ends.get(sender)
                    # `_is_committed` read the sender's committed nonce
                    run_end = (
                        self.mempool.ready_end(sender, committed_nonces[sender])
                        if known is None
                        else known
                    )
                    gapped = nonce > run_end
                room = (held_back and _held_back(held_back, stx)) or self.mempool.check(
                    stx, ready_ahead, from_sender.get(sender, 0), from_peer, gapped, gapped_ahead
                )
                if room is not None:
                    # refused before its signature is checked: a flood costs no verification
                    _hold_back(held_back, stx, room)
                    answers[index] = Admission(tx_hash, False, room, _REFUSALS[room])
                    continue
                seen.add(tx_hash)
                from_sender[sender] = from_sender.get(sender, 0) + 1
                if gapped:
                    gapped_ahead += 1
                else:
                    ready_ahead += 1
                    if nonce == run_end and not from_peer:
                        run_end = self.mempool.run_end(sender, nonce + 1)
                        run_ends[sender] = run_end
                candidates.append((index, stx))
        to_check = [(i, stx) for i, stx in candidates if stx.verification_key not in self.verified]
        height = self.chain.height
        # gossip's small batches in place while the pool is less than half full and no
        # gossip waits behind this batch; near the node's capacity the event loop's
        # time is worth more than the rounds
        in_place = (
            from_peer
            and self._intake_size == 0
            and len(self.mempool) * 2 < self.mempool.admit_limit()
        )
        results = await self.verify_all([stx for _, stx in to_check], gossip=in_place)
        self.metrics.signatures_verified.inc(len(to_check))
        bad = {i for (i, _), ok in zip(to_check, results, strict=True) if not ok}
        accepted: list[bytes] = []
        # committed nonce per sender, read once per batch: those read above still hold
        # unless a block committed while the signatures were checked
        nonces = committed_nonces if self.chain.height == height else {}
        added_from: dict[bytes, int] = {}  # lowest nonce admitted per sender
        now = time.monotonic()
        head_info = BlockInfo(
            self.chain_id, self.chain.height + 1, self.chain.parent_timestamp_ms(), bytes(32)
        )
        height = self.chain.height
        for done, (index, stx) in enumerate(candidates):
            if done and done % ADMIT_CHUNK == 0:
                # let votes, commits and quick 429s through between chunks of a large
                # batch (gossip brings thousands at once); a block may commit meanwhile
                await asyncio.sleep(0)
                if self.chain.height != height:
                    height = self.chain.height
                    nonces = {}  # the committed nonces moved: read them again
                    head_info = BlockInfo(
                        self.chain_id, height + 1, self.chain.parent_timestamp_ms(), bytes(32)
                    )
            tx_hash = stx.hash
            if index in bad:
                answers[index] = Admission(
                    tx_hash, False, "bad_signature", "a signature does not match its key"
                )
                continue
            self.verified.add(stx.verification_key)
            room = _held_back(held_back, stx) if held_back else None
            if room is not None:
                answers[index] = Admission(tx_hash, False, room, _REFUSALS[room])
                continue
            refusal = pool.authorization_refusal(self.chain.app, self.chain.store, head_info, stx)
            if refusal is not None:
                answers[index] = Admission(tx_hash, False, *refusal)
                continue
            sender = stx.tx.sender
            next_nonce = nonces.get(sender)
            if next_nonce is None:
                next_nonce = nonces[sender] = self.chain.next_nonce(sender)
            code = self.mempool.add(stx, next_nonce, from_peer)
            if code == pool.ACCEPTED:
                accepted.append(stx.encoded)
                lowest = added_from.get(sender)
                if lowest is None or stx.tx.nonce < lowest:
                    added_from[sender] = stx.tx.nonce
                if len(self._first_seen) < FIRST_SEEN_LIMIT:
                    self._first_seen[tx_hash] = now
                answers[index] = Admission(tx_hash, True, code)
            elif code == pool.DUPLICATE:
                answers[index] = Admission(tx_hash, True, code, "already pending")
            else:
                if code in _ROOM_CODES:  # a commit between chunks can free room again
                    _hold_back(held_back, stx, code)
                answers[index] = Admission(tx_hash, False, code, _REFUSALS.get(code, code))
        final = [answer for answer in answers if answer is not None]
        admitted = sum(1 for a in final if a.accepted and a.code == pool.ACCEPTED)
        self.metrics.txs_admitted.inc(admitted)
        for answer in final:
            if not answer.accepted:
                self.metrics.txs_refused.labels(answer.code).inc()
        self.metrics.mempool_size.set(len(self.mempool))
        self.metrics.mempool_bytes.set(self.mempool.size_bytes)
        # Only transactions a block could take now start consensus timers: one behind
        # a nonce gap is not the primary's fault. Filling a gap readies the run after it.
        ready: list[bytes] = []
        for sender, lowest in added_from.items():
            next_nonce = nonces.get(sender)
            if next_nonce is None:  # read before a commit between chunks: read it again
                next_nonce = nonces[sender] = self.chain.next_nonce(sender)
            ready.extend(self.mempool.ready_run(sender, lowest, next_nonce))
        if ready:
            self.consensus.transactions_pending(ready)
        self._publish_room()
        return final, accepted

    def _is_committed(self, stx: SignedTransaction, committed_nonces: dict[bytes, int]) -> bool:
        """Whether this very transaction is in a committed block.

        A committed transaction used its nonce, so one at or above its sender's
        committed nonce cannot be: the transaction index (a LevelDB miss per new
        transaction, the usual case) is only read for a nonce already used."""
        sender = stx.tx.sender
        committed = committed_nonces.get(sender)
        if committed is None:
            committed = committed_nonces[sender] = self.chain.next_nonce(sender)
        if stx.tx.nonce >= committed:
            return False
        return chainstore.find_tx(self._store, stx.hash) is not None

    async def verify_all(
        self, transactions: list[SignedTransaction], gossip: bool = False
    ) -> list[bool]:
        """Per transaction: do all of its signatures verify (checked in one batch; a
        small `gossip` batch on the event loop, see INLINE_GOSSIP_CHECKS)."""
        owners = [i for i, stx in enumerate(transactions) for _ in stx.signatures]
        checks = [check for stx in transactions for check in stx.signature_checks()]
        results = [True] * len(transactions)
        if gossip and len(checks) <= INLINE_GOSSIP_CHECKS:
            verdicts = verify_each_inline(checks)
        else:
            verdicts = await self._verify(checks)
        for index, ok in zip(owners, verdicts, strict=True):
            if not ok:
                results[index] = False
        return results

    async def _verify(self, checks: list[SignatureCheck]) -> list[bool]:
        """Verify on the two-thread pool (PyNaCl releases the GIL, so both cores work).

        However few the checks: a stream of small submissions would otherwise put every
        one of their signature checks on the event loop (gossip's small batches are
        checked by `verify_all` itself, see INLINE_GOSSIP_CHECKS)."""
        if not checks:
            return []
        loop = asyncio.get_running_loop()
        size = max(VERIFY_CHUNK, (len(checks) + 1) // 2)
        parts = [checks[i : i + size] for i in range(0, len(checks), size)]
        done = await asyncio.gather(
            *(loop.run_in_executor(self.executor, verify_each, part) for part in parts)
        )
        return [ok for part in done for ok in part]

    # -- commits ---------------------------------------------------------------------------------

    def _on_commit(self, committed: CommittedBlock) -> None:
        """Runs inside Chain.commit, after the batch is durable."""
        block = committed.block
        now = time.monotonic()
        stale, ready = self.mempool.recheck(block.transactions, self.chain.next_nonce)
        self.mempool.note_committed(len(block.transactions))
        self.mempool.validators = len(self.chain.validators())
        self.consensus.transactions_removed(stale)
        # Txs that waited behind a nonce the block just used are ready now: tell
        # consensus so none is stranded (others' readiness did not change).
        self.consensus.transactions_pending(ready)
        self.verified.discard(stx.verification_key for stx in block.transactions)
        pop = self._first_seen.pop
        waits = [
            now - first for stx in block.transactions if (first := pop(stx.hash, None)) is not None
        ]
        self.metrics.commit_latency.observe_many(waits)
        waited_max = max(waits, default=0.0)
        if self._last_commit_time is not None:
            self.metrics.block_interval.observe(now - self._last_commit_time)
        self._last_commit_time = now
        self.metrics.height.set(block.height)
        self.metrics.blocks_committed.inc()
        self.metrics.txs_committed.inc(len(block.transactions))
        self.metrics.mempool_size.set(len(self.mempool))
        self.metrics.mempool_bytes.set(self.mempool.size_bytes)
        self._publish_room()
        event, self._height_event = self._height_event, asyncio.Event()
        event.set()
        log(
            "block_committed",
            height=block.height,
            txs=len(block.transactions),
            hash=block.hash,
            mempool=len(self.mempool),
            local=self.mempool.local_count,
            # the longest a transaction of the block waited here since its admission
            waited_ms=int(waited_max * 1000),
            limit=self.mempool.admit_limit(),  # what this node admits now
        )
        if len(self._first_seen) >= FIRST_SEEN_LIMIT:
            self._first_seen.clear()  # entries of txs that never committed here: forget them

    # -- peers -----------------------------------------------------------------------------------

    def _on_peer_connect(self, link: Link) -> None:
        link.send(["height", self.chain.height])
        self.metrics.peers_connected.set(len(self.peers.connected()))
        # Every new link gets the pool walked to it, not only a peer's first: an older
        # link that still looks up may be a dead one not noticed yet (the peer
        # restarted behind a partition, its connection's close never arrived), and the
        # restarted peer then holds nothing that was gossiped before. PoolResend bounds
        # the walks per peer; the peer screens what it already holds by its bytes.
        self.resend.peer_connected(link.peer)

    def _on_frame(self, link: Link, frame: list[Any]) -> None:
        kind = frame[0]
        if kind == "txs" and len(frame) == 2 and isinstance(frame[1], list):
            if self._muted and self._is_muted(link.peer):
                self.gossip_dropped += len(frame[1])
                self.metrics.gossip_dropped.inc(len(frame[1]))
                return
            # what the pool holds already (a peer resending its pool on connect) is
            # dropped here, before it takes intake room or is decoded
            held = self.mempool.holds_encoded
            raws = [item for item in frame[1] if isinstance(item, bytes) and not held(item)]
            if not raws:
                return
            if self._intake_size + len(raws) > INTAKE_LIMIT:
                self.gossip_dropped += len(raws)  # overloaded: consensus comes first
                self.metrics.gossip_dropped.inc(len(raws))
                return
            self._intake_size += len(raws)
            self.mempool.incoming = self._intake_size  # room they take from our clients
            self._intake.put_nowait((link.peer, raws))
            self._publish_room()
        elif kind == "height" and len(frame) == 2 and isinstance(frame[1], int):
            self.sync.peer_height(link.peer, frame[1])
        elif kind in ("get_blocks", "blocks"):
            self.sync.on_frame(link, frame)
        elif kind == "c" and len(frame) == 2 and isinstance(frame[1], bytes):
            self.consensus.on_peer_message(link.peer, frame[1])
        elif kind in ("get_txs", "txs_for"):  # transactions of a compact proposal
            self.consensus.proposals.on_frame(link, frame)

    async def _intake_loop(self) -> None:
        """Admit gossiped transactions one batch at a time.

        One worker instead of a task per frame: the consensus driver then gets the
        loop between batches however much gossip arrives, and the backlog is bounded
        (INTAKE_LIMIT); what does not fit is dropped, and still reaches the primary
        through the node it was submitted to. A batch is decoded and admitted
        INTAKE_DECODED_BYTES at a time, so what a batch holds decoded stays bounded
        however heavy its transactions.
        """
        while True:
            raws, sources = await self._next_intake()
            start = 0
            while start < len(raws):
                decoded = await decode_all(raws[start:], INTAKE_DECODED_BYTES)
                end = start + len(decoded)
                admissions, _ = await self._admit(decoded, from_peer=True)
                self._mute_faulty(admissions, sources[start:end])
                start = end

    async def _next_intake(self) -> tuple[list[bytes], list[bytes]]:
        """Every frame waiting in the intake (up to INTAKE_BATCH transactions) as one
        batch, with the peer each transaction came from: each admission hands its
        signatures to the pool at once and reads each sender's nonce once, so gossip
        from several peers costs one round, not one per frame. Frames of a peer muted
        meanwhile are dropped."""
        while True:
            raws: list[bytes] = []
            sources: list[bytes] = []
            taken = 0
            peer, frame = await self._intake.get()
            while True:
                taken += len(frame)
                if not (self._muted and self._is_muted(peer)):
                    raws.extend(frame)
                    sources.extend([peer] * len(frame))
                if len(raws) >= INTAKE_BATCH or self._intake.empty():
                    break
                peer, frame = self._intake.get_nowait()
            self._intake_size -= taken
            self.mempool.incoming = self._intake_size
            self._publish_room()
            if raws:
                return raws, sources

    def _is_muted(self, peer: bytes) -> bool:
        until = self._muted.get(peer)
        if until is None:
            return False
        if until <= time.monotonic():
            del self._muted[peer]
            return False
        return True

    def _mute_faulty(self, admissions: Sequence[Admission], sources: Sequence[bytes]) -> None:
        """Mute each peer that gossiped a transaction that is not one (see PEER_MUTE_SECONDS)."""
        faulty: dict[bytes, str] = {}
        for admission, peer in zip(admissions, sources, strict=True):
            if peer not in faulty and (
                admission.tx_hash is None or admission.code in _FAULTY_GOSSIP
            ):
                faulty[peer] = admission.code
        for peer, code in faulty.items():
            self._muted[peer] = time.monotonic() + PEER_MUTE_SECONDS
            self.metrics.peers_muted.inc()
            log(
                "peer_muted",
                peer=address_to_text(peer)[:16],
                reason=code,
                seconds=PEER_MUTE_SECONDS,
            )

    async def _gossip_loop(self) -> None:
        """Every GOSSIP_INTERVAL while clients' transactions come in, what they sent
        meanwhile goes to the peers in frames; an idle node waits, with no wake-ups."""
        while True:
            if not self._gossip:
                self._gossip_waiting.clear()
                await self._gossip_waiting.wait()
            await asyncio.sleep(GOSSIP_INTERVAL)
            backlog, self._gossip = self._gossip, []
            for start in range(0, len(backlog), GOSSIP_BATCH):
                self.peers.broadcast(["txs", backlog[start : start + GOSSIP_BATCH]])

    async def _lag_loop(self) -> None:
        """How late the event loop runs a callback that is due (`pasar_event_loop_lag_*`):
        the longest step that did not give it back, or the process waiting for a core,
        delays everything the loop serves (votes, 429 answers) by as much."""
        while True:
            busy = len(self.mempool) > 0 or self._intake_size > 0
            interval = LAG_PROBE_INTERVAL if busy else LAG_PROBE_IDLE_INTERVAL
            due = time.monotonic() + interval
            await asyncio.sleep(interval)
            lag = max(0.0, time.monotonic() - due)
            self.metrics.loop_lag.observe(lag)
            self._lag_max = max(self._lag_max, lag)
            # how long the pool stays at its limit, one of the two signs of overload
            self.mempool.observe_room()
            # the pool's limit follows the measured rate, which moves with time alone;
            # the front trusts "full" only while this heartbeat is fresh
            self._publish_room()
            self._relay_if_stalled()

    def _relay_if_stalled(self) -> None:
        """Relay what peers gossiped to every peer when no block has committed for half
        a view timeout while the pool holds work (see RELAY_STALLED_TXS); at most once
        per half view timeout."""
        now = time.monotonic()
        height = self.chain.height
        if height != self._stall_height or not len(self.mempool):
            self._stall_height, self._stall_since = height, now
            return
        if now - self._stall_since < self.config.view_timeout_ms / 2000:
            return
        self._stall_since = now
        relayed = [stx.encoded for stx in self.mempool.ready_from_peers(RELAY_STALLED_TXS)]
        for start in range(0, len(relayed), GOSSIP_BATCH):
            self.peers.broadcast(["txs", relayed[start : start + GOSSIP_BATCH]])
        if relayed:
            self.metrics.txs_relayed.inc(len(relayed))
            log("txs_relayed", height=height, count=len(relayed))

    async def _height_loop(self) -> None:
        """Tell peers our height every second: it is how a lagging node notices."""
        while True:
            self.peers.broadcast(["height", self.chain.height])
            self.metrics.peers_connected.set(len(self.peers.connected()))
            refused = self.peers.refused - self._refused_reported
            if refused > 0:
                self.metrics.peers_refused.inc(refused)
                self._refused_reported += refused
            if time.monotonic() >= self._evict_due:
                self._evict_due = time.monotonic() + EVICT_INTERVAL
                self.evict_stuck()
            await asyncio.sleep(1.0)

    def evict_stuck(self) -> None:
        """Drop what has waited behind a nonce gap for too long (node.mempool
        GAP_TIMEOUT_SECONDS): no block can take it, and it holds room."""
        evicted = self.mempool.evict_stuck(self.chain.next_nonce)
        if evicted:
            self.metrics.txs_evicted.inc(len(evicted))
            self.metrics.mempool_size.set(len(self.mempool))
            self.metrics.mempool_bytes.set(self.mempool.size_bytes)
            self.consensus.transactions_removed(evicted)  # none was ready; to be sure
            log("txs_evicted", count=len(evicted), reason="nonce_gap")

    # -- lifecycle -------------------------------------------------------------------------------

    def _spawn(self, coroutine: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            if not isinstance(exc, StorageError):  # that one was logged as it happened
                log("task_failed", level="error", error=repr(exc))
            if self.shutdown is not None:
                self.shutdown.set()  # a node fault: stop rather than diverge

    def _storage_failed(self, error: StorageError) -> None:
        """LevelDB failed (full disk, I/O error, damaged files): stop, and say what to do.

        Nothing acknowledged is at risk: a block is reported committed only after its
        batch is durable, and the failed write changed nothing the node had told anyone.
        """
        self.fault = error
        self.ready = False
        log(
            "storage_failed",
            level="error",
            kind=error.kind,
            path=str(error.path),
            error=error.detail,
            height=self.chain.height,
            remedy=error.remedy,
        )
        if self.shutdown is not None:
            self.shutdown.set()

    def build_http_app(self) -> web.Application:
        """RPC routes (node.rpc) plus /metrics, /health and /ready."""
        from node.http import build_http_app

        return build_http_app(self)

    async def metrics_handler(self, request: web.Request) -> web.Response:
        self.metrics.peers_connected.set(len(self.peers.connected()))
        self.metrics.catching_up.set(1 if self.catching_up else 0)
        self.metrics.view.set(self.view)
        self._publish_admission()
        dropped = self.peers.frames_dropped()
        if dropped > self._frames_dropped:
            self.metrics.frames_dropped.inc(dropped - self._frames_dropped)
            self._frames_dropped = dropped
        self._note_front_refusals()
        if self._gates is not None:
            for gate in (self._gates.event_streams, self._gates.long_polls):
                self.metrics.rpc_slots.labels(gate.name).set(gate.open)
        return web.Response(
            body=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    def _publish_admission(self) -> None:
        """The mempool's admission state for /metrics, read when scraped."""
        mempool, metrics = self.mempool, self.metrics
        limit = mempool.admit_limit()
        metrics.admit_limit.set(limit)
        metrics.local_limit.set(mempool.local_limit(limit))
        metrics.local_pending.set(mempool.local_count)
        metrics.gap_limit.set(mempool.gap_limit(limit))
        metrics.committed_rate.set(round(mempool.committed_rate(), 1))
        metrics.full_percent.set(mempool.full_percent())
        metrics.overloaded.set(1 if mempool.overloaded() else 0)
        metrics.oldest_pending.set(round(mempool.oldest_age(), 3))
        metrics.behind_gap.set(mempool.gapped_count)
        metrics.gossip_intake.set(self._intake_size)
        metrics.loop_lag_max.set(round(self._lag_max, 4))
        self._lag_max = 0.0

    async def start(self) -> None:
        rpc_app = self.build_http_app()
        self._gates = rpc_app[GATES_KEY]
        p2p_app = web.Application()
        self.peers.add_routes(p2p_app)
        front = self.config.rpc_front
        if front:
            rpc_app[TRUST_CLIENT_HEADER] = True
            self.mempool.door_headroom_percent = FRONT_HEADROOM_PERCENT
        rpc_runner = await self._serve(rpc_app)
        if front:
            await self._start_front(rpc_runner)
        else:
            await web.TCPSite(
                rpc_runner, self.config.rpc_host, self.config.rpc_port, reuse_address=True
            ).start()
        p2p_runner = await self._serve(p2p_app)
        await web.TCPSite(
            p2p_runner, self.config.p2p_host, self.config.p2p_port, reuse_address=True
        ).start()
        await self.peers.start()
        self._spawn(self._gossip_loop())
        self._spawn(self._intake_loop())
        self._spawn(self._height_loop())
        self._spawn(self._lag_loop())
        self._spawn(self.sync.run())
        self._spawn(self.consensus.run())
        self.ready = True
        log(
            "node_started",
            rpc=f"http://{self.config.rpc_host}:{self.config.rpc_port}",
            p2p=f"http://{self.config.p2p_host}:{self.config.p2p_port}",
            validators=len(self.chain.validators()),
        )

    async def _serve(self, app: web.Application) -> web.AppRunner:
        # aiohttp closes a connection whose request headers have not all
        # arrived when the keep-alive timeout fires (also on a new connection)
        runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            keepalive_timeout=self.config.limits.request_timeout_ms / 1000,
        )
        await runner.setup()
        self._runners.append(runner)
        return runner

    async def _start_front(self, runner: web.AppRunner) -> None:
        """Serve the RPC on a Unix socket and start the front process on the RPC port."""
        run_dir = front_run_dir(self.home.path)
        self._run_dir = run_dir
        socket_path = run_dir / "rpc.sock"
        socket_path.unlink(missing_ok=True)
        await web.UnixSite(runner, str(socket_path), backlog=LISTEN_BACKLOG).start()
        self._front_state = StateWriter(run_dir / "admission")
        self._publish_room()
        self.front = FrontProcess(
            self.config.rpc_host,
            self.config.rpc_port,
            socket_path,
            run_dir / "admission",
            self.config.limits.request_timeout_ms / 1000,
            self.config.limits.answer_timeout_ms / 1000,
        )
        await self.front.start()

    def _publish_room(self) -> None:
        """Tell the front how many more transactions clients may add now, and when
        to come back if none."""
        state = self._front_state
        if state is not None:
            mempool = self.mempool
            self._note_front_refusals()
            state.publish(mempool.room(), mempool.retry_after_ms())

    def _note_front_refusals(self) -> None:
        """The requests the front refused since the last look: counted in
        `pasar_rpc_front_refusals_total` and toward the mempool's overload window."""
        state = self._front_state
        if state is None:
            return
        fresh = state.refused_by_front() - self._front_refusals
        if fresh > 0:
            self.metrics.front_refusals.inc(fresh)
            self.mempool.note_requests(fresh, fresh)
            self._front_refusals += fresh

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.ready = False
        log("node_stopping", height=self.chain.height)
        if self.front is not None:  # stop taking requests first
            with contextlib.suppress(Exception):
                await self.front.stop()
        for runner in self._runners:  # stop taking requests first
            with contextlib.suppress(Exception):
                await asyncio.wait_for(runner.cleanup(), STOP_TIMEOUT / 2)
        stuck = await cancel_all(list(self._tasks), STOP_TIMEOUT)
        if stuck:
            log("tasks_not_stopped", level="warning", count=stuck)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.peers.stop(), STOP_TIMEOUT / 2)
        self.consensus.close()
        self.executor.shutdown(wait=True, cancel_futures=True)
        self._store.close()
        if self._front_state is not None:
            self._front_state.close()
            self._front_state = None
        if self._run_dir is not None:
            with contextlib.suppress(OSError):
                shutil.rmtree(self._run_dir)
            remove_temporary_run_dir(self.home.path / RUN_DIR_POINTER)
        log("node_stopped", height=self.chain.height)


_ROOM_CODES = (pool.MEMPOOL_FULL, pool.SENDER_FULL, pool.GAP_FULL)
# what a peer's gossip holds only if that peer is faulty (besides bytes that do not
# decode): it admitted, and so checked, everything it gossips
_FAULTY_GOSSIP = frozenset({"bad_signature", "wrong_chain"})


def _held_back(held_back: dict[bytes, tuple[int, str]], stx: SignedTransaction) -> str | None:
    """The room refusal of an earlier nonce of this sender in the same submission."""
    earlier = held_back.get(stx.tx.sender)
    if earlier is not None and stx.tx.nonce > earlier[0]:
        return earlier[1]
    return None


def _hold_back(held_back: dict[bytes, tuple[int, str]], stx: SignedTransaction, code: str) -> None:
    sender, nonce = stx.tx.sender, stx.tx.nonce
    earlier = held_back.get(sender)
    if earlier is None or nonce < earlier[0]:
        held_back[sender] = (nonce, code)


_REFUSALS = {
    pool.MEMPOOL_FULL: "the mempool is full; retry later",
    pool.SENDER_FULL: "too many pending transactions from this sender",
    pool.GAP_FULL: "the pool holds as many transactions behind a nonce gap as it takes: "
    "send the sender's missing earlier nonce first, or retry later",
    pool.NONCE_REUSED: "nonce already used",
    pool.NONCE_TAKEN: "another pending transaction from this sender uses this nonce",
}


async def run_node(home: Home, key: PrivateKey, shutdown: asyncio.Event | None = None) -> None:
    """Run a validator until `shutdown` is set or SIGTERM / SIGINT arrives.

    Raises the `StorageError` that stopped it, if LevelDB failed (full disk, ...)."""
    stop_event = shutdown or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop_event.set)
            installed.append(signum)
    node = Node(home, key, shutdown=stop_event)
    try:
        await node.start()
        gc_tuning.apply(home.config.gc)  # once started: freeze what lives on (node/gc_tuning.py)
        await stop_event.wait()
    finally:
        await node.stop()
        for signum in installed:
            loop.remove_signal_handler(signum)
    if node.fault is not None:
        raise node.fault  # the caller exits non-zero: a supervisor must see the failure
