"""Transactions: what a participant signs and submits.

A transaction calls one contract method (`"coin.transfer"`) with positional
arguments. Its hash (over the unsigned encoding) is its identity and idempotency
key; the signature covers (TX domain ‖ chain id ‖ hash).

Wire form:
    Transaction       = [1, 1, chain_id, sender, nonce, method, args, expiry_ms]
    SignedTransaction = [2, 1, Transaction, signature]
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ledger import codec
from ledger.errors import CodecError
from ledger.hashing import TX, tagged_hash
from ledger.keys import PUBLIC_KEY_SIZE, SIGNATURE_SIZE, PrivateKey, SignatureCheck, verify

TAG_TX = 1
TAG_SIGNED_TX = 2
TX_VERSION = 1
MAX_TX_BYTES = 64 * 1024
MAX_CHAIN_ID = 64
MAX_METHOD = 64
MAX_NONCE = (1 << 63) - 1
MAX_TIME_MS = (1 << 63) - 1


@dataclass(frozen=True, slots=True)
class Transaction:
    """An unsigned call of `method` by `sender`; `expiry_ms` 0 means it never expires."""

    chain_id: str
    sender: bytes
    nonce: int
    method: str
    args: tuple[Any, ...]
    expiry_ms: int = 0

    def to_list(self) -> list[Any]:
        return [
            TAG_TX,
            TX_VERSION,
            self.chain_id,
            self.sender,
            self.nonce,
            self.method,
            list(self.args),
            self.expiry_ms,
        ]

    def encode(self) -> bytes:
        return codec.encode(self.to_list())

    @property
    def hash(self) -> bytes:
        return tagged_hash(TX, self.encode())

    @staticmethod
    def from_list(value: Any) -> Transaction:
        fields = codec.expect_list(value, 8, "transaction")
        if fields[0] != TAG_TX or isinstance(fields[0], bool):
            raise CodecError("bad_tag", "not a transaction")
        if fields[1] != TX_VERSION or isinstance(fields[1], bool):
            raise CodecError("bad_version", f"unsupported transaction version {fields[1]!r}")
        args = fields[6]
        if not isinstance(args, list):
            raise CodecError("bad_type", "transaction args must be an array")
        return Transaction(
            chain_id=codec.expect_str(fields[2], "chain_id", MAX_CHAIN_ID),
            sender=codec.expect_bytes(fields[3], "sender", PUBLIC_KEY_SIZE),
            nonce=codec.expect_int(fields[4], "nonce", 0, MAX_NONCE),
            method=codec.expect_str(fields[5], "method", MAX_METHOD),
            args=tuple(args),
            expiry_ms=codec.expect_int(fields[7], "expiry_ms", 0, MAX_TIME_MS),
        )

    @staticmethod
    def decode(data: bytes) -> Transaction:
        return Transaction.from_list(codec.decode(data, MAX_TX_BYTES))

    def sign(self, key: PrivateKey) -> SignedTransaction:
        if key.public_key != self.sender:
            raise ValueError("the key does not belong to the transaction's sender")
        return SignedTransaction(self, key.sign(TX, self.chain_id, self.hash))


@dataclass(frozen=True)
class SignedTransaction:
    """A transaction with its sender's Ed25519 signature."""

    tx: Transaction
    signature: bytes

    def to_list(self) -> list[Any]:
        return [TAG_SIGNED_TX, TX_VERSION, self.tx.to_list(), self.signature]

    @cached_property
    def encoded(self) -> bytes:
        return codec.encode(self.to_list())

    def encode(self) -> bytes:
        return self.encoded

    @cached_property
    def hash(self) -> bytes:
        return self.tx.hash

    @property
    def verification_key(self) -> bytes:
        """What a cache of checked signatures holds: the tx hash and the signature.

        The tx hash alone is not enough: the same transaction can arrive with another
        (invalid) signature, and a node that skipped the check because it knew the hash
        would accept a block that nodes without the cache reject.
        """
        return self.hash + self.signature

    def signature_check(self) -> SignatureCheck:
        """The arguments `ledger.keys.verify` takes for this transaction."""
        return (self.tx.sender, TX, self.tx.chain_id, self.hash, self.signature)

    def verify_signature(self) -> bool:
        return verify(*self.signature_check())

    @staticmethod
    def from_list(value: Any) -> SignedTransaction:
        fields = codec.expect_list(value, 4, "signed transaction")
        if fields[0] != TAG_SIGNED_TX or isinstance(fields[0], bool):
            raise CodecError("bad_tag", "not a signed transaction")
        if fields[1] != TX_VERSION or isinstance(fields[1], bool):
            raise CodecError("bad_version", f"unsupported transaction version {fields[1]!r}")
        tx = Transaction.from_list(fields[2])
        signature = codec.expect_bytes(fields[3], "signature", SIGNATURE_SIZE)
        return SignedTransaction(tx, signature)

    @staticmethod
    def decode(data: bytes) -> SignedTransaction:
        stx = SignedTransaction.from_list(codec.decode(data, MAX_TX_BYTES))
        stx.__dict__["encoded"] = bytes(data)
        return stx
