"""The two error kinds of the ledger: invalid input versus node fault.

`InvalidTransaction` is a deterministic rejection with a stable machine-readable
code; every node rejects the same transaction the same way. Anything else raised
during execution is a bug or a fault and must stop the node, not be recorded.
"""


class LedgerError(Exception):
    """Base class for errors that carry a stable machine-readable code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class CodecError(LedgerError):
    """Bytes that are not the canonical encoding of a well-formed object."""


class InvalidTransaction(LedgerError):
    """A transaction that breaks a rule; it is rejected and changes nothing."""


class InvalidBlock(LedgerError):
    """A block that breaks a header or execution rule; replicas refuse to vote for it."""
