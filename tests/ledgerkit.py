"""Shared builders for ledger tests: deterministic keys, a genesis, signed txs, certified blocks.

Keys come from fixed seeds so that failures reproduce byte for byte.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from contracts.registry import APPLICATION
from ledger.block import Block, CommitCertificate, sign_commit_vote
from ledger.chainstore import (
    Head,
    commit_block,
    init_genesis,
    read_block,
    read_certificate,
    read_genesis,
    read_head,
)
from ledger.execution import Application, BlockResult, apply_genesis, build_block
from ledger.genesis import Genesis
from ledger.keys import PrivateKey
from ledger.kv import KVStore
from ledger.tx import SignedTransaction, Transaction

CHAIN_ID = "pasar-test"
GENESIS_TIME_MS = 1_700_000_000_000
BLOCK_INTERVAL_MS = 1_000


def key(n: int) -> PrivateKey:
    """The n-th deterministic test key."""
    return PrivateKey.from_seed(n.to_bytes(4, "big") * 8)


VALIDATOR_KEYS = tuple(key(1000 + i) for i in range(4))


def make_genesis(
    balances: Sequence[tuple[bytes, str, int]] = (),
    assets: Sequence[tuple[str, bytes, int]] = (),
    validators: Sequence[PrivateKey] = VALIDATOR_KEYS,
    chain_id: str = CHAIN_ID,
) -> Genesis:
    """A genesis with open assets (symbol, issuer, cap) and initial balances."""
    asset_rows = [
        [symbol, symbol.lower(), 2, issuer, cap, "open"] for symbol, issuer, cap in assets
    ]
    balance_rows = [[account, symbol, amount] for account, symbol, amount in balances]
    return Genesis(
        chain_id=chain_id,
        genesis_time_ms=GENESIS_TIME_MS,
        validators=tuple((k.public_key, f"v{i}") for i, k in enumerate(validators)),
        app_state=[["coin", [asset_rows, balance_rows]]],
    )


def signed(
    sender: PrivateKey,
    nonce: int,
    method: str,
    args: Sequence[Any],
    chain_id: str = CHAIN_ID,
    expiry_ms: int = 0,
) -> SignedTransaction:
    tx = Transaction(chain_id, sender.public_key, nonce, method, tuple(args), expiry_ms)
    return tx.sign(sender)


def certify(
    block: Block, validators: Sequence[PrivateKey] = VALIDATOR_KEYS, view: int = 0
) -> CommitCertificate:
    """A certificate signed by every given validator."""
    votes = {
        k.public_key: sign_commit_vote(k, block.header.chain_id, block.height, view, block.hash)
        for k in validators
    }
    return CommitCertificate.build(block.height, view, block.hash, votes)


class Chain:
    """A chain on a store: genesis, then blocks built, certified and committed one by one."""

    def __init__(self, store: KVStore, genesis: Genesis, app: Application = APPLICATION) -> None:
        self.store = store
        self.genesis = genesis
        self.app = app
        self.head: Head = init_genesis(store, genesis, apply_genesis(app, store, genesis))
        self.last_certificate: CommitCertificate | None = None

    @classmethod
    def reopen(cls, store: KVStore, app: Application = APPLICATION) -> Chain:
        """Continue the chain already committed in `store` (after a restart)."""
        genesis, head = read_genesis(store), read_head(store)
        if genesis is None or head is None:
            raise ValueError("the store holds no chain")
        chain = cls.__new__(cls)
        chain.store, chain.genesis, chain.app, chain.head = store, genesis, app, head
        chain.last_certificate = read_certificate(store, head.height) if head.height else None
        return chain

    def next_block(self, transactions: Sequence[SignedTransaction]) -> tuple[Block, BlockResult]:
        parent = None if self.head.height == 0 else read_block(self.store, self.head.height)
        return build_block(
            self.app,
            self.store,
            None if parent is None else parent.header,
            self.head.block_hash,
            self.head.state_root,
            self.genesis.chain_id,
            GENESIS_TIME_MS + BLOCK_INTERVAL_MS * (self.head.height + 1),
            VALIDATOR_KEYS[0].public_key,
            transactions,
            self.last_certificate,
        )

    def commit(self, transactions: Sequence[SignedTransaction]) -> tuple[Block, BlockResult]:
        block, result = self.next_block(transactions)
        certificate = certify(block)
        self.head = commit_block(self.store, block, certificate, result)
        self.last_certificate = certificate
        return block, result
