"""Signing a transaction and submitting it, stepping past nonces still in the mempool.

Shared by `pasar tx` and the merchant SDK (cli/merchant): both fetch the
committed nonce, and a transaction sent a moment ago may still hold it in the
mempool (`nonce_taken`), so the next nonce is tried, a bounded number of times.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cli.client import NodeClient, NodeReplyError
from cli.common import CliError
from ledger.keys import PrivateKey
from ledger.tx import SignedTransaction, Transaction

MAX_NONCE_STEPS = 64


def sign_and_submit(
    client: NodeClient, tx: Transaction, keys: list[PrivateKey], nonce_fixed: bool = False
) -> tuple[SignedTransaction, Any]:
    """Sign `tx` with `keys` and POST it; answer the signed tx and the node's admission.

    Unless `nonce_fixed` (the caller chose the nonce), a `nonce_taken` refusal moves
    to the next nonce and signs again.
    """
    for _ in range(MAX_NONCE_STEPS):
        stx = tx.sign(*keys)
        try:
            return stx, client.submit(stx.encode())
        except NodeReplyError as exc:
            if exc.code != "nonce_taken" or nonce_fixed:
                raise
            tx = replace(tx, nonce=tx.nonce + 1)
    raise CliError(f"{MAX_NONCE_STEPS} pending transactions already use the next nonces")
