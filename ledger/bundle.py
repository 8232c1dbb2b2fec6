"""Proof bundles: what a client needs to check a transaction or state value offline.

    ValidatorChange = [34, 1, BlockHeader, CommitCertificate, StateProof]
                   or [34, 2, ..., GovernanceEvidence]
    GovernanceEvidence = [36, 1, Transaction, Receipt, InclusionProof (tx),
                          InclusionProof (receipt), BlockHeader, CommitCertificate]
    ValidatorSkip   = [35, 1, BlockHeader, CommitCertificate, [validator, ...]]
    TxBundle        = [32, 1, Transaction, Receipt, InclusionProof (tx),
                       InclusionProof (receipt), BlockHeader, CommitCertificate,
                       [ValidatorChange or ValidatorSkip, ...]]
    StateBundle     = [33, 1, [StateProof, ...], BlockHeader, CommitCertificate,
                       [ValidatorChange or ValidatorSkip, ...]]

A verifier starts from a trust anchor: the chain id and a validator set it
trusts from some height on (the genesis set from height 1, or a set it checked
before). Each ValidatorChange moves that trust forward: its header is certified
by the set trusted for that height, and its state proof shows the validator
schedule (`sys/validators`) in that header's state, hence the set that signs the
next height; version 2 adds the governance transaction that scheduled that set,
proven in its own certified block. The changes are the last headers before each
set change, so a client follows years of history with one header per change
(sequential verification; it never needs the headers in between). A ValidatorSkip crosses
any number of changes at once, as CometBFT's light client skips: a later header
is accepted when a quorum of its own set (listed, and hashing to the header's
`validator_set_hash`) signed it and the signers include more than a third of the
trusted set, so at least one of them is honest if fewer than a third of the
trusted set are faulty. A list may mix both kinds. The bundle's own header must
then name the trusted set (`validator_set_hash`) and carry a quorum of it.

Both ways rely on the trusted set: validators that left long ago could sign a
made-up history, so a client should start from a recent set where it can
(CometBFT bounds this with a trusting period). Skipping also assumes fewer than a
third of the trusted set is faulty at the header it skips to.

The transaction is carried unsigned: its hash is the leaf under `tx_root`, and
the receipt (under `receipts_root`) says whether the chain applied it, which
includes that its signatures were valid. Signatures would be bytes that nothing
in the bundle commits to.

Everything here is pure: the CLI, the RPC tests and other clients share it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ledger import codec
from ledger.block import MAX_BLOCK_BYTES, BlockHeader, CommitCertificate, validator_set_hash
from ledger.errors import CodecError
from ledger.inclusion import verify_receipt_inclusion, verify_tx_inclusion
from ledger.keys import PUBLIC_KEY_SIZE
from ledger.merkle import InclusionProof, expect_tag
from ledger.receipt import Receipt
from ledger.state_tree import StateProof
from ledger.tx import Transaction
from ledger.validators import VALIDATOR_SCHEDULE_KEY, VALIDATORS_SCHEDULED_EVENT

TAG_TX_BUNDLE = 32
TAG_STATE_BUNDLE = 33
TAG_VALIDATOR_CHANGE = 34
TAG_VALIDATOR_SKIP = 35
TAG_GOVERNANCE_EVIDENCE = 36
MAX_SET_SIZE = 256  # a skip's listed set; governance caps the real one far lower
MAX_BUNDLE_BYTES = MAX_BLOCK_BYTES


class BundleError(Exception):
    """A bundle that does not prove what it claims; the message is one line."""


@dataclass(frozen=True, slots=True)
class TrustAnchor:
    """What the verifier already trusts: `validators` sign every height from `from_height`."""

    chain_id: str
    validators: tuple[bytes, ...]
    from_height: int = 1


@dataclass(frozen=True, slots=True)
class GovernanceEvidence:
    """The governance transaction that scheduled a set, in its certified block."""

    tx: Transaction
    receipt: Receipt
    tx_proof: InclusionProof
    receipt_proof: InclusionProof
    header: BlockHeader
    certificate: CommitCertificate

    def to_list(self) -> list[Any]:
        return [
            TAG_GOVERNANCE_EVIDENCE,
            1,
            self.tx.to_list(),
            self.receipt.to_list(),
            self.tx_proof.to_list(),
            self.receipt_proof.to_list(),
            self.header.to_list(),
            self.certificate.to_list(),
        ]

    @staticmethod
    def from_list(value: Any) -> GovernanceEvidence:
        fields = codec.expect_list(value, 8, "governance evidence")
        expect_tag(fields, TAG_GOVERNANCE_EVIDENCE, "governance evidence")
        return GovernanceEvidence(
            Transaction.from_list(fields[2]),
            Receipt.from_list(fields[3]),
            InclusionProof.from_list(fields[4]),
            InclusionProof.from_list(fields[5]),
            BlockHeader.from_list(fields[6]),
            CommitCertificate.from_list(fields[7]),
        )


@dataclass(frozen=True, slots=True)
class ValidatorChange:
    """Version 1 has no evidence; version 2 adds the governance transaction."""

    header: BlockHeader
    certificate: CommitCertificate
    schedule: StateProof
    evidence: GovernanceEvidence | None = None

    def to_list(self) -> list[Any]:
        fields = [
            TAG_VALIDATOR_CHANGE,
            1 if self.evidence is None else 2,
            self.header.to_list(),
            self.certificate.to_list(),
            self.schedule.to_list(),
        ]
        return fields if self.evidence is None else [*fields, self.evidence.to_list()]

    @staticmethod
    def from_list(value: Any) -> ValidatorChange:
        if not isinstance(value, list) or len(value) < 2 or isinstance(value[1], bool):
            raise CodecError("bad_type", "a validator change is an array [34, version, ...]")
        version = value[1]
        if version not in (1, 2):
            raise CodecError("bad_version", f"unsupported validator change version {version!r}")
        fields = codec.expect_list(value, 4 + version, "validator change")
        if isinstance(fields[0], bool) or fields[0] != TAG_VALIDATOR_CHANGE:
            raise CodecError("bad_tag", "not a validator change")
        return ValidatorChange(
            BlockHeader.from_list(fields[2]),
            CommitCertificate.from_list(fields[3]),
            StateProof.from_list(fields[4]),
            GovernanceEvidence.from_list(fields[5]) if version == 2 else None,
        )


@dataclass(frozen=True, slots=True)
class ValidatorSkip:
    """A later header accepted by skipping: signed by a quorum of `validators` (the
    header's own set) among whom are more than a third of the trusted set."""

    header: BlockHeader
    certificate: CommitCertificate
    validators: tuple[bytes, ...]

    def to_list(self) -> list[Any]:
        return [
            TAG_VALIDATOR_SKIP,
            1,
            self.header.to_list(),
            self.certificate.to_list(),
            list(self.validators),
        ]

    @staticmethod
    def from_list(value: Any) -> ValidatorSkip:
        fields = codec.expect_list(value, 5, "validator skip")
        expect_tag(fields, TAG_VALIDATOR_SKIP, "validator skip")
        keys = fields[4]
        if not isinstance(keys, list) or not 1 <= len(keys) <= MAX_SET_SIZE:
            raise CodecError("bad_type", f"a skip lists 1 to {MAX_SET_SIZE} validators in an array")
        validators = tuple(codec.expect_bytes(k, "validator", PUBLIC_KEY_SIZE) for k in keys)
        if len(set(validators)) != len(validators):
            raise CodecError("bad_value", "a skip lists a validator twice")
        return ValidatorSkip(
            BlockHeader.from_list(fields[2]), CommitCertificate.from_list(fields[3]), validators
        )


TrustStep = ValidatorChange | ValidatorSkip


def _changes_from(value: Any) -> tuple[TrustStep, ...]:
    if not isinstance(value, list):
        raise CodecError("bad_type", "validator changes must be an array")
    steps: list[TrustStep] = []
    for item in value:
        if isinstance(item, list) and item and item[0] == TAG_VALIDATOR_SKIP:
            steps.append(ValidatorSkip.from_list(item))
        else:
            steps.append(ValidatorChange.from_list(item))
    return tuple(steps)


@dataclass(frozen=True, slots=True)
class TxBundle:
    tx: Transaction
    receipt: Receipt
    tx_proof: InclusionProof
    receipt_proof: InclusionProof
    header: BlockHeader
    certificate: CommitCertificate
    changes: tuple[TrustStep, ...]

    def to_list(self) -> list[Any]:
        return [
            TAG_TX_BUNDLE,
            1,
            self.tx.to_list(),
            self.receipt.to_list(),
            self.tx_proof.to_list(),
            self.receipt_proof.to_list(),
            self.header.to_list(),
            self.certificate.to_list(),
            [change.to_list() for change in self.changes],
        ]

    def encode(self) -> bytes:
        return codec.encode(self.to_list())

    @staticmethod
    def from_list(value: Any) -> TxBundle:
        fields = codec.expect_list(value, 9, "tx bundle")
        expect_tag(fields, TAG_TX_BUNDLE, "tx bundle")
        return TxBundle(
            Transaction.from_list(fields[2]),
            Receipt.from_list(fields[3]),
            InclusionProof.from_list(fields[4]),
            InclusionProof.from_list(fields[5]),
            BlockHeader.from_list(fields[6]),
            CommitCertificate.from_list(fields[7]),
            _changes_from(fields[8]),
        )


@dataclass(frozen=True, slots=True)
class StateBundle:
    proofs: tuple[StateProof, ...]
    header: BlockHeader
    certificate: CommitCertificate
    changes: tuple[TrustStep, ...]

    def to_list(self) -> list[Any]:
        return [
            TAG_STATE_BUNDLE,
            1,
            [proof.to_list() for proof in self.proofs],
            self.header.to_list(),
            self.certificate.to_list(),
            [change.to_list() for change in self.changes],
        ]

    def encode(self) -> bytes:
        return codec.encode(self.to_list())

    @staticmethod
    def from_list(value: Any) -> StateBundle:
        fields = codec.expect_list(value, 6, "state bundle")
        expect_tag(fields, TAG_STATE_BUNDLE, "state bundle")
        if not isinstance(fields[2], list):
            raise CodecError("bad_type", "state proofs must be an array")
        return StateBundle(
            tuple(StateProof.from_list(item) for item in fields[2]),
            BlockHeader.from_list(fields[3]),
            CommitCertificate.from_list(fields[4]),
            _changes_from(fields[5]),
        )


Bundle = TxBundle | StateBundle


def decode_bundle(data: bytes) -> Bundle:
    """Decode either bundle kind; CodecError names what is malformed."""
    value = codec.decode(data, MAX_BUNDLE_BYTES)
    if isinstance(value, list) and value and not isinstance(value[0], bool):
        if value[0] == TAG_TX_BUNDLE:
            return TxBundle.from_list(value)
        if value[0] == TAG_STATE_BUNDLE:
            return StateBundle.from_list(value)
    raise CodecError("bad_tag", "not a proof bundle")


# -- verification ----------------------------------------------------------------------------


def schedule_from(value: bytes) -> list[tuple[int, tuple[bytes, ...]]]:
    """The validator schedule `[[start_height, [validator, ...]], ...]` from its state value."""
    try:
        entries = codec.decode(value)
        if not isinstance(entries, list):
            raise CodecError("bad_type", "schedule must be an array")
        schedule = []
        for entry in entries:
            start, keys = codec.expect_list(entry, 2, "schedule entry")
            if not isinstance(keys, list) or not keys:
                raise CodecError("bad_type", "schedule validators must be a non-empty array")
            schedule.append(
                (
                    codec.expect_int(start, "start_height", 1),
                    tuple(codec.expect_bytes(k, "validator", PUBLIC_KEY_SIZE) for k in keys),
                )
            )
    except CodecError as exc:
        raise BundleError(f"validator schedule is malformed: {exc.message}") from exc
    return schedule


def set_at(schedule: Sequence[tuple[int, tuple[bytes, ...]]], height: int) -> tuple[bytes, ...]:
    chosen: tuple[bytes, ...] = ()
    for start, keys in schedule:
        if start <= height:
            chosen = keys
    return chosen


def verify_certified(
    anchor: TrustAnchor, header: BlockHeader, certificate: CommitCertificate
) -> None:
    """Check `header` is signed by a quorum of the set the anchor trusts for its height."""
    if header.chain_id != anchor.chain_id:
        raise BundleError(f"header is for chain {header.chain_id!r}, not {anchor.chain_id!r}")
    if header.height < anchor.from_height:
        raise BundleError(
            f"header {header.height} is older than the trusted height {anchor.from_height}"
        )
    if header.validator_set_hash != validator_set_hash(anchor.validators):
        raise BundleError(
            f"header {header.height} names another validator set than the trusted one"
        )
    if certificate.height != header.height or certificate.block_hash != header.hash:
        raise BundleError(f"certificate is not for header {header.height}")
    if not certificate.verify(anchor.chain_id, anchor.validators):
        raise BundleError(f"certificate of header {header.height} lacks a valid quorum")


def skip_to(anchor: TrustAnchor, skip: ValidatorSkip) -> TrustAnchor:
    """Trust the set of a later header that more than a third of the trusted set signed."""
    header = skip.header
    own = TrustAnchor(anchor.chain_id, skip.validators, anchor.from_height)
    verify_certified(own, header, skip.certificate)  # a quorum of its own set
    trusted = set(anchor.validators)  # membership only
    vouching = sum(1 for validator, _ in skip.certificate.signatures if validator in trusted)
    if 3 * vouching <= len(trusted):
        raise BundleError(
            f"only {vouching} of the {len(trusted)} trusted validators signed header "
            f"{header.height}: skipping needs more than a third"
        )
    return TrustAnchor(anchor.chain_id, skip.validators, header.height)


def follow_changes(anchor: TrustAnchor, changes: Sequence[TrustStep]) -> TrustAnchor:
    """Move trust forward through validator-set changes: one certified header each
    (sequential), or a header accepted by skipping."""
    for change in changes:
        if isinstance(change, ValidatorSkip):
            anchor = skip_to(anchor, change)
            continue
        verify_certified(anchor, change.header, change.certificate)
        proof = change.schedule
        if proof.key != VALIDATOR_SCHEDULE_KEY or proof.value is None:
            raise BundleError("validator change does not prove the validator schedule")
        if not proof.verify(change.header.state_root):
            raise BundleError(f"validator schedule proof fails at header {change.header.height}")
        next_height = change.header.height + 1
        validators = set_at(schedule_from(proof.value), next_height)
        if not validators:
            raise BundleError("validator schedule has no set for the next height")
        if change.evidence is not None:
            verify_evidence(anchor, change, change.evidence)
        anchor = TrustAnchor(anchor.chain_id, validators, next_height)
    return anchor


@dataclass(frozen=True, slots=True)
class VerifiedTx:
    height: int
    index: int
    tx_hash: bytes
    receipt: Receipt


def verify_included(
    header: BlockHeader,
    tx: Transaction,
    receipt: Receipt,
    tx_proof: InclusionProof,
    receipt_proof: InclusionProof,
) -> bytes:
    """Check a transaction and its receipt sit at one index of a (certified) block; the
    transaction's hash."""
    tx_hash = tx.hash
    if not verify_tx_inclusion(header, tx_hash, tx_proof):
        raise BundleError(f"transaction is not in block {header.height} at the claimed place")
    if receipt.tx_hash != tx_hash:
        raise BundleError("receipt is for another transaction")
    if receipt_proof.index != tx_proof.index:
        raise BundleError("receipt and transaction positions differ")
    if not verify_receipt_inclusion(header, receipt, receipt_proof):
        raise BundleError(f"receipt is not in block {header.height} at the claimed place")
    return tx_hash


def verify_evidence(
    anchor: TrustAnchor, change: ValidatorChange, evidence: GovernanceEvidence
) -> None:
    """The governance transaction of a change: applied in a block the trusted set
    certified (no later than the change's header), and its receipt scheduled exactly the
    set the change's schedule proof gives from the change's next height."""
    header = evidence.header
    if header.height > change.header.height:
        raise BundleError("governance evidence comes after the change it explains")
    verify_certified(anchor, header, evidence.certificate)
    verify_included(
        header, evidence.tx, evidence.receipt, evidence.tx_proof, evidence.receipt_proof
    )
    if not evidence.receipt.ok:
        raise BundleError("governance evidence is a rejected transaction")
    proof = change.schedule
    start = change.header.height + 1
    validators = set_at(schedule_from(proof.value or b""), start)
    for event in evidence.receipt.events:
        if event.name == VALIDATORS_SCHEDULED_EVENT and event.get("start_height") == start:
            scheduled = event.get("validators")
            if isinstance(scheduled, list) and tuple(scheduled) == validators:
                return
    raise BundleError(f"governance evidence does not schedule the set of height {start}")


def verify_tx_bundle(bundle: TxBundle, anchor: TrustAnchor) -> VerifiedTx:
    """Check a TxBundle completely; raise BundleError with the first failure."""
    trusted = follow_changes(anchor, bundle.changes)
    header = bundle.header
    verify_certified(trusted, header, bundle.certificate)
    tx_hash = verify_included(
        header, bundle.tx, bundle.receipt, bundle.tx_proof, bundle.receipt_proof
    )
    return VerifiedTx(header.height, bundle.tx_proof.index, tx_hash, bundle.receipt)


def verify_state_bundle(bundle: StateBundle, anchor: TrustAnchor) -> list[StateProof]:
    """Check a StateBundle; returns its proofs (value or absence per key), all verified."""
    trusted = follow_changes(anchor, bundle.changes)
    verify_certified(trusted, bundle.header, bundle.certificate)
    for proof in bundle.proofs:
        if not proof.verify(bundle.header.state_root):
            raise BundleError(f"state proof for key {proof.key.hex()} fails")
    return list(bundle.proofs)
