"""The node's committed chain: proposing, checking and committing blocks on LevelDB.

This is the application side of consensus. The replica asks it to build a
proposal, to check someone else's proposal, and to commit a certified block;
block sync uses the same check-then-commit path for blocks fetched from peers.
Execution results are cached by block hash between check and commit so a
block is executed once per node in the normal case.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass

from ledger import chainstore
from ledger.block import Block, BlockHeader, CommitCertificate
from ledger.chainstore import Head
from ledger.errors import InvalidBlock
from ledger.execution import (
    Application,
    BlockResult,
    account_nonce,
    apply_genesis,
    build_block,
    check_block,
)
from ledger.genesis import Genesis
from ledger.state_tree import TreeError, check_root
from ledger.tx import SignedTransaction
from ledger.validators import validators_at
from node.mempool import VerifiedCache
from node.storage import LevelDBStore

RESULT_CACHE_SIZE = 16
# Blocks whose check failed, by hash: a copy sent again is refused without executing it.
# A failed check is final (a block names its parent, and the head it failed on never
# changes under it), except for the clock-drift rule, which is not remembered.
REFUSED_CACHE_SIZE = 256


class GenesisMismatch(Exception):
    """The data directory holds a different chain than the home's genesis.json."""


class IncompatibleStore(Exception):
    """The data directory was written in a storage layout this release cannot read."""


@dataclass(frozen=True, slots=True)
class CommittedBlock:
    block: Block
    certificate: CommitCertificate
    result: BlockResult


class Chain:
    """Committed state and head, plus the propose / check / commit operations."""

    def __init__(
        self,
        store: LevelDBStore,
        app: Application,
        genesis: Genesis,
        executor: Executor | None = None,
        verified: VerifiedCache | None = None,
        max_drift_ms: int = 5_000,
        keep_versions: int = chainstore.KEEP_TREE_VERSIONS,
    ) -> None:
        self.store = store
        self.app = app
        self.genesis = genesis
        self.chain_id = genesis.chain_id
        self.executor = executor
        self.verified = verified if verified is not None else VerifiedCache()
        self.max_drift_ms = max_drift_ms
        self.keep_versions = keep_versions  # state tree versions kept provable
        self._results: dict[bytes, BlockResult] = {}
        self._refused: dict[bytes, tuple[str, str]] = {}  # (code, message); REFUSED_CACHE_SIZE
        self.listeners: list[Callable[[CommittedBlock], None]] = []
        self.head = self._open()
        self.head_header: BlockHeader | None = None
        self.head_certificate: CommitCertificate | None = None
        if self.head.height > 0:
            block = chainstore.read_block(store, self.head.height)
            if block is None:
                raise RuntimeError("store head points at a missing block")
            self.head_header = block.header
            self.head_certificate = chainstore.read_certificate(store, self.head.height)

    def _open(self) -> Head:
        head = chainstore.read_head(self.store)
        if head is None:
            result = apply_genesis(self.app, self.store, self.genesis)
            return chainstore.init_genesis(self.store, self.genesis, result)
        stored = chainstore.read_genesis(self.store)
        if stored is None or stored.hash != self.genesis.hash:
            raise GenesisMismatch("the data directory belongs to a different genesis")
        try:
            check_root(self.store, head.height, head.state_root)
        except TreeError as exc:
            raise IncompatibleStore(
                f"{exc}: move the data directory aside and start the node again "
                "to rebuild it from its peers"
            ) from exc
        return head

    # -- reads ----------------------------------------------------------------------------

    @property
    def height(self) -> int:
        return self.head.height

    def validators(self, height: int | None = None) -> tuple[bytes, ...]:
        """The set voting on `height` (default: the next block)."""
        return validators_at(self.store, self.head.height + 1 if height is None else height)

    def next_nonce(self, account: bytes) -> int:
        return account_nonce(self.store, account)

    def parent_timestamp_ms(self) -> int:
        if self.head_header is None:
            return self.genesis.genesis_time_ms
        return self.head_header.timestamp_ms

    # -- consensus application -------------------------------------------------------------

    def propose(self, proposer: bytes, now_ms: int, transactions: list[SignedTransaction]) -> Block:
        """Build the next block: timestamp max(now, parent + 1), roots from execution."""
        block, result = self.build(proposer, now_ms, transactions)
        self._remember(block.hash, result)
        return block

    def build(
        self, proposer: bytes, now_ms: int, transactions: list[SignedTransaction]
    ) -> tuple[Block, BlockResult]:
        """`propose` without remembering the result: it reads the store and changes
        nothing, so it may run on a worker thread while nothing commits."""
        timestamp = max(now_ms, self.parent_timestamp_ms() + 1)
        return build_block(
            self.app,
            self.store,
            self.head_header,
            self.head.block_hash,
            self.head.state_root,
            self.chain_id,
            timestamp,
            proposer,
            transactions,
            self.head_certificate,
            self.executor,
            self.verified,
        )

    def check(self, block: Block, now_ms: int | None) -> BlockResult:
        """Validate a block extending the head; raise InvalidBlock if it breaks a rule.

        `now_ms` enables the clock-drift rule (a proposal may not be dated more than
        `max_drift_ms` ahead of our clock); sync passes None because old blocks were
        judged by the quorum that certified them.
        """
        cached = self._results.get(block.hash)
        if cached is not None:
            return cached
        refused = self.refusal(block.hash)
        if refused is not None:
            raise refused
        try:
            result = self.execute_check(block, now_ms)
        except InvalidBlock as exc:
            self.refuse(block, exc)
            raise
        self.remember(block, result)
        return result

    def is_checked(self, block_hash: bytes) -> bool:
        """Whether a result for this block (built or checked on the head) is cached."""
        return block_hash in self._results

    def refusal(self, block_hash: bytes) -> InvalidBlock | None:
        """Why this block's check failed, if it did (and is remembered): a new exception
        each time, so no traceback piles up on a kept one."""
        refused = self._refused.get(block_hash)
        return None if refused is None else InvalidBlock(*refused)

    def refuse(self, block: Block, exc: InvalidBlock) -> None:
        """Remember that `block` failed its check, so a copy is refused without executing
        it again; a block dated too far ahead may pass later, so it is not remembered."""
        if exc.code == "timestamp_in_future":
            return
        if len(self._refused) >= REFUSED_CACHE_SIZE:
            self._refused.pop(next(iter(self._refused)))
        self._refused[block.hash] = (exc.code, exc.message)

    def execute_check(
        self, block: Block, now_ms: int | None, root_checked: bool = False
    ) -> BlockResult:
        """`check` without remembering the result: it reads the store and changes
        nothing, so it may run on a worker thread while nothing commits.
        `root_checked`: the block's transactions are known to be its header's
        (`check_block`)."""
        if now_ms is not None and block.header.timestamp_ms > now_ms + self.max_drift_ms:
            raise InvalidBlock("timestamp_in_future", "block time is too far ahead of our clock")
        return check_block(
            self.app,
            self.store,
            block,
            self.head_header,
            self.head.block_hash,
            self.head.state_root,
            self.chain_id,
            self.executor,
            self.verified,
            root_checked,
        )

    def remember(self, block: Block, result: BlockResult) -> None:
        """Keep a checked (or built) block's result for its commit; note its signatures."""
        if block.header.prev_hash != self.head.block_hash:
            return  # computed on an older head: useless now
        for stx, receipt in zip(block.transactions, result.receipts, strict=True):
            if receipt.code != "bad_signature":  # a block may carry a rejected forgery
                self.verified.add(stx.verification_key)
        self._remember(block.hash, result)

    def commit(
        self, block: Block, certificate: CommitCertificate, certified: bool = False
    ) -> CommittedBlock:
        """Persist a certified block (one synced batch) and tell listeners.

        `certified` says the caller already checked the certificate's signatures (the
        replica builds it from votes it verified); a synced block's are checked here.
        The consensus driver runs the two halves apart: `write_commit` on its worker
        thread, then `committed` on the event loop."""
        return self.committed(block, certificate, *self.write_commit(block, certificate, certified))

    def write_commit(
        self, block: Block, certificate: CommitCertificate, certified: bool = False
    ) -> tuple[Head, BlockResult]:
        """The durable half of `commit`: check, then write the block's one synced batch.

        It changes nothing in this object (the head moves in `committed`), so it may
        run on a worker thread while the event loop serves reads of the old head;
        the caller must be the only committer and call `committed` next."""
        if certificate.block_hash != block.hash or certificate.height != block.height:
            raise InvalidBlock("bad_certificate", "certificate is for another block")
        if not certified and not certificate.verify(self.chain_id, self.validators(block.height)):
            raise InvalidBlock("bad_certificate", "certificate lacks a valid quorum")
        result = self._results.get(block.hash)
        if result is None:
            result = self.execute_check(block, None)
        head = chainstore.commit_block(self.store, block, certificate, result, self.keep_versions)
        return head, result

    def committed(
        self, block: Block, certificate: CommitCertificate, head: Head, result: BlockResult
    ) -> CommittedBlock:
        """The in-memory half of `commit`, once `write_commit` returned: move the head
        and tell listeners (they run where this runs: the event loop)."""
        self.head = head
        self.head_header = block.header
        self.head_certificate = certificate
        self._results.clear()  # every cached result was computed on the old head
        committed = CommittedBlock(block, certificate, result)
        for listener in self.listeners:
            listener(committed)
        return committed

    def _remember(self, block_hash: bytes, result: BlockResult) -> None:
        if len(self._results) >= RESULT_CACHE_SIZE:
            self._results.pop(next(iter(self._results)))
        self._results[block_hash] = result

    # -- sync reads ------------------------------------------------------------------------

    def block_with_certificate(self, height: int) -> tuple[bytes, bytes] | None:
        """Raw (block, certificate) bytes at a committed height, for peers that sync."""
        block = self.store.get(chainstore.height_key(chainstore.BLOCK_PREFIX, height))
        cert = self.store.get(chainstore.height_key(chainstore.CERT_PREFIX, height))
        if block is None or cert is None:
            return None
        return block, cert
