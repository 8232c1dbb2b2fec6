"""The signed-transaction envelope: several signers, canonical order, batched checks."""

from __future__ import annotations

from typing import Any

import pytest

from ledger import codec
from ledger.errors import CodecError, InvalidTransaction
from ledger.execution import (
    Application,
    BlockInfo,
    Context,
    account_nonce,
    apply_block,
    verify_signatures,
)
from ledger.kv import MemoryStore
from ledger.tx import MAX_SIGNATURES, SignedTransaction, Transaction
from tests.ledgerkit import CHAIN_ID, key

ALICE, PHONE, LAPTOP = key(1), key(4), key(5)
INFO = BlockInfo(CHAIN_ID, 5, 10_000, key(1000).public_key)


def noop(ctx: Context, args: tuple[Any, ...]) -> None:
    ctx.state.put(b"t/ran", b"1")


def sample(nonce: int = 0) -> Transaction:
    return Transaction(CHAIN_ID, ALICE.public_key, nonce, "test.noop", ())


def test_signers_are_sorted_whatever_the_signing_order() -> None:
    one = sample().sign(PHONE, LAPTOP)
    two = sample().sign(LAPTOP, PHONE)
    assert one == two and one.encode() == two.encode()
    assert list(one.signers) == sorted([PHONE.public_key, LAPTOP.public_key])
    assert one.version == 2 and one.verify_signature()
    assert SignedTransaction.decode(one.encode()) == one


def test_adding_a_signature_later_gives_the_same_envelope() -> None:
    """Co-signing: each party adds its signature to a partially signed envelope."""
    partial = sample().sign(PHONE)
    full = partial.with_signatures([sample().signature_by(LAPTOP)])
    assert full.encode() == sample().sign(PHONE, LAPTOP).encode()
    # signing twice with one key is harmless
    assert full.with_signatures([sample().signature_by(PHONE)]) == full
    assert full.hash == partial.hash == sample().hash  # signatures are not in the hash


@pytest.mark.parametrize(
    ("pairs", "code"),
    [
        ("dup", "duplicate_signer"),
        ("desc", "unsorted_signers"),
        ("none", "no_signatures"),
        ("many", "too_many_signatures"),
    ],
)
def test_envelope_rules_refuse_bad_signature_lists(pairs: str, code: str) -> None:
    tx = sample()
    a, b = sorted([tx.signature_by(PHONE), tx.signature_by(LAPTOP)])
    chosen = {
        "dup": [a, a],
        "desc": [b, a],
        "none": [],
        "many": sorted(tx.signature_by(key(100 + i)) for i in range(MAX_SIGNATURES + 1)),
    }[pairs]
    with pytest.raises(CodecError) as built:
        SignedTransaction(tx, tuple(chosen))
    assert built.value.code == code
    with pytest.raises(CodecError) as decoded:
        SignedTransaction.decode(codec.encode([2, 2, tx.to_list(), [list(p) for p in chosen]]))
    assert decoded.value.code == code


def test_the_sender_alone_has_one_encoding() -> None:
    tx = sample()
    alone = tx.sign(ALICE)
    assert alone.version == 1
    second_form = codec.encode([2, 2, tx.to_list(), [[ALICE.public_key, alone.signatures[0][1]]]])
    with pytest.raises(CodecError) as caught:
        SignedTransaction.decode(second_form)
    assert caught.value.code == "non_canonical"
    # with a co-signer the sender's key is an ordinary version 2 entry
    assert tx.sign(ALICE, PHONE).version == 2


def test_verification_key_covers_every_signature() -> None:
    good = sample().sign(PHONE, LAPTOP)
    forged_pairs = [good.signatures[0], (good.signatures[1][0], bytes(64))]
    forged = SignedTransaction(good.tx, tuple(forged_pairs))
    assert good.hash == forged.hash
    assert good.verification_key != forged.verification_key
    assert verify_signatures([good, forged]) == [True, False]
    assert verify_signatures([forged], verified={good.verification_key}) == [False]


def test_one_bad_signature_rejects_the_tx_and_uses_no_nonce() -> None:
    app = Application({"test.noop": noop})
    good = sample().sign(ALICE)
    cosigned = sample(1).sign(ALICE, PHONE)
    broken = SignedTransaction(
        cosigned.tx, (cosigned.signatures[0], (cosigned.signatures[1][0], bytes(64)))
    )
    result = apply_block(app, MemoryStore(), INFO, [good, broken], bytes(32))
    assert [r.code for r in result.receipts] == ["ok", "bad_signature"]
    assert dict(result.write_set)[b"acct/nonce/" + ALICE.public_key] == codec.encode(1)


def test_without_a_policy_only_the_senders_key_signs() -> None:
    """The default rule (no account contract): a foreign or extra key is refused and
    the nonce stays unused; the sender's own key alone is accepted."""
    app = Application({"test.noop": noop})
    store = MemoryStore()
    foreign = sample().sign(PHONE)
    extra = sample().sign(ALICE, PHONE)
    own = sample().sign(ALICE)
    result = apply_block(app, store, INFO, [foreign, extra, own], bytes(32))
    assert [r.code for r in result.receipts] == ["unknown_signer", "unknown_signer", "ok"]
    store.write(result.state_batch())
    assert account_nonce(store, ALICE.public_key) == 1


def test_an_authorizer_refusal_leaves_no_writes() -> None:
    def refuse(ctx: Context, tx: Transaction, signers: tuple[bytes, ...]) -> None:
        ctx.state.put(b"t/charged", b"1")
        raise InvalidTransaction("insufficient_signatures", "weight 1 of 2")

    app = Application({"test.noop": noop}, authorize=refuse)
    result = apply_block(app, MemoryStore(), INFO, [sample().sign(ALICE)], bytes(32))
    assert result.receipts[0].code == "insufficient_signatures"
    assert result.write_set == []
