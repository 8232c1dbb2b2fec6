"""Transactions: what a participant signs and submits.

A transaction calls one contract method (`"coin.transfer"`) with positional
arguments. Its hash (over the unsigned encoding) is its identity and idempotency
key; every signature covers (TX domain ‖ chain id ‖ hash), so the signatures are
never part of what is signed and co-signers can sign in any order.

Wire form (the envelope's version says how the signatures are carried):
    Transaction       = [1, 1, chain_id, sender, nonce, method, args, expiry_ms]
    SignedTransaction = [2, 1, Transaction, signature]                 (the sender's key alone)
    SignedTransaction = [2, 2, Transaction, [[public_key, signature], ...]]

Version 1 is the one form of a transaction signed by its sender's own key alone;
version 2 carries any other set of signers, sorted by public key bytewise strictly
ascending (so a signer appears once and one set of signatures has one encoding).
A version 2 envelope holding only the sender's own signature is refused: it would
be a second encoding of a version 1 transaction. Whether the signers carry enough
weight is decided by execution against the account's policy, not here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import Any

from ledger import codec
from ledger.cached import cached_attribute
from ledger.errors import CodecError
from ledger.hashing import TX, tagged_hash
from ledger.keys import PUBLIC_KEY_SIZE, SIGNATURE_SIZE, PrivateKey, SignatureCheck, verify

TAG_TX = 1
TAG_SIGNED_TX = 2
TX_VERSION = 1
ENVELOPE_SINGLE = 1  # the sender's own signature alone
ENVELOPE_MULTI = 2  # a sorted list of (public key, signature)
MAX_SIGNATURES = 16
MAX_TX_BYTES = 64 * 1024
# Values a transaction's args hold in all: each item, and each item of an array among
# them at any depth. A contract's largest call holds a few hundred; the bound is what
# keeps decoding a transaction cheap: 64 KiB of empty arrays would be 65,536 lists.
MAX_ARG_VALUES = 1_024
# The most values a signed transaction holds besides its args' items: the envelope, its
# tag and version, the transaction's eight fields and sixteen [key, signature] pairs (61)
_OTHER_VALUES = 64
MAX_CHAIN_ID = 64
MAX_METHOD = 64
MAX_NONCE = (1 << 63) - 1
MAX_TIME_MS = (1 << 63) - 1

Signature = tuple[bytes, bytes]  # (public key, Ed25519 signature)
_FIRST = itemgetter(0)


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
        _, _, chain_id, sender, nonce, method, args, expiry_ms = fields
        if not isinstance(args, list):
            raise CodecError("bad_type", "transaction args must be an array")
        if len(args) > MAX_ARG_VALUES or arg_values(args) > MAX_ARG_VALUES:
            raise too_many_values()
        # Decoded fields have exact types: test them in place, and call the
        # `expect_*` helpers (which name the first bad field) only if one fails.
        if not _fields_in_range(chain_id, sender, nonce, method, expiry_ms):
            chain_id = codec.expect_str(chain_id, "chain_id", MAX_CHAIN_ID)
            sender = codec.expect_bytes(sender, "sender", PUBLIC_KEY_SIZE)
            nonce = codec.expect_int(nonce, "nonce", 0, MAX_NONCE)
            method = codec.expect_str(method, "method", MAX_METHOD)
            expiry_ms = codec.expect_int(expiry_ms, "expiry_ms", 0, MAX_TIME_MS)
        return Transaction(chain_id, sender, nonce, method, tuple(args), expiry_ms)

    @staticmethod
    def decode(data: bytes) -> Transaction:
        check_value_count(data)
        return Transaction.from_list(codec.decode(data, MAX_TX_BYTES))

    def signature_by(self, key: PrivateKey) -> Signature:
        """`key`'s signature over this transaction, as the envelope carries it."""
        return (key.public_key, key.sign(TX, self.chain_id, self.hash))

    def sign(self, *keys: PrivateKey) -> SignedTransaction:
        """Sign with one or more keys (any order; the envelope sorts them)."""
        if not keys:
            raise ValueError("at least one key must sign")
        return SignedTransaction.build(self, [self.signature_by(key) for key in keys])


@dataclass(frozen=True)
class SignedTransaction:
    """A transaction with its signatures, sorted by signer key, each signer once."""

    tx: Transaction
    signatures: tuple[Signature, ...]

    def __post_init__(self) -> None:
        check_signatures(self.tx, self.signatures)

    @staticmethod
    def build(tx: Transaction, signatures: Iterable[Signature]) -> SignedTransaction:
        """Sort signatures into envelope order; a signer given twice is refused."""
        return SignedTransaction(tx, tuple(sorted(signatures)))

    @staticmethod
    def single(tx: Transaction, signature: bytes) -> SignedTransaction:
        """The version 1 form: the sender's own signature."""
        return SignedTransaction(tx, ((tx.sender, signature),))

    def with_signatures(self, signatures: Iterable[Signature]) -> SignedTransaction:
        """This transaction with more signatures added (a signer already present is
        replaced, so signing twice with one key is harmless)."""
        merged = dict(self.signatures)
        merged.update(signatures)
        return SignedTransaction(self.tx, tuple(sorted(merged.items())))

    @cached_attribute
    def version(self) -> int:
        # asked for every transaction of every compact proposal, twice (which entries
        # it may fill, then that the block holds them), besides encoding
        if len(self.signatures) == 1 and self.signatures[0][0] == self.tx.sender:
            return ENVELOPE_SINGLE
        return ENVELOPE_MULTI

    @cached_attribute
    def signers(self) -> tuple[bytes, ...]:
        """The signing public keys, in envelope order (asked on admission and in execution)."""
        # map with a C getter: no generator frame to enter (entering a frame is
        # where CPython may hand the GIL to another thread; admission asks this
        # on the event loop while the block worker executes)
        return tuple(map(_FIRST, self.signatures))

    def to_list(self) -> list[Any]:
        if self.version == ENVELOPE_SINGLE:
            return [TAG_SIGNED_TX, ENVELOPE_SINGLE, self.tx.to_list(), self.signatures[0][1]]
        pairs = [[key, signature] for key, signature in self.signatures]
        return [TAG_SIGNED_TX, ENVELOPE_MULTI, self.tx.to_list(), pairs]

    @cached_attribute
    def encoded(self) -> bytes:
        return codec.encode(self.to_list())

    def encode(self) -> bytes:
        return self.encoded

    @cached_attribute
    def hash(self) -> bytes:
        encoded = self.__dict__.get("encoded")
        if encoded is None:
            return self.tx.hash
        # The transaction's own encoding is the middle of the envelope's, between its
        # head and its signatures: with the envelope's bytes at hand (as received, or
        # encoded already) hash that slice instead of encoding the transaction again.
        return tagged_hash(TX, encoded[_ENVELOPE_HEAD : -_signatures_size(self)])

    @cached_attribute
    def arg_value_count(self) -> int:
        """The values the args hold (`arg_values`): what a node's memory of the decoded
        transaction grows with, beyond its bytes (node.mempool weighs it so)."""
        return arg_values(self.tx.args)

    @cached_attribute
    def verification_key(self) -> bytes:
        """What a cache of checked signatures holds: the tx hash and every signature.

        The tx hash alone is not enough: the same transaction can arrive with other
        (invalid) signatures, and a node that skipped the check because it knew the
        hash would accept a block that nodes without the cache reject.
        """
        return b"".join([self.hash, *chain.from_iterable(self.signatures)])

    def signature_checks(self) -> list[SignatureCheck]:
        """The arguments `ledger.keys.verify` takes, one per signature."""
        chain_id, tx_hash = self.tx.chain_id, self.hash
        return [(key, TX, chain_id, tx_hash, signature) for key, signature in self.signatures]

    def verify_signature(self) -> bool:
        """True when every signature verifies under its key."""
        return all(verify(*check) for check in self.signature_checks())

    @staticmethod
    def from_list(value: Any) -> SignedTransaction:
        fields = codec.expect_list(value, 4, "signed transaction")
        if fields[0] != TAG_SIGNED_TX or isinstance(fields[0], bool):
            raise CodecError("bad_tag", "not a signed transaction")
        version = fields[1]
        if isinstance(version, bool) or version not in (ENVELOPE_SINGLE, ENVELOPE_MULTI):
            raise CodecError("bad_version", f"unsupported transaction version {version!r}")
        tx = Transaction.from_list(fields[2])
        if version == ENVELOPE_SINGLE:
            signature = codec.expect_bytes(fields[3], "signature", SIGNATURE_SIZE)
            return SignedTransaction.single(tx, signature)
        items = fields[3]
        if not isinstance(items, list):
            raise CodecError("bad_type", "signatures must be an array")
        pairs = []
        for item in items:
            key, signature = codec.expect_list(item, 2, "signature entry")
            pairs.append(
                (
                    codec.expect_bytes(key, "signer", PUBLIC_KEY_SIZE),
                    codec.expect_bytes(signature, "signature", SIGNATURE_SIZE),
                )
            )
        stx = SignedTransaction(tx, tuple(pairs))
        if stx.version != ENVELOPE_MULTI:
            raise CodecError(
                "non_canonical", "the sender's signature alone is carried in version 1"
            )
        return stx

    @staticmethod
    def decode(data: bytes) -> SignedTransaction:
        check_value_count(data)
        value = codec.unpack(data, MAX_TX_BYTES)
        stx = _single_envelope(value)
        if stx is None or codec.pack_checked(value) != data:
            # not the common form, or not canonical: the whole check, which names
            # what is wrong (`_single_envelope` takes nothing that check refuses)
            codec.check_canonical(value, data)
            stx = SignedTransaction.from_list(value)
        stx.__dict__["encoded"] = bytes(data)  # canonical: checked above
        return stx


# [2, version, ...]: a fixarray of 4 items, then two positive fixints
_ENVELOPE_HEAD = 3
_PAIR_SIZE = 1 + (2 + PUBLIC_KEY_SIZE) + (2 + SIGNATURE_SIZE)  # fixarray 2, bin8 key, bin8 sig


def _signatures_size(stx: SignedTransaction) -> int:
    """Bytes the signatures take at the end of `stx`'s canonical encoding."""
    if stx.version == ENVELOPE_SINGLE:
        return 2 + SIGNATURE_SIZE  # bin8 header and the signature
    count = len(stx.signatures)
    return (1 if count < 16 else 3) + count * _PAIR_SIZE  # fixarray or array16 header


def _single_envelope(value: Any) -> SignedTransaction | None:
    """The transaction of a version 1 envelope whose every field has its exact type and
    range, or None for anything else (another form, or any doubt).

    Nearly every transaction a node decodes is a transfer in this form, on the event
    loop: its fields are tested in place here, the args alone go through the codec's
    walk (the other fields are exact ints, str and bytes, which the walk would
    accept), and the envelope is built without re-checking a signer list of one. The
    caller still compares the value's encoding with the input, so what is taken here
    is what `codec.decode` and `from_list` would take."""
    if type(value) is not list or len(value) != 4:
        return None
    tag, version, fields, signature = value
    if not (
        type(tag) is int
        and tag == TAG_SIGNED_TX
        and type(version) is int
        and version == ENVELOPE_SINGLE
        and type(signature) is bytes
        and len(signature) == SIGNATURE_SIZE
        and type(fields) is list
        and len(fields) == 8
    ):
        return None
    tx_tag, tx_version, chain_id, sender, nonce, method, args, expiry_ms = fields
    if not (
        type(tx_tag) is int
        and tx_tag == TAG_TX
        and type(tx_version) is int
        and tx_version == TX_VERSION
        and type(args) is list
        and _fields_in_range(chain_id, sender, nonce, method, expiry_ms)
    ):
        return None
    values = arg_values(args)
    if len(args) > MAX_ARG_VALUES or values > MAX_ARG_VALUES:
        return None
    try:
        codec.check(args, 2)  # the envelope, the transaction, then its args
    except CodecError:
        return None
    tx = Transaction(chain_id, sender, nonce, method, tuple(args), expiry_ms)
    stx = object.__new__(SignedTransaction)  # the one signer is the sender: nothing to sort
    stx.__dict__.update(tx=tx, signatures=((sender, signature),), arg_value_count=values)
    return stx


def _fields_in_range(
    chain_id: object, sender: object, nonce: object, method: object, expiry_ms: object
) -> bool:
    """Whether a decoded transaction's fields have their exact types and ranges."""
    return (
        type(chain_id) is str
        and len(chain_id) <= MAX_CHAIN_ID
        and type(sender) is bytes
        and len(sender) == PUBLIC_KEY_SIZE
        and type(nonce) is int
        and 0 <= nonce <= MAX_NONCE
        and type(method) is str
        and len(method) <= MAX_METHOD
        and type(expiry_ms) is int
        and 0 <= expiry_ms <= MAX_TIME_MS
    )


def too_many_values() -> CodecError:
    return CodecError(
        "too_many_values", f"a transaction's args hold at most {MAX_ARG_VALUES} values in all"
    )


def arg_values(args: list[Any] | tuple[Any, ...]) -> int:
    """The values `args` hold: each item, and each item of an array among them at any
    depth (the count stops soon after passing MAX_ARG_VALUES). Arrays are lists and
    tuples by their exact type, as decoding makes them: a subclass built in Python
    counts as one value here, and as the array it encodes to on the node that
    decodes it, which refuses the transaction if that is too many."""
    count = len(args)
    for item in args:  # most calls have no array among their args: a loop, no list built
        if type(item) is list or type(item) is tuple:
            break
    else:
        return count
    nested = [item for item in args if type(item) is list or type(item) is tuple]
    while nested and count <= MAX_ARG_VALUES:
        items = nested.pop()
        count += len(items)
        nested.extend(item for item in items if type(item) is list or type(item) is tuple)
    return count


def check_value_count(data: bytes) -> None:
    """Refuse, from its headers and before decoding it, an encoded transaction (signed
    or not) that holds more values than any transaction within MAX_ARG_VALUES can:
    decoding costs per value, and a value can take a single byte. One of at most that
    many bytes cannot hold more values than bytes, and is not walked."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise CodecError("bad_type", "input must be bytes")
    bound = MAX_ARG_VALUES + _OTHER_VALUES
    if len(data) > bound and codec.count_values(data, bound) > bound:
        raise too_many_values()


def check_signatures(tx: Transaction, signatures: tuple[Signature, ...]) -> None:
    """The envelope rules: 1..MAX_SIGNATURES entries, signers strictly ascending."""
    if not signatures:
        raise CodecError("no_signatures", "a transaction carries at least one signature")
    if len(signatures) > MAX_SIGNATURES:
        raise CodecError(
            "too_many_signatures", f"a transaction carries at most {MAX_SIGNATURES} signatures"
        )
    previous = b""
    for key, signature in signatures:
        if len(key) != PUBLIC_KEY_SIZE or len(signature) != SIGNATURE_SIZE:
            raise CodecError("bad_length", "a signature entry is a 32-byte key and 64 bytes")
        if key == previous:
            raise CodecError("duplicate_signer", f"key {key.hex()} signs twice")
        if key < previous:
            raise CodecError("unsorted_signers", "signatures must be sorted by signer key")
        previous = key
