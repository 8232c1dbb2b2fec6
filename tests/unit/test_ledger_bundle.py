"""Proof bundles built from a committed store and checked offline (ledger.bundle)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from contracts.coin import balance_key
from ledger.bundle import (
    BundleError,
    StateBundle,
    TrustAnchor,
    TxBundle,
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
from tests.ledgerkit import (
    CHAIN_ID,
    GENESIS_TIME_MS,
    VALIDATOR_KEYS,
    Chain,
    key,
    make_genesis,
    signed,
)

ALICE, BOB, NEWCOMER = key(1), key(2), key(77)
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
    """Add a validator by governance; return the height its set starts at."""
    effective = chain.head.height + 5
    params = [NEWCOMER.public_key, effective]
    chain.commit(
        [signed(VALIDATOR_KEYS[0], 0, "governance.propose", ["add_validator", params, LATER])]
    )
    chain.commit([signed(VALIDATOR_KEYS[1], 0, "governance.approve", [1])])
    chain.commit([signed(VALIDATOR_KEYS[2], 0, "governance.approve", [1])])
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
