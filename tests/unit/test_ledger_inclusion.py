"""Transaction and receipt inclusion proofs checked against a real block's header counts."""

from __future__ import annotations

from dataclasses import replace

from ledger.chainstore import read_block, read_receipts
from ledger.inclusion import (
    receipt_inclusion,
    tx_inclusion,
    verify_receipt_inclusion,
    verify_tx_inclusion,
)
from ledger.kv import MemoryStore
from ledger.merkle import InclusionProof, inclusion_proof, merkle_root
from tests.ledgerkit import Chain, key, make_genesis, signed

ALICE, BOB = key(1), key(2)


def committed_block() -> tuple[Chain, int]:
    genesis = make_genesis([(ALICE.public_key, "IDR", 1_000)], [("IDR", ALICE.public_key, 10**9)])
    chain = Chain(MemoryStore(), genesis)
    txs = [signed(ALICE, n, "coin.transfer", ["IDR", BOB.public_key, 10]) for n in range(3)]
    txs.append(signed(ALICE, 9, "coin.transfer", ["IDR", BOB.public_key, 10]))  # nonce gap
    chain.commit(txs)
    return chain, 1


def test_every_tx_and_receipt_of_a_block_proves_against_its_header() -> None:
    chain, height = committed_block()
    stored = read_block(chain.store, height)
    assert stored is not None
    receipts = read_receipts(chain.store, height)
    header = stored.header
    assert header.tx_count == 4 and header.receipts_count == len(receipts) == 4
    for index, stx in enumerate(stored.transactions):
        proof = tx_inclusion(stored, index)
        assert verify_tx_inclusion(header, stx.hash, proof)
        assert verify_receipt_inclusion(header, receipts[index], receipt_inclusion(receipts, index))
        assert not verify_receipt_inclusion(
            header, receipts[(index + 1) % 4], receipt_inclusion(receipts, index)
        )
    assert not receipts[3].ok  # a rejected tx's receipt proves just the same
    # A header that claims another count refuses the same proofs.
    other = replace(header, tx_count=3)
    assert not verify_tx_inclusion(other, stored.transactions[1].hash, tx_inclusion(stored, 1))


def test_leaf_one_of_four_does_not_pass_as_one_of_three() -> None:
    four = [bytes([i]) * 4 for i in range(4)]
    proof = inclusion_proof(four, 1)
    as_three = InclusionProof(1, 3, proof.siblings)
    assert proof.verify(merkle_root(four), four[1], 4)
    assert not as_three.verify(merkle_root(four), four[1], 4)  # header says 4
    assert not as_three.verify(merkle_root(four[:3]), four[1], 3)  # the 3-leaf root differs
    assert not proof.verify(merkle_root(four), four[1], 3)
