"""The PBFT replica: a pure state machine that a driver feeds with messages and time.

How a driver (the node process, or the simulator) uses it:

    replica = Replica(config, key, app, persisted_state)   # persisted_state may be None
    effects = replica.on_timer(now)                         # once at start
    loop:
        effects = replica.on_message(message_or_bytes, now)  # a peer's message arrived
        effects = replica.on_timer(now)                      # when now >= next_deadline()
        effects = replica.on_transactions_pending(tx_hashes, now)   # txs became ready
        effects = replica.on_transactions_removed(tx_hashes, now)   # txs became invalid
        effects = replica.on_block_synced(block, certificate, now)  # block sync applied one
        apply the effects IN ORDER, then arm one timer at replica.next_deadline()

A driver that checks a proposal's block ahead of `on_message` (off its event loop)
asks `replica.would_validate(proposal)` first: only a proposal the replica would
act on (signed by the primary of a view it is in or would move to) is worth it.

Effects, applied in list order:
  - Persist(state): write `state.encode()` durably BEFORE carrying out any later
    effect of the same list: it holds the votes that the following sends reveal,
    so a restarted validator never signs two different votes for one phase.
  - Send(to, message) / Broadcast(message): `encode_message(message)` to one
    validator / to every other validator (current and next set) and observer.
  - Commit(block, certificate): the block is decided. Apply it to the store (with
    the certificate) before calling the replica again: the replica reads
    `app.committed_height()` and `app.validators_at()` for the next height.
  - CatchUp(peer, from_height): this replica is behind; fetch certified blocks from
    `from_height` on (from `peer` or anyone), apply them, report each through
    `on_block_synced`.
  - ForwardTransactions(to, tx_hashes): these pending transactions wait too long;
    gossip them to `to` (the primary) again.
  - ReportEvidence(evidence): a validator signed two conflicting messages; keep it.
  - FetchProposal(message): a compact PRE-PREPARE from the primary passed the
    checks (signature, primary, no equivocation) but lists transactions the
    driver did not find: gather them (from peers) and hand the replica
    `message.complete(transactions)`, the full PrePrepare with the same
    signature. Until then the replica does not vote; the announcement restarts
    the view timer once (it is progress), so the gathering has one view timeout.

`now` is float seconds from the driver's monotonic clock; the replica never reads
a clock, a socket or a disk. Messages that fail to decode, come from unknown
validators, carry bad signatures or are for the wrong height or view are dropped
and counted in `metrics`; they never raise.

Protocol (one block per height, heights strictly in sequence):
  - The primary of (height, view) is validators[(height + view) % n], where
    validators = app.validators_at(height); n = 3f + 1 tolerates f faults and a
    quorum is n - f.
  - View 0: the primary sends PRE-PREPARE(block); every validator that finds the
    block valid (app.validate) broadcasts PREPARE; a quorum of PREPAREs for the
    block makes it prepared (a PreparedCertificate) and the validator broadcasts
    COMMIT, whose signature is the ledger commit vote; a quorum of COMMITs is the
    ledger CommitCertificate and the block is decided. Block h+1 carries it.
  - View change: when the view timer expires (timeouts double per view up to a
    cap, and start again from the base at every height), when the primary
    equivocates, or when f+1 validators complain, a validator broadcasts
    VIEW-CHANGE carrying its highest prepared certificate (and that block). The
    new primary, with a quorum of them, broadcasts NEW-VIEW: the block of the
    highest prepared certificate if there is one, else a fresh proposal. f+1
    VIEW-CHANGEs for higher views pull a lagging validator along.
  - Censorship: a transaction pending longer than `censorship_timeout` is
    forwarded to the primary and the validator broadcasts a COMPLAINT; f+1
    complaints for the current view start a view change. The clock counts only
    time without progress: a decided block that holds transactions restarts it
    for everything still pending. Under load a transaction waits behind others
    in full blocks, and that queue is no primary's fault (the primary rotates
    every height, so one that leaves a transaction out delays it by one block);
    complaints are for a chain whose blocks stay empty while work waits.
  - Pending transactions: the replica's set of pending hashes only ever holds
    hashes the app still holds (`app.is_pending`), whatever order the driver's
    events arrive in; see `on_transactions_pending`. Nothing to decide (no
    pending transaction, no proposal, fewer than f+1 PREPAREs) means no view
    timer, so an idle chain makes neither blocks nor view changes.
  - A validator stuck for `resend_interval` re-sends its current messages and a
    STATUS; a peer that already decided that height answers with the DECISION
    (block and certificate), or with its own STATUS, which makes the stuck one
    emit CatchUp.
  - All per-height state is dropped when a height is decided; the certificate in
    the next block replaces PBFT checkpoints, so memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from consensus.messages import (
    TAG_PRE_PREPARE,
    CommitVote,
    CompactPrePrepare,
    Complaint,
    Decision,
    DecisionHead,
    Message,
    NewView,
    PreparedCertificate,
    PrepareVote,
    PrePrepare,
    SignedHead,
    Status,
    ViewChange,
    carried_block_matches,
    decode_message,
)
from consensus.state import PersistedState
from ledger.block import Block, CommitCertificate, max_faulty, quorum_size
from ledger.errors import CodecError
from ledger.keys import PrivateKey

MAX_VIEW_AHEAD = 8  # votes for views further ahead than this are not kept
# Room in the buffer of next-height messages each sender may hold, at least: an honest
# validator sends a handful per view (its proposal, votes, a complaint, a view change)
MIN_FUTURE_PER_SENDER = 16
# `on_head` verdicts: why a message was dropped from its head, undecoded
FALSE_SIGNATURE = "false_signature"
MALFORMED = "malformed"
OLD_HEIGHT = "old_height"
FUTURE_HEIGHT = "future_height"
WRONG_VIEW = "wrong_view"
WRONG_PRIMARY = "wrong_primary"
MAX_TIMEOUT_DOUBLINGS = 32
MAX_FORWARDED = 256


class ConsensusApp(Protocol):
    """What the replica needs from the application (the node implements it over its store)."""

    def committed_height(self) -> int:
        """Height of the last block applied to the store (0 before the first block)."""
        ...

    def validators_at(self, height: int) -> tuple[bytes, ...]:
        """The validator set that votes on block `height`, in consensus order."""
        ...

    def propose(self, height: int, view: int, timestamp_ms: int) -> Block:
        """Build the next block on the committed chain (pending txs, last certificate).

        The timestamp must end up after the parent's; the app may raise it to be so.
        """
        ...

    def validate(self, block: Block) -> str | None:
        """None if `block` is a valid next block (header rules, re-execution, roots,
        timestamp drift), else a short rejection code. Called once per block hash."""
        ...

    def is_pending(self, tx_hash: bytes) -> bool:
        """True while the transaction waits in the app's pool: admitted, and neither
        committed nor dropped. Must turn False in the same step that applies the block
        holding it (before the replica is called again)."""
        ...


@dataclass(frozen=True)
class ReplicaConfig:
    """Timing and limits. Times are seconds of the driver's clock."""

    chain_id: str
    base_timeout: float = 2.0
    max_timeout: float = 30.0
    resend_interval: float = 1.0
    min_block_interval: float = 0.0
    # None: propose only when transactions are pending; else also an empty block after this
    empty_block_interval: float | None = 1.0
    censorship_timeout: float = 10.0
    max_future_messages: int = 256
    decisions_kept: int = 4
    max_evidence: int = 256


@dataclass(frozen=True, slots=True)
class Persist:
    state: PersistedState


@dataclass(frozen=True, slots=True)
class Send:
    to: bytes
    message: Message


@dataclass(frozen=True, slots=True)
class Broadcast:
    message: Message


@dataclass(frozen=True, slots=True)
class Commit:
    block: Block
    certificate: CommitCertificate


@dataclass(frozen=True, slots=True)
class CatchUp:
    peer: bytes
    from_height: int


@dataclass(frozen=True, slots=True)
class ForwardTransactions:
    to: bytes
    tx_hashes: tuple[bytes, ...]


@dataclass(frozen=True)
class Evidence:
    """Two conflicting messages signed by one validator for the same (height, view, phase)."""

    kind: str  # "pre_prepare", "prepare", "commit" or "new_view"
    validator: bytes
    height: int
    view: int
    first: Message
    second: Message


@dataclass(frozen=True, slots=True)
class ReportEvidence:
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class FetchProposal:
    message: CompactPrePrepare


Effect = (
    Persist
    | Send
    | Broadcast
    | Commit
    | CatchUp
    | ForwardTransactions
    | ReportEvidence
    | FetchProposal
)

METRIC_NAMES = (
    "messages_received",
    "dropped_malformed",
    "dropped_unknown_sender",
    "dropped_bad_signature",
    "dropped_old_height",
    "dropped_future_height",
    "dropped_wrong_view",
    "dropped_wrong_primary",
    "dropped_invalid_block",
    "dropped_duplicate",
    "dropped_own_key",
    "dropped_buffer_full",
    "proposals_announced",  # compact PRE-PREPAREs whose transactions were fetched
    "blocks_committed",
    "blocks_synced",
    "view_changes",
    # what started each view change of this replica's own (the rest were followed)
    "view_changes_timeout",
    "view_changes_complaints",
    "view_changes_equivocation",
    "view_changes_followed",
    "new_views",
    "complaints_sent",
    "resends",
    "catch_ups",
    "evidence",
)


class Replica:
    """One validator's consensus state machine. See the module docstring for the API."""

    def __init__(
        self,
        config: ReplicaConfig,
        key: PrivateKey,
        app: ConsensusApp,
        persisted_state: PersistedState | None = None,
    ) -> None:
        self.config = config
        self.key = key
        self.public_key = key.public_key
        self.app = app
        self.metrics: dict[str, int] = dict.fromkeys(METRIC_NAMES, 0)
        self._evidence: list[Evidence] = []
        self._evidence_keys: set[tuple[str, bytes, int, int]] = set()
        self._pending: dict[bytes, float] = {}  # tx hash -> since; insertion order = age order
        self._decisions: dict[int, Decision] = {}
        self._future: list[Message] = []
        # false signatures the last `on_message` found in the message it was given
        # (not in buffered ones its prelude replayed): what the sending peer answers for
        self.last_false_signatures = 0
        self._started = False
        self._now = 0.0
        self._last_catch_up = -1e18
        self._tx_progress_at = -1e18  # when a decided block last held transactions
        # Pending transactions that make a full block (the driver sets it from its
        # block cap): with that many the primary proposes at once instead of waiting
        # `min_block_interval`, which is there to fill a block, not to pace a full one.
        self.full_block: int | None = None
        self._enter_height(app.committed_height() + 1, 0.0)
        if persisted_state is not None and persisted_state.height == self.height:
            self._restore(persisted_state)

    # ----------------------------------------------------------------- inputs

    def on_message(self, message: Message | bytes, now: float) -> list[Effect]:
        """A message from a peer (decoded, or raw wire bytes)."""
        effects: list[Effect] = []
        self._prelude(now, effects)
        self.metrics["messages_received"] += 1
        self.last_false_signatures = 0
        if isinstance(message, bytes | bytearray | memoryview):
            try:
                message = decode_message(bytes(message))
            except CodecError:
                self.metrics["dropped_malformed"] += 1
                return effects
        if not isinstance(message, Message):
            self.metrics["dropped_malformed"] += 1
            return effects
        before = self.metrics["dropped_bad_signature"]
        self._dispatch(message, now, effects)
        # this message's own, not those of buffered messages the prelude replayed
        self.last_false_signatures = self.metrics["dropped_bad_signature"] - before
        return effects

    def on_head(
        self, head: SignedHead | DecisionHead, now: float
    ) -> tuple[str | None, list[Effect]]:
        """What `on_message` would do with the message `head` was read from
        (`messages.message_head`, the block it carries not decoded), when the head
        alone decides it: a signature that is false (FALSE_SIGNATURE), a decision whose
        certificate names another block or height (MALFORMED) or fails (FALSE_SIGNATURE),
        a message for a height this replica has left (or decided) or, for a decision,
        not reached yet (which asks no one for a catch-up). Counted as `on_message`
        counts such a message. None: decode the message
        and hand it to `on_message`. The effects are this call's, applied either way."""
        effects: list[Effect] = []
        self._prelude(now, effects)
        verdict = self._head_verdict(head, now, effects)
        if verdict is not None:
            self.metrics["messages_received"] += 1
        return verdict, effects

    def count_dropped(self, metric: str) -> None:
        """A message the driver dropped undecoded for a reason of its own (a block over
        its node's limits: `dropped_invalid_block`), counted as `on_message` would."""
        self.metrics["messages_received"] += 1
        self.metrics[metric] += 1

    def _head_verdict(
        self, head: SignedHead | DecisionHead, now: float, effects: list[Effect]
    ) -> str | None:
        if isinstance(head, SignedHead):
            if not head.verify(self.config.chain_id):
                self._bad_signature()
                return FALSE_SIGNATURE
            if head.sender != self.public_key and (head.height < self.height or self._decided):
                self.metrics["dropped_old_height"] += 1
                return OLD_HEIGHT
            if head.tag == TAG_PRE_PREPARE and head.height == self.height:
                # as `_on_pre_prepare` and `_screen_proposal` would, before the block
                # it carries is decoded: later views propose through NEW-VIEW
                if head.view != 0 or self.view != 0:
                    self.metrics["dropped_wrong_view"] += 1
                    return WRONG_VIEW
                if head.sender != self.public_key and head.sender != self.primary(self.height, 0):
                    self.metrics["dropped_wrong_primary"] += 1
                    return WRONG_PRIMARY
            return None
        if head.height < self.height or self._decided:
            self.metrics["dropped_old_height"] += 1
            return OLD_HEIGHT
        if head.height > self.height:
            # no catch-up on its word: its certificate is not checked (the validators of
            # that height may not be known yet), and a forgery would name an honest
            # proposer; heights and block sync bring a lagging replica up
            self.metrics["dropped_future_height"] += 1
            return FUTURE_HEIGHT
        certificate = head.certificate
        if certificate.height != head.height or certificate.block_hash != head.block_hash:
            self.metrics["dropped_malformed"] += 1
            return MALFORMED
        if not certificate.verify(self.config.chain_id, self.validators):
            self._bad_signature()
            return FALSE_SIGNATURE
        return None

    def on_timer(self, now: float) -> list[Effect]:
        """Time passed; call when now >= next_deadline() (calling early is harmless)."""
        effects: list[Effect] = []
        self._prelude(now, effects)
        if self._decided or not self._is_validator:
            return effects
        self._restart_timer_after_progress(now)  # progress made by a replayed message
        view_deadline = self._view_deadline()
        if view_deadline is not None and now >= view_deadline:
            self._start_view_change(self.view + 1, now, effects, "timeout")
        propose_at = self._propose_at()
        if propose_at is not None and now >= propose_at:
            self._propose(now, effects)
        self._check_censorship(now, effects)
        if now >= self._last_activity + self.config.resend_interval:
            self._resend(now, effects)
        return effects

    def on_transactions_pending(self, tx_hashes: Iterable[bytes], now: float) -> list[Effect]:
        """These transactions are ready for a block (new ones start their age now).

        A driver learns of transactions asynchronously (the node batches these
        events on a queue behind peer messages and synced blocks), so the event can
        arrive after the block holding a transaction committed, or after the
        transaction was dropped as stale. Each hash is therefore checked against the
        app's pool as it is now, here in the replica rather than in each driver: the
        replica decides on timers and proposals from this set, so it is the one
        place where "a committed hash is never pending" can hold for every driver
        and every event order. (A window of recently committed hashes would only
        shrink the race, and filtering in the driver would leave the simulator
        testing a different guard from the node's.)
        """
        effects: list[Effect] = []
        self._prelude(now, effects)
        is_pending = self.app.is_pending
        for tx_hash in tx_hashes:
            if tx_hash not in self._pending and is_pending(tx_hash):
                self._pending[tx_hash] = now
        self._arm_view_timer(now)
        return effects

    def on_transactions_removed(self, tx_hashes: Iterable[bytes], now: float) -> list[Effect]:
        """These transactions left the mempool without being committed (invalid, expired)."""
        effects: list[Effect] = []
        self._prelude(now, effects)
        for tx_hash in tx_hashes:
            self._pending.pop(tx_hash, None)
        self._disarm_view_timer_when_idle()
        return effects

    def on_block_synced(
        self, block: Block, certificate: CommitCertificate | None, now: float
    ) -> list[Effect]:
        """Block sync applied `block` to the store; move past it."""
        if block.transactions:
            self._tx_progress_at = now
        for stx in block.transactions:
            self._pending.pop(stx.hash, None)
        if certificate is not None:
            self._remember_decision(Decision(block, certificate))
        self.metrics["blocks_synced"] += 1
        effects: list[Effect] = []
        self._prelude(now, effects)
        return effects

    def next_deadline(self) -> float | None:
        """When to call on_timer next (None: only when something arrives)."""
        if not self._started or self._decided:
            return self._now
        if not self._is_validator:
            return None
        deadlines = [self._last_activity + self.config.resend_interval]
        view_deadline = self._view_deadline()
        if view_deadline is not None:
            deadlines.append(view_deadline)
        propose_at = self._propose_at()
        if propose_at is not None:
            deadlines.append(propose_at)
        if self._pending and self._complained != (self.height, self.view):
            oldest = max(next(iter(self._pending.values())), self._tx_progress_at)
            deadlines.append(oldest + self.config.censorship_timeout)
        return min(deadlines)

    def proposal_due(self, now: float) -> bool:
        """Whether `on_timer(now)` would ask the app for a view-0 proposal: a driver
        may build it beforehand (off its event loop) and hand it over in `propose`."""
        propose_at = self._propose_at()
        return (
            propose_at is not None
            and now >= propose_at
            and not self._decided
            and self._is_validator
            and self.app.committed_height() == self.height - 1
        )

    def would_validate(self, message: PrePrepare | CompactPrePrepare | NewView) -> bool:
        """Whether `on_message(message)` would go on to check the block it carries
        (`app.validate`), so that a driver may check it beforehand (off its event loop)
        and spend nothing on the rest: a proposal for the next height from the primary
        of its view, for a view this replica acts on (a PRE-PREPARE for view 0 while in
        view 0; a NEW-VIEW for this view or a later one, justified by a quorum of view
        changes), not a copy or a rival of one already held for that view, and signed
        by its sender. The cheap checks come first, the signatures last.

        It changes no state (beyond noting view-change signatures found valid). False
        is always safe: the replica still screens and validates the message itself; a
        NEW-VIEW for a height the replica has not entered yet gets False."""
        height = self.app.committed_height() + 1
        if message.height != height or (self._decided and height == self.height):
            return False
        chain_id = self.config.chain_id
        if height != self.height:
            # Just committed: the next input enters `height` in view 0 with nothing held.
            if isinstance(message, NewView):
                return False
            validators, view, known = tuple(self.app.validators_at(height)), 0, None
        else:
            validators, view = self.validators, self.view
            known = self._proposal_messages.get(message.view)
            if message.block_hash in self._validation:
                return False  # checked already: the verdict is kept
        if not validators:
            return False
        if message.sender != validators[(height + message.view) % len(validators)]:
            return False
        if isinstance(message, NewView):
            if message.view < view:
                return False
        else:
            if message.view != 0 or view != 0:
                return False  # later views propose through NEW-VIEW
            header = (
                message.header if isinstance(message, CompactPrePrepare) else message.block.header
            )
            if header.proposer != message.sender:
                return False
        if known is not None:
            completes = (
                isinstance(known, CompactPrePrepare)
                and isinstance(message, PrePrepare)
                and known.block_hash == message.block_hash
                and message.view not in self._proposals
            )
            if not completes:
                return False  # a duplicate, or a second proposal (equivocation)
            if known.signature == message.signature:
                return True
        if isinstance(message, NewView):
            return message.verify_signature(chain_id) and self._new_view_is_justified(message)
        return message.verify(chain_id)

    # ------------------------------------------------------------- read side

    def primary(self, height: int | None = None, view: int | None = None) -> bytes | None:
        """The primary of (height, view); defaults to the current ones."""
        if height is None or height == self.height:
            validators = self.validators
        else:
            validators = self.app.validators_at(height)
        if not validators:
            return None
        view = self.view if view is None else view
        height = self.height if height is None else height
        return validators[(height + view) % len(validators)]

    def evidence(self) -> tuple[Evidence, ...]:
        return tuple(self._evidence)

    def status(self) -> dict[str, Any]:
        return {
            "height": self.height,
            "view": self.view,
            "in_view_change": self.in_view_change,
            "primary": self.primary(),
            "is_validator": self._is_validator,
            "pending": len(self._pending),
        }

    def log_size(self) -> int:
        """How many messages and blocks the replica holds: bounded whatever the run length."""
        return (
            sum(len(votes) for votes in self._prepares.values())
            + sum(len(votes) for votes in self._commits.values())
            + sum(len(votes) for votes in self._complaints.values())
            + len(self._view_changes)
            + len(self._proposal_messages)
            + len(self._blocks)
            + len(self._future)
            + len(self._decisions)
            + len(self._evidence)
        )

    def persisted_state(self) -> PersistedState:
        """What a Persist effect would carry now."""
        blocks: list[Block] = []
        for block in (self._voted_block, self._prepared_block):
            if block is not None and all(block.hash != known.hash for known in blocks):
                blocks.append(block)
        return PersistedState(
            height=self.height,
            view=self.view,
            in_view_change=self.in_view_change,
            prepare_vote=self._prepare_vote,
            commit_vote=self._commit_vote,
            prepared=self._prepared,
            blocks=tuple(blocks),
        )

    # ------------------------------------------------------- height and view

    def _enter_height(self, height: int, now: float) -> None:
        """Drop everything about the old height; messages buffered for this one are replayed."""
        self.height = height
        self.validators: tuple[bytes, ...] = tuple(self.app.validators_at(height))
        self._members = frozenset(self.validators)
        self._is_validator = self.public_key in self._members
        count = len(self.validators)
        self.f = max_faulty(count) if count else 0
        self.quorum = quorum_size(count) if count else 1
        self.view = 0
        self.in_view_change = False
        self._decided = False
        self._height_started = now
        self._last_activity = now
        self._timer_since: float | None = None
        self._progress_at: float | None = None
        self._proposal_messages: dict[int, PrePrepare | CompactPrePrepare | NewView] = {}
        self._proposals: dict[int, Block] = {}
        self._blocks: dict[bytes, Block] = {}
        self._validation: dict[bytes, str | None] = {}
        self._prepares: dict[int, dict[bytes, PrepareVote]] = {}
        self._commits: dict[int, dict[bytes, CommitVote]] = {}
        self._view_changes: dict[bytes, ViewChange] = {}
        self._verified_view_changes: set[bytes] = set()
        self._complaints: dict[int, dict[bytes, Complaint]] = {}
        self._complained: tuple[int, int] = (-1, -1)
        self._new_view_sent: NewView | None = None
        self._prepare_vote: tuple[int, bytes] | None = None
        self._commit_vote: tuple[int, bytes] | None = None
        self._voted_block: Block | None = None
        self._prepared: PreparedCertificate | None = None
        self._prepared_block: Block | None = None
        self._helped: dict[bytes, float] = {}
        replay = [message for message in self._future if message.height == height]
        self._future = []
        self._replay = replay

    def _restore(self, state: PersistedState) -> None:
        """Resume the votes of a crashed run at the same height, so none is contradicted."""
        self.view = state.view
        self.in_view_change = state.in_view_change
        self._prepare_vote = state.prepare_vote
        self._commit_vote = state.commit_vote
        self._prepared = state.prepared
        for block in state.blocks:
            self._blocks[block.hash] = block
            self._validation[block.hash] = None  # this replica voted for it after validating
        if self._prepare_vote is not None:
            self._voted_block = self._blocks.get(self._prepare_vote[1])
            if self._prepare_vote[0] == self.view and self._voted_block is not None:
                self._proposals[self.view] = self._voted_block
        if self._prepared is not None:
            self._prepared_block = self._blocks.get(self._prepared.block_hash)
        chain_id = self.config.chain_id
        if self._prepare_vote is not None and self._prepare_vote[0] == self.view:
            self._prepares[self.view] = {
                self.public_key: PrepareVote.create(
                    self.key, chain_id, self.height, *self._prepare_vote
                )
            }
        if self._commit_vote is not None:
            self._commits[self._commit_vote[0]] = {
                self.public_key: CommitVote.create(
                    self.key, chain_id, self.height, *self._commit_vote
                )
            }
        if self.in_view_change:
            self._view_changes[self.public_key] = self._my_view_change()

    def _prelude(self, now: float, effects: list[Effect]) -> None:
        """Per call: note the time, follow the store if it moved, replay buffered messages."""
        self._now = now
        if not self._started:
            self._started = True
            self._height_started = now
            self._last_activity = now
        committed = self.app.committed_height()
        if committed >= self.height:
            self._enter_height(committed + 1, now)
            self._drop_settled_pending()
        self._restart_timer_after_progress(now)
        while self._replay and not self._decided:
            message = self._replay.pop(0)
            self._dispatch(message, now, effects)
        self._arm_view_timer(now)

    def _drop_settled_pending(self) -> None:
        """At a new height, forget pending hashes the app no longer holds.

        Committed transactions were already dropped when their block was decided or
        synced; this also covers a transaction the app dropped without the driver
        telling us (a lost or late removal event), so such a hash can keep neither a
        view timer nor a complaint alive past one height."""
        if self._pending:
            is_pending = self.app.is_pending
            self._pending = {h: t for h, t in self._pending.items() if is_pending(h)}

    def _something_to_decide(self) -> bool:
        """Whether this height has work that a silent primary could be blocking.

        PREPAREs count only from f+1 validators (one of them honest, so a proposal
        exists): a single faulty validator's stray vote must not start everyone's
        view timer on an idle chain, which would end in a view change and an empty
        NEW-VIEW block."""
        return (
            self.config.empty_block_interval is not None
            or bool(self._pending)
            or bool(self._proposals)
            or any(len(votes) > self.f for votes in self._prepares.values())
        )

    def _disarm_view_timer_when_idle(self) -> None:
        """Pending transactions went away and nothing else is under way: stop the
        view timer armed for them, or it would expire into a needless view change."""
        if not self.in_view_change and not self._something_to_decide():
            self._timer_since = None

    def _arm_view_timer(self, now: float) -> None:
        """The view timer runs only while there is something to decide.

        During a view change it starts only once a quorum of validators is at this
        view or beyond (as in PBFT): otherwise a replica that moved ahead alone
        would keep moving ahead and, with capped timeouts, might never meet the
        others in one view.
        """
        if self._timer_since is not None or not self._is_validator:
            return
        if self.in_view_change:
            at_or_beyond = sum(
                1 for change in self._view_changes.values() if change.view >= self.view
            )
            if at_or_beyond >= self.quorum:
                self._timer_since = now
            return
        if self._something_to_decide():
            self._timer_since = now

    def _note_progress(self, now: float) -> None:
        """This view moved on (a valid proposal accepted, or prepared): its timer will
        restart at the next input, whose time the driver reads after this step's work.

        Validating a big block takes real time that `now` (read before it) does not
        show; restarting from the next call's clock means a replica that is busy
        validating a valid proposal is not pushed into a view change by its own timer.
        Each phase restarts it at most once per view, so a stalled view still times
        out within a few timeouts."""
        if self._timer_since is not None and not self.in_view_change:
            self._progress_at = now

    def _restart_timer_after_progress(self, now: float) -> None:
        if self._progress_at is not None:
            self._progress_at = None
            if self._timer_since is not None and not self.in_view_change:
                self._timer_since = now

    def _timeout(self, view: int) -> float:
        doubled = self.config.base_timeout * (1 << min(view, MAX_TIMEOUT_DOUBLINGS))
        return min(doubled, self.config.max_timeout)

    def _view_deadline(self) -> float | None:
        if self._timer_since is None:
            return None
        if self._progress_at is not None:
            return self._progress_at  # due at once: the restart, never an expiry
        budget = self._timeout(self.view)
        if self.view == 0 and self.config.empty_block_interval is not None:
            budget += self.config.empty_block_interval  # the primary may wait that long
        return self._timer_since + budget

    def _propose_at(self) -> float | None:
        if (
            self.view != 0
            or self.in_view_change
            or 0 in self._proposals
            or self._prepare_vote is not None
            or self.primary() != self.public_key
        ):
            return None
        start = self._height_started + self.config.min_block_interval
        if self._pending:
            if self.full_block is not None and len(self._pending) >= self.full_block:
                return self._height_started
            # The interval gives a block time to fill: transactions that already
            # waited that long (under load, through the previous height) gave it that
            # time, and waiting again would only add it to their latency.
            oldest = next(iter(self._pending.values()))
            return max(self._height_started, min(start, oldest + self.config.min_block_interval))
        if self.config.empty_block_interval is not None:
            return max(start, self._height_started + self.config.empty_block_interval)
        return None

    def _start_view_change(self, view: int, now: float, effects: list[Effect], cause: str) -> None:
        self.view = view
        self.in_view_change = True
        self._timer_since = None
        self._progress_at = None
        self._last_activity = now
        self.metrics["view_changes"] += 1
        self.metrics["view_changes_" + cause] += 1
        for old in [v for v in self._prepares if v < view]:
            del self._prepares[old]
        for old in [v for v in self._commits if v < view - MAX_VIEW_AHEAD]:
            del self._commits[old]
        for old in [v for v in self._complaints if v < view]:
            del self._complaints[old]
        if not self._is_validator:
            return
        change = self._my_view_change()
        effects.append(Persist(self.persisted_state()))
        effects.append(Broadcast(change))
        self._view_changes[self.public_key] = change
        self._arm_view_timer(now)
        self._check_new_view(now, effects)

    def _my_view_change(self) -> ViewChange:
        block = None if self._prepared is None else self._prepared_block
        return ViewChange.create(
            self.key, self.config.chain_id, self.height, self.view, self._prepared, block
        )

    # -------------------------------------------------------------- dispatch

    def _dispatch(self, message: Message, now: float, effects: list[Effect]) -> None:
        if not carried_block_matches(message):
            self.metrics["dropped_malformed"] += 1
            return
        if isinstance(message, Decision):
            self._on_decision(message, now, effects)
            return
        if message.sender == self.public_key:
            self.metrics["dropped_own_key"] += 1
            return
        if isinstance(message, Status):
            self._on_status(message, now, effects)
            return
        if message.height < self.height or self._decided:
            self.metrics["dropped_old_height"] += 1
            return
        if message.height == self.height + 1:
            # Checked before it is kept, so a forgery is counted now, against the peer
            # that sent it, and takes no room from honest messages; and each sender
            # keeps at most its share of the room, so one cannot fill it for all.
            sender = message.sender
            if (
                sum(1 for kept in self._future if getattr(kept, "sender", b"") == sender)
                >= max(MIN_FUTURE_PER_SENDER, self.config.max_future_messages // 8)
                or len(self._future) >= self.config.max_future_messages
            ):
                self.metrics["dropped_buffer_full"] += 1
            elif not _signed_by_sender(message, self.config.chain_id):
                self._bad_signature()
            else:
                self._future.append(message)
            return
        if message.height > self.height:
            self.metrics["dropped_future_height"] += 1
            # only a sender's own word: a forgery naming an honest validator would have
            # this replica ask that validator for blocks it may not have yet
            if _signed_by_sender(message, self.config.chain_id):
                self._catch_up(message.sender, now, effects)
            else:
                self._bad_signature()
            return
        if message.sender not in self._members:
            self.metrics["dropped_unknown_sender"] += 1
            return
        if isinstance(message, PrePrepare):
            self._on_pre_prepare(message, now, effects)
        elif isinstance(message, CompactPrePrepare):
            self._on_compact_pre_prepare(message, now, effects)
        elif isinstance(message, PrepareVote):
            self._on_prepare(message, now, effects)
        elif isinstance(message, CommitVote):
            self._on_commit(message, now, effects)
        elif isinstance(message, ViewChange):
            self._on_view_change(message, now, effects)
        elif isinstance(message, NewView):
            self._on_new_view(message, now, effects)
        else:
            self._on_complaint(message, now, effects)

    def _bad_signature(self) -> None:
        self.metrics["dropped_bad_signature"] += 1

    def _catch_up(self, peer: bytes, now: float, effects: list[Effect]) -> None:
        if now < self._last_catch_up + self.config.resend_interval:
            return
        self._last_catch_up = now
        self.metrics["catch_ups"] += 1
        effects.append(CatchUp(peer, self.height))

    # ---------------------------------------------------------- normal case

    def _validate(self, block: Block, sender_height: int) -> bool:
        if block.height != sender_height:
            return False
        verdict = self._validation.get(block.hash, "")
        if verdict == "":
            verdict = self.app.validate(block)
            self._validation[block.hash] = verdict
        return verdict is None

    def _screen_proposal(
        self,
        kind: str,
        message: PrePrepare | CompactPrePrepare | NewView,
        signature_ok: Callable[[], bool],
        now: float,
        effects: list[Effect],
    ) -> bool:
        """Checks a PRE-PREPARE and a NEW-VIEW share: right primary, not a duplicate, a
        valid signature, and not a second proposal for the view (kept as evidence, and
        a reason to leave the view). True when the message may be considered further.

        The full PRE-PREPARE of a proposal announced in compact form is no duplicate:
        it completes the announcement (and carries the signature already checked)."""
        view = message.view
        if message.sender != self.primary(self.height, view):
            self.metrics["dropped_wrong_primary"] += 1
            return False
        known = self._proposal_messages.get(view)
        completes = (
            isinstance(known, CompactPrePrepare)
            and isinstance(message, PrePrepare)
            and known.block_hash == message.block_hash
            and view not in self._proposals
        )
        if completes:
            assert known is not None
            if known.signature == message.signature or signature_ok():
                return True
            self._bad_signature()
            return False
        if known is not None and known.block_hash == message.block_hash:
            self.metrics["dropped_duplicate"] += 1
            if isinstance(known, CompactPrePrepare) and view not in self._proposals:
                effects.append(FetchProposal(known))  # a resend: the gathering may have failed
            return False
        if not signature_ok():  # only now: the checks above are cheaper
            self._bad_signature()
            return False
        if known is not None:
            self._record_evidence(kind, known, message, effects)
            if view == self.view and not self.in_view_change:
                self._start_view_change(view + 1, now, effects, "equivocation")
            return False
        return True

    def _on_pre_prepare(self, message: PrePrepare, now: float, effects: list[Effect]) -> None:
        view = message.view
        if view != 0 or self.view != 0:
            self.metrics["dropped_wrong_view"] += 1  # later views propose through NEW-VIEW
            return
        if not self._screen_proposal(
            "pre_prepare", message, lambda: message.verify(self.config.chain_id), now, effects
        ):
            return
        self._proposal_messages[view] = message
        block = message.block
        if block.header.proposer != message.sender or not self._validate(block, self.height):
            self.metrics["dropped_invalid_block"] += 1
            return
        self._accept_proposal(view, block, now, effects)

    def _on_compact_pre_prepare(
        self, message: CompactPrePrepare, now: float, effects: list[Effect]
    ) -> None:
        """A proposal whose transactions the driver has still to gather: no vote yet."""
        view = message.view
        if view != 0 or self.view != 0:
            self.metrics["dropped_wrong_view"] += 1
            return
        if not self._screen_proposal(
            "pre_prepare", message, lambda: message.verify(self.config.chain_id), now, effects
        ):
            return
        self._proposal_messages[view] = message
        if message.header.proposer != message.sender:
            self.metrics["dropped_invalid_block"] += 1
            return
        self.metrics["proposals_announced"] += 1
        self._arm_view_timer(now)
        self._note_progress(now)  # a signed proposal is progress: once, as for each phase
        effects.append(FetchProposal(message))

    def _accept_proposal(self, view: int, block: Block, now: float, effects: list[Effect]) -> None:
        self._proposals[view] = block
        self._blocks[block.hash] = block
        self._arm_view_timer(now)
        if view == self.view and not self.in_view_change:
            self._note_progress(now)
            self._vote_prepare(view, block, now, effects)
        self._check_prepared(view, now, effects)
        for commit_view in sorted(self._commits):
            self._check_committed(commit_view, block.hash, now, effects)

    def _vote_prepare(self, view: int, block: Block, now: float, effects: list[Effect]) -> None:
        if not self._is_validator:
            return
        if self._prepare_vote is not None and self._prepare_vote[0] >= view:
            if self._prepare_vote != (view, block.hash):
                return  # never two different prepares in one view
            if self.public_key in self._prepares.get(view, {}):
                return
        else:
            self._prepare_vote = (view, block.hash)
            self._voted_block = block
            effects.append(Persist(self.persisted_state()))
        vote = PrepareVote.create(self.key, self.config.chain_id, self.height, view, block.hash)
        effects.append(Broadcast(vote))
        self._last_activity = now
        self._prepares.setdefault(view, {})[self.public_key] = vote

    def _on_prepare(self, message: PrepareVote, now: float, effects: list[Effect]) -> None:
        view = message.view
        if view < self.view or view > self.view + MAX_VIEW_AHEAD:
            self.metrics["dropped_wrong_view"] += 1
            return
        votes = self._prepares.setdefault(view, {})
        known = votes.get(message.sender)
        if known is not None and known.block_hash == message.block_hash:
            self.metrics["dropped_duplicate"] += 1
            return
        if not message.verify(self.config.chain_id):
            self._bad_signature()
            return
        if known is not None:
            self._record_evidence("prepare", known, message, effects)
            return
        votes[message.sender] = message
        self._arm_view_timer(now)
        self._check_prepared(view, now, effects)

    def _check_prepared(self, view: int, now: float, effects: list[Effect]) -> None:
        if view != self.view or self.in_view_change or not self._is_validator:
            return
        block = self._proposals.get(view)
        if block is None or self._prepare_vote != (view, block.hash):
            return
        if self._commit_vote is not None and self._commit_vote[0] >= view:
            return
        votes = {
            sender: vote.signature
            for sender, vote in self._prepares.get(view, {}).items()
            if vote.block_hash == block.hash
        }
        if len(votes) < self.quorum:
            return
        self._prepared = PreparedCertificate.build(self.height, view, block.hash, votes)
        self._prepared_block = block
        self._commit_vote = (view, block.hash)
        effects.append(Persist(self.persisted_state()))
        vote = CommitVote.create(self.key, self.config.chain_id, self.height, view, block.hash)
        effects.append(Broadcast(vote))
        self._last_activity = now
        self._commits.setdefault(view, {})[self.public_key] = vote
        self._note_progress(now)
        self._check_committed(view, block.hash, now, effects)

    def _on_commit(self, message: CommitVote, now: float, effects: list[Effect]) -> None:
        view = message.view
        if view < self.view - MAX_VIEW_AHEAD or view > self.view + MAX_VIEW_AHEAD:
            self.metrics["dropped_wrong_view"] += 1
            return
        votes = self._commits.setdefault(view, {})
        known = votes.get(message.sender)
        if known is not None and known.block_hash == message.block_hash:
            self.metrics["dropped_duplicate"] += 1
            return
        if not message.verify(self.config.chain_id):
            self._bad_signature()
            return
        if known is not None:
            self._record_evidence("commit", known, message, effects)
            return
        votes[message.sender] = message
        self._check_committed(view, message.block_hash, now, effects)

    def _check_committed(
        self, view: int, block_hash: bytes, now: float, effects: list[Effect]
    ) -> None:
        """A quorum of commit votes in any view decides, once the block itself is known."""
        if self._decided:
            return
        votes = {
            sender: vote.signature
            for sender, vote in self._commits.get(view, {}).items()
            if vote.block_hash == block_hash
        }
        if len(votes) < self.quorum:
            return
        block = self._blocks.get(block_hash)
        if block is None:
            return  # decided without the block: a peer's DECISION will bring it
        certificate = CommitCertificate.build(self.height, view, block_hash, votes)
        self._decide(block, certificate, effects)

    def _decide(self, block: Block, certificate: CommitCertificate, effects: list[Effect]) -> None:
        effects.append(Commit(block, certificate))
        self._decided = True
        self.metrics["blocks_committed"] += 1
        if block.transactions:
            self._tx_progress_at = self._now
        for stx in block.transactions:
            self._pending.pop(stx.hash, None)
        self._remember_decision(Decision(block, certificate))

    def _remember_decision(self, decision: Decision) -> None:
        self._decisions[decision.height] = decision
        while len(self._decisions) > self.config.decisions_kept:
            del self._decisions[min(self._decisions)]

    def _propose(self, now: float, effects: list[Effect]) -> None:
        if self.app.committed_height() != self.height - 1:
            return
        block = self.app.propose(self.height, self.view, int(now * 1000))
        message = PrePrepare.create(self.key, self.config.chain_id, self.height, self.view, block)
        self._proposal_messages[self.view] = message
        self._validation[block.hash] = None  # built by this replica's own app
        self._vote_prepare_first(message, effects)
        self._accept_proposal(self.view, block, now, effects)

    def _vote_prepare_first(self, message: PrePrepare | NewView, effects: list[Effect]) -> None:
        """A primary persists its vote before revealing its proposal."""
        self._prepare_vote = (message.view, message.block.hash)
        self._voted_block = message.block
        effects.append(Persist(self.persisted_state()))
        effects.append(Broadcast(message))

    # ----------------------------------------------------------- view change

    def _on_view_change(self, message: ViewChange, now: float, effects: list[Effect]) -> None:
        if message.view < self.view:
            self.metrics["dropped_wrong_view"] += 1
            return
        known = self._view_changes.get(message.sender)
        if known is not None and known.view >= message.view:
            self.metrics["dropped_duplicate"] += 1
            if message.view == self.view and not self.in_view_change:
                self._help_new_view(message.sender, effects)
            return
        if message.prepared is not None and message.block is None:
            self.metrics["dropped_malformed"] += 1  # the new primary would lack the block
            return
        if not message.verify(self.config.chain_id, self.validators):
            self._bad_signature()
            return
        self._view_changes[message.sender] = message
        self._verified_view_changes.add(message.signature)
        if message.block is not None:
            self._blocks.setdefault(message.block.hash, message.block)
        if message.view == self.view and not self.in_view_change:
            self._help_new_view(message.sender, effects)
            return
        self._check_view_change_jump(now, effects)
        self._arm_view_timer(now)
        self._check_new_view(now, effects)

    def _help_new_view(self, sender: bytes, effects: list[Effect]) -> None:
        """A validator still asks for the view this primary already started: re-send it."""
        if self._new_view_sent is not None and self._new_view_sent.view == self.view:
            effects.append(Send(sender, self._new_view_sent))

    def _check_view_change_jump(self, now: float, effects: list[Effect]) -> None:
        """f+1 validators want a higher view: at least one is honest, so follow them."""
        if not self._is_validator:
            return
        ahead = sorted(
            (change.view for change in self._view_changes.values() if change.view > self.view),
            reverse=True,
        )
        if len(ahead) >= self.f + 1:
            self._start_view_change(ahead[self.f], now, effects, "followed")

    def _check_new_view(self, now: float, effects: list[Effect]) -> None:
        if (
            not self.in_view_change
            or not self._is_validator
            or self.primary() != self.public_key
            or (self._new_view_sent is not None and self._new_view_sent.view == self.view)
        ):
            return
        changes = sorted(
            (change for change in self._view_changes.values() if change.view == self.view),
            key=lambda change: change.sender,
        )
        if len(changes) < self.quorum:
            return
        best = _highest_prepared(changes)
        voted = self._prepare_vote
        if voted is not None and voted[0] == self.view:
            # Restarted after sending NEW-VIEW: only the block already voted for may go
            # out again, or this honest primary would equivocate.
            if best is not None and best.block_hash != voted[1]:
                return
            block = self._blocks.get(voted[1])
            if block is None:
                return
        elif best is not None:
            block = self._blocks.get(best.block_hash)
            if block is None:
                return
        else:
            if self.app.committed_height() != self.height - 1:
                return
            block = self.app.propose(self.height, self.view, int(now * 1000))
            self._validation[block.hash] = None
        message = NewView.create(
            self.key, self.config.chain_id, self.height, self.view, changes, block
        )
        self._new_view_sent = message
        self.metrics["new_views"] += 1
        self._enter_new_view(message, now)
        self._vote_prepare_first(message, effects)
        self._accept_proposal(self.view, block, now, effects)

    def _enter_new_view(self, message: NewView, now: float) -> None:
        self.view = message.view
        self.in_view_change = False
        self._timer_since = now
        self._last_activity = now
        self._proposal_messages[message.view] = message
        for old in [v for v in self._prepares if v < message.view]:
            del self._prepares[old]
        for sender in [s for s, change in self._view_changes.items() if change.view < self.view]:
            del self._view_changes[sender]

    def _on_new_view(self, message: NewView, now: float, effects: list[Effect]) -> None:
        view = message.view
        if view < self.view:
            self.metrics["dropped_wrong_view"] += 1
            return
        if not self._screen_proposal(
            "new_view",
            message,
            lambda: message.verify_signature(self.config.chain_id),
            now,
            effects,
        ):
            return
        if not self._new_view_is_justified(message):
            self.metrics["dropped_invalid_block"] += 1
            return
        if not self._validate(message.block, self.height):
            self.metrics["dropped_invalid_block"] += 1
            return
        self._enter_new_view(message, now)
        self._accept_proposal(view, message.block, now, effects)

    def _new_view_is_justified(self, message: NewView) -> bool:
        """A quorum of valid view changes for this view, and the block they force (if any)."""
        senders: set[bytes] = set()
        for change in message.view_changes:
            if (
                change.height != self.height
                or change.view != message.view
                or change.sender not in self._members
                or change.sender in senders
            ):
                return False
            if change.signature not in self._verified_view_changes:
                if not change.verify(self.config.chain_id, self.validators):
                    return False
                self._verified_view_changes.add(change.signature)
            senders.add(change.sender)
        if len(senders) < self.quorum:
            return False
        best = _highest_prepared(message.view_changes)
        if best is not None:
            return message.block.hash == best.block_hash
        return message.block.header.proposer == message.sender

    # ------------------------------------------------- complaints and status

    def _check_censorship(self, now: float, effects: list[Effect]) -> None:
        if not self._pending or self._complained == (self.height, self.view):
            return
        bound = self.config.censorship_timeout
        progress = self._tx_progress_at
        if now < max(next(iter(self._pending.values())), progress) + bound:
            return
        overdue: list[bytes] = []
        for tx_hash, since in self._pending.items():
            if now < max(since, progress) + bound or len(overdue) >= MAX_FORWARDED:
                break
            overdue.append(tx_hash)
        for tx_hash in overdue:  # restart their clocks: one complaint per bound
            del self._pending[tx_hash]
            self._pending[tx_hash] = now
        primary = self.primary()
        if primary is None or primary == self.public_key:
            return
        self._complained = (self.height, self.view)
        effects.append(ForwardTransactions(primary, tuple(overdue)))
        complaint = Complaint.create(self.key, self.config.chain_id, self.height, self.view)
        effects.append(Broadcast(complaint))
        self.metrics["complaints_sent"] += 1
        self._complaints.setdefault(self.view, {})[self.public_key] = complaint
        self._check_complaints(now, effects)

    def _on_complaint(self, message: Complaint, now: float, effects: list[Effect]) -> None:
        if message.view != self.view:
            self.metrics["dropped_wrong_view"] += 1
            return
        votes = self._complaints.setdefault(message.view, {})
        if message.sender in votes:
            self.metrics["dropped_duplicate"] += 1
            return
        if not message.verify(self.config.chain_id):
            self._bad_signature()
            return
        votes[message.sender] = message
        self._check_complaints(now, effects)

    def _check_complaints(self, now: float, effects: list[Effect]) -> None:
        if self.in_view_change or not self._is_validator:
            return
        if len(self._complaints.get(self.view, {})) >= self.f + 1:
            self._start_view_change(self.view + 1, now, effects, "complaints")

    def _on_status(self, message: Status, now: float, effects: list[Effect]) -> None:
        if message.height > self.height:
            if now < self._last_catch_up + self.config.resend_interval:
                return  # a catch-up was asked for just now: no signature check either
            if not message.verify(self.config.chain_id):
                self._bad_signature()  # a forgery naming another validator: see _dispatch
                return
            self._catch_up(message.sender, now, effects)
            return
        if message.height == self.height:
            return
        validators = self.app.validators_at(message.height)
        if message.sender not in validators and message.sender not in self._members:
            self.metrics["dropped_unknown_sender"] += 1
            return
        if now < self._helped.get(message.sender, -1e18) + self.config.resend_interval / 2:
            self.metrics["dropped_duplicate"] += 1
            return
        if not message.verify(self.config.chain_id):
            self._bad_signature()
            return
        self._helped[message.sender] = now
        decision = self._decisions.get(message.height)
        if decision is not None:
            effects.append(Send(message.sender, decision))
        else:
            mine = Status.create(self.key, self.config.chain_id, self.height, self.view)
            effects.append(Send(message.sender, mine))

    def _on_decision(self, message: Decision, now: float, effects: list[Effect]) -> None:
        if message.height < self.height or self._decided:
            self.metrics["dropped_old_height"] += 1
            return
        if message.height > self.height:
            self.metrics["dropped_future_height"] += 1
            self._catch_up(message.block.header.proposer, now, effects)
            return
        certificate = message.certificate
        if certificate.height != self.height or certificate.block_hash != message.block.hash:
            self.metrics["dropped_malformed"] += 1
            return
        if not certificate.verify(self.config.chain_id, self.validators):
            self._bad_signature()
            return
        self._decide(message.block, certificate, effects)

    def _resend(self, now: float, effects: list[Effect]) -> None:
        """Stuck for a while: say everything again (messages may have been lost)."""
        self._last_activity = now
        self.metrics["resends"] += 1
        chain_id = self.config.chain_id
        if self.in_view_change:
            change = self._view_changes.get(self.public_key)
            if change is not None:
                effects.append(Broadcast(change))
        else:
            proposal = self._proposal_messages.get(self.view)
            if proposal is not None and proposal.sender == self.public_key:
                effects.append(Broadcast(proposal))
            elif (
                self.view == 0
                and self.primary() == self.public_key
                and self._voted_block is not None
                and self._prepare_vote == (0, self._voted_block.hash)
            ):  # restarted primary: its persisted proposal, signed again (same bytes)
                message = PrePrepare.create(self.key, chain_id, self.height, 0, self._voted_block)
                self._proposal_messages[0] = message
                effects.append(Broadcast(message))
            if self._prepare_vote is not None and self._prepare_vote[0] == self.view:
                effects.append(
                    Broadcast(
                        PrepareVote.create(self.key, chain_id, self.height, *self._prepare_vote)
                    )
                )
            if self._commit_vote is not None and self._commit_vote[0] == self.view:
                effects.append(
                    Broadcast(
                        CommitVote.create(self.key, chain_id, self.height, *self._commit_vote)
                    )
                )
        effects.append(Broadcast(Status.create(self.key, chain_id, self.height, self.view)))

    # -------------------------------------------------------------- evidence

    def _record_evidence(
        self, kind: str, first: Message, second: Message, effects: list[Effect]
    ) -> None:
        sender = getattr(first, "sender", b"")
        view = getattr(first, "view", 0)
        key = (kind, sender, first.height, view)
        if key in self._evidence_keys or len(self._evidence) >= self.config.max_evidence:
            return
        self._evidence_keys.add(key)
        evidence = Evidence(kind, sender, first.height, view, first, second)
        self._evidence.append(evidence)
        self.metrics["evidence"] += 1
        effects.append(ReportEvidence(evidence))


def _signed_by_sender(message: Message, chain_id: str) -> bool:
    """The sender's own signature over a message, alone: a certificate or block it
    carries is checked when the message is handled."""
    if isinstance(message, ViewChange | NewView):
        return message.verify_signature(chain_id)
    if isinstance(message, PrePrepare | CompactPrePrepare | PrepareVote | CommitVote | Complaint):
        return message.verify(chain_id)
    return False


def _highest_prepared(changes: Iterable[ViewChange]) -> PreparedCertificate | None:
    """The prepared certificate of the highest view (ties broken by hash, deterministically)."""
    best: PreparedCertificate | None = None
    for change in changes:
        prepared = change.prepared
        if prepared is None:
            continue
        if best is None or (prepared.view, prepared.block_hash) > (best.view, best.block_hash):
            best = prepared
    return best
