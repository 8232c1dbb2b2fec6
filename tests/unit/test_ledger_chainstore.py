"""The committed chain in a store: genesis, atomic block commits, and reading it back."""

from __future__ import annotations

import pytest

from contracts.coin import balance
from ledger import codec
from ledger.block import Block
from ledger.chainstore import (
    HEAD_KEY,
    commit_batch,
    commit_block,
    find_tx,
    init_genesis,
    read_block,
    read_certificate,
    read_genesis,
    read_head,
    read_outcomes,
    read_receipts,
)
from ledger.errors import CodecError
from ledger.execution import END_BLOCK_CODE, apply_genesis
from ledger.kv import MemoryStore
from ledger.receipt import Event, Outcome
from tests.ledgerkit import VALIDATOR_KEYS, Chain, certify, key, make_genesis, signed

ALICE = key(1)
BOB = key(2)
GENESIS = make_genesis(
    balances=[(ALICE.public_key, "IDR", 1_000)], assets=[("IDR", ALICE.public_key, 10**9)]
)


def test_genesis_is_written_once_with_a_height_zero_head() -> None:
    store = MemoryStore()
    assert read_head(store) is None and read_genesis(store) is None
    result = apply_genesis(Chain(MemoryStore(), GENESIS).app, store, GENESIS)
    head = init_genesis(store, GENESIS, result)
    assert (head.height, head.block_hash, head.state_root) == (0, GENESIS.hash, result.state_root)
    assert read_head(store) == head
    assert read_genesis(store) == GENESIS
    assert balance(store, ALICE.public_key, "IDR") == 1_000
    with pytest.raises(ValueError):
        init_genesis(store, GENESIS, result)


def test_commit_writes_block_certificate_receipts_index_state_and_head() -> None:
    chain = Chain(MemoryStore(), GENESIS)
    good = signed(ALICE, 0, "coin.transfer", ["IDR", BOB.public_key, 10])
    rejected = signed(BOB, 0, "coin.transfer", ["IDR", ALICE.public_key, 11])
    block, result = chain.commit([good, rejected])
    head = read_head(chain.store)
    assert head == chain.head and head.height == 1 and head.block_hash == block.hash
    assert head.state_root == block.header.state_root == result.state_root
    assert read_block(chain.store, 1) == block
    certificate = read_certificate(chain.store, 1)
    assert certificate == chain.last_certificate and certificate is not None
    assert [r.code for r in read_receipts(chain.store, 1)] == ["ok", "insufficient_funds"]
    assert find_tx(chain.store, good.hash) == (1, 0)
    assert find_tx(chain.store, rejected.hash) == (1, 1)
    assert find_tx(chain.store, b"\x00" * 32) is None
    assert balance(chain.store, BOB.public_key, "IDR") == 10
    assert read_block(chain.store, 2) is None and read_certificate(chain.store, 2) is None
    assert read_receipts(chain.store, 2) == []


def test_heights_must_follow_each_other() -> None:
    chain = Chain(MemoryStore(), GENESIS)
    block, result = chain.next_block([])
    chain.commit([])
    with pytest.raises(ValueError):
        commit_block(chain.store, block, certify(block), result)  # height 1 again
    empty = MemoryStore()
    later, later_result = Chain(MemoryStore(), GENESIS).next_block([])
    object.__setattr__(later.header, "height", 2)
    with pytest.raises(ValueError):
        commit_block(empty, later, certify(later), later_result)


def test_commit_refuses_a_block_off_the_head_or_a_foreign_certificate() -> None:
    chain = Chain(MemoryStore(), GENESIS)
    block, result = chain.next_block([])
    other = Chain(MemoryStore(), make_genesis(assets=[("XYZ", BOB.public_key, 5)]))
    foreign, foreign_result = other.next_block([])
    with pytest.raises(ValueError):
        commit_block(chain.store, foreign, certify(foreign), foreign_result)  # other prev_hash
    with pytest.raises(ValueError):
        commit_block(chain.store, block, certify(foreign), result)
    assert read_head(chain.store) == chain.head and chain.head.height == 0
    commit_block(chain.store, block, certify(block), result)


def test_commit_is_one_batch_holding_everything() -> None:
    chain = Chain(MemoryStore(), GENESIS)
    block, result = chain.next_block([signed(ALICE, 0, "coin.burn", ["IDR", 1])])
    batch = commit_batch(block, certify(block), result)
    for key_, value in result.write_set:
        assert batch[key_] == value
    assert batch[HEAD_KEY] == codec.encode([1, block.hash, block.header.state_root])
    for key_, value in result.tree_writes.items():
        assert batch[key_] == value
    # + block, cert, receipts, tx index, head
    assert len(batch) == len(result.write_set) + len(result.tree_writes) + 5


def test_end_of_block_events_are_stored_as_a_pseudo_receipt() -> None:
    chain = Chain(MemoryStore(), GENESIS)
    block, result = chain.next_block([])
    result.block_events.append(Event("test.tick", (("n", 1),)))
    commit_block(chain.store, block, certify(block), result)
    receipts = read_receipts(chain.store, 1)
    assert len(receipts) == 1 and receipts[0].code == END_BLOCK_CODE
    assert receipts[0].events == (Event("test.tick", (("n", 1),)),)


def test_outcomes_are_the_receipts_without_events_and_end_of_block_stays_whole() -> None:
    chain = Chain(MemoryStore(), GENESIS)
    good = signed(ALICE, 0, "coin.transfer", ["IDR", BOB.public_key, 10])
    rejected = signed(BOB, 0, "coin.transfer", ["IDR", ALICE.public_key, 11])
    block, result = chain.next_block([good, rejected])
    result.block_events.append(Event("test.tick", (("n", 1),)))
    commit_block(chain.store, block, certify(block), result)
    receipts = read_receipts(chain.store, 1)
    outcomes, end_block = read_outcomes(chain.store, 1, len(block.transactions))
    assert outcomes == [Outcome(r.tx_hash, r.ok, r.code) for r in receipts[:2]]
    assert [o.tx_hash for o in outcomes] == [good.hash, rejected.hash]
    assert [(o.ok, o.code) for o in outcomes] == [(True, "ok"), (False, "insufficient_funds")]
    assert end_block == receipts[2:] and end_block[0].code == END_BLOCK_CODE
    assert end_block[0].events == (Event("test.tick", (("n", 1),)),)
    assert read_outcomes(chain.store, 2, 0) == ([], [])


def test_an_outcome_is_checked_like_its_receipt() -> None:
    receipt = [6, 1, bytes(32), True, "ok", "", []]
    assert Outcome.from_list(receipt) == Outcome(bytes(32), True, "ok")
    for bad in (
        [7, *receipt[1:]],  # not a receipt's tag
        [6, True, *receipt[2:]],  # a boolean for the version
        [*receipt[:2], bytes(31), *receipt[3:]],  # a short hash
        [*receipt[:3], 1, *receipt[4:]],  # ok that is not a boolean
        [*receipt[:6], "not events"],
        receipt[:6],
    ):
        with pytest.raises(CodecError):
            Outcome.from_list(bad)


def test_a_stored_block_reads_back_as_the_canonical_decoder_gives_it() -> None:
    chain = Chain(MemoryStore(), GENESIS)
    chain.commit([signed(ALICE, 0, "coin.transfer", ["IDR", BOB.public_key, 3])])
    stored = read_block(chain.store, 1)
    assert stored is not None
    assert stored == Block.decode(stored.encoded)
    assert stored.encoded == codec.encode(stored.to_list())
    with pytest.raises(CodecError):
        Block.decode_stored(b"\xc1")  # not msgpack at all


def test_many_blocks_keep_chaining() -> None:
    chain = Chain(MemoryStore(), GENESIS)
    for nonce in range(5):
        chain.commit([signed(ALICE, nonce, "coin.transfer", ["IDR", BOB.public_key, 1])])
    assert chain.head.height == 5
    for height in range(2, 6):
        block, parent = read_block(chain.store, height), read_block(chain.store, height - 1)
        assert block is not None and parent is not None
        assert block.header.prev_hash == parent.hash
        assert block.last_certificate == read_certificate(chain.store, height - 1)
    assert balance(chain.store, BOB.public_key, "IDR") == 5


def test_once_the_next_block_exists_its_certificate_is_served_for_the_parent() -> None:
    chain = Chain(MemoryStore(), GENESIS)
    first, result = chain.next_block([])
    own = certify(first, VALIDATOR_KEYS[:3])  # this node's quorum
    commit_block(chain.store, first, own, result)
    chain.head = read_head(chain.store) or chain.head
    assert read_certificate(chain.store, 1) == own
    carried = certify(first, VALIDATOR_KEYS[1:])  # another, equally valid quorum
    chain.last_certificate = carried
    second, second_result = chain.next_block([])
    assert second.last_certificate == carried != own
    commit_block(chain.store, second, certify(second), second_result)
    assert read_certificate(chain.store, 1) == carried
