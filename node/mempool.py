"""The pool of verified transactions waiting for a block.

Transactions arrive already decoded and signature-checked (the node verifies in
a thread pool before calling `add`) and authorized: `authorization_refusal` asks
the account policy of the committed state whether the signers may send the
transaction, so a partially signed one (`insufficient_signatures`) never waits
here for signatures that may never come. The pool keeps them by hash (dedup), by
sender and nonce (so a block takes each sender's transactions in nonce order
without gaps, the oldest admitted first), and enforces caps on count, bytes and
per-sender backlog so a flood cannot exhaust memory. After every commit `recheck`
drops what the block included and anything whose nonce the chain has moved past.

The count it admits is sized in seconds of measured throughput, not a fixed
number: the node reports each commit (`note_committed`), and the admit limit is
`backlog_ms` of the rate at which blocks drain the pool while it holds work (see
`committed_rate`), between `floor_txs` and the hard cap `max_txs`. The pool also
holds the block being decided, so under overload a pool of 0.6 s is about one
full block deciding and the start of the next: by Little's law an admitted
transaction waits about that long before its block is cut, so the window sets
the latency of what is admitted, while the floor of one full block keeps
proposals full (docs/node.md, Admission, has the measured trade-off).
Every validator admits its own clients' transactions and gossips them to the
others, so the limit is the network's, not each node's: a node counts what its
peers sent but did not get admitted yet (`incoming`), and holds its own clients
to its share of the limit (`local_limit`): the fraction of the pool's recent
admissions that came through it, at least 1/N of N validators, plus a quarter
for a share that is growing. Without that, after each commit every node saw the
same room and filled it, and the pools held up to N times the limit (seconds
more of waiting for what they admitted).
The excess is refused at once (`check`, before any signature is verified) with a
retry time of about half the backlog, when there is room again and before the
pool runs dry. One sender may hold only a share of the limit, so a single
flooding account cannot lock everyone else out.
A transaction behind a nonce gap (its sender's earlier nonce is neither committed
nor pending) is kept apart: no block can take it, so it takes none of the limit's
room, and clients may add such transactions only up to `gap_share_percent` of the
limit, all senders together (`nonce_gap_full` beyond). Keys cost nothing to make:
without this, a few fresh accounts each sending nonces 1 to 500 (never 0) filled the
pool for everyone until the gap timeout evicted them, and did it again.
Which transactions wait behind a gap is kept as transactions come and go, and found
again for a block's senders after each commit (the only time committed nonces move):
admission, the metrics, readiness and the eviction of what waited too long all read it,
none walks the pool.

The pool is plain synchronous code owned by the node's event loop; nothing here
blocks or awaits.
"""

from __future__ import annotations

import heapq
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable

from ledger.errors import CodecError, InvalidTransaction
from ledger.execution import Application, BlockInfo, Context, authorize
from ledger.kv import KVReader
from ledger.state import StateView
from ledger.tx import SignedTransaction
from node.home import MempoolLimits

ACCEPTED = "accepted"
DUPLICATE = "duplicate"
MEMPOOL_FULL = "mempool_full"
SENDER_FULL = "sender_backlog_full"
NONCE_REUSED = "nonce_reused"
NONCE_TAKEN = "nonce_taken"  # another pending tx from the sender already uses this nonce
GAP_FULL = "nonce_gap_full"  # the share of the pool for transactions behind a gap is full
# the pool takes at least this many transactions behind a gap from clients, whatever
# its limit: a client's next nonce may reach one node before the one it follows does
MIN_GAP_TXS = 16
RATE_WINDOW_SECONDS = 10.0  # the committed rate is measured over this much recent time
# the share of recent admissions that came from this node's clients is counted over
# about this many admissions (both counts halve when the total reaches it)
SHARE_WINDOW = 20_000
SHARE_GROWTH = (5, 4)  # a node may hold 5/4 of its measured share: room for it to grow
MAX_RETRY_AFTER_SECONDS = 30
# a refused client is not asked back sooner than this: room comes with a commit, and
# a height takes a block interval (200 ms by default) at the least
MIN_RETRY_AFTER_MS = 100
# Sustained overload: when at least OVERLOAD_SHARE_PERCENT of the client requests of the
# last OVERLOAD_WINDOW_SECONDS (at least OVERLOAD_MIN_REQUESTS of them) were refused
# for room, the retry time is at least OVERLOAD_RETRY_MS. A refusal at a moment's peak
# is best retried as soon as a block frees room; under sustained overload sooner
# retries only bring more, smaller requests, each with its cost per request and per
# gossip batch (measured: at twice the capacity, retries at half the backlog's time
# committed a fifth less than retries after a second; docs/node.md, "Admission").
# Refusals alone cannot tell overload from a wave of retries: once the floor applies at
# the network's capacity, the refused clients come back together a second later, are
# refused again in a crowd, and hold the floor on while the pool runs dry between the
# waves (measured: 95% of the capacity committed instead of 99%). So overload also needs
# the pool to have been at its limit, with no room for clients, for at least
# OVERLOAD_FULL_PERCENT of the window: under sustained overload clients refill it as soon
# as a block frees room; between waves of retries it has room.
OVERLOAD_WINDOW_SECONDS = 5.0
OVERLOAD_SHARE_PERCENT = 25
OVERLOAD_MIN_REQUESTS = 20
OVERLOAD_FULL_PERCENT = 50
OVERLOAD_RETRY_MS = 1_000
# what the window's counts gather into one entry: the window holds at most 50 of them
OVERLOAD_SLOT_SECONDS = 0.1
# The admit limit is sized from the best committed rate of this recent past, not only the
# latest: a slow moment (a long collection, other work on the machine) must not shrink
# the pool, and with it the blocks and the rate, into a spiral
RATE_MEMORY_SECONDS = 60.0
# A transaction behind a nonce gap this long is evicted: its sender's earlier nonce did
# not come (the client re-sends), and it takes room no block can use
GAP_TIMEOUT_SECONDS = 30.0


# What one value of a transaction's args may hold of the node's memory once decoded,
# beyond its bytes: an empty array is a list object (56 bytes) and a slot (8). A
# transaction at the ledger's value limit (1,024 empty arrays in 1.2 KB) takes 66 KB
# decoded; counted by its bytes alone, a pool of 64 MiB of them would hold 3.5 GB.
DECODED_VALUE_BYTES = 64


def held_bytes(stx: SignedTransaction) -> int:
    """What a pending transaction counts against the pool's `max_bytes`: its bytes and
    DECODED_VALUE_BYTES for each value its args hold (a transfer 370-440)."""
    return len(stx.encoded) + DECODED_VALUE_BYTES * stx.arg_value_count


def authorization_refusal(
    app: Application, committed: KVReader, block: BlockInfo, stx: SignedTransaction
) -> tuple[str, str] | None:
    """(code, message) when the committed policy of the sender refuses these signers.

    Execution checks again against the state of its block: the policy may change
    between admission and inclusion. Writes (a scoped key's allowance) go to a
    view that is dropped."""
    context = Context(StateView(committed), block, stx.tx.sender, stx.hash)
    try:
        authorize(app, context, stx)
    except (InvalidTransaction, CodecError) as exc:
        return exc.code, exc.message
    return None


class RecentSums:
    """Two running sums of what was added in the last `seconds`.

    What is added within `slot` seconds of the newest entry joins it, so the window
    holds at most seconds / slot entries however often it is fed (a client's refused
    requests feed one: their rate is theirs to choose)."""

    def __init__(self, seconds: float, slot: float) -> None:
        self.seconds = seconds
        self.slot = slot
        self._entries: deque[list[float | int]] = deque()  # [time, first, second]
        self.first = 0
        self.second = 0

    def add(self, now: float, first: int, second: int) -> None:
        entries = self._entries
        if entries and now - entries[-1][0] < self.slot:
            entries[-1][1] += first
            entries[-1][2] += second
        else:
            entries.append([now, first, second])
        self.first += first
        self.second += second
        self.expire(now)

    def expire(self, now: float) -> None:
        """Drop what was added before `now - seconds`."""
        horizon = now - self.seconds
        entries = self._entries
        while entries and entries[0][0] < horizon:
            _, first, second = entries.popleft()
            self.first -= int(first)
            self.second -= int(second)

    def __len__(self) -> int:
        return len(self._entries)


class Mempool:
    """Pending transactions by hash and by (sender, nonce)."""

    def __init__(self, limits: MempoolLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        # (time, transactions committed, seconds the pool held work before it) per block
        # within the rate window
        self._commits: deque[tuple[float, int, float]] = deque()
        self._committed_in_window = 0
        self._busy_in_window = 0.0
        self._last_commit_at: float | None = None
        # (time, window rate) after each commit, the rates decreasing: the best recent one first
        self._best_rates: deque[tuple[float, float]] = deque()
        # admit_limit's last answer: (limit, oldest commit in the window, oldest best
        # rate, the limits it was computed under), dropped when a commit is noted
        self._limit_memo: tuple[int, float, float, MempoolLimits] | None = None
        self._busy_since: float | None = None  # since when the pool holds work (None: idle)
        self._by_hash: dict[bytes, SignedTransaction] = {}
        # the encoded bytes of each pending transaction: gossip of one already held (a
        # peer resending its pool on connect) is recognised before it is decoded
        self._encoded: set[bytes] = set()
        # tx hash -> its place in the order of admission: blocks take the oldest first
        self._arrival: dict[bytes, int] = {}
        self._arrivals = 0
        self._admitted_at: dict[bytes, float] = {}  # tx hash -> when it was admitted (clock)
        self._by_sender: dict[bytes, dict[int, bytes]] = {}  # sender -> {nonce: tx hash}
        # Transactions behind a nonce gap, and how many of them came from our clients.
        # A sender's gapless run ends at the first nonce from its committed one that is
        # not pending: sender -> (the committed nonce it was found from, that end).
        self._gapped: set[bytes] = set()
        self._gapped_local = 0
        self._run_end: dict[bytes, tuple[int, int]] = {}
        self._bytes = 0
        self._local: set[bytes] = set()  # pending transactions admitted from our clients
        self._admitted_local = 0  # recent admissions from our clients...
        self._admitted_all = 0  # ...and from anyone (decayed, see SHARE_WINDOW)
        # set by the node: validators sharing the limit, and transactions peers sent
        # that wait to be admitted (they take room before our clients' next ones do)
        self.validators = 1
        self.incoming = 0
        # set by a node behind its RPC front, which hands out the room up to the limits:
        # a request is refused at the door (`is_full`) only this share beyond them. What
        # the front relayed on the node's last word (a request behind a batch that took
        # the last of the room, while gossip came in) then gets its answer, admitted up
        # to the limits and refused per transaction beyond them, instead of a refusal
        # from the node at the pace of its busy loop (docs/node.md, "RPC front")
        self.door_headroom_percent = 0
        # client requests and those of them refused for room, within OVERLOAD_WINDOW_SECONDS
        self._requests = RecentSums(OVERLOAD_WINDOW_SECONDS, OVERLOAD_SLOT_SECONDS)
        # ms looked at by `observe_room` and of them with the pool full: how long the
        # pool stayed at its limit, within OVERLOAD_WINDOW_SECONDS
        self._looks = RecentSums(OVERLOAD_WINDOW_SECONDS, OVERLOAD_SLOT_SECONDS)
        self._looked_at: float | None = None

    def __len__(self) -> int:
        return len(self._by_hash)

    def __contains__(self, tx_hash: object) -> bool:
        return tx_hash in self._by_hash

    def holds_encoded(self, raw: bytes) -> bool:
        """Whether these exact bytes are a pending transaction (no decoding: one set
        lookup). Other bytes of the same transaction (other signatures) are not found
        here; admission still finds them by hash."""
        return raw in self._encoded

    def ready_from_peers(self, limit: int) -> list[SignedTransaction]:
        """Up to `limit` pending transactions peers gossiped (not this node's clients')
        that are not behind a nonce gap, the oldest admitted first."""
        local, gapped = self._local, self._gapped
        found: list[SignedTransaction] = []
        for tx_hash, stx in self._by_hash.items():
            if tx_hash not in local and tx_hash not in gapped:
                found.append(stx)
                if len(found) >= limit:
                    break
        return found

    def pending_in_order(self) -> list[bytes]:
        """Hashes of every pending transaction, the oldest admitted first."""
        return list(self._by_hash)  # insertion order is admission order; removals keep it

    @property
    def size_bytes(self) -> int:
        return self._bytes

    # -- admission limits ---------------------------------------------------------------------

    def note_committed(self, count: int) -> None:
        """A block with `count` transactions committed: feeds the measured rate.

        The block counts the time since the previous commit, or since the pool got
        work if it was empty then: an idle spell (or clients waiting out a 429) is not
        time the chain could have used, and counting it would shrink the limit just
        when the pool runs dry."""
        now = self._clock()
        busy = 0.0
        if self._busy_since is not None:
            start = self._busy_since
            if self._last_commit_at is not None and self._last_commit_at > start:
                start = self._last_commit_at
            busy = max(0.0, now - start)
        self._last_commit_at = now
        self._limit_memo = None
        # after this block's recheck: an empty pool is idle until the next `add`
        self._busy_since = now if self._by_hash else None
        self._commits.append((now, count, busy))
        self._committed_in_window += count
        self._busy_in_window += busy
        self._expire(now)
        rate = self.committed_rate()
        best = self._best_rates
        while best and best[-1][1] <= rate:
            best.pop()
        best.append((now, rate))

    def _expire(self, now: float) -> None:
        while self._commits and self._commits[0][0] < now - RATE_WINDOW_SECONDS:
            _, count, busy = self._commits.popleft()
            self._committed_in_window -= count
            self._busy_in_window -= busy

    def committed_rate(self) -> float:
        """Transactions committed per second of busy time (the pool holding work) over
        the recent window; 0 when nothing committed in it."""
        self._expire(self._clock())
        if not self._commits:
            return 0.0
        # at least a second: one quick block after an idle spell is not a huge rate
        return self._committed_in_window / max(1.0, self._busy_in_window)

    def best_recent_rate(self) -> float:
        """The highest committed rate measured after a commit in the last
        RATE_MEMORY_SECONDS (0 when nothing committed then)."""
        best = self._best_rates
        horizon = self._clock() - RATE_MEMORY_SECONDS
        while best and best[0][0] < horizon:
            best.popleft()
        return best[0][1] if best else 0.0

    def admit_limit(self) -> int:
        """How many transactions the pool admits right now: `backlog_ms` of the best
        recent committed rate, between `floor_txs` and `max_txs`."""
        # Admission asks this for every client transaction, twice. Between two commits
        # the answer changes only when the oldest entry of either window expires (the
        # very tests `_expire` and `best_recent_rate` make), so it is kept until then.
        memo = self._limit_memo
        if memo is not None:
            limit, oldest_commit, oldest_best, computed_under = memo
            now = self._clock()
            if (
                computed_under is self.limits
                and not oldest_commit < now - RATE_WINDOW_SECONDS
                and not oldest_best < now - RATE_MEMORY_SECONDS
            ):
                return limit
        limits = self.limits
        rate = max(self.committed_rate(), self.best_recent_rate())
        measured = int(rate * limits.backlog_ms / 1000)
        limit = min(limits.max_txs, max(limits.floor_txs, measured))
        self._limit_memo = (
            limit,
            self._commits[0][0] if self._commits else math.inf,
            self._best_rates[0][0] if self._best_rates else math.inf,
            limits,
        )
        return limit

    def sender_limit(self, admit_limit: int | None = None) -> int:
        """How many pending transactions one sender may hold right now."""
        limit = self.admit_limit() if admit_limit is None else admit_limit
        share = limit * self.limits.sender_share_percent // 100
        return max(1, min(self.limits.max_per_sender, share))

    def local_limit(self, admit_limit: int | None = None) -> int:
        """How many pending transactions from this node's own clients it holds at most:
        its share of the limit, the share being the fraction of recent admissions
        that came through it (at least 1/N), with room to grow by a quarter."""
        limit = self.admit_limit() if admit_limit is None else admit_limit
        validators = max(1, self.validators)
        if validators == 1 or self._admitted_all == 0:
            return limit
        grow, over = SHARE_GROWTH
        share_num = max(self._admitted_local * validators, self._admitted_all)
        share_den = self._admitted_all * validators
        return min(limit, max(1, limit * share_num * grow // (share_den * over)))

    @property
    def local_count(self) -> int:
        """Pending transactions admitted from this node's clients."""
        return len(self._local)

    @property
    def gapped_count(self) -> int:
        """Pending transactions behind a nonce gap of their sender."""
        return len(self._gapped)

    @property
    def ready_count(self) -> int:
        """Pending transactions a block could take once those before them are taken."""
        return len(self._by_hash) - len(self._gapped)

    @property
    def local_ready_count(self) -> int:
        """`ready_count` of this node's clients' transactions."""
        return len(self._local) - self._gapped_local

    def gap_limit(self, admit_limit: int | None = None) -> int:
        """How many transactions behind a nonce gap the pool takes from clients."""
        limit = self.admit_limit() if admit_limit is None else admit_limit
        return max(MIN_GAP_TXS, limit * self.limits.gap_share_percent // 100)

    def ready_end(self, sender: bytes, next_nonce: int) -> int:
        """The first nonce from the sender's committed `next_nonce` that is not pending:
        a transaction with a higher nonce waits behind a gap."""
        known = self._run_end.get(sender)
        if known is not None and known[0] == next_nonce:
            return known[1]
        return self._refresh(sender, next_nonce)

    def run_end(self, sender: bytes, nonce: int) -> int:
        """The first nonce from `nonce` on that the sender has not pending."""
        pending = self._by_sender.get(sender)
        if pending:
            while nonce in pending:
                nonce += 1
        return nonce

    def _refresh(self, sender: bytes, next_nonce: int) -> int:
        """Find the sender's gapless run from its committed `next_nonce` again, and
        which of its pending transactions wait behind a gap; returns the run's end."""
        pending = self._by_sender.get(sender)
        if not pending:
            self._run_end.pop(sender, None)
            return next_nonce
        end = self.run_end(sender, next_nonce)
        self._run_end[sender] = (next_nonce, end)
        for nonce, tx_hash in pending.items():
            if nonce >= end:
                self._gap(tx_hash)
            else:
                self._ungap(tx_hash)
        return end

    def _gap(self, tx_hash: bytes) -> None:
        if tx_hash not in self._gapped:
            self._gapped.add(tx_hash)
            if tx_hash in self._local:
                self._gapped_local += 1

    def _ungap(self, tx_hash: bytes) -> None:
        if tx_hash in self._gapped:
            self._gapped.discard(tx_hash)
            if tx_hash in self._local:
                self._gapped_local -= 1

    def is_full(self) -> bool:
        """Whether this node's clients are refused right now (whatever they send)."""
        return self.room(-self.door_headroom_percent) == 0

    def room(self, reserve_percent: int = 0) -> int:
        """How many more transactions this node's clients may add right now (0: full),
        keeping back `reserve_percent` of the pool's limit and of their share of it (a
        negative one counts that much beyond them)."""
        if self._bytes >= self.limits.max_bytes:
            return 0
        limit = self.admit_limit()
        local_limit = self.local_limit(limit)
        pool_room = limit * (100 - reserve_percent) // 100 - self.ready_count - self.incoming
        local_room = local_limit * (100 - reserve_percent) // 100 - self.local_ready_count
        return max(0, min(pool_room, local_room))

    def note_requests(self, seen: int, refused: int) -> None:
        """Count client requests for submission: `seen` of them, `refused` of those
        refused for room (all of a request, or some of its transactions)."""
        if seen > 0:
            self._requests.add(self._clock(), seen, refused)

    def observe_room(self) -> int:
        """`room()`, noted toward `full_percent`. The node calls it on a steady beat
        (every 50 ms while the pool holds work): each look stands for the time since
        the one before it."""
        now = self._clock()
        room = self.room()
        if self._looked_at is not None:
            span_ms = int(min(now - self._looked_at, OVERLOAD_WINDOW_SECONDS) * 1000)
            self._looks.add(now, span_ms, span_ms if room == 0 else 0)
        self._looked_at = now
        return room

    def full_percent(self) -> int:
        """The share of the last OVERLOAD_WINDOW_SECONDS, in percent, in which the pool
        had no room for this node's clients (as `observe_room` saw it; 0 before it looked)."""
        looks = self._looks
        looks.expire(self._clock())
        if looks.first <= 0:
            return 0
        return looks.second * 100 // looks.first

    def overloaded(self) -> bool:
        """Sustained overload, not a moment's peak nor a wave of retries: clients were
        refused for room in a large share of their recent requests
        (OVERLOAD_SHARE_PERCENT) while the pool stayed at its limit most of that time
        (OVERLOAD_FULL_PERCENT)."""
        requests = self._requests
        requests.expire(self._clock())
        seen = requests.first
        if seen < OVERLOAD_MIN_REQUESTS:
            return False
        if requests.second * 100 < seen * OVERLOAD_SHARE_PERCENT:
            return False
        return self.full_percent() >= OVERLOAD_FULL_PERCENT

    def retry_after_ms(self) -> int:
        """When a refused client should try again, in ms: the time half the current
        backlog needs to commit at the measured rate (the configured backlog when
        nothing commits), between MIN_RETRY_AFTER_MS and MAX_RETRY_AFTER_SECONDS. By
        then there is room again while blocks still have work; waiting for the whole
        backlog would let the pool run dry as every refused client comes back at once.
        Milliseconds, not the whole seconds of a `Retry-After`: the pool holds well
        under a second of work, and a client that waits a whole second comes back to
        a pool that ran dry meanwhile (docs/node.md, "Admission"). Under sustained
        overload (`overloaded`) it is at least OVERLOAD_RETRY_MS."""
        rate = self.committed_rate()
        if rate <= 0:
            wait = self.limits.backlog_ms
        else:
            wait = math.ceil(len(self._by_hash) * 1000 / 2 / rate)
        if self.overloaded():
            wait = max(wait, OVERLOAD_RETRY_MS)
        return max(MIN_RETRY_AFTER_MS, min(MAX_RETRY_AFTER_SECONDS * 1000, wait))

    def _limits(self, from_peer: bool) -> tuple[int, int, int]:
        """(pool limit, sender limit, limit on our clients' pending ones) for a
        client's transaction, or for one a peer validator already admitted: that one
        only meets the hard caps. Each node holds its clients to its share of the
        limit, so what peers forward is bounded by the sum of those; refusing it here
        would leave this pool with nonce gaps, and this node, as primary, unable to
        propose what the other validators wait for (their view timers then expire:
        load would cause view changes)."""
        if from_peer:
            return self.limits.max_txs, self.limits.max_per_sender, self.limits.max_txs
        limit = self.admit_limit()
        return limit, self.sender_limit(limit), self.local_limit(limit)

    def check(
        self,
        stx: SignedTransaction,
        batch_total: int = 0,
        batch_from_sender: int = 0,
        from_peer: bool = False,
        gapped: bool = False,
        batch_gapped: int = 0,
    ) -> str | None:
        """The refusal `add` would give for lack of room, or None: asked before the
        signature is verified, so a full pool costs a flood no signature checks.

        `batch_total` and `batch_from_sender` count the transactions of the same
        submission already let through this check (those a block could take, and
        all from this sender): they will take room before this one does, so one batch
        from one sender cannot have every signature verified only for `add` to refuse
        most of them. `gapped` says this one would wait behind a nonce gap (see
        `ready_end`), `batch_gapped` how many of the submission's already would."""
        return self._room_refusal(
            stx.tx.sender,
            stx.tx.nonce,
            batch_total,
            batch_from_sender,
            from_peer,
            gapped,
            batch_gapped,
        )

    def _room_refusal(
        self,
        sender: bytes,
        nonce: int,
        ahead_total: int,
        ahead_from_sender: int,
        from_peer: bool,
        gapped: bool = False,
        ahead_gapped: int = 0,
    ) -> str | None:
        limit, sender_limit, local_limit = self._limits(from_peer)
        if from_peer:  # the hard caps, on everything held
            in_pool = len(self._by_hash) + ahead_total + ahead_gapped
            if in_pool >= limit or self._bytes >= self.limits.max_bytes:
                return MEMPOOL_FULL
        elif self._bytes >= self.limits.max_bytes:
            return MEMPOOL_FULL
        elif gapped:
            # behind a gap it takes none of the room blocks drain, only the gap share
            if len(self._gapped) + ahead_gapped >= self.gap_limit(limit):
                return GAP_FULL
        elif (
            self.ready_count + ahead_total + self.incoming >= limit
            or self.local_ready_count + ahead_total >= local_limit
        ):
            return MEMPOOL_FULL
        pending = self._by_sender.get(sender)
        held = (0 if pending is None else len(pending)) + ahead_from_sender
        # a clash on a pending nonce is left to `add`, which reports it as nonce_taken
        if held >= sender_limit and (pending is None or nonce not in pending):
            return SENDER_FULL
        return None

    def add(self, stx: SignedTransaction, next_nonce: int, from_peer: bool = False) -> str:
        """Admit one verified transaction; `next_nonce` is the sender's committed nonce."""
        tx_hash = stx.hash
        if tx_hash in self._by_hash:
            return DUPLICATE
        tx = stx.tx
        if tx.nonce < next_nonce:
            return NONCE_REUSED
        pending = self._by_sender.get(tx.sender)
        if pending is not None and tx.nonce in pending:
            return NONCE_TAKEN
        end = self.ready_end(tx.sender, next_nonce)
        refusal = self._room_refusal(tx.sender, tx.nonce, 0, 0, from_peer, tx.nonce > end)
        if refusal is not None:
            return refusal
        if self._busy_since is None:
            self._busy_since = self._clock()
        if pending is None:
            pending = self._by_sender[tx.sender] = {}
        pending[tx.nonce] = tx_hash
        self._by_hash[tx_hash] = stx
        self._arrival[tx_hash] = self._arrivals
        self._arrivals += 1
        self._admitted_at[tx_hash] = self._clock()
        self._bytes += held_bytes(stx)
        self._encoded.add(stx.encoded)
        if not from_peer:
            self._local.add(tx_hash)
            self._admitted_local += 1
        if tx.nonce > end:
            self._gap(tx_hash)
        elif tx.nonce == end:  # it fills the gap: the run behind it is ready now
            end += 1
            while end in pending:
                self._ungap(pending[end])
                end += 1
            self._run_end[tx.sender] = (next_nonce, end)
        self._admitted_all += 1
        if self._admitted_all >= SHARE_WINDOW:
            self._admitted_all //= 2
            self._admitted_local //= 2
        return ACCEPTED

    def ready_run(self, sender: bytes, from_nonce: int, next_nonce: int) -> list[bytes]:
        """Hashes of `sender`'s pending transactions from `from_nonce` on that the next
        block could take: the run of consecutive nonces starting there, and only when
        every nonce from the committed `next_nonce` up to it is pending too.

        A transaction behind a gap is not ready, however many pending ones it follows:
        announcing it would start consensus timers for work no primary can propose
        (empty blocks, then complaints). When a late nonce fills the gap, the run
        behind it becomes ready at once, which this returns."""
        pending = self._by_sender.get(sender)
        if not pending:
            return []
        end = self._kept_end(sender, next_nonce)
        # every nonce from `next_nonce` up to `end` is pending and `end` is not: the run
        # from `from_nonce` is ready when it starts before `end`, and stops there
        return [pending[nonce] for nonce in range(max(from_nonce, next_nonce), end)]

    def _kept_end(self, sender: bytes, next_nonce: int) -> int:
        """`ready_end` without keeping anything: the kept run end when it was found from
        this committed nonce, else the run walked from it. A sender whose only pending
        transaction came behind a gap has no end kept yet; and a question must not
        rewrite the kept set for nonces it was not found from (only `add` and `recheck`
        move it to the committed ones)."""
        known = self._run_end.get(sender)
        if known is not None and known[0] == next_nonce:
            return known[1]
        return self.run_end(sender, next_nonce)

    def get(self, tx_hash: bytes) -> SignedTransaction | None:
        return self._by_hash.get(tx_hash)

    def oldest_age(self) -> float:
        """Seconds the oldest pending transaction has waited here (0 when empty)."""
        # insertion order is admission order, and removals keep it
        oldest = next(iter(self._admitted_at.values()), None)
        return 0.0 if oldest is None else max(0.0, self._clock() - oldest)

    def behind_gap(self, next_nonce: Callable[[bytes], int]) -> list[bytes]:
        """Hashes of pending transactions no block can take yet: an earlier nonce of
        their sender, at or above its committed `next_nonce`, is not pending. The
        oldest admitted first; read from the kept set, not found by a walk of the pool."""
        arrival = self._arrival
        return self._still_gapped(sorted(self._gapped, key=arrival.__getitem__), next_nonce)

    def _still_gapped(self, kept: list[bytes], next_nonce: Callable[[bytes], int]) -> list[bytes]:
        """Those of `kept` (hashes in the kept gap set) that wait behind a gap from the
        committed nonces `next_nonce` gives, in the order given.

        The kept set is each sender's as of the committed nonce its run end was found
        from, and `recheck` finds it again from the new one with every commit: asked
        with the chain's nonces, this returns every one of `kept`. It still asks
        `next_nonce`, once per sender among them (a walk asked it for every sender
        pending), so that the answer is for the caller's nonces whatever the pool was
        told. A committed nonce never goes back, and one past the kept one moves the
        run's end on or leaves it: what waits behind a gap from it is among the kept."""
        by_hash = self._by_hash
        ends: dict[bytes, int] = {}
        found: list[bytes] = []
        for tx_hash in kept:
            tx = by_hash[tx_hash].tx
            end = ends.get(tx.sender)
            if end is None:
                end = ends[tx.sender] = self._kept_end(tx.sender, next_nonce(tx.sender))
            if tx.nonce >= end:
                found.append(tx_hash)
        return found

    def reap(
        self, max_txs: int, max_bytes: int, next_nonce: Callable[[bytes], int]
    ) -> list[SignedTransaction]:
        """Transactions for the next block, oldest admitted first, within the count and
        byte limits: per sender a gapless nonce run from its committed nonce, its
        transactions taken in nonce order, each when its turn by arrival comes.

        A busy sender's later transactions wait behind the earlier ones of others. (A
        sender's whole run at once, senders in turn, let a transaction that arrived
        with its sender's previous one still pending wait a whole pool longer: under
        load the oldest waited twice the median.)"""
        arrival = self._arrival
        heads: list[tuple[int, int, bytes]] = []  # (arrival, nonce, sender), one per sender
        for sender, pending in self._by_sender.items():
            nonce = next_nonce(sender)
            head = pending.get(nonce)
            if head is not None:
                heads.append((arrival[head], nonce, sender))
        heapq.heapify(heads)  # arrivals are unique: nothing compares past them
        chosen: list[SignedTransaction] = []
        used = 0
        while heads:
            _, nonce, sender = heads[0]
            pending = self._by_sender[sender]
            stx = self._by_hash[pending[nonce]]
            size = len(stx.encoded)
            if len(chosen) >= max_txs or used + size > max_bytes:
                break
            chosen.append(stx)
            used += size
            following = pending.get(nonce + 1)
            if following is None:
                heapq.heappop(heads)
            else:
                heapq.heapreplace(heads, (arrival[following], nonce + 1, sender))
        return chosen

    def evict_stuck(
        self, next_nonce: Callable[[bytes], int], timeout: float = GAP_TIMEOUT_SECONDS
    ) -> list[bytes]:
        """Remove the transactions that have waited behind a nonce gap for longer than
        `timeout` seconds; returns their hashes, the oldest admitted first. The client
        learns it from the transaction's status (no longer pending) and sends the
        missing nonce and these again."""
        if self.oldest_age() <= timeout:
            return []  # nothing has waited that long, gapped or not
        horizon = self._clock() - timeout
        gapped = self._gapped
        old: list[bytes] = []
        # admission order is the order of admission times (one clock, which
        # `oldest_age` reads the same way): what waited longer than the timeout is the
        # front of it, and the rest of the pool is not looked at
        for tx_hash, admitted in self._admitted_at.items():
            if admitted >= horizon:
                break
            if tx_hash in gapped:
                old.append(tx_hash)
        stuck = self._still_gapped(old, next_nonce)
        self.remove(stuck)  # behind a gap, each is past its run's end: no run is broken
        return stuck

    def remove(self, tx_hashes: Iterable[bytes], refresh: bool = True) -> None:
        """Take transactions out (those not pending are skipped). With `refresh`, a
        sender whose gapless run lost a nonce has the rest of it marked as behind a gap;
        `recheck`, which finds its senders' runs again itself, does without."""
        broken: dict[bytes, int] = {}  # senders whose gapless run lost a nonce, first seen
        for tx_hash in tx_hashes:
            stx = self._by_hash.pop(tx_hash, None)
            if stx is None:
                continue
            self._ungap(tx_hash)
            self._bytes -= held_bytes(stx)
            self._encoded.discard(stx.encoded)
            self._local.discard(tx_hash)
            del self._arrival[tx_hash]
            del self._admitted_at[tx_hash]
            sender, nonce = stx.tx.sender, stx.tx.nonce
            pending = self._by_sender.get(sender)
            if pending is not None:
                pending.pop(nonce, None)
                if not pending:
                    del self._by_sender[sender]
                    self._run_end.pop(sender, None)
                    continue
            known = self._run_end.get(sender) if refresh else None
            if known is not None and known[0] <= nonce < known[1]:
                broken.setdefault(sender, known[0])
        # A nonce taken out of a run opens a gap before the rest of it. (A commit takes
        # the run's first nonces and moves the committed nonce past them: `recheck`
        # finds such runs again from the new committed nonce.)
        for sender, next_nonce in broken.items():
            self._refresh(sender, next_nonce)

    def recheck(
        self, committed: Iterable[SignedTransaction], next_nonce: Callable[[bytes], int]
    ) -> tuple[list[bytes], list[bytes]]:
        """After a commit: drop the block's transactions and every stale nonce of its
        senders. Returns (hashes dropped as stale, hashes of those senders that are now
        ready): only a committed sender's readiness can change with a commit."""
        dropped: list[bytes] = []
        ready: list[bytes] = []
        senders: dict[bytes, None] = {}  # first-seen order, so deterministic
        hashes = []
        for stx in committed:
            hashes.append(stx.hash)
            senders[stx.tx.sender] = None
        self.remove(hashes, refresh=False)
        for sender in senders:
            pending = self._by_sender.get(sender)
            if not pending:
                self._run_end.pop(sender, None)
                continue
            floor = next_nonce(sender)
            stale = [tx_hash for nonce, tx_hash in pending.items() if nonce < floor]
            self.remove(stale, refresh=False)
            dropped.extend(stale)
            # The committed nonce moved (or, if the block's transaction failed without
            # using it, its nonce is no longer pending): the kept run end was found from
            # the old one and says nothing about the new, so the run is found again. This
            # is the one place the kept set follows the chain's nonces.
            end = self._refresh(sender, floor)
            pending = self._by_sender.get(sender) or {}
            ready.extend(pending[nonce] for nonce in range(floor, end))
        return dropped, ready


class VerifiedCache:
    """Signatures this node already checked, by `SignedTransaction.verification_key`
    (tx hash + signature), bounded with the oldest evicted."""

    def __init__(self, capacity: int = 500_000) -> None:
        self.capacity = capacity
        self._hashes: OrderedDict[bytes, None] = OrderedDict()

    def __contains__(self, tx_hash: object) -> bool:
        return tx_hash in self._hashes

    def __len__(self) -> int:
        return len(self._hashes)

    def add(self, tx_hash: bytes) -> None:
        self._hashes[tx_hash] = None
        if len(self._hashes) > self.capacity:
            self._hashes.popitem(last=False)

    def discard(self, tx_hashes: Iterable[bytes]) -> None:
        for tx_hash in tx_hashes:
            self._hashes.pop(tx_hash, None)
