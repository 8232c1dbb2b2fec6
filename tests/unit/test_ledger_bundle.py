"""Proof bundles built from a committed store and checked offline (ledger.bundle)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from contracts.coin import balance_key
from ledger.block import Block, CommitCertificate, validator_set_hash
from ledger.bundle import (
    BundleError,
    StateBundle,
    TrustAnchor,
    TxBundle,
    ValidatorChange,
    ValidatorSkip,
    decode_bundle,
    verify_state_bundle,
    verify_tx_bundle,
)
from ledger.chainstore import read_block
from ledger.errors import CodecError
from ledger.execution import nonce_key
from ledger.hashing import ZERO_HASH
from ledger.kv import MemoryStore
from ledger.merkle import InclusionProof
from ledger.prover import ProofUnavailable, state_bundle, tx_bundle
from tests import ledgerkit
from tests.ledgerkit import (
    CHAIN_ID,
    GENESIS_TIME_MS,
    VALIDATOR_KEYS,
    Chain,
    certify,
    key,
    make_genesis,
    signed,
)

ALICE, BOB, NEWCOMER = key(1), key(2), key(77)
DECIDING_APPROVAL = signed(VALIDATOR_KEYS[2], 0, "governance.approve", [1])
GENESIS_SET = tuple(k.public_key for k in VALIDATOR_KEYS)
ANCHOR = TrustAnchor(CHAIN_ID, GENESIS_SET)
LATER = GENESIS_TIME_MS + 10**9


def funded_chain() -> Chain:
    genesis = make_genesis([(ALICE.public_key, "IDR", 10_000)], [("IDR", ALICE.public_key, 10**9)])
    return Chain(MemoryStore(), genesis)


def pay(chain: Chain, nonce: int, amount: int = 25) -> bytes:
    stx = signed(ALICE, nonce, "coin.transfer", ["IDR", BOB.public_key, amount])
    chain.commit([stx])
    return stx.hash


def test_a_committed_payment_verifies_offline_with_the_certificate_of_the_next_block() -> None:
    chain = funded_chain()
    tx_hash = pay(chain, 0)
    pending = tx_bundle(chain.store, tx_hash)  # only the node's own certificate so far
    assert verify_tx_bundle(pending, ANCHOR).receipt.ok
    chain.commit([])
    bundle = tx_bundle(chain.store, tx_hash)
    second = read_block(chain.store, 2)
    assert second is not None and bundle.certificate == second.last_certificate
    verified = verify_tx_bundle(decode_bundle(bundle.encode()), ANCHOR)  # type: ignore[arg-type]
    assert (verified.height, verified.index, verified.tx_hash) == (1, 0, tx_hash)
    assert verified.receipt.ok and verified.receipt.code == "ok"


def test_a_rejected_payment_proves_its_rejection() -> None:
    chain = funded_chain()
    tx_hash = pay(chain, 0, amount=10**6)  # more than Alice has
    verified = verify_tx_bundle(tx_bundle(chain.store, tx_hash), ANCHOR)
    assert not verified.receipt.ok and verified.receipt.code == "insufficient_funds"


def test_wrong_anchor_and_wrong_parts_are_refused() -> None:
    chain = funded_chain()
    first, second = pay(chain, 0), pay(chain, 1)
    bundle = tx_bundle(chain.store, second)
    other = tx_bundle(chain.store, first)
    two_leaves = InclusionProof(0, 2, (ZERO_HASH,))
    cases = {
        "another chain": (bundle, replace(ANCHOR, chain_id="other")),
        "another validator set": (bundle, replace(ANCHOR, validators=GENESIS_SET[:3])),
        "anchor newer than the header": (bundle, replace(ANCHOR, from_height=5)),
        "another block's certificate": (replace(bundle, certificate=other.certificate), ANCHOR),
        "receipt of another tx": (replace(bundle, receipt=other.receipt), ANCHOR),
        "a count the header does not hold": (replace(bundle, tx_proof=two_leaves), ANCHOR),
        "another tx": (replace(bundle, tx=other.tx), ANCHOR),
    }
    for why, (tampered, anchor) in cases.items():
        with pytest.raises(BundleError):
            verify_tx_bundle(tampered, anchor)
            pytest.fail(why)


def test_every_byte_of_a_bundle_flipped_is_refused() -> None:
    chain = funded_chain()
    tx_hash = pay(chain, 0)
    chain.commit([])
    raw = tx_bundle(chain.store, tx_hash).encode()
    assert len(raw) < 4096  # a small real bundle: all of it is checked below
    for index in range(len(raw)):
        for mask in (0x01, 0x80):
            flipped = bytearray(raw)
            flipped[index] ^= mask
            with pytest.raises((BundleError, CodecError)):
                bundle = decode_bundle(bytes(flipped))
                assert isinstance(bundle, TxBundle)
                verify_tx_bundle(bundle, ANCHOR)


def change_validators(chain: Chain) -> int:
    """Add a validator by governance; return the height its set starts at. The second
    approval (the third vote of four) executes the proposal."""
    effective = chain.head.height + 5
    params = [NEWCOMER.public_key, effective]
    chain.commit(
        [signed(VALIDATOR_KEYS[0], 0, "governance.propose", ["add_validator", params, LATER])]
    )
    chain.commit([signed(VALIDATOR_KEYS[1], 0, "governance.approve", [1])])
    chain.commit([DECIDING_APPROVAL])
    while chain.head.height < effective:
        chain.commit([])
    return effective


def test_a_bundle_after_a_validator_change_carries_the_change_and_verifies() -> None:
    chain = funded_chain()
    before = pay(chain, 0)
    effective = change_validators(chain)
    after = pay(chain, 1)
    bundle = tx_bundle(chain.store, after)
    assert [change.header.height for change in bundle.changes] == [effective - 1]
    assert verify_tx_bundle(bundle, ANCHOR).receipt.ok
    # Without the change the genesis set does not sign the newer header.
    with pytest.raises(BundleError, match="another validator set"):
        verify_tx_bundle(replace(bundle, changes=()), ANCHOR)
    # A client that already trusts the new set asks for the changes after its height.
    new_set = (*GENESIS_SET, NEWCOMER.public_key)
    recent = tx_bundle(chain.store, after, trusted_height=effective)
    assert recent.changes == ()
    assert verify_tx_bundle(recent, TrustAnchor(CHAIN_ID, new_set, effective)).receipt.ok
    # Older transactions need no change.
    assert tx_bundle(chain.store, before).changes == ()
    # A forged schedule proof is refused.
    change = bundle.changes[0]
    forged = replace(change, schedule=replace(change.schedule, value=b"\x90"))
    with pytest.raises(BundleError):
        verify_tx_bundle(replace(bundle, changes=(forged,)), ANCHOR)


def test_a_validator_change_carries_the_governance_transaction_that_made_it() -> None:
    chain = funded_chain()
    effective = change_validators(chain)
    bundle = tx_bundle(chain.store, pay(chain, 0))
    (change,) = bundle.changes
    assert isinstance(change, ValidatorChange) and change.evidence is not None
    assert change.evidence.tx == DECIDING_APPROVAL.tx and change.evidence.receipt.ok
    assert change.evidence.header.height == effective - 2
    assert verify_tx_bundle(decode_bundle(bundle.encode()), ANCHOR).receipt.ok  # type: ignore[arg-type]
    # Evidence naming another transaction than the one its proofs hold is refused.
    proposal_block = read_block(chain.store, effective - 4)
    assert proposal_block is not None
    wrong = replace(change.evidence, tx=proposal_block.transactions[0].tx)
    with pytest.raises(BundleError, match="not in block"):
        verify_tx_bundle(replace(bundle, changes=(replace(change, evidence=wrong),)), ANCHOR)
    # A client trusting a height after the decision cannot check its block: no evidence.
    later = tx_bundle(chain.store, bundle.tx.hash, trusted_height=effective - 1)
    (bare,) = later.changes
    assert isinstance(bare, ValidatorChange) and bare.evidence is None
    assert bare.to_list()[1] == 1  # the version without evidence
    anchor = TrustAnchor(CHAIN_ID, GENESIS_SET, effective - 1)
    assert verify_tx_bundle(later, anchor).receipt.ok


def test_every_byte_of_a_bundle_with_a_validator_change_flipped_is_refused() -> None:
    chain = funded_chain()
    change_validators(chain)
    raw = tx_bundle(chain.store, pay(chain, 0)).encode()
    for index in range(len(raw)):
        flipped = bytearray(raw)
        flipped[index] ^= 0x01
        with pytest.raises((BundleError, CodecError)):
            bundle = decode_bundle(bytes(flipped))
            assert isinstance(bundle, TxBundle)
            verify_tx_bundle(bundle, ANCHOR)


def test_a_client_skips_a_validator_change_when_a_third_of_its_set_signed() -> None:
    chain = funded_chain()
    effective = change_validators(chain)
    after = pay(chain, 0)
    bundle = tx_bundle(chain.store, after, skip=True)
    (step,) = bundle.changes
    assert isinstance(step, ValidatorSkip) and step.header.height == effective
    assert step.validators == (*GENESIS_SET, NEWCOMER.public_key)
    assert verify_tx_bundle(decode_bundle(bundle.encode()), ANCHOR).receipt.ok  # type: ignore[arg-type]
    # Two of the four trusted validators are more than a third; one is not.
    two = replace(step.certificate, signatures=step.certificate.signatures[:2])
    one_voucher = replace(step, certificate=two)
    with pytest.raises(BundleError, match="quorum"):
        verify_tx_bundle(replace(bundle, changes=(one_voucher,)), ANCHOR)
    strangers = (key(78), key(79), key(80))
    taken_set = (VALIDATOR_KEYS[0].public_key, *(k.public_key for k in strangers))
    header = replace(step.header, validator_set_hash=validator_set_hash(taken_set))
    takeover = ValidatorSkip(
        header, certify(Block(header, (), None), [VALIDATOR_KEYS[0], *strangers[:2]]), taken_set
    )
    with pytest.raises(BundleError, match="more than a third"):
        verify_tx_bundle(replace(bundle, changes=(takeover,)), ANCHOR)
    # Two trusted signers of four are enough: the skip is accepted, and the bundle's own
    # header is then refused because it names a set other than the one skipped to.
    shared_set = (*GENESIS_SET[:2], strangers[0].public_key, strangers[1].public_key)
    shared = replace(step.header, validator_set_hash=validator_set_hash(shared_set))
    signers = [*VALIDATOR_KEYS[:2], strangers[0]]
    vouched = ValidatorSkip(shared, certify(Block(shared, (), None), signers), shared_set)
    with pytest.raises(BundleError, match="header 6 names another validator set"):
        verify_tx_bundle(replace(bundle, changes=(vouched,)), ANCHOR)
    with pytest.raises(BundleError, match="another validator set than"):
        verify_tx_bundle(replace(bundle, changes=(replace(step, validators=GENESIS_SET),)), ANCHOR)
    # Without skip the node sends the sequential change; with no change, nothing.
    assert [type(s) for s in tx_bundle(chain.store, after).changes] != [ValidatorSkip]
    assert tx_bundle(chain.store, after, trusted_height=effective, skip=True).changes == ()


def test_every_byte_of_a_skipping_bundle_flipped_is_refused() -> None:
    chain = funded_chain()
    change_validators(chain)
    raw = tx_bundle(chain.store, pay(chain, 0), skip=True).encode()
    for index in range(len(raw)):
        flipped = bytearray(raw)
        flipped[index] ^= 0x01
        with pytest.raises((BundleError, CodecError)):
            bundle = decode_bundle(bytes(flipped))
            assert isinstance(bundle, TxBundle)
            verify_tx_bundle(bundle, ANCHOR)


def test_state_bundle_proves_balances_nonces_and_absence() -> None:
    chain = funded_chain()
    pay(chain, 0, amount=300)
    keys = [
        balance_key(ALICE.public_key, "IDR"),
        balance_key(BOB.public_key, "IDR"),
        nonce_key(ALICE.public_key),
        balance_key(BOB.public_key, "GOLD"),
    ]
    bundle = state_bundle(chain.store, keys)
    decoded = decode_bundle(bundle.encode())
    assert isinstance(decoded, StateBundle)
    proofs = verify_state_bundle(decoded, ANCHOR)
    values = [proof.value for proof in proofs]
    assert values[:3] == [chain.store.get(k) for k in keys[:3]] and values[3] is None
    lying = replace(bundle.proofs[1], value=bundle.proofs[0].value)
    with pytest.raises(BundleError):
        verify_state_bundle(replace(bundle, proofs=(lying,)), ANCHOR)


def test_nothing_to_prove_is_reported() -> None:
    chain = funded_chain()
    with pytest.raises(ProofUnavailable):
        tx_bundle(chain.store, b"\x01" * 32)
    with pytest.raises(ProofUnavailable):
        state_bundle(chain.store, [b"any"])


def test_skipping_steps_sequentially_until_a_third_of_the_trusted_set_signed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Genesis trusts v alone; n joins at `joined`, then v leaves at `left`, so the newest
    # header is signed by n only: no trusted signer, and the node must first step to the
    # set {v, n} (sequentially) before it can skip to the newest one.
    v, n = key(500), key(501)
    keys = {k.public_key: k for k in (v, n)}

    def signers(block: Block) -> CommitCertificate:
        sets = [(v.public_key,), (v.public_key, n.public_key), (n.public_key,)]
        (members,) = [s for s in sets if validator_set_hash(s) == block.header.validator_set_hash]
        return certify(block, [keys[member] for member in members])

    monkeypatch.setattr(ledgerkit, "certify", signers)
    chain = Chain(MemoryStore(), make_genesis(validators=[v]))
    joined = chain.head.height + 3
    chain.commit(
        [signed(v, 0, "governance.propose", ["add_validator", [n.public_key, joined], LATER])]
    )
    while chain.head.height < joined:
        chain.commit([])
    left = chain.head.height + 4
    remove = ["remove_validator", [v.public_key, left], LATER]
    chain.commit([signed(n, 0, "governance.propose", remove)])
    chain.commit([signed(v, 1, "governance.approve", [2])])
    while chain.head.height <= left:
        chain.commit([])
    anchor = TrustAnchor(CHAIN_ID, (v.public_key,))
    state = state_bundle(chain.store, [b"gov/next"], skip=True)
    steps = [(type(step), step.header.height) for step in state.changes]
    assert steps == [(ValidatorChange, joined - 1), (ValidatorSkip, left)]
    assert verify_state_bundle(state, anchor)[0].value is not None
    sequential = state_bundle(chain.store, [b"gov/next"])
    assert [type(step) for step in sequential.changes] == [ValidatorChange, ValidatorChange]
    assert verify_state_bundle(sequential, anchor)[0].value is not None
    # The skip alone, without the step before it, is refused: nobody trusted signed it.
    with pytest.raises(BundleError, match="only 0 of the 1 trusted"):
        verify_state_bundle(replace(state, changes=state.changes[1:]), anchor)
