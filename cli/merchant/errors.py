"""The merchant SDK's exceptions: each carries a stable, machine-readable `code`.

A refusal by the node keeps the node's own error code (`docs/api.md`), a
transaction the chain rejected keeps its receipt code (`docs/contracts.md`), so
a shop can branch on `error.code` without parsing messages.
"""

from __future__ import annotations

from cli.webhooks.signing import WebhookVerificationError

__all__ = [
    "InvoiceClosed",
    "MerchantError",
    "NodeError",
    "NodeUnreachable",
    "NotCommitted",
    "PaymentTimeout",
    "ProofError",
    "TransactionRejected",
    "WebhookVerificationError",
]


class MerchantError(Exception):
    """Any failure of an SDK call; `code` is stable snake_case."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class NodeError(MerchantError):
    """The node answered with an error: `code` is its error code, `status` the HTTP
    status and `field` the offending input when the node names one."""

    def __init__(self, code: str, message: str, status: int, field: str | None = None) -> None:
        super().__init__(code, message)
        self.status = status
        self.field = field


class NodeUnreachable(MerchantError):
    """No answer from the node (connection refused, timeout, not JSON)."""

    def __init__(self, message: str) -> None:
        super().__init__("node_unreachable", message)


class TransactionRejected(MerchantError):
    """The transaction reached a block but its contract refused it (receipt code)."""

    def __init__(self, code: str, message: str, tx_hash: str) -> None:
        super().__init__(code, message)
        self.tx_hash = tx_hash


class NotCommitted(MerchantError):
    """The transaction was admitted but not committed within the wait."""

    def __init__(self, tx_hash: str, status: str) -> None:
        super().__init__("not_committed", f"tx {tx_hash} is still {status}")
        self.tx_hash = tx_hash


class InvoiceClosed(MerchantError):
    """The invoice can no longer be paid: `code` is `invoice_cancelled` or `invoice_expired`."""

    def __init__(self, invoice_id: str, status: str) -> None:
        super().__init__(f"invoice_{status}", f"invoice {invoice_id} is {status}")
        self.invoice_id = invoice_id
        self.status = status


class PaymentTimeout(MerchantError):
    """The deadline passed before the invoice was paid."""

    def __init__(self, invoice_id: str, timeout_s: float) -> None:
        super().__init__(
            "payment_timeout", f"invoice {invoice_id} was not paid within {timeout_s:g} s"
        )
        self.invoice_id = invoice_id


class ProofError(MerchantError):
    """A proof bundle that does not prove the payment it is said to prove."""

    def __init__(self, message: str) -> None:
        super().__init__("bad_proof", message)
