"""The pool of verified transactions waiting for a block.

Transactions arrive already decoded and signature-checked (the node verifies in
a thread pool before calling `add`) and authorized: `authorization_refusal` asks
the account policy of the committed state whether the signers may send the
transaction, so a partially signed one (`insufficient_signatures`) never waits
here for signatures that may never come. The pool keeps them by hash (dedup), by
sender and nonce (so a block takes each sender's transactions in nonce order
without gaps), and enforces caps on count, bytes and per-sender backlog so a
flood cannot exhaust memory. After every commit `recheck` drops what the block
included and anything whose nonce the chain has moved past.

The pool is plain synchronous code owned by the node's event loop; nothing here
blocks or awaits.
"""

from __future__ import annotations

from collections import OrderedDict
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


class Mempool:
    """Pending transactions by hash and by (sender, nonce)."""

    def __init__(self, limits: MempoolLimits) -> None:
        self.limits = limits
        self._by_hash: dict[bytes, SignedTransaction] = {}
        # sender -> {nonce: tx hash}; the outer dict keeps first-arrival order of senders,
        # which makes block filling fair between senders.
        self._by_sender: OrderedDict[bytes, dict[int, bytes]] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._by_hash)

    def __contains__(self, tx_hash: object) -> bool:
        return tx_hash in self._by_hash

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def is_full(self) -> bool:
        return len(self._by_hash) >= self.limits.max_txs or self._bytes >= self.limits.max_bytes

    def add(self, stx: SignedTransaction, next_nonce: int) -> str:
        """Admit one verified transaction; `next_nonce` is the sender's committed nonce."""
        tx_hash = stx.hash
        if tx_hash in self._by_hash:
            return DUPLICATE
        tx = stx.tx
        if tx.nonce < next_nonce:
            return NONCE_REUSED
        if self.is_full():
            return MEMPOOL_FULL
        pending = self._by_sender.get(tx.sender)
        if pending is not None:
            if tx.nonce in pending:
                return NONCE_TAKEN
            if len(pending) >= self.limits.max_per_sender:
                return SENDER_FULL
        else:
            pending = self._by_sender[tx.sender] = {}
        pending[tx.nonce] = tx_hash
        self._by_hash[tx_hash] = stx
        self._bytes += len(stx.encoded)
        return ACCEPTED

    def is_ready(self, stx: SignedTransaction, next_nonce: int) -> bool:
        """True when the tx could go into the next block: its nonce is the sender's next
        or directly follows another pending tx (a gapped tx waits silently)."""
        nonce = stx.tx.nonce
        if nonce == next_nonce:
            return True
        pending = self._by_sender.get(stx.tx.sender)
        return pending is not None and nonce - 1 in pending

    def get(self, tx_hash: bytes) -> SignedTransaction | None:
        return self._by_hash.get(tx_hash)

    def reap(
        self, max_txs: int, max_bytes: int, next_nonce: Callable[[bytes], int]
    ) -> list[SignedTransaction]:
        """Transactions for the next block: per sender a gapless nonce run from its
        committed nonce, senders in arrival order, within the count and byte limits."""
        chosen: list[SignedTransaction] = []
        used = 0
        for sender, pending in self._by_sender.items():
            nonce = next_nonce(sender)
            while nonce in pending:
                stx = self._by_hash[pending[nonce]]
                size = len(stx.encoded)
                if len(chosen) >= max_txs or used + size > max_bytes:
                    return chosen
                chosen.append(stx)
                used += size
                nonce += 1
        return chosen

    def remove(self, tx_hashes: Iterable[bytes]) -> None:
        for tx_hash in tx_hashes:
            stx = self._by_hash.pop(tx_hash, None)
            if stx is None:
                continue
            self._bytes -= len(stx.encoded)
            pending = self._by_sender.get(stx.tx.sender)
            if pending is not None:
                pending.pop(stx.tx.nonce, None)
                if not pending:
                    del self._by_sender[stx.tx.sender]

    def recheck(
        self, committed: Iterable[SignedTransaction], next_nonce: Callable[[bytes], int]
    ) -> tuple[list[bytes], list[bytes]]:
        """After a commit: drop the block's transactions and every stale nonce of its
        senders. Returns (hashes dropped as stale, hashes of those senders that are now
        ready): only a committed sender's readiness can change with a commit."""
        dropped: list[bytes] = []
        ready: list[bytes] = []
        senders: dict[bytes, None] = {}
        hashes = []
        for stx in committed:
            hashes.append(stx.hash)
            senders[stx.tx.sender] = None
        self.remove(hashes)
        for sender in senders:
            pending = self._by_sender.get(sender)
            if not pending:
                continue
            floor = next_nonce(sender)
            stale = [tx_hash for nonce, tx_hash in pending.items() if nonce < floor]
            self.remove(stale)
            dropped.extend(stale)
            nonce = floor
            while nonce in pending:
                ready.append(pending[nonce])
                nonce += 1
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
