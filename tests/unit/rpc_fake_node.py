"""An in-process stand-in for the node core, for RPC and CLI unit tests.

It implements `node.service.NodeService` on a real ledger: a MemoryStore (or
LevelDB) with genesis applied, a list as mempool, and `commit_pending()` which
builds a block with `ledger.execution.build_block`, certifies it with the single
validator's key and persists it with `ledger.chainstore.commit_block` - the same
store layout a real validator writes, without consensus or networking.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from contracts.registry import APPLICATION
from ledger.block import CommitCertificate, sign_commit_vote
from ledger.chainstore import (
    Head,
    commit_block,
    init_genesis,
    read_block,
    read_certificate,
    read_head,
)
from ledger.errors import CodecError
from ledger.execution import Application, account_nonce, apply_genesis, build_block
from ledger.genesis import Genesis
from ledger.keys import PrivateKey
from ledger.kv import KVStore, MemoryStore
from ledger.tx import SignedTransaction
from node.service import Admission, NodeStatus, PeerStatus

CHAIN_ID = "pasar-test"


def seed(name: str) -> PrivateKey:
    return PrivateKey.from_seed(name.encode().ljust(32, b"."))


@dataclass
class Accounts:
    validator: PrivateKey = field(default_factory=lambda: seed("validator"))
    alice: PrivateKey = field(default_factory=lambda: seed("alice"))
    bob: PrivateKey = field(default_factory=lambda: seed("bob"))


def make_genesis(accounts: Accounts) -> Genesis:
    alice = accounts.alice.public_key
    bob = accounts.bob.public_key
    coin = [
        [
            ["IDRA", "Rupiah A", 2, alice, 10**15, "platform"],
            ["PTS", "Points", 0, bob, 10**9, "open"],
        ],
        [[alice, "IDRA", 1_000_000], [bob, "IDRA", 5_000], [bob, "PTS", 100]],
    ]
    return Genesis(
        CHAIN_ID, 1_700_000_000_000, ((accounts.validator.public_key, "v0"),), [["coin", coin]]
    )


class FakeNode:
    """NodeService over a real store; blocks are committed when a test says so."""

    def __init__(
        self,
        store: KVStore | None = None,
        accounts: Accounts | None = None,
        app: Application = APPLICATION,
        mempool_limit: int = 1000,
        per_sender_limit: int = 1000,
    ) -> None:
        self.accounts = accounts or Accounts()
        self.chain_id = CHAIN_ID
        self.node_id = self.accounts.validator.public_key
        self.app = app
        self._store: KVStore = store if store is not None else MemoryStore()
        self.mempool: list[SignedTransaction] = []
        self.mempool_limit = mempool_limit
        self.refused_requests = 0  # submissions refused before they reached submit()
        self.per_sender_limit = per_sender_limit
        self.submitted: list[bytes] = []
        self._changed = asyncio.Event()
        self.timestamp_ms = 1_700_000_000_000
        self.waiting = 0  # coroutines parked in wait_for_height, so tests can sync on it
        self.peers: tuple[PeerStatus, ...] = ()
        if read_head(self._store) is None:
            genesis = make_genesis(self.accounts)
            init_genesis(self._store, genesis, apply_genesis(app, self._store, genesis))

    @property
    def store(self) -> KVStore:
        return self._store

    def head(self) -> Head:
        head = read_head(self._store)
        if head is None:
            raise RuntimeError("no genesis")
        return head

    def status(self) -> NodeStatus:
        head = self.head()
        return NodeStatus(
            chain_id=self.chain_id,
            node_id=self.node_id,
            height=head.height,
            last_block_hash=head.block_hash,
            state_root=head.state_root,
            view=0,
            primary=self.node_id,
            validators=(self.node_id,),
            peers_connected=0,
            catching_up=False,
            mempool_size=len(self.mempool),
            peers=self.peers,
        )

    async def submit(
        self, raw_transactions: Sequence[bytes | SignedTransaction]
    ) -> list[Admission]:
        results = []
        for raw in raw_transactions:
            if isinstance(raw, SignedTransaction):  # the RPC decoded it already
                self.submitted.append(raw.encoded)
                stx = raw
            else:
                self.submitted.append(raw)
                try:
                    stx = SignedTransaction.decode(raw)
                except CodecError as exc:
                    results.append(Admission(None, False, "malformed_tx", exc.message))
                    continue
            if any(p.hash == stx.hash for p in self.mempool):
                results.append(Admission(stx.hash, True, "duplicate"))
            elif len(self.mempool) >= self.mempool_limit:
                results.append(Admission(stx.hash, False, "mempool_full", "full"))
            elif stx.tx.chain_id != self.chain_id:
                results.append(Admission(stx.hash, False, "wrong_chain", "other chain"))
            elif not stx.verify_signature():
                results.append(Admission(stx.hash, False, "bad_signature", "bad signature"))
            elif stx.tx.nonce < account_nonce(self._store, stx.tx.sender):
                results.append(Admission(stx.hash, False, "nonce_reused", "nonce used"))
            elif sum(p.tx.sender == stx.tx.sender for p in self.mempool) >= self.per_sender_limit:
                results.append(Admission(stx.hash, False, "sender_backlog_full", "backlog"))
            elif any(
                p.tx.sender == stx.tx.sender and p.tx.nonce == stx.tx.nonce for p in self.mempool
            ):
                results.append(Admission(stx.hash, False, "nonce_taken", "nonce is pending"))
            else:
                self.mempool.append(stx)
                results.append(Admission(stx.hash, True, "accepted"))
        return results

    def is_pending(self, tx_hash: bytes) -> bool:
        return any(stx.hash == tx_hash for stx in self.mempool)

    async def wait_for_height(self, height: int, timeout: float) -> int:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.head().height < height:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            self._changed.clear()
            self.waiting += 1
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                break
            finally:
                self.waiting -= 1
        return self.head().height

    def mempool_full(self) -> bool:
        return len(self.mempool) >= self.mempool_limit

    def note_refused_request(self) -> None:
        self.refused_requests += 1

    def retry_after_ms(self) -> int:
        return 1500

    def commit_pending(self) -> Head:
        """Cut, execute, certify and persist one block holding the whole mempool."""
        head = self.head()
        parent = read_block(self._store, head.height) if head.height else None
        last_certificate = None
        if parent is not None:
            last_certificate = read_certificate(self._store, head.height)
        self.timestamp_ms += 1000
        block, result = build_block(
            self.app,
            self._store,
            None if parent is None else parent.header,
            head.block_hash,
            head.state_root,
            self.chain_id,
            self.timestamp_ms,
            self.node_id,
            self.mempool,
            last_certificate,
        )
        vote = sign_commit_vote(self.accounts.validator, self.chain_id, block.height, 0, block.hash)
        certificate = CommitCertificate.build(block.height, 0, block.hash, {self.node_id: vote})
        new_head = commit_block(self._store, block, certificate, result)
        self.mempool = []
        self._changed.set()
        return new_head
