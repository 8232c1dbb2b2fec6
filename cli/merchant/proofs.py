"""Checking offline that an invoice was paid, from a proof bundle (docs/protocol.md §10).

The bundle comes from any node (`GET /v1/txs/{hash}?prove=true`, or the
`bundle_url` of a webhook) and is trusted not at all: `ledger.bundle` checks the
commit certificate against validators the shop already trusts (the chain's
genesis file, or a set it checked before), the Merkle paths of the transaction
and its receipt, and this module then checks that what was proven is the payment
of the expected invoice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cli.merchant.errors import MerchantError, ProofError
from cli.merchant.models import VerifiedPayment
from ledger.bundle import BundleError, TrustAnchor, TxBundle, decode_bundle, verify_tx_bundle
from ledger.errors import CodecError
from ledger.keys import address_to_text
from node.home import HomeError, genesis_from_json


def anchor_from_genesis(genesis: Path | str | Mapping[str, Any]) -> TrustAnchor:
    """Trust the chain's genesis validators from height 1: `genesis` is the path of
    genesis.json or its parsed document. Get it from the chain's operator, not from
    the node whose answers you are checking."""
    try:
        if isinstance(genesis, Mapping):
            document = genesis
        else:
            document = json.loads(Path(genesis).read_text())
            if not isinstance(document, dict):
                raise HomeError("genesis.json must hold an object")
        parsed = genesis_from_json(document)
    except (OSError, ValueError, HomeError) as exc:
        raise MerchantError("bad_genesis", f"cannot use the genesis: {exc}") from exc
    return TrustAnchor(parsed.chain_id, parsed.validator_keys)


def _bundle_bytes(bundle: bytes | str) -> bytes:
    if isinstance(bundle, bytes):
        return bundle
    try:
        return bytes.fromhex(bundle.strip())
    except ValueError as exc:
        raise ProofError("the bundle is neither bytes nor hex") from exc


def verify_payment(
    bundle: bytes | str, anchor: TrustAnchor, invoice_id: str | None = None
) -> VerifiedPayment:
    """What the bundle proves about an invoice payment, or ProofError.

    Refused: a malformed bundle, a certificate without a quorum of the trusted
    validators, a transaction or receipt not in the certified block, a transaction
    that is not `invoice.pay`, one the chain rejected, or (when `invoice_id` is
    given) the payment of another invoice.
    """
    try:
        decoded = decode_bundle(_bundle_bytes(bundle))
        if not isinstance(decoded, TxBundle):
            raise ProofError("this is a state bundle, not a transaction bundle")
        verified = verify_tx_bundle(decoded, anchor)
    except CodecError as exc:
        raise ProofError(f"malformed bundle: {exc.message}") from exc
    except BundleError as exc:
        raise ProofError(str(exc)) from exc
    if decoded.tx.method != "invoice.pay":
        raise ProofError(f"the transaction is {decoded.tx.method}, not invoice.pay")
    if not verified.receipt.ok:
        raise ProofError(f"the chain rejected this payment ({verified.receipt.code})")
    paid = next((e for e in verified.receipt.events if e.name == "invoice.paid"), None)
    if paid is None:
        raise ProofError("the receipt has no invoice.paid event")
    proven_id = bytes(paid.get("id")).hex()
    if invoice_id is not None and proven_id != invoice_id.lower():
        raise ProofError(f"the bundle proves the payment of invoice {proven_id}")
    return VerifiedPayment(
        invoice_id=proven_id,
        tx_hash=verified.tx_hash.hex(),
        height=verified.height,
        index=verified.index,
        payer=address_to_text(bytes(paid.get("payer"))),
        merchant=address_to_text(bytes(paid.get("merchant"))),
        symbol=str(paid.get("symbol")),
        amount=int(paid.get("amount")),
    )
