"""Consensus messages: their wire encoding, the digests validators sign, and checks.

Every message is a canonical msgpack array `[tag, version, ...]` (ledger.codec);
tags 20-29 are consensus tags and never collide with the ledger's 1-7.

    PrePrepare = [20, 1, height, view, Block, sender, signature]
    PrePrepare = [20, 2, height, view, BlockHeader, [entry, ...], CommitCertificate | nil,
                  sender, signature]              (compact; entry = tx_hash | SignedTransaction)
    PrepareVote = [21, 1, height, view, block_hash, sender, signature]
    CommitVote = [22, 1, height, view, block_hash, sender, commit_vote_signature]
    ViewChange = [23, 1, height, view, sender, PreparedCertificate | nil, Block | nil, signature]
    NewView    = [24, 1, height, view, sender, [ViewChange, ...], block_hash, Block, signature]
    Complaint  = [25, 1, height, view, sender, signature]
    Status     = [26, 1, height, view, sender, signature]
    Decision   = [27, 1, Block, CommitCertificate]
    PreparedCertificate = [height, view, block_hash, [[validator, prepare_signature], ...]]

A message's signature is Ed25519 in the CONSENSUS_MSG domain over
tagged_hash(CONSENSUS_MSG, encode(body)), where the body is the wire array
without the signature and without any carried block (a PrePrepare signs the block
hash; a ViewChange or NewView signs the hash of the block it names, never the
block bytes, so a NewView can strip the blocks from the ViewChanges it carries).
A COMMIT is signed differently: its signature is the ledger commit vote
(`ledger.block.sign_commit_vote`), so a quorum of COMMITs is already a ledger
CommitCertificate. A Decision is not signed: its certificate is the proof.

A PRE-PREPARE travels between nodes in its compact form (version 2): the header,
the parent certificate and, per transaction in block order, its 32-byte hash when
it is in the single-signer envelope (any valid copy of it executes alike, so a
replica may use the one it already holds), or the whole signed transaction
otherwise (co-signed envelopes of one transaction may authorize differently, so
only the proposer's copy will do). Both forms sign the same body, so one
signature serves either. The replica sees a CompactPrePrepare until the node
layer has found every transaction (node/proposals.py) and hands it the
PrePrepare with the full block; version 1 (the whole block) is still accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from ledger import codec
from ledger.block import (
    MAX_BLOCK_BYTES,
    MAX_HEIGHT,
    Block,
    BlockHeader,
    CommitCertificate,
    certificate_hash,
    commit_vote_digest,
    quorum_size,
    sign_commit_vote,
    verify_commit_vote,
)
from ledger.errors import CodecError
from ledger.execution import tx_root
from ledger.hashing import BLOCK, CONSENSUS_MSG, HASH_SIZE, tagged_hash
from ledger.keys import PUBLIC_KEY_SIZE, SIGNATURE_SIZE, PrivateKey, RememberedChecks
from ledger.merkle import merkle_root
from ledger.tx import ENVELOPE_SINGLE, SignedTransaction

TAG_PRE_PREPARE = 20
TAG_PREPARE = 21
TAG_COMMIT = 22
TAG_VIEW_CHANGE = 23
TAG_NEW_VIEW = 24
TAG_COMPLAINT = 25
TAG_STATUS = 26
TAG_DECISION = 27
TAG_PERSISTED_STATE = 28
MESSAGE_VERSION = 1
COMPACT_VERSION = 2  # a PRE-PREPARE that lists its transactions by hash
MAX_VIEW = MAX_HEIGHT
# A NEW-VIEW carries one block plus a quorum of small view changes.
MAX_MESSAGE_BYTES = MAX_BLOCK_BYTES + (1 << 20)
MAX_VIEW_CHANGES = 1024


def block_matches_header(block: Block) -> bool:
    """True when the block's body is the one its header (hence its hash) commits to.

    Signatures and certificates cover the block hash, which is the header's hash
    alone; without this check a relayed block could carry other transactions or
    another certificate under a valid signature.
    """
    header = block.header
    return (
        certificate_hash(block.last_certificate) == header.last_certificate_hash
        and tx_root(block.transactions) == header.tx_root
    )


def carried_block(message: Message) -> Block | None:
    """The block a message carries, if any."""
    if isinstance(message, PrePrepare | NewView | ViewChange | Decision):
        return message.block
    return None


def carried_block_matches(message: Message) -> bool:
    """False when the message carries a block whose body is not the one its header
    commits to (`block_matches_header`); a PrePrepare marked `header_checked` is
    not hashed again."""
    if isinstance(message, PrePrepare) and message.header_checked:
        return True
    block = carried_block(message)
    return block is None or block_matches_header(block)


def message_digest(body: list[Any]) -> bytes:
    """What a consensus message's signature covers."""
    return tagged_hash(CONSENSUS_MSG, codec.encode(body))


def _sign(key: PrivateKey, chain_id: str, body: list[Any]) -> bytes:
    return key.sign(CONSENSUS_MSG, chain_id, message_digest(body))


def _verify(sender: bytes, chain_id: str, body: list[Any], signature: bytes) -> bool:
    return _verify_digest(sender, chain_id, message_digest(body), signature)


# A proposal's signature is checked from its head, by the driver's screen and by the
# replica; a NEW-VIEW's view changes again inside it
CONSENSUS_SIGNATURES = RememberedChecks(CONSENSUS_MSG)


def _verify_digest(sender: bytes, chain_id: str, digest: bytes, signature: bytes) -> bool:
    return CONSENSUS_SIGNATURES.verify(sender, chain_id, digest, signature)


def _height(value: Any) -> int:
    return codec.expect_int(value, "height", 0, MAX_HEIGHT)


def _view(value: Any) -> int:
    return codec.expect_int(value, "view", 0, MAX_VIEW)


def _hash(value: Any, what: str = "block_hash") -> bytes:
    return codec.expect_bytes(value, what, HASH_SIZE)


def _sender(value: Any) -> bytes:
    return codec.expect_bytes(value, "sender", PUBLIC_KEY_SIZE)


def _signature(value: Any) -> bytes:
    return codec.expect_bytes(value, "signature", SIGNATURE_SIZE)


def _header(fields: list[Any], tag: int, what: str) -> None:
    if isinstance(fields[0], bool) or fields[0] != tag:
        raise CodecError("bad_tag", f"not a {what}")
    if isinstance(fields[1], bool) or fields[1] != MESSAGE_VERSION:
        raise CodecError("bad_version", f"unsupported {what} version {fields[1]!r}")


@dataclass(frozen=True)
class PrePrepare:
    """The primary's proposal of `block` for (height, view).

    `header_checked` (not on the wire, not compared) is True when the block's body is
    known to be the one its header commits to (`block_matches_header`): a proposal
    completed from a decoded compact one, whose decoding checked the listed hashes
    and the certificate against the header, or one the driver already checked. The
    replica then skips computing the transaction root and certificate hash again."""

    height: int
    view: int
    block: Block
    sender: bytes
    signature: bytes
    header_checked: bool = field(default=False, compare=False, repr=False)

    @property
    def block_hash(self) -> bytes:
        return self.block.hash

    def body(self) -> list[Any]:
        return pre_prepare_body(self.height, self.view, self.block.hash, self.sender)

    def to_list(self) -> list[Any]:
        return [
            TAG_PRE_PREPARE,
            MESSAGE_VERSION,
            self.height,
            self.view,
            self.block.to_list(),
            self.sender,
            self.signature,
        ]

    def verify(self, chain_id: str) -> bool:
        return _verify(self.sender, chain_id, self.body(), self.signature)

    @staticmethod
    def create(key: PrivateKey, chain_id: str, height: int, view: int, block: Block) -> PrePrepare:
        unsigned = PrePrepare(height, view, block, key.public_key, b"")
        return PrePrepare(
            height, view, block, unsigned.sender, _sign(key, chain_id, unsigned.body())
        )

    @staticmethod
    def from_list(fields: list[Any]) -> PrePrepare:
        codec.expect_list(fields, 7, "pre-prepare")
        _header(fields, TAG_PRE_PREPARE, "pre-prepare")
        return PrePrepare(
            height=_height(fields[2]),
            view=_view(fields[3]),
            block=Block.from_list(fields[4]),
            sender=_sender(fields[5]),
            signature=_signature(fields[6]),
        )


def pre_prepare_body(height: int, view: int, block_hash: bytes, sender: bytes) -> list[Any]:
    """What a PRE-PREPARE signs, whichever form carries it: version 1 in the body."""
    return [TAG_PRE_PREPARE, MESSAGE_VERSION, height, view, block_hash, sender]


TxEntry = bytes | SignedTransaction  # a compact proposal's transaction: hash, or inline


@dataclass(frozen=True)
class CompactPrePrepare:
    """A PRE-PREPARE whose block lists its transactions by hash (see the module docstring).

    Decoding checks that the list is the one the header commits to (count, no hash
    twice, tx root) and that the certificate is the header's, so a block completed
    from it has the very hash the primary signed."""

    height: int
    view: int
    header: BlockHeader
    entries: tuple[TxEntry, ...]
    certificate: CommitCertificate | None
    sender: bytes
    signature: bytes
    # set by `from_list` alone, whose checks make a completed block match its header
    header_checked: bool = field(default=False, compare=False, repr=False)

    @property
    def block_hash(self) -> bytes:
        return self.header.hash

    @cached_property
    def tx_hashes(self) -> tuple[bytes, ...]:
        return tuple(e if isinstance(e, bytes) else e.hash for e in self.entries)

    def body(self) -> list[Any]:
        return pre_prepare_body(self.height, self.view, self.header.hash, self.sender)

    def to_list(self) -> list[Any]:
        return [
            TAG_PRE_PREPARE,
            COMPACT_VERSION,
            self.height,
            self.view,
            self.header.to_list(),
            [e if isinstance(e, bytes) else e.to_list() for e in self.entries],
            None if self.certificate is None else self.certificate.to_list(),
            self.sender,
            self.signature,
        ]

    def verify(self, chain_id: str) -> bool:
        return _verify(self.sender, chain_id, self.body(), self.signature)

    def fits(self, index: int, stx: SignedTransaction) -> bool:
        """Whether `stx` may stand at `index` of the block: the inline copy itself, or
        for a listed hash a single-signer envelope of that transaction."""
        entry = self.entries[index]
        if isinstance(entry, SignedTransaction):
            return stx is entry or stx.encoded == entry.encoded
        return stx.hash == entry and stx.version == ENVELOPE_SINGLE

    def complete(self, transactions: Sequence[SignedTransaction]) -> PrePrepare:
        """The full PRE-PREPARE, with the same signature; raise ValueError unless every
        transaction fits its place."""
        if len(transactions) != len(self.entries) or not all(
            self.fits(index, stx) for index, stx in enumerate(transactions)
        ):
            raise ValueError("transactions do not fit the compact proposal")
        block = Block(self.header, tuple(transactions), self.certificate)
        return PrePrepare(
            self.height, self.view, block, self.sender, self.signature, self.header_checked
        )

    @staticmethod
    def of(
        message: PrePrepare, inline: Callable[[SignedTransaction], bool] | None = None
    ) -> CompactPrePrepare:
        """The compact form of a full PRE-PREPARE; `inline` picks one-key transactions
        to carry whole too (ones the peers cannot hold yet)."""
        block = message.block
        return CompactPrePrepare(
            message.height,
            message.view,
            block.header,
            tuple(
                stx.hash
                if stx.version == ENVELOPE_SINGLE and (inline is None or not inline(stx))
                else stx
                for stx in block.transactions
            ),
            block.last_certificate,
            message.sender,
            message.signature,
        )

    @staticmethod
    def from_list(fields: list[Any]) -> CompactPrePrepare:
        codec.expect_list(fields, 9, "compact pre-prepare")
        if isinstance(fields[1], bool) or fields[1] != COMPACT_VERSION:
            raise CodecError("bad_version", "not a compact pre-prepare")
        height = _height(fields[2])
        header = BlockHeader.from_list(fields[4])
        if not isinstance(fields[5], list):
            raise CodecError("bad_type", "transaction entries must be an array")
        entries: list[TxEntry] = []
        append = entries.append
        for item in fields[5]:  # a few hundred hashes per proposal, on the event loop
            if type(item) is bytes and len(item) == HASH_SIZE:
                append(item)
            elif isinstance(item, bytes):
                append(_hash(item, "tx_hash"))  # refuses it, naming what is wrong
            else:
                append(SignedTransaction.from_list(item))
        certificate = None if fields[6] is None else CommitCertificate.from_list(fields[6])
        message = CompactPrePrepare(
            height=height,
            view=_view(fields[3]),
            header=header,
            entries=tuple(entries),
            certificate=certificate,
            sender=_sender(fields[7]),
            signature=_signature(fields[8]),
        )
        hashes = message.tx_hashes
        if header.height != height:
            raise CodecError("bad_height", "the header is for another height")
        if header.tx_count != len(hashes):
            raise CodecError("bad_tx_count", "the entries are not the header's tx_count")
        if len(set(hashes)) != len(hashes):
            raise CodecError("duplicate_tx", "a transaction is listed twice")
        if merkle_root(hashes) != header.tx_root:
            raise CodecError("bad_tx_root", "the listed hashes are not the header's tx_root")
        if certificate_hash(certificate) != header.last_certificate_hash:
            raise CodecError("bad_certificate_hash", "the certificate is not the header's")
        return replace(message, header_checked=True)


@dataclass(frozen=True, slots=True)
class PrepareVote:
    """A replica's vote that the proposal for (height, view) is valid."""

    height: int
    view: int
    block_hash: bytes
    sender: bytes
    signature: bytes

    def body(self) -> list[Any]:
        return prepare_body(self.height, self.view, self.block_hash, self.sender)

    def to_list(self) -> list[Any]:
        return [*self.body(), self.signature]

    def verify(self, chain_id: str) -> bool:
        return _verify(self.sender, chain_id, self.body(), self.signature)

    @staticmethod
    def create(
        key: PrivateKey, chain_id: str, height: int, view: int, block_hash: bytes
    ) -> PrepareVote:
        sender = key.public_key
        signature = _sign(key, chain_id, prepare_body(height, view, block_hash, sender))
        return PrepareVote(height, view, block_hash, sender, signature)

    @staticmethod
    def from_list(fields: list[Any]) -> PrepareVote:
        codec.expect_list(fields, 7, "prepare")
        return PrepareVote(
            _height(fields[2]),
            _view(fields[3]),
            _hash(fields[4]),
            _sender(fields[5]),
            _signature(fields[6]),
        )


def prepare_body(height: int, view: int, block_hash: bytes, sender: bytes) -> list[Any]:
    return [TAG_PREPARE, MESSAGE_VERSION, height, view, block_hash, sender]


@dataclass(frozen=True, slots=True)
class CommitVote:
    """A replica's commit vote; its signature is the ledger commit-vote signature."""

    height: int
    view: int
    block_hash: bytes
    sender: bytes
    signature: bytes

    def to_list(self) -> list[Any]:
        return [
            TAG_COMMIT,
            MESSAGE_VERSION,
            self.height,
            self.view,
            self.block_hash,
            self.sender,
            self.signature,
        ]

    def verify(self, chain_id: str) -> bool:
        digest = commit_vote_digest(self.height, self.view, self.block_hash)
        return verify_commit_vote(self.sender, chain_id, digest, self.signature)

    @staticmethod
    def create(
        key: PrivateKey, chain_id: str, height: int, view: int, block_hash: bytes
    ) -> CommitVote:
        signature = sign_commit_vote(key, chain_id, height, view, block_hash)
        return CommitVote(height, view, block_hash, key.public_key, signature)

    @staticmethod
    def from_list(fields: list[Any]) -> CommitVote:
        codec.expect_list(fields, 7, "commit")
        return CommitVote(
            _height(fields[2]),
            _view(fields[3]),
            _hash(fields[4]),
            _sender(fields[5]),
            _signature(fields[6]),
        )


@dataclass(frozen=True, slots=True)
class PreparedCertificate:
    """A quorum of PREPARE signatures for one block at (height, view)."""

    height: int
    view: int
    block_hash: bytes
    signatures: tuple[tuple[bytes, bytes], ...]  # (validator, signature), sorted by validator

    def to_list(self) -> list[Any]:
        return [
            self.height,
            self.view,
            self.block_hash,
            [[validator, signature] for validator, signature in self.signatures],
        ]

    def verify(self, chain_id: str, validators: Sequence[bytes]) -> bool:
        """True when a quorum of distinct members of `validators` prepared this block."""
        members = set(validators)
        previous = b""
        for validator, signature in self.signatures:
            if validator <= previous or validator not in members:
                return False
            previous = validator
            body = prepare_body(self.height, self.view, self.block_hash, validator)
            if not _verify(validator, chain_id, body, signature):
                return False
        return len(self.signatures) >= quorum_size(len(members))

    @staticmethod
    def build(
        height: int, view: int, block_hash: bytes, votes: dict[bytes, bytes]
    ) -> PreparedCertificate:
        return PreparedCertificate(height, view, block_hash, tuple(sorted(votes.items())))

    @staticmethod
    def from_list(value: Any) -> PreparedCertificate:
        fields = codec.expect_list(value, 4, "prepared certificate")
        if not isinstance(fields[3], list) or len(fields[3]) > MAX_VIEW_CHANGES:
            raise CodecError("bad_type", "prepared signatures must be a bounded array")
        signatures = []
        for pair in fields[3]:
            validator, signature = codec.expect_list(pair, 2, "prepare signature")
            signatures.append((_sender(validator), _signature(signature)))
        return PreparedCertificate(
            _height(fields[0]), _view(fields[1]), _hash(fields[2]), tuple(signatures)
        )


@dataclass(frozen=True)
class ViewChange:
    """A replica's vote to move to `view`, with the best block it has seen prepared.

    `block` is the prepared block itself (so the new primary can re-propose it);
    it is not signed and is stripped when the view change travels inside a NEW-VIEW.
    """

    height: int
    view: int
    sender: bytes
    prepared: PreparedCertificate | None
    block: Block | None
    signature: bytes

    def body(self) -> list[Any]:
        prepared = None if self.prepared is None else self.prepared.to_list()
        return [TAG_VIEW_CHANGE, MESSAGE_VERSION, self.height, self.view, self.sender, prepared]

    def to_list(self) -> list[Any]:
        block = None if self.block is None else self.block.to_list()
        return [*self.body(), block, self.signature]

    def stripped(self) -> ViewChange:
        if self.block is None:
            return self
        return ViewChange(self.height, self.view, self.sender, self.prepared, None, self.signature)

    def verify_signature(self, chain_id: str) -> bool:
        """The sender's signature alone (`verify` checks the certificate too)."""
        return _verify(self.sender, chain_id, self.body(), self.signature)

    def verify(self, chain_id: str, validators: Sequence[bytes]) -> bool:
        """Signature, and a prepared certificate (if any) from an earlier view of this height."""
        if not self.verify_signature(chain_id):
            return False
        if self.prepared is None:
            return self.block is None
        if self.prepared.height != self.height or self.prepared.view >= self.view:
            return False
        if self.block is not None and self.block.hash != self.prepared.block_hash:
            return False
        return self.prepared.verify(chain_id, validators)

    @staticmethod
    def create(
        key: PrivateKey,
        chain_id: str,
        height: int,
        view: int,
        prepared: PreparedCertificate | None,
        block: Block | None,
    ) -> ViewChange:
        unsigned = ViewChange(height, view, key.public_key, prepared, block, b"")
        return ViewChange(
            height,
            view,
            unsigned.sender,
            prepared,
            block,
            _sign(key, chain_id, unsigned.body()),
        )

    @staticmethod
    def from_list(fields: list[Any]) -> ViewChange:
        codec.expect_list(fields, 8, "view change")
        _header(fields, TAG_VIEW_CHANGE, "view change")
        return ViewChange(
            height=_height(fields[2]),
            view=_view(fields[3]),
            sender=_sender(fields[4]),
            prepared=None if fields[5] is None else PreparedCertificate.from_list(fields[5]),
            block=None if fields[6] is None else Block.from_list(fields[6]),
            signature=_signature(fields[7]),
        )


@dataclass(frozen=True)
class NewView:
    """The new primary's proof that a quorum moved to `view`, and the block to vote on.

    If any carried view change holds a prepared certificate, `block` must be the
    block of the highest one (so a value that may have committed is never lost);
    otherwise it is a fresh proposal by the sender. It acts as the PRE-PREPARE of
    the new view.
    """

    height: int
    view: int
    sender: bytes
    view_changes: tuple[ViewChange, ...]
    block: Block
    signature: bytes

    def body(self) -> list[Any]:
        return [
            TAG_NEW_VIEW,
            MESSAGE_VERSION,
            self.height,
            self.view,
            self.sender,
            [change.to_list() for change in self.view_changes],
            self.block.hash,
        ]

    @property
    def block_hash(self) -> bytes:
        return self.block.hash

    def to_list(self) -> list[Any]:
        return [*self.body(), self.block.to_list(), self.signature]

    def verify_signature(self, chain_id: str) -> bool:
        return _verify(self.sender, chain_id, self.body(), self.signature)

    @staticmethod
    def create(
        key: PrivateKey,
        chain_id: str,
        height: int,
        view: int,
        view_changes: Sequence[ViewChange],
        block: Block,
    ) -> NewView:
        stripped = tuple(change.stripped() for change in view_changes)
        unsigned = NewView(height, view, key.public_key, stripped, block, b"")
        return NewView(
            height, view, unsigned.sender, stripped, block, _sign(key, chain_id, unsigned.body())
        )

    @staticmethod
    def from_list(fields: list[Any]) -> NewView:
        codec.expect_list(fields, 9, "new view")
        if not isinstance(fields[5], list) or len(fields[5]) > MAX_VIEW_CHANGES:
            raise CodecError("bad_type", "view changes must be a bounded array")
        changes = tuple(ViewChange.from_list(item) for item in fields[5])
        if any(change.block is not None for change in changes):
            raise CodecError("bad_shape", "view changes inside a new view carry no block")
        block = Block.from_list(fields[7])
        if _hash(fields[6]) != block.hash:
            raise CodecError("bad_block", "new view names a different block than it carries")
        return NewView(
            height=_height(fields[2]),
            view=_view(fields[3]),
            sender=_sender(fields[4]),
            view_changes=changes,
            block=block,
            signature=_signature(fields[8]),
        )


@dataclass(frozen=True, slots=True)
class Complaint:
    """A replica's signed claim that the primary of (height, view) is censoring or silent."""

    height: int
    view: int
    sender: bytes
    signature: bytes

    def body(self) -> list[Any]:
        return [TAG_COMPLAINT, MESSAGE_VERSION, self.height, self.view, self.sender]

    def to_list(self) -> list[Any]:
        return [*self.body(), self.signature]

    def verify(self, chain_id: str) -> bool:
        return _verify(self.sender, chain_id, self.body(), self.signature)

    @staticmethod
    def create(key: PrivateKey, chain_id: str, height: int, view: int) -> Complaint:
        body = [TAG_COMPLAINT, MESSAGE_VERSION, height, view, key.public_key]
        return Complaint(height, view, key.public_key, _sign(key, chain_id, body))

    @staticmethod
    def from_list(fields: list[Any]) -> Complaint:
        codec.expect_list(fields, 6, "complaint")
        return Complaint(
            _height(fields[2]), _view(fields[3]), _sender(fields[4]), _signature(fields[5])
        )


@dataclass(frozen=True, slots=True)
class Status:
    """Where a replica stands; sent when it is stuck, so peers ahead can help it catch up."""

    height: int
    view: int
    sender: bytes
    signature: bytes

    def body(self) -> list[Any]:
        return [TAG_STATUS, MESSAGE_VERSION, self.height, self.view, self.sender]

    def to_list(self) -> list[Any]:
        return [*self.body(), self.signature]

    def verify(self, chain_id: str) -> bool:
        return _verify(self.sender, chain_id, self.body(), self.signature)

    @staticmethod
    def create(key: PrivateKey, chain_id: str, height: int, view: int) -> Status:
        body = [TAG_STATUS, MESSAGE_VERSION, height, view, key.public_key]
        return Status(height, view, key.public_key, _sign(key, chain_id, body))

    @staticmethod
    def from_list(fields: list[Any]) -> Status:
        codec.expect_list(fields, 6, "status")
        return Status(
            _height(fields[2]), _view(fields[3]), _sender(fields[4]), _signature(fields[5])
        )


@dataclass(frozen=True)
class Decision:
    """A committed block with its certificate, sent to a replica that is one block behind."""

    block: Block
    certificate: CommitCertificate
    height: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "height", self.block.height)

    def to_list(self) -> list[Any]:
        return [TAG_DECISION, MESSAGE_VERSION, self.block.to_list(), self.certificate.to_list()]

    @staticmethod
    def from_list(fields: list[Any]) -> Decision:
        codec.expect_list(fields, 4, "decision")
        return Decision(Block.from_list(fields[2]), CommitCertificate.from_list(fields[3]))


Message = (
    PrePrepare
    | CompactPrePrepare
    | PrepareVote
    | CommitVote
    | ViewChange
    | NewView
    | Complaint
    | Status
    | Decision
)


def _decode_pre_prepare(fields: list[Any]) -> PrePrepare | CompactPrePrepare:
    if fields[1] == COMPACT_VERSION and not isinstance(fields[1], bool):
        return CompactPrePrepare.from_list(fields)
    return PrePrepare.from_list(fields)


_DECODERS: dict[int, Any] = {
    TAG_PRE_PREPARE: _decode_pre_prepare,
    TAG_PREPARE: PrepareVote.from_list,
    TAG_COMMIT: CommitVote.from_list,
    TAG_VIEW_CHANGE: ViewChange.from_list,
    TAG_NEW_VIEW: NewView.from_list,
    TAG_COMPLAINT: Complaint.from_list,
    TAG_STATUS: Status.from_list,
    TAG_DECISION: Decision.from_list,
}


@dataclass(frozen=True, slots=True)
class SignedHead:
    """Who signed a PRE-PREPARE, VIEW-CHANGE or NEW-VIEW, and what, read from its wire
    bytes without decoding the block it carries (`message_head`)."""

    tag: int
    height: int
    view: int
    sender: bytes
    digest: bytes  # `message_digest` of the body the signature covers
    signature: bytes
    # the encoded size of each transaction of the block it carries (of each entry, a
    # hash or a whole transaction, for a compact proposal); empty without a block
    tx_sizes: tuple[int, ...] = ()

    def verify(self, chain_id: str) -> bool:
        return _verify_digest(self.sender, chain_id, self.digest, self.signature)


@dataclass(frozen=True, slots=True)
class DecisionHead:
    """A DECISION's block header hash and certificate, read from its wire bytes
    without decoding the block's transactions (`message_head`)."""

    height: int  # the header's
    block_hash: bytes
    proposer: bytes
    certificate: CommitCertificate


def message_head(data: bytes) -> SignedHead | DecisionHead | None:
    """What a message carrying a block is, from its wire bytes, before its block is
    decoded: the signed part of a PRE-PREPARE (either form), VIEW-CHANGE or NEW-VIEW,
    or a DECISION's header hash and certificate; None for any other message, or one
    that does not parse that far.

    Decoding a message whole decodes every transaction of the block it carries: a
    third of a CPU-second for 20,000 transfers, whoever claims to have sent them.
    This reads only the small fields, the block header and a certificate
    (`codec.item_spans` finds them), so a message its sender did not sign is known
    for what it is before that: if a SignedHead's `verify` is False, decoding the
    message whole would have found the same signature false (for canonical bytes
    the spans are the very encodings `body()` makes; bytes that are not canonical
    would be refused whole). A true signature proves nothing about the rest, which
    must still be decoded and checked."""
    if len(data) > 1 and 0x91 <= data[0] <= 0x9F and data[1] not in _HEAD_TAGS:
        return None  # a vote, complaint or status (its tag a one-byte int): read nothing
    try:
        spans = codec.item_spans(data)
        if len(spans) < 4:
            return None
        items = [data[start:end] for start, end in spans]
        tag, version = codec.decode(items[0]), codec.decode(items[1])
        if tag == TAG_DECISION and version == MESSAGE_VERSION and len(items) == 4:
            return _decision_head(data, items[3])
        if tag not in _SIGNED_HEADS:
            return None  # not decoding a field that could be a whole block
        height, view = _height(codec.decode(items[2])), _view(codec.decode(items[3]))
        block_at: int | None = None  # the item holding the carried block, if any
        if tag == TAG_PRE_PREPARE and version == MESSAGE_VERSION and len(items) == 7:
            sender, signature = _sender(codec.decode(items[5])), items[6]
            block_hash = tagged_hash(BLOCK, _block_header_bytes(data, 4))
            body = codec.encode(pre_prepare_body(height, view, block_hash, sender))
            block_at = 4
        elif tag == TAG_PRE_PREPARE and version == COMPACT_VERSION and len(items) == 9:
            sender, signature = _sender(codec.decode(items[7])), items[8]
            block_hash = tagged_hash(BLOCK, items[4])
            body = codec.encode(pre_prepare_body(height, view, block_hash, sender))
        elif tag == TAG_VIEW_CHANGE and version == MESSAGE_VERSION and len(items) == 8:
            sender, signature = _sender(codec.decode(items[4])), items[7]
            body = codec.encode_array(items[:6])  # all but the block and the signature
            block_at = None if items[6] == NIL else 6
        elif tag == TAG_NEW_VIEW and version == MESSAGE_VERSION and len(items) == 9:
            sender, signature = _sender(codec.decode(items[4])), items[8]
            body = codec.encode_array(items[:7])
            block_at = 7
        else:
            return None
        signature = _signature(codec.decode(signature))
        if tag == TAG_PRE_PREPARE and version == COMPACT_VERSION:
            spans = codec.item_spans(data, (5,))
        elif block_at is not None:
            spans = codec.item_spans(data, (block_at, 3))
        else:
            spans = []
    except CodecError:
        return None
    digest = tagged_hash(CONSENSUS_MSG, body)
    sizes = tuple(end - start for start, end in spans)
    return SignedHead(tag, height, view, sender, digest, signature, sizes)


NIL = b"\xc0"  # msgpack's nil


_SIGNED_HEADS = (TAG_PRE_PREPARE, TAG_VIEW_CHANGE, TAG_NEW_VIEW)
_HEAD_TAGS = frozenset((*_SIGNED_HEADS, TAG_DECISION))


def _block_header_bytes(data: bytes, index: int) -> bytes:
    """The encoded header of the block that is item `index` of the message `data`."""
    spans = codec.item_spans(data, (index,))
    if len(spans) != 5:
        raise CodecError("bad_shape", "a block is an array of 5 items")
    start, end = spans[2]
    return data[start:end]


def _decision_head(data: bytes, certificate: bytes) -> DecisionHead:
    header = BlockHeader.from_list(codec.decode(_block_header_bytes(data, 2)))
    return DecisionHead(
        header.height,
        header.hash,
        header.proposer,
        CommitCertificate.from_list(codec.decode(certificate)),
    )


def encode_message(message: Message) -> bytes:
    """The canonical wire bytes of a consensus message (a PrePrepare whole, version 1)."""
    return codec.encode(message.to_list())


def encode_for_peers(
    message: Message, inline: Callable[[SignedTransaction], bool] | None = None
) -> bytes:
    """What a node sends: like `encode_message`, but a PRE-PREPARE in its compact form
    (`inline` as in `CompactPrePrepare.of`)."""
    if isinstance(message, PrePrepare):
        return codec.encode(CompactPrePrepare.of(message, inline).to_list())
    return encode_message(message)


def decode_message(data: bytes) -> Message:
    """Parse wire bytes into a message; raise CodecError on anything malformed."""
    value = codec.decode(data, MAX_MESSAGE_BYTES)
    if not isinstance(value, list) or len(value) < 2:
        raise CodecError("bad_shape", "a consensus message is an array [tag, version, ...]")
    tag = value[0]
    decoder = None if isinstance(tag, bool) or not isinstance(tag, int) else _DECODERS.get(tag)
    if decoder is None:
        raise CodecError("bad_tag", f"unknown consensus message tag {tag!r}")
    versions = (MESSAGE_VERSION, COMPACT_VERSION) if tag == TAG_PRE_PREPARE else (MESSAGE_VERSION,)
    if isinstance(value[1], bool) or value[1] not in versions:
        raise CodecError("bad_version", f"unsupported consensus message version {value[1]!r}")
    message: Message = decoder(value)
    return message
