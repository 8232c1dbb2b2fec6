"""The node's chain on LevelDB: propose, check, commit, reopen."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.registry import APPLICATION
from ledger.block import Block, CommitCertificate, sign_commit_vote
from ledger.errors import InvalidBlock
from ledger.genesis import Genesis
from ledger.keys import PrivateKey, address_to_text
from ledger.state_tree import FORMAT_KEY, node_key, prove, read_node
from ledger.tx import SignedTransaction, Transaction
from node.chain import Chain, GenesisMismatch, IncompatibleStore
from node.home import genesis_from_json
from node.storage import LevelDBStore

VALIDATOR = PrivateKey.from_seed(bytes([7]) * 32)
ALICE = PrivateKey.from_seed(bytes([8]) * 32)
BOB = PrivateKey.from_seed(bytes([9]) * 32).public_key


def genesis(chain_id: str = "t") -> Genesis:
    return genesis_from_json(
        {
            "chain_id": chain_id,
            "genesis_time_ms": 1_000,
            "validators": [{"name": "v", "key": address_to_text(VALIDATOR.public_key)}],
            "app_state": {
                "coin": [
                    [["IDR", "Rupiah", 0, address_to_text(ALICE.public_key), 10**9, "open"]],
                    [[address_to_text(ALICE.public_key), "IDR", 1000]],
                ]
            },
        }
    )


def certify(chain: Chain, block: Block) -> CommitCertificate:
    vote = sign_commit_vote(VALIDATOR, "t", block.height, 0, block.hash)
    return CommitCertificate.build(block.height, 0, block.hash, {VALIDATOR.public_key: vote})


def transfer(nonce: int, amount: int) -> SignedTransaction:
    return Transaction("t", ALICE.public_key, nonce, "coin.transfer", ("IDR", BOB, amount)).sign(
        ALICE
    )


def test_propose_commit_and_reopen(tmp_path: Path) -> None:
    committed = []
    with LevelDBStore(tmp_path / "db") as store:
        chain = Chain(store, APPLICATION, genesis())
        chain.listeners.append(committed.append)
        block = chain.propose(VALIDATOR.public_key, 500, [transfer(0, 10), transfer(1, 20)])
        assert block.header.timestamp_ms == 1_001  # never before the parent (genesis) time
        chain.commit(block, certify(chain, block))
        second = chain.propose(VALIDATOR.public_key, 5_000, [transfer(2, 5)])
        assert second.last_certificate is not None
        chain.commit(second, certify(chain, second))
        assert chain.height == 2 and chain.next_nonce(ALICE.public_key) == 3
        assert [c.block.height for c in committed] == [1, 2]
        head = chain.head
    with LevelDBStore(tmp_path / "db") as store:
        again = Chain(store, APPLICATION, genesis())
        assert again.head == head
        assert again.head_certificate is not None and again.block_with_certificate(2)
    with LevelDBStore(tmp_path / "db") as store, pytest.raises(GenesisMismatch):
        Chain(store, APPLICATION, genesis("other"))


def test_a_data_directory_in_the_earlier_tree_layout_is_refused_at_open(tmp_path: Path) -> None:
    with LevelDBStore(tmp_path / "db") as store:
        chain = Chain(store, APPLICATION, genesis())
        block = chain.propose(VALIDATOR.public_key, 2_000, [transfer(0, 1)])
        chain.commit(block, certify(chain, block))
        # An earlier release hashed a binary tree inside each node, began its nodes with
        # 02 or 04 and wrote no format entry.
        raw = read_node(store, 1, b"")
        assert raw is not None
        store.write({node_key(1, b""): b"\x04" + raw[1:], FORMAT_KEY: None})
    with (
        LevelDBStore(tmp_path / "db") as store,
        pytest.raises(IncompatibleStore, match="earlier release"),
    ):
        Chain(store, APPLICATION, genesis())


def test_check_refuses_future_blocks_and_bad_certificates(tmp_path: Path) -> None:
    with LevelDBStore(tmp_path / "db") as store:
        chain = Chain(store, APPLICATION, genesis(), max_drift_ms=5_000)
        block = chain.propose(VALIDATOR.public_key, 100_000, [])
        fresh = Chain.__new__(Chain)
        fresh.__dict__.update(chain.__dict__)
        fresh._results = {}
        with pytest.raises(InvalidBlock, match="timestamp_in_future"):
            fresh.check(block, now_ms=90_000)
        assert fresh.check(block, now_ms=96_000).state_root == block.header.state_root
        wrong = CommitCertificate.build(1, 0, block.hash, {})
        with pytest.raises(InvalidBlock, match="bad_certificate"):
            chain.commit(block, wrong)
        assert chain.height == 0


def test_state_tree_versions_beyond_the_configured_number_are_pruned(tmp_path: Path) -> None:
    with LevelDBStore(tmp_path / "db") as store:
        chain = Chain(store, APPLICATION, genesis(), keep_versions=2)
        for nonce in range(5):
            block = chain.propose(VALIDATOR.public_key, 2_000 + nonce, [transfer(nonce, 1)])
            chain.commit(block, certify(chain, block))
        # Versions 4 and 5 stay provable; the roots of versions 0..3 are gone.
        key = b"coin/bal/" + ALICE.public_key + b"/IDR"
        root = chain.head.state_root
        assert prove(store, 5, root, key, store.get(key)).verify(root)
        assert read_node(store, 4, b"") is not None
        assert [read_node(store, version, b"") for version in range(4)] == [None] * 4
