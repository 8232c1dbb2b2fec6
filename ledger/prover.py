"""Assembling proof bundles (ledger.bundle) from a node's committed store.

The certificate for block h is the one block h+1 carries once it exists (the
store keeps that one, see ledger.chainstore), otherwise the node's own quorum
for its newest block. State bundles prove against the newest committed block,
whose state is the one the flat key-value store holds.
"""

from __future__ import annotations

from collections.abc import Sequence

from ledger.block import BlockHeader, CommitCertificate
from ledger.bundle import StateBundle, TxBundle, ValidatorChange
from ledger.chainstore import (
    find_tx,
    read_block,
    read_certificate,
    read_head,
    read_receipts,
    read_validator_proof,
)
from ledger.inclusion import receipt_inclusion, tx_inclusion
from ledger.kv import KVReader
from ledger.state_tree import prove
from ledger.validators import validator_schedule


class ProofUnavailable(Exception):
    """The store cannot prove this (unknown transaction, nothing committed yet, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def certified_header(reader: KVReader, height: int) -> tuple[BlockHeader, CommitCertificate]:
    block = read_block(reader, height)
    certificate = read_certificate(reader, height)
    if block is None or certificate is None:
        raise ProofUnavailable("block_not_found", f"no certified block at height {height}")
    return block.header, certificate


def validator_changes(
    reader: KVReader, trusted_height: int, up_to_height: int
) -> list[ValidatorChange]:
    """One change per set that starts after `trusted_height`, up to `up_to_height`."""
    changes = []
    for start, _ in validator_schedule(reader):
        if start <= max(trusted_height, 1) or start > up_to_height:
            continue
        header, certificate = certified_header(reader, start - 1)
        proof = read_validator_proof(reader, start)
        if proof is None:
            raise ProofUnavailable(
                "proof_unavailable", f"no proof is kept for the validator set of height {start}"
            )
        changes.append(ValidatorChange(header, certificate, proof))
    return changes


def tx_bundle(reader: KVReader, tx_hash: bytes, trusted_height: int = 1) -> TxBundle:
    """A committed transaction with its receipt, proofs, certified header and set changes."""
    location = find_tx(reader, tx_hash)
    if location is None:
        raise ProofUnavailable("tx_not_found", "the transaction is not committed")
    height, index = location
    block = read_block(reader, height)
    receipts = read_receipts(reader, height)
    if block is None or index >= len(block.transactions) or index >= len(receipts):
        raise ProofUnavailable("proof_unavailable", f"store is inconsistent at height {height}")
    header, certificate = certified_header(reader, height)
    return TxBundle(
        tx=block.transactions[index].tx,
        receipt=receipts[index],
        tx_proof=tx_inclusion(block, index),
        receipt_proof=receipt_inclusion(receipts, index),
        header=header,
        certificate=certificate,
        changes=tuple(validator_changes(reader, trusted_height, height)),
    )


def state_bundle(reader: KVReader, keys: Sequence[bytes], trusted_height: int = 1) -> StateBundle:
    """Values (or absence) of `keys` in the newest committed state, proven."""
    head = read_head(reader)
    if head is None or head.height == 0:
        raise ProofUnavailable("block_not_found", "no block has been committed yet")
    header, certificate = certified_header(reader, head.height)
    proofs = tuple(
        prove(reader, head.height, head.state_root, key, reader.get(key)) for key in keys
    )
    return StateBundle(
        proofs=proofs,
        header=header,
        certificate=certificate,
        changes=tuple(validator_changes(reader, trusted_height, head.height)),
    )
