"""Block headers, blocks and commit certificates.

    BlockHeader       = [3, 1, chain_id, height, prev_hash, timestamp_ms, proposer,
                         tx_count, tx_root, receipts_count, receipts_root, state_root,
                         validator_set_hash, last_certificate_hash]
    Block             = [4, 1, BlockHeader, [SignedTransaction, ...], CommitCertificate | nil]
    CommitCertificate = [5, 1, height, view, block_hash, [[validator, signature], ...]]

The block hash is the tagged hash of the header alone; the header commits to the
transactions, receipts and resulting state through their roots, and to the
number of transactions and receipts: an inclusion proof's shape depends on the
leaf count, so a light client must learn it from something the validators signed. Block h+1 carries
the certificate of block h, so history can be proven from blocks alone.
A certificate holds at least a quorum (n - f, i.e. 2f+1 of n = 3f+1) of distinct
validator signatures over the commit vote for (height, view, block hash).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ledger import codec
from ledger.cached import cached_attribute
from ledger.errors import CodecError
from ledger.hashing import (
    BLOCK,
    CERTIFICATE,
    COMMIT_VOTE,
    HASH_SIZE,
    VALIDATOR_SET,
    ZERO_HASH,
    tagged_hash,
)
from ledger.keys import PUBLIC_KEY_SIZE, SIGNATURE_SIZE, PrivateKey, RememberedChecks
from ledger.tx import MAX_CHAIN_ID, MAX_TIME_MS, SignedTransaction

TAG_HEADER = 3
TAG_BLOCK = 4
TAG_CERTIFICATE = 5
BLOCK_VERSION = 1
MAX_BLOCK_BYTES = 16 * 1024 * 1024
MAX_HEIGHT = (1 << 63) - 1
MAX_LEAF_COUNT = (1 << 32) - 1  # transactions or receipts in one block


def max_faulty(validator_count: int) -> int:
    """f: how many faulty validators a set of this size tolerates."""
    return (validator_count - 1) // 3


def quorum_size(validator_count: int) -> int:
    """Votes needed for a quorum: n - f (2f+1 when n = 3f+1)."""
    return validator_count - max_faulty(validator_count)


def validator_set_hash(validators: Sequence[bytes]) -> bytes:
    """Hash of the validator public keys in the order consensus uses them."""
    return tagged_hash(VALIDATOR_SET, codec.encode(list(validators)))


def commit_vote_digest(height: int, view: int, block_hash: bytes) -> bytes:
    """The digest a validator signs (COMMIT_VOTE domain) to commit a block."""
    return tagged_hash(COMMIT_VOTE, codec.encode([height, view, block_hash]))


# Commit votes are checked as they arrive and again inside the certificate the next
# block carries (and a synced block's): three or four Ed25519 checks per block.
COMMIT_VOTES = RememberedChecks(COMMIT_VOTE)


def verify_commit_vote(validator: bytes, chain_id: str, digest: bytes, signature: bytes) -> bool:
    """`verify` of one commit vote over `digest` (`commit_vote_digest`), remembered."""
    return COMMIT_VOTES.verify(validator, chain_id, digest, signature)


def _expect_tag(fields: list[Any], tag: int, what: str) -> None:
    if isinstance(fields[0], bool) or fields[0] != tag:
        raise CodecError("bad_tag", f"not a {what}")
    if isinstance(fields[1], bool) or fields[1] != BLOCK_VERSION:
        raise CodecError("bad_version", f"unsupported {what} version {fields[1]!r}")


@dataclass(frozen=True, slots=True)
class BlockHeader:
    chain_id: str
    height: int
    prev_hash: bytes
    timestamp_ms: int
    proposer: bytes
    tx_count: int
    tx_root: bytes
    receipts_count: int
    receipts_root: bytes
    state_root: bytes
    validator_set_hash: bytes
    last_certificate_hash: bytes

    def to_list(self) -> list[Any]:
        return [
            TAG_HEADER,
            BLOCK_VERSION,
            self.chain_id,
            self.height,
            self.prev_hash,
            self.timestamp_ms,
            self.proposer,
            self.tx_count,
            self.tx_root,
            self.receipts_count,
            self.receipts_root,
            self.state_root,
            self.validator_set_hash,
            self.last_certificate_hash,
        ]

    def encode(self) -> bytes:
        return codec.encode(self.to_list())

    @property
    def hash(self) -> bytes:
        return tagged_hash(BLOCK, self.encode())

    @staticmethod
    def decode(data: bytes) -> BlockHeader:
        return BlockHeader.from_list(codec.decode(data))

    @staticmethod
    def from_list(value: Any) -> BlockHeader:
        fields = codec.expect_list(value, 14, "block header")
        _expect_tag(fields, TAG_HEADER, "block header")
        return BlockHeader(
            chain_id=codec.expect_str(fields[2], "chain_id", MAX_CHAIN_ID),
            height=codec.expect_int(fields[3], "height", 0, MAX_HEIGHT),
            prev_hash=codec.expect_bytes(fields[4], "prev_hash", HASH_SIZE),
            timestamp_ms=codec.expect_int(fields[5], "timestamp_ms", 0, MAX_TIME_MS),
            proposer=codec.expect_bytes(fields[6], "proposer", PUBLIC_KEY_SIZE),
            tx_count=codec.expect_int(fields[7], "tx_count", 0, MAX_LEAF_COUNT),
            tx_root=codec.expect_bytes(fields[8], "tx_root", HASH_SIZE),
            receipts_count=codec.expect_int(fields[9], "receipts_count", 0, MAX_LEAF_COUNT),
            receipts_root=codec.expect_bytes(fields[10], "receipts_root", HASH_SIZE),
            state_root=codec.expect_bytes(fields[11], "state_root", HASH_SIZE),
            validator_set_hash=codec.expect_bytes(fields[12], "validator_set_hash", HASH_SIZE),
            last_certificate_hash=codec.expect_bytes(
                fields[13], "last_certificate_hash", HASH_SIZE
            ),
        )


@dataclass(frozen=True, slots=True)
class CommitCertificate:
    """Proof that a quorum of validators committed `block_hash` at `height`."""

    height: int
    view: int
    block_hash: bytes
    signatures: tuple[tuple[bytes, bytes], ...]  # (validator, signature), sorted by validator

    def to_list(self) -> list[Any]:
        return [
            TAG_CERTIFICATE,
            BLOCK_VERSION,
            self.height,
            self.view,
            self.block_hash,
            [[validator, signature] for validator, signature in self.signatures],
        ]

    def encode(self) -> bytes:
        return codec.encode(self.to_list())

    @property
    def hash(self) -> bytes:
        return tagged_hash(CERTIFICATE, self.encode())

    @staticmethod
    def from_list(value: Any) -> CommitCertificate:
        fields = codec.expect_list(value, 6, "commit certificate")
        _expect_tag(fields, TAG_CERTIFICATE, "commit certificate")
        if not isinstance(fields[5], list):
            raise CodecError("bad_type", "certificate signatures must be an array")
        signatures = []
        for pair in fields[5]:
            validator, signature = codec.expect_list(pair, 2, "certificate signature")
            signatures.append(
                (
                    codec.expect_bytes(validator, "validator", PUBLIC_KEY_SIZE),
                    codec.expect_bytes(signature, "signature", SIGNATURE_SIZE),
                )
            )
        return CommitCertificate(
            height=codec.expect_int(fields[2], "height", 0, MAX_HEIGHT),
            view=codec.expect_int(fields[3], "view", 0, MAX_HEIGHT),
            block_hash=codec.expect_bytes(fields[4], "block_hash", HASH_SIZE),
            signatures=tuple(signatures),
        )

    @staticmethod
    def decode(data: bytes) -> CommitCertificate:
        return CommitCertificate.from_list(codec.decode(data, MAX_BLOCK_BYTES))

    @staticmethod
    def build(
        height: int, view: int, block_hash: bytes, votes: dict[bytes, bytes]
    ) -> CommitCertificate:
        """Make a certificate from collected commit votes (validator -> signature)."""
        return CommitCertificate(height, view, block_hash, tuple(sorted(votes.items())))

    def verify(self, chain_id: str, validators: Sequence[bytes]) -> bool:
        """True when a quorum of distinct members of `validators` signed this commit."""
        members = set(validators)
        digest = commit_vote_digest(self.height, self.view, self.block_hash)
        seen: set[bytes] = set()
        previous = b""
        for validator, signature in self.signatures:
            if validator <= previous or validator not in members:
                return False  # unsorted, duplicate or outsider: not canonical
            previous = validator
            if not verify_commit_vote(validator, chain_id, digest, signature):
                return False
            seen.add(validator)
        return len(seen) >= quorum_size(len(members))


def sign_commit_vote(
    key: PrivateKey, chain_id: str, height: int, view: int, block_hash: bytes
) -> bytes:
    """A validator's commit vote, as it appears in certificates.

    Remembered as verified: a signature this key just made is valid, and the next
    block's certificate carries it (an Ed25519 check per block otherwise)."""
    digest = commit_vote_digest(height, view, block_hash)
    signature = key.sign(COMMIT_VOTE, chain_id, digest)
    COMMIT_VOTES.remember(key.public_key, chain_id, digest, signature)
    return signature


@dataclass(frozen=True)
class Block:
    header: BlockHeader
    transactions: tuple[SignedTransaction, ...]
    last_certificate: CommitCertificate | None

    def to_list(self) -> list[Any]:
        return [
            TAG_BLOCK,
            BLOCK_VERSION,
            self.header.to_list(),
            [stx.to_list() for stx in self.transactions],
            None if self.last_certificate is None else self.last_certificate.to_list(),
        ]

    @cached_attribute
    def encoded(self) -> bytes:
        # The same bytes as encoding `to_list()`, but each transaction contributes the
        # bytes it already has (as received, or as first encoded) instead of being
        # encoded again: a block holds thousands of them.
        certificate = self.last_certificate
        return codec.encode_array(
            [
                codec.encode(TAG_BLOCK),
                codec.encode(BLOCK_VERSION),
                self.header.encode(),
                codec.encode_array([stx.encoded for stx in self.transactions]),
                codec.encode(None if certificate is None else certificate.to_list()),
            ]
        )

    def encode(self) -> bytes:
        return self.encoded

    @cached_attribute
    def hash(self) -> bytes:
        return self.header.hash

    @property
    def height(self) -> int:
        return self.header.height

    @staticmethod
    def from_list(value: Any) -> Block:
        fields = codec.expect_list(value, 5, "block")
        _expect_tag(fields, TAG_BLOCK, "block")
        if not isinstance(fields[3], list):
            raise CodecError("bad_type", "block transactions must be an array")
        certificate = None if fields[4] is None else CommitCertificate.from_list(fields[4])
        return Block(
            header=BlockHeader.from_list(fields[2]),
            transactions=tuple(SignedTransaction.from_list(item) for item in fields[3]),
            last_certificate=certificate,
        )

    @staticmethod
    def decode(data: bytes) -> Block:
        block = Block.from_list(codec.decode(data, MAX_BLOCK_BYTES))
        block.__dict__["encoded"] = bytes(data)
        return block

    @staticmethod
    def decode_stored(data: bytes) -> Block:
        """`decode` for a block read back from this node's own store, which holds only
        blocks that were encoded here or decoded canonically: the canonical re-check
        would encode every transaction again (`codec.decode_stored`)."""
        block = Block.from_list(codec.decode_stored(data))
        block.__dict__["encoded"] = bytes(data)
        return block


def certificate_hash(certificate: CommitCertificate | None) -> bytes:
    """Hash a header commits to for the previous block's certificate (zero if none)."""
    return ZERO_HASH if certificate is None else certificate.hash
