"""JSON renderings of ledger objects for RPC answers and the event stream.

Hashes, signatures and other raw bytes are lowercase hex strings; accounts are
`pasar1...` addresses; contract values (arguments, event attributes) follow
`node.rpc.values` ({"hex": ...} for bytes).
"""

from __future__ import annotations

from typing import Any

from ledger.block import Block, BlockHeader, CommitCertificate
from ledger.keys import address_to_text
from ledger.receipt import Event, Outcome, Receipt
from ledger.tx import SignedTransaction
from node.rpc.values import to_json


def event_json(event: Event) -> dict[str, Any]:
    """`attributes` to read by name; `attribute_list` keeps the canonical order, which
    the receipts root hashes (an object's key order is not something JSON promises)."""
    return {
        "name": event.name,
        "attributes": {key: to_json(value) for key, value in event.attributes},
        "attribute_list": [[key, to_json(value)] for key, value in event.attributes],
    }


def receipt_json(receipt: Receipt) -> dict[str, Any]:
    return {
        "ok": receipt.ok,
        "code": receipt.code,
        "message": receipt.message,
        "events": [event_json(event) for event in receipt.events],
    }


def tx_json(stx: SignedTransaction) -> dict[str, Any]:
    tx = stx.tx
    return {
        "hash": stx.hash.hex(),
        "chain_id": tx.chain_id,
        "sender": address_to_text(tx.sender),
        "nonce": tx.nonce,
        "method": tx.method,
        "args": to_json(list(tx.args)),
        "expiry_ms": tx.expiry_ms,
        "version": stx.version,
        # the sender's own signature in a version 1 envelope, else null
        "signature": stx.signatures[0][1].hex() if stx.version == 1 else None,
        "signatures": [
            {"signer": address_to_text(key), "signature": signature.hex()}
            for key, signature in stx.signatures
        ],
    }


def header_json(header: BlockHeader) -> dict[str, Any]:
    return {
        "chain_id": header.chain_id,
        "height": header.height,
        "prev_hash": header.prev_hash.hex(),
        "timestamp_ms": header.timestamp_ms,
        "proposer": address_to_text(header.proposer),
        "tx_count": header.tx_count,
        "tx_root": header.tx_root.hex(),
        "receipts_count": header.receipts_count,
        "receipts_root": header.receipts_root.hex(),
        "state_root": header.state_root.hex(),
        "validator_set_hash": header.validator_set_hash.hex(),
        "last_certificate_hash": header.last_certificate_hash.hex(),
    }


def certificate_json(certificate: CommitCertificate | None) -> dict[str, Any] | None:
    if certificate is None:
        return None
    return {
        "height": certificate.height,
        "view": certificate.view,
        "block_hash": certificate.block_hash.hex(),
        "signatures": [
            {"validator": address_to_text(validator), "signature": signature.hex()}
            for validator, signature in certificate.signatures
        ],
        "encoded": certificate.encode().hex(),
    }


def tx_summary_json(
    stx: SignedTransaction, outcome: Outcome | None, senders: dict[bytes, str]
) -> dict[str, Any]:
    """A transaction as its identity and result: what matching submissions to commits
    needs. The hash is the receipt's, which is the transaction's: hashing it again
    would mean encoding it again. `senders` keeps each sender's text form for the
    rest of the block, where most senders send more than once."""
    tx = stx.tx
    sender = senders.get(tx.sender)
    if sender is None:
        sender = senders[tx.sender] = address_to_text(tx.sender)
    item: dict[str, Any] = {
        "hash": (stx.hash if outcome is None else outcome.tx_hash).hex(),
        "sender": sender,
        "nonce": tx.nonce,
        "method": tx.method,
    }
    if outcome is not None:
        item["ok"] = outcome.ok
        item["code"] = outcome.code
    return item


def block_summary_json(
    block: Block,
    outcomes: list[Outcome],
    end_block: list[Receipt],
    certificate: CommitCertificate | None,
) -> dict[str, Any]:
    """`block_json` with each transaction as `tx_summary_json` gives it."""
    senders: dict[bytes, str] = {}
    transactions = [
        tx_summary_json(stx, outcomes[index] if index < len(outcomes) else None, senders)
        for index, stx in enumerate(block.transactions)
    ]
    return _block_json(block, transactions, end_block, certificate)


def block_json(
    block: Block,
    receipts: list[Receipt],
    certificate: CommitCertificate | None,
) -> dict[str, Any]:
    """A block with each transaction's result, end-of-block events and its certificate."""
    transactions = []
    for index, stx in enumerate(block.transactions):
        item = tx_json(stx)
        if index < len(receipts):
            item["result"] = receipt_json(receipts[index])
        transactions.append(item)
    return _block_json(block, transactions, receipts[len(block.transactions) :], certificate)


def _block_json(
    block: Block,
    transactions: list[dict[str, Any]],
    end_block: list[Receipt],
    certificate: CommitCertificate | None,
) -> dict[str, Any]:
    return {
        "height": block.height,
        "hash": block.hash.hex(),
        "header": header_json(block.header),
        "transactions": transactions,
        "end_block_events": [event_json(event) for r in end_block for event in r.events],
        "last_certificate": certificate_json(block.last_certificate),
        "certificate": certificate_json(certificate),
    }
