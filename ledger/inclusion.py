"""Inclusion of a transaction and its receipt in a committed block, as proofs.

A transaction's leaf is its hash under the header's `tx_root`; its receipt's leaf
is the receipt's canonical bytes under `receipts_root`, at the same index. Both
proofs are checked against the counts the header commits to.
"""

from __future__ import annotations

from collections.abc import Sequence

from ledger.block import Block, BlockHeader
from ledger.merkle import InclusionProof, inclusion_proof
from ledger.receipt import Receipt


def tx_inclusion(block: Block, index: int) -> InclusionProof:
    """Proof that the block's transaction at `index` is under its `tx_root`."""
    return inclusion_proof([stx.hash for stx in block.transactions], index)


def receipt_inclusion(receipts: Sequence[Receipt], index: int) -> InclusionProof:
    """Proof for receipt `index` of a block's stored receipts (pseudo-receipt included)."""
    return inclusion_proof([receipt.encode() for receipt in receipts], index)


def verify_tx_inclusion(header: BlockHeader, tx_hash: bytes, proof: InclusionProof) -> bool:
    return proof.verify(header.tx_root, tx_hash, header.tx_count)


def verify_receipt_inclusion(header: BlockHeader, receipt: Receipt, proof: InclusionProof) -> bool:
    return proof.verify(header.receipts_root, receipt.encode(), header.receipts_count)
