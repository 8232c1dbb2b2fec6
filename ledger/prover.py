"""Assembling proof bundles (ledger.bundle) from a node's committed store.

The certificate for block h is the one block h+1 carries once it exists (the
store keeps that one, see ledger.chainstore), otherwise the node's own quorum
for its newest block. State bundles prove against the newest committed block,
whose state is the one the flat key-value store holds.
"""

from __future__ import annotations

from collections.abc import Sequence

from ledger.block import BlockHeader, CommitCertificate
from ledger.bundle import (
    GovernanceEvidence,
    StateBundle,
    TrustStep,
    TxBundle,
    ValidatorChange,
    ValidatorSkip,
    set_at,
)
from ledger.chainstore import (
    find_tx,
    read_block,
    read_certificate,
    read_head,
    read_receipts,
    read_validator_proof,
    read_validator_tx,
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


def included(reader: KVReader, height: int, index: int) -> GovernanceEvidence:
    """Transaction `index` of block `height` with its receipt, proofs and certified header."""
    block = read_block(reader, height)
    receipts = read_receipts(reader, height)
    if block is None or index >= len(block.transactions) or index >= len(receipts):
        raise ProofUnavailable("proof_unavailable", f"store is inconsistent at height {height}")
    header, certificate = certified_header(reader, height)
    return GovernanceEvidence(
        tx=block.transactions[index].tx,
        receipt=receipts[index],
        tx_proof=tx_inclusion(block, index),
        receipt_proof=receipt_inclusion(receipts, index),
        header=header,
        certificate=certificate,
    )


def validator_change(reader: KVReader, start: int, trusted_height: int) -> ValidatorChange:
    """The sequential step to the set that starts at `start`: header start - 1, the
    schedule proof in its state and, when the client can check it (its block is not
    older than `trusted_height`), the governance transaction that scheduled the set."""
    header, certificate = certified_header(reader, start - 1)
    proof = read_validator_proof(reader, start)
    if proof is None:
        raise ProofUnavailable(
            "proof_unavailable", f"no proof is kept for the validator set of height {start}"
        )
    location = read_validator_tx(reader, start)
    evidence = None
    if location is not None and location[0] >= trusted_height:
        evidence = included(reader, *location)
    return ValidatorChange(header, certificate, proof, evidence)


def validator_changes(
    reader: KVReader, trusted_height: int, up_to_height: int, skip: bool = False
) -> list[TrustStep]:
    """The steps from the set trusted at `trusted_height` to the one signing
    `up_to_height`: one change per set that starts in between, or with `skip`, a
    single skip to the first header of the newest set as soon as more than a third
    of the set trusted so far signed it (sequential changes until then)."""
    schedule = validator_schedule(reader)
    trusted = max(trusted_height, 1)
    starts = [start for start, _ in schedule if trusted < start <= up_to_height]
    if not skip or not starts:
        return [validator_change(reader, start, trusted) for start in starts]
    newest = starts[-1]
    header, certificate = certified_header(reader, newest)
    signers = [validator for validator, _ in certificate.signatures]
    current = set(set_at(schedule, trusted))  # membership only
    steps: list[TrustStep] = []
    for start in starts:
        if 3 * sum(1 for signer in signers if signer in current) > len(current):
            steps.append(ValidatorSkip(header, certificate, set_at(schedule, newest)))
            return steps
        steps.append(validator_change(reader, start, trusted))
        current = set(set_at(schedule, start))
        trusted = start
    return steps


def tx_bundle(
    reader: KVReader, tx_hash: bytes, trusted_height: int = 1, skip: bool = False
) -> TxBundle:
    """A committed transaction with its receipt, proofs, certified header and set changes."""
    location = find_tx(reader, tx_hash)
    if location is None:
        raise ProofUnavailable("tx_not_found", "the transaction is not committed")
    height, index = location
    found = included(reader, height, index)
    return TxBundle(
        tx=found.tx,
        receipt=found.receipt,
        tx_proof=found.tx_proof,
        receipt_proof=found.receipt_proof,
        header=found.header,
        certificate=found.certificate,
        changes=tuple(validator_changes(reader, trusted_height, height, skip)),
    )


def state_bundle(
    reader: KVReader, keys: Sequence[bytes], trusted_height: int = 1, skip: bool = False
) -> StateBundle:
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
        changes=tuple(validator_changes(reader, trusted_height, head.height, skip)),
    )
