"""check_block: every header, certificate and execution rule, each with its InvalidBlock code."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ledger.block import Block, BlockHeader, CommitCertificate
from ledger.chainstore import read_block
from ledger.errors import InvalidBlock
from ledger.execution import BlockResult, check_block
from ledger.kv import MemoryStore
from tests.ledgerkit import CHAIN_ID, VALIDATOR_KEYS, Chain, certify, key, make_genesis, signed

ALICE = key(1)
BOB = key(2)


def new_chain() -> Chain:
    genesis = make_genesis(
        balances=[(ALICE.public_key, "IDR", 1_000)], assets=[("IDR", ALICE.public_key, 10**9)]
    )
    return Chain(MemoryStore(), genesis)


def transfer(nonce: int, amount: int = 5) -> object:
    return signed(ALICE, nonce, "coin.transfer", ["IDR", BOB.public_key, amount])


def check(chain: Chain, block: Block) -> BlockResult:
    parent = None if chain.head.height == 0 else read_block(chain.store, chain.head.height)
    return check_block(
        chain.app,
        chain.store,
        block,
        None if parent is None else parent.header,
        chain.head.block_hash,
        chain.head.state_root,
        CHAIN_ID,
    )


def with_header(block: Block, **changes: object) -> Block:
    return replace(block, header=replace(block.header, **changes))


def expect(code: str, chain: Chain, block: Block) -> None:
    with pytest.raises(InvalidBlock) as caught:
        check(chain, block)
    assert caught.value.code == code


@pytest.fixture
def at_height_one() -> Chain:
    chain = new_chain()
    chain.commit([transfer(0)])
    return chain


def test_valid_blocks_pass_and_match_the_builders_result(at_height_one: Chain) -> None:
    chain = new_chain()
    block, built = chain.next_block([transfer(0)])
    assert check(chain, block) == built
    block, built = at_height_one.next_block([transfer(1)])
    assert check(at_height_one, block) == built


@pytest.mark.parametrize(
    "changes, code",
    [
        ({"chain_id": "other"}, "wrong_chain"),
        ({"height": 3}, "bad_height"),
        ({"prev_hash": b"\x01" * 32}, "bad_prev_hash"),
        ({"proposer": key(99).public_key}, "bad_proposer"),
        ({"validator_set_hash": b"\x01" * 32}, "bad_validator_set"),
        ({"last_certificate_hash": b"\x01" * 32}, "bad_certificate_hash"),
        ({"tx_count": 2}, "bad_tx_count"),
        ({"tx_count": 0}, "bad_tx_count"),
        ({"tx_root": b"\x01" * 32}, "bad_tx_root"),
        ({"receipts_count": 2}, "bad_receipts_count"),
        ({"receipts_count": 0}, "bad_receipts_count"),
        ({"receipts_root": b"\x01" * 32}, "bad_receipts_root"),
        ({"state_root": b"\x01" * 32}, "bad_state_root"),
    ],
)
def test_header_rules(at_height_one: Chain, changes: dict[str, object], code: str) -> None:
    block, _ = at_height_one.next_block([transfer(1)])
    expect(code, at_height_one, with_header(block, **changes))


def test_timestamp_must_increase(at_height_one: Chain) -> None:
    block, _ = at_height_one.next_block([])
    parent = read_block(at_height_one.store, 1)
    assert parent is not None
    same_time = with_header(block, timestamp_ms=parent.header.timestamp_ms)
    expect("bad_timestamp", at_height_one, same_time)


def test_missing_certificate(at_height_one: Chain) -> None:
    block, _ = at_height_one.next_block([])
    header = replace(block.header, last_certificate_hash=bytes(32))
    expect("missing_certificate", at_height_one, Block(header, block.transactions, None))


def resealed(block: Block, certificate: CommitCertificate) -> Block:
    """The block carrying another certificate, with the header committing to it."""
    header: BlockHeader = replace(block.header, last_certificate_hash=certificate.hash)
    return Block(header, block.transactions, certificate)


def test_certificate_for_another_block_or_height(at_height_one: Chain) -> None:
    block, _ = at_height_one.next_block([])
    good = block.last_certificate
    assert good is not None
    expect("bad_certificate", at_height_one, resealed(block, replace(good, height=2)))
    expect(
        "bad_certificate", at_height_one, resealed(block, replace(good, block_hash=b"\x01" * 32))
    )


def test_certificate_without_quorum(at_height_one: Chain) -> None:
    block, _ = at_height_one.next_block([])
    parent = read_block(at_height_one.store, 1)
    assert parent is not None
    short = certify(parent, VALIDATOR_KEYS[:2])
    expect("bad_certificate", at_height_one, resealed(block, short))
    outsiders = certify(parent, [key(90), key(91), key(92)])
    expect("bad_certificate", at_height_one, resealed(block, outsiders))


def test_first_block_carries_no_certificate() -> None:
    chain = new_chain()
    block, _ = chain.next_block([])
    stray = certify(block)
    expect("bad_certificate", chain, resealed(block, stray))


def test_duplicate_transaction(at_height_one: Chain) -> None:
    stx = transfer(1)
    block, _ = at_height_one.next_block([stx])
    doubled = Block(block.header, (stx, stx), block.last_certificate)
    expect("duplicate_tx", at_height_one, doubled)


def test_changed_transactions_break_the_tx_root(at_height_one: Chain) -> None:
    block, _ = at_height_one.next_block([transfer(1)])
    swapped = Block(block.header, (transfer(1, amount=6),), block.last_certificate)
    expect("bad_tx_root", at_height_one, swapped)


def test_check_block_does_not_write(at_height_one: Chain) -> None:
    before = dict(at_height_one.store.iterate(b""))
    block, _ = at_height_one.next_block([transfer(1)])
    check(at_height_one, block)
    assert dict(at_height_one.store.iterate(b"")) == before
