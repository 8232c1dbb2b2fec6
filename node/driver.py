"""The consensus driver: the one task that owns the replica and commits blocks.

Everything that can change consensus state or the chain arrives here as an
event on one queue: peer consensus messages, "transactions are pending",
blocks fetched by block sync, and the timer. The task hands each event to the
sans-IO replica (consensus.replica) with the current time and carries out the
effects it returns, in order: a Persist is written to LevelDB (synced) before
any Send or Broadcast that follows it, so a validator that crashes and restarts
can never sign two different votes for one (height, view, phase). One timer is
armed at the replica's next deadline. Synced writes (votes, through
node.votestore, and each block's commit batch) run on the driver's worker
thread while the task awaits them: the event loop keeps serving RPC and peers
during the fsync, and the head moves, with the commit listeners, only after.

Mempool notices ("these txs are ready", "these were dropped as stale") are
batched into one queued event, so the replica may hear of a transaction after
the block holding it committed, or of a removal before the addition it cancels.
That is safe by construction: the replica asks `NodeConsensusApp.is_pending`
(mempool membership) as it handles each notice, so a committed or dropped hash
never becomes pending there, and an idle chain stays idle after load.

PRE-PREPAREs travel compact (transactions by hash, consensus.messages): the
driver sends its own that way, completes an arriving one from the mempool before
the replica sees it, and otherwise lets the replica ask (FetchProposal) and fetches
the missing transactions through node.proposals, which hands the completed
proposal back through this queue.

An arriving proposal costs next to nothing unless the replica would act on it
(`Replica.would_validate`: the next height, the primary of a view the replica is
in or would move to, no rival already held, a valid signature, a justified
NEW-VIEW): only then is a compact one completed or its block executed. A block
over the `[block]` limits (`max_txs` transactions, `max_bytes` of them: the limits
this node's own proposals are reaped within, with BLOCK_LIMIT_SLACK) is refused
without executing it, and
a block whose check failed is remembered (node.chain) so that a copy sent again is
refused at once. A peer's undecoded messages may take at most PEER_QUEUE_BYTES of
the queue; beyond that they are dropped and counted, so a flood from one validator
cannot grow the node's memory without limit.

The replica's clock is `time.monotonic()`; block timestamps use the wall clock
(`time.time()`), and a proposal dated more than `max_clock_drift_ms` ahead of
our wall clock is refused (node.chain.Chain.check).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from consensus.messages import (
    MAX_MESSAGE_BYTES,
    TAG_DECISION,
    CompactPrePrepare,
    Message,
    NewView,
    PrePrepare,
    SignedHead,
    carried_block_matches,
    decode_message,
    encode_for_peers,
    message_head,
)
from consensus.replica import (
    FALSE_SIGNATURE,
    MALFORMED,
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
    Send,
)
from ledger import codec
from ledger.block import Block, CommitCertificate
from ledger.errors import CodecError, InvalidBlock
from ledger.keys import address_to_text
from ledger.tx import MAX_TX_BYTES, SignedTransaction
from node import consensus_inbox as inbox
from node.consensus_inbox import ConsensusInbox
from node.log import log, log_doubling
from node.proposals import ProposalTransactions
from node.votestore import VoteStore
from node.worker_threads import batch_pool

if TYPE_CHECKING:
    from node.home import BlockLimits
    from node.node import Node

T = TypeVar("T")
EVIDENCE_PREFIX = b"node/evidence/"
MAX_EVENTS_PER_TURN = 512
MIN_BLOCK_CAP = 100
# A proposal must validate within this fraction of the view timeout on every replica:
# the rest is for gossip, votes and a slower peer.
VALIDATION_BUDGET_DIVISOR = 4
MIN_COST_SAMPLE_TXS = 20  # smaller blocks measure fixed costs, not per-tx ones
TIMER = "timer"  # the queued event of the replica's deadline (ConsensusDriver._arm_timer)
UNSIGNED = "unsigned"  # what a message not signed by its sender becomes: nothing to handle
INBOX = "inbox"  # the queued event of a peer's message waiting in the inbox
# A peer whose consensus messages carried this many false signatures within
# CONSENSUS_MUTE_SECONDS is not heard for CONSENSUS_MUTE_SECONDS (node/consensus_inbox.py).
# An honest validator sends none; a flood reaches the count within milliseconds.
CONSENSUS_MUTE_AFTER = 16
CONSENSUS_MUTE_SECONDS = 60.0
# Consensus messages a peer may send a second, and in one burst (node/consensus_inbox.py)
CONSENSUS_RATE = 500.0
CONSENSUS_BURST = 1_000
# ... and bytes: two of the largest messages at once, then 2 MiB a second. An honest
# validator's compact proposals are tens of kB; a block travels whole only inside a
# VIEW-CHANGE, NEW-VIEW or DECISION. Decoding costs up to half a microsecond a byte
# (transactions made of empty arrays), so this bounds what one peer costs a second.
CONSENSUS_BYTES_PER_SECOND = 2 * 1024 * 1024
CONSENSUS_BYTES_BURST = 2 * MAX_MESSAGE_BYTES
VIEW_CHANGE_CAUSES = ("timeout", "complaints", "equivocation", "followed")
# Undecoded bytes one peer may have waiting in the driver's queue: four of the largest
# messages, far above what an honest validator sends between two turns of the driver
# (its votes, one proposal, a resend), so only a flood meets it.
PEER_QUEUE_BYTES = 4 * MAX_MESSAGE_BYTES
BLOCK_TOO_LARGE = "block_too_large"
# A proposal is refused unexecuted beyond this many times this node's own `[block]`
# limits. The limits are each node's configuration, not the chain's: validators whose
# settings differ by up to this factor still take each other's full blocks, and a
# forged giant still costs no more than a few ordinary blocks (once: a refused block
# is remembered).
BLOCK_LIMIT_SLACK = 2


def head_over_limits(head: SignedHead, limits: BlockLimits) -> str | None:
    """Why the block a signed message carries is too large to decode, from the sizes of
    its transactions in its head (`message_head`): more of them than `over_limits`
    checks, or of more bytes, or one larger than any transaction may be. Decoding a
    transaction costs up to half a microsecond a byte (one made of empty arrays), so a
    4 MiB block of them is two seconds of the event loop."""
    sizes = head.tx_sizes
    most = limits.max_txs * BLOCK_LIMIT_SLACK
    if len(sizes) > most:
        return f"{len(sizes)} transactions, at most {most} are checked"
    if sizes and max(sizes) > MAX_TX_BYTES:
        return f"a transaction of {max(sizes)} bytes, at most {MAX_TX_BYTES}"
    total, most = sum(sizes), limits.max_bytes * BLOCK_LIMIT_SLACK
    if total > most:
        return f"{total} bytes of transactions, at most {most} are checked"
    return None


def over_limits(block: Block, limits: BlockLimits) -> InvalidBlock | None:
    """Why a proposed block is too large to check, if it is: more than BLOCK_LIMIT_SLACK
    times `max_txs` transactions, or times `max_bytes` of them (counted as the mempool's
    reap counts them, so an honest primary's block always fits)."""
    count = len(block.transactions)
    most = limits.max_txs * BLOCK_LIMIT_SLACK
    if count > most:
        return InvalidBlock(BLOCK_TOO_LARGE, f"{count} transactions, at most {most} are checked")
    size = sum(len(stx.encoded) for stx in block.transactions)
    most = limits.max_bytes * BLOCK_LIMIT_SLACK
    if size > most:
        return InvalidBlock(
            BLOCK_TOO_LARGE, f"{size} bytes of transactions, at most {most} are checked"
        )
    return None


class ValidationCost:
    """Microseconds to build or check one transaction of a block: seeded from the
    configured estimate, then a moving average of this node's own block checks."""

    def __init__(self, estimate_us: int) -> None:
        self.per_tx_us = float(max(1, estimate_us))

    def observe(self, txs: int, seconds: float) -> None:
        if txs >= MIN_COST_SAMPLE_TXS:
            sample = seconds * 1_000_000 / txs
            self.per_tx_us = 0.75 * self.per_tx_us + 0.25 * sample

    def max_txs(self, view_timeout_ms: int) -> int:
        """The most transactions a proposal may hold to validate well within the timeout."""
        budget_us = view_timeout_ms * 1000 / VALIDATION_BUDGET_DIVISOR
        return max(MIN_BLOCK_CAP, int(budget_us / max(1.0, self.per_tx_us)))


def wall_ms() -> int:
    return int(time.time() * 1000)


class NodeConsensusApp:
    """The replica's view of the application (consensus.replica.ConsensusApp)."""

    def __init__(self, node: Node) -> None:
        self.node = node
        # Block size cap, adapted: a proposal in a view above 0 means the last attempt
        # at this height timed out, often because the block took too long to build and
        # check; halving the cap keeps a slow moment from growing into a spiral of ever
        # larger proposals. Each height decided in view 0 grows it back.
        self.block_cap = node.config.block.max_txs
        # ...and never more than replicas can validate well within the view timeout
        self.cost = ValidationCost(node.config.block.validate_us_per_tx)
        self.prebuilt: Block | None = None

    def proposal_cap(self) -> int:
        return min(self.block_cap, self.cost.max_txs(self.node.config.view_timeout_ms))

    def committed_height(self) -> int:
        return self.node.chain.height

    def validators_at(self, height: int) -> tuple[bytes, ...]:
        return self.node.chain.validators(height)

    def reap(self, view: int) -> list[SignedTransaction]:
        node = self.node
        if view > 0:
            self.block_cap = max(MIN_BLOCK_CAP, self.block_cap // 2)
        limits = node.config.block
        return node.mempool.reap(self.proposal_cap(), limits.max_bytes, node.chain.next_nonce)

    def propose(self, height: int, view: int, timestamp_ms: int) -> Block:
        # The replica's timestamp comes from its monotonic clock; a block carries wall time.
        prebuilt, self.prebuilt = self.prebuilt, None
        if prebuilt is not None and prebuilt.height == height and view == 0:
            return prebuilt  # built off the event loop just before (ConsensusDriver)
        node = self.node
        started = time.perf_counter()
        txs = self.reap(view)
        block = node.chain.propose(node.node_id, wall_ms(), txs)
        self.built(block, view, time.perf_counter() - started)
        return block

    def built(self, block: Block, view: int, elapsed: float) -> None:
        txs = len(block.transactions)
        self.cost.observe(txs, elapsed)  # building executes them: the same work
        log("block_proposed", height=block.height, view=view, txs=txs, ms=int(elapsed * 1000))

    def is_pending(self, tx_hash: bytes) -> bool:
        # The mempool drops a block's transactions inside Chain.commit (a commit
        # listener), before the driver calls the replica again: membership is the
        # exact "admitted, not committed, not dropped" the replica asks about.
        return tx_hash in self.node.mempool

    def validate(self, block: Block) -> str | None:
        chain = self.node.chain
        if chain.is_checked(block.hash):
            return None  # checked off the event loop as it arrived (ConsensusDriver)
        refused = over_limits(block, self.node.config.block) or chain.refusal(block.hash)
        if refused is not None:  # refused without executing it (again)
            log("block_refused", height=block.height, code=refused.code, reason=refused.message)
            return refused.code
        started = time.perf_counter()
        try:
            self.node.chain.check(block, wall_ms())
        except InvalidBlock as exc:
            log("block_refused", height=block.height, code=exc.code, reason=exc.message)
            return exc.code
        elapsed = time.perf_counter() - started
        self.cost.observe(len(block.transactions), elapsed)
        log(
            "block_checked",
            height=block.height,
            txs=len(block.transactions),
            ms=int(elapsed * 1000),
        )
        return None


class ConsensusDriver:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.queue: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        # peers' undecoded messages, taken in turn (an INBOX token in the queue each)
        self.inbox = ConsensusInbox(
            PEER_QUEUE_BYTES,
            CONSENSUS_MUTE_AFTER,
            CONSENSUS_MUTE_SECONDS,
            CONSENSUS_RATE,
            CONSENSUS_BURST,
            CONSENSUS_BYTES_PER_SECOND,
            CONSENSUS_BYTES_BURST,
        )
        self.dropped_messages = 0  # a peer's messages dropped over its bytes or its rate
        self.muted_messages = 0  # a muted peer's messages, dropped as they came
        self.unsigned_messages = 0  # dropped undecoded: not signed by their sender
        self.too_large_messages = 0  # dropped undecoded: a block beyond the limits
        self._pending_hashes: list[bytes] = []
        self._removed_hashes: list[bytes] = []
        self.replica: Replica | None = None
        self.app = NodeConsensusApp(node)
        self.votes = VoteStore(node.chain.store)
        self.evidence = 0
        # executes blocks (build, check) so the event loop stays free; see _off_loop
        self.worker = batch_pool(1, "blocks")
        self._view_changes_seen = 0
        self._causes_seen: dict[str, int] = {}
        self._height_seen = 0
        self._timer: asyncio.TimerHandle | None = None  # see _arm_timer
        self._timer_at: float | None = None
        # completes compact PRE-PREPAREs; a completed one comes back through the queue
        # (a lambda: the node's verifier is looked up when a fetch completes)
        self.proposals = ProposalTransactions(
            node, self.on_peer_message, lambda txs: node.verify_all(txs)
        )

    # -- inputs (called from other tasks; they only enqueue) -------------------------------------

    def transactions_pending(self, tx_hashes: Sequence[bytes]) -> None:
        if tx_hashes:
            self._wake_for_transactions()
            self._pending_hashes.extend(tx_hashes)

    def transactions_removed(self, tx_hashes: Sequence[bytes]) -> None:
        # The replica must hear of removals even when nothing new is pending, or it
        # would complain about a primary "censoring" a tx that no longer exists.
        if tx_hashes:
            self._wake_for_transactions()
            self._removed_hashes.extend(tx_hashes)

    def _wake_for_transactions(self) -> None:
        if not self._pending_hashes and not self._removed_hashes:
            self.queue.put_nowait(("pending",))

    def on_peer_message(self, peer: bytes, raw: bytes | Message) -> None:
        """Wire bytes from a peer, or a proposal the node completed for the replica."""
        if not isinstance(raw, bytes):
            self.queue.put_nowait(("message", peer, raw))
            return
        outcome = self.inbox.put(peer, raw)
        if outcome == inbox.QUEUED:
            self.queue.put_nowait((INBOX,))  # one token per message the inbox holds
        elif outcome == inbox.MUTED:
            self.muted_messages += 1
        else:
            self.dropped_messages += 1
            log_doubling(
                self.dropped_messages,
                "consensus_message_dropped",
                peer=address_to_text(peer)[:16],
                reason=outcome,
                bytes=len(raw),
                queued=self.inbox.waiting_bytes(peer),
                dropped=self.dropped_messages,
            )

    def _strike(self, peer: bytes) -> None:
        """`peer` sent a message whose signature is false (see node/consensus_inbox.py)."""
        if self.inbox.strike(peer):
            self.node.metrics.consensus_peers_muted.inc()
            log(
                "peer_consensus_muted",
                level="warning",
                peer=address_to_text(peer)[:16],
                seconds=CONSENSUS_MUTE_SECONDS,
                strikes=CONSENSUS_MUTE_AFTER,
            )

    async def apply_synced(self, blocks: list[tuple[Block, CommitCertificate]]) -> int:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.queue.put_nowait(("synced", blocks, future))
        return await future

    # -- the owner task ---------------------------------------------------------------------------

    def _make_replica(self) -> Replica:
        node = self.node
        persisted = self.votes.load()
        config = ReplicaConfig(
            chain_id=node.chain_id,
            base_timeout=node.config.view_timeout_ms / 1000,
            # Capped at 8x the base: after a partition heals or a crashed validator
            # returns, replicas that drifted to different views re-align within one cap.
            max_timeout=8 * node.config.view_timeout_ms / 1000,
            min_block_interval=node.config.block.interval_ms / 1000,
            empty_block_interval=None,  # idle chains produce no blocks
            censorship_timeout=node.config.censorship_timeout_ms / 1000,
        )
        return Replica(config, node.key, self.app, persisted)

    async def run(self) -> None:
        replica = self.replica = self._make_replica()
        await self._apply(replica.on_timer(time.monotonic()))
        self._publish(replica)  # /v1/status names the primary before the first event
        while True:
            # a full block's worth of ready transactions is proposed without waiting
            # for the block interval (which only gives a small block time to fill)
            replica.full_block = self.app.proposal_cap()
            self._arm_timer(replica.next_deadline())
            event: tuple[Any, ...] | None = await self.queue.get()
            handled = 0
            while event is not None:
                peer = None  # the sender of wire bytes, answerable for their signatures
                if event[0] == INBOX:
                    taken = self.inbox.take()  # None: a muted peer's, dropped meanwhile
                    if taken is not None:
                        peer = taken[0]
                        event = ("message", peer, taken[1])
                if event[0] in (TIMER, INBOX):
                    event = None if self.queue.empty() else self.queue.get_nowait()
                    continue
                event = await self._check_arriving_proposal(replica, event)
                await self._handle(replica, event)
                if peer is not None and event[0] == "message" and replica.last_false_signatures:
                    self._strike(peer)
                handled += 1
                if handled >= MAX_EVENTS_PER_TURN or self.queue.empty():
                    break
                event = self.queue.get_nowait()
            now = time.monotonic()
            deadline = replica.next_deadline()
            if deadline is not None and now >= deadline:
                if replica.proposal_due(now):
                    await self._build_proposal()
                    now = time.monotonic()
                await self._apply(replica.on_timer(now))
            self._publish(replica)
            if handled >= MAX_EVENTS_PER_TURN:
                await asyncio.sleep(0)  # let the network and RPC breathe

    def _arm_timer(self, deadline: float | None) -> None:
        """One timer at the replica's next deadline, which queues a TIMER event.

        Waiting on the queue with a timeout (`asyncio.wait_for`) wrapped each wait in a
        new task with its own timeout handle, several times a block; the deadline
        rarely moves between waits, so the handle is kept until it does. The loop's
        clock is `time.monotonic()`, the replica's too."""
        if deadline == self._timer_at and (self._timer is not None or deadline is None):
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = deadline
        if deadline is not None:
            self._timer = asyncio.get_running_loop().call_at(deadline, self._timer_fired)

    def _timer_fired(self) -> None:
        self._timer = None
        self._timer_at = None
        self.queue.put_nowait((TIMER,))

    # -- block execution off the event loop ----------------------------------------------------
    #
    # Building and checking a block executes every transaction in it: hundreds of
    # milliseconds for a full block. On the event loop that time would stall the RPC
    # (no quick 429 for the excess) and the peer links. The driver runs that work on
    # its own thread and awaits it; nothing commits meanwhile (this task is the only
    # committer), so the worker reads a store that does not change under it. With
    # the GIL the work is not faster, but the loop keeps answering between its slices.

    async def _check_arriving_proposal(
        self, replica: Replica, event: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        """A proposal the replica would act on (`Replica.would_validate`): decode it
        once, complete a compact one from the transactions this node holds (else the
        replica gets it compact and asks for a fetch), and check its block on the
        worker, so the replica's `validate` finds the result (or the refusal).

        Any other proposal is handed on decoded and untouched: the replica drops it
        (bad signature, wrong view or primary, a rival) before asking for a check, so
        a stale proposal costs its decoding and a signature check, never an execution.
        Nor is a block over the `[block]` limits, or one whose check already failed,
        executed: `validate` refuses it at once. Before any of that, a PRE-PREPARE,
        VIEW-CHANGE or NEW-VIEW whose signature is false, or a DECISION whose
        certificate the replica would refuse, is dropped from its head alone
        (`message_head`), the block it carries never decoded."""
        if event[0] != "message":
            return event
        if isinstance(event[2], bytes):
            head = message_head(event[2])
            if head is not None:
                # Not signed by its sender, a decision whose certificate fails, or for
                # a height the replica is not at: decoding the block it carries (a
                # third of a CPU-second for 20,000 transfers) would end in the same drop.
                verdict, effects = replica.on_head(head, time.monotonic())
                await self._apply(effects)
                if verdict is not None:
                    if verdict in (FALSE_SIGNATURE, MALFORMED):
                        tag = head.tag if isinstance(head, SignedHead) else TAG_DECISION
                        self._note_unsigned(event[1], tag, len(event[2]))
                        self._strike(event[1])
                    return (UNSIGNED,)
                if isinstance(head, SignedHead):
                    too_large = head_over_limits(head, self.node.config.block)
                    if too_large is not None:
                        replica.count_dropped("dropped_invalid_block")
                        self._note_too_large(event[1], head, too_large)
                        return (UNSIGNED,)
            try:
                message = decode_message(event[2])
            except CodecError:
                return event  # the replica counts it as malformed
        elif isinstance(event[2], PrePrepare):
            message = event[2]  # completed by node.proposals
        else:
            return event
        chain = self.node.chain
        limits = self.node.config.block
        screened = False  # the signature and the rest of would_validate passed
        if (
            isinstance(message, CompactPrePrepare)
            and message.height == chain.height + 1
            and message.header.tx_count <= limits.max_txs * BLOCK_LIMIT_SLACK
            and replica.would_validate(message)
        ):
            rebuilt = self.proposals.rebuild(message)
            if rebuilt is not None:
                message, screened = rebuilt, True  # same signature, just checked
        if (
            isinstance(message, PrePrepare | NewView)
            and message.height == chain.height + 1
            and not chain.is_checked(message.block.hash)
            and chain.refusal(message.block.hash) is None
            and over_limits(message.block, limits) is None
            and (screened or replica.would_validate(message))
            and carried_block_matches(message)
        ):
            if isinstance(message, PrePrepare) and not message.header_checked:
                message = replace(message, header_checked=True)  # the replica's check: done
            block = message.block
            started = time.perf_counter()
            try:
                # carried_block_matches found the body to be the header's (or the
                # compact proposal's decoding did): the worker skips the tx root
                result = await self._off_loop(chain.execute_check, block, wall_ms(), True)
            except InvalidBlock as exc:
                # remembered: the replica's validate (which logs the refusal) and any
                # copy sent again are refused without executing the block again
                if chain.height + 1 == block.height:
                    chain.refuse(block, exc)
            else:
                if chain.height + 1 == block.height:
                    chain.remember(block, result)
                    self.proposals.remember(block)
                    elapsed = time.perf_counter() - started
                    self.app.cost.observe(len(block.transactions), elapsed)
                    log(
                        "block_checked",
                        height=block.height,
                        txs=len(block.transactions),
                        ms=int(elapsed * 1000),
                    )
        return (event[0], event[1], message)

    def _note_too_large(self, peer: bytes, head: SignedHead, why: str) -> None:
        self.too_large_messages += 1
        log_doubling(
            self.too_large_messages,
            "consensus_message_too_large",
            peer=address_to_text(peer)[:16],
            tag=head.tag,
            height=head.height,
            why=why,
            dropped=self.too_large_messages,
        )

    def _note_unsigned(self, peer: bytes, tag: int, size: int) -> None:
        self.unsigned_messages += 1
        log_doubling(
            self.unsigned_messages,
            "consensus_message_unsigned",
            peer=address_to_text(peer)[:16],
            tag=tag,
            bytes=size,
            dropped=self.unsigned_messages,
        )

    async def _build_proposal(self) -> None:
        """Reap and build the view-0 proposal on the worker; `propose` hands it over."""
        node = self.node
        started = time.perf_counter()
        txs = self.app.reap(0)
        height = node.chain.height + 1
        block, result = await self._off_loop(node.chain.build, node.node_id, wall_ms(), txs)
        if node.chain.height + 1 == height:
            node.chain.remember(block, result)
            self.app.prebuilt = block
            self.app.built(block, 0, time.perf_counter() - started)

    async def _off_loop(self, function: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.worker, function, *args)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.proposals.close()
        self.worker.shutdown(wait=True, cancel_futures=True)

    async def _handle(self, replica: Replica, event: tuple[Any, ...]) -> None:
        kind = event[0]
        now = time.monotonic()
        if kind == "message":
            await self._apply(replica.on_message(event[2], now))
        elif kind == "pending":
            hashes, self._pending_hashes = self._pending_hashes, []
            if self._removed_hashes:
                removed, self._removed_hashes = self._removed_hashes, []
                await self._apply(replica.on_transactions_removed(removed, now))
            await self._apply(replica.on_transactions_pending(hashes, now))
        elif kind == "synced":
            blocks, future = event[1], event[2]
            try:
                applied = await self._commit_synced(replica, blocks)
            except InvalidBlock as exc:
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(applied)

    async def _commit_synced(
        self, replica: Replica, blocks: list[tuple[Block, CommitCertificate]]
    ) -> int:
        chain = self.node.chain
        applied = 0
        for block, certificate in blocks:
            if block.height <= chain.height:
                continue  # consensus committed it meanwhile
            if block.height != chain.height + 1:
                break
            await self._commit(block, certificate, certified=False)
            applied += 1
            await self._apply(replica.on_block_synced(block, certificate, time.monotonic()))
        return applied

    async def _commit(self, block: Block, certificate: CommitCertificate, certified: bool) -> None:
        """Commit a block: its synced LevelDB batch (and, for a block sync brought, its
        check) on the worker, then the new head and the commit listeners on the loop."""
        chain = self.node.chain
        head, result = await self._off_loop(chain.write_commit, block, certificate, certified)
        chain.committed(block, certificate, head, result)

    async def _apply(self, effects: list[Effect]) -> None:
        node = self.node
        for effect in effects:
            if isinstance(effect, Persist):
                # Durable before the votes it records are revealed by the next sends; the
                # synced write waits on the worker, so the loop keeps serving meanwhile.
                await self._off_loop(self.votes.write, effect.state)
            elif isinstance(effect, Broadcast):
                frame = self._frame(effect.message)
                node.peers.broadcast(frame)
                self._count_proposal(effect.message, frame, None)
            elif isinstance(effect, Send):
                frame = self._frame(effect.message)
                if node.peers.send(effect.to, frame):
                    self._count_proposal(effect.message, frame, 1)
            elif isinstance(effect, FetchProposal):
                self.proposals.fetch(effect.message, node.config.view_timeout_ms / 1000)
            elif isinstance(effect, Commit):
                if effect.block.height == node.chain.height + 1:
                    # the replica built the certificate from votes it verified
                    await self._commit(effect.block, effect.certificate, certified=True)
                    if effect.certificate.view == 0:
                        limit = node.config.block.max_txs
                        self.app.block_cap = min(limit, self.app.block_cap + max(1, limit // 8))
            elif isinstance(effect, CatchUp):
                node.sync.catch_up(effect.peer, effect.from_height)
            elif isinstance(effect, ForwardTransactions):
                raws = [
                    stx.encoded
                    for stx in (node.mempool.get(h) for h in effect.tx_hashes)
                    if stx is not None
                ]
                if raws:
                    node.peers.send(effect.to, ["txs", raws])
            elif isinstance(effect, ReportEvidence):
                self._store_evidence(effect)

    def _frame(self, message: Message) -> list[Any]:
        """A consensus frame for peers; a PRE-PREPARE goes compact (its transactions by
        hash: peers hold nearly all of them from gossip and fetch the rest from us)."""
        if not isinstance(message, PrePrepare):
            return ["c", encode_for_peers(message)]
        self.proposals.remember(message.block)
        # what this node's clients sent since the last gossip round reaches no peer
        # before the proposal: carried whole, it spares every replica a fetch
        unsent = self.node.ungossiped()
        return ["c", encode_for_peers(message, lambda stx: stx.encoded in unsent)]

    def _count_proposal(self, message: Message, frame: list[Any], copies: int | None) -> None:
        """Bytes of PRE-PREPAREs sent; `copies` None for a broadcast (one per peer)."""
        if not isinstance(message, PrePrepare):
            return
        if copies is None:
            copies = len(self.node.peers.connected())
        if copies:
            metrics = self.node.metrics
            metrics.proposals_sent.inc(copies)
            metrics.proposal_bytes_sent.inc(copies * len(frame[1]))
            txs = message.block.transactions
            # tx_bytes: what the whole block carried besides its header and certificate
            # (each transaction's bytes are kept from admission: nothing is encoded here)
            log(
                "proposal_sent",
                height=message.height,
                view=message.view,
                txs=len(txs),
                bytes=len(frame[1]),
                tx_bytes=sum(len(stx.encoded) for stx in txs),
                peers=copies,
            )

    def _store_evidence(self, effect: ReportEvidence) -> None:
        evidence = effect.evidence
        self.evidence += 1
        record = codec.encode(
            [
                evidence.kind,
                evidence.validator,
                evidence.height,
                evidence.view,
                evidence.first.to_list(),
                evidence.second.to_list(),
            ]
        )
        key = EVIDENCE_PREFIX + evidence.height.to_bytes(8, "big") + evidence.validator
        self.node.chain.store.write({key + evidence.kind.encode(): record}, sync=True)
        log("evidence", kind=evidence.kind, validator=evidence.validator, height=evidence.height)

    def _publish(self, replica: Replica) -> None:
        node = self.node
        changes = replica.metrics.get("view_changes", 0)
        if changes > self._view_changes_seen:
            node.metrics.view_changes.inc(changes - self._view_changes_seen)
            self._view_changes_seen = changes
            for cause in VIEW_CHANGE_CAUSES:
                count = replica.metrics.get("view_changes_" + cause, 0)
                seen = self._causes_seen.get(cause, 0)
                if count > seen:
                    node.metrics.view_change_causes.labels(cause).inc(count - seen)
                    self._causes_seen[cause] = count
        if replica.view != node.view or replica.height != self._height_seen:
            if replica.view > 0:
                log("view_change", height=replica.height, view=replica.view)
            self._height_seen = replica.height
        node.view = replica.view
        node.primary = replica.primary()
