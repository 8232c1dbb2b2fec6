"""cached_attribute: computed on first read, then read from the instance."""

from __future__ import annotations

from ledger.cached import cached_attribute
from ledger.keys import PrivateKey
from ledger.tx import SignedTransaction, Transaction


class Counted:
    def __init__(self) -> None:
        self.calls = 0

    @cached_attribute
    def value(self) -> list[int]:
        """A fresh list each computation, so a recomputation would show."""
        self.calls += 1
        return [self.calls]


def test_computed_once_per_instance() -> None:
    first, second = Counted(), Counted()
    assert first.value is first.value and first.calls == 1
    assert second.value == [1] and second.value is not first.value
    assert isinstance(Counted.value, cached_attribute)
    assert Counted.value.__doc__ is not None and "fresh list" in Counted.value.__doc__


def test_a_transaction_keeps_its_hash_signers_and_encoding() -> None:
    key = PrivateKey.from_seed(b"\x05" * 32)
    stx = Transaction("c", key.public_key, 0, "coin.transfer", ("IDR", b"\x01" * 32, 1)).sign(key)
    decoded = SignedTransaction.decode(stx.encode())
    assert decoded.hash is decoded.hash and decoded.hash == stx.tx.hash
    assert decoded.signers is decoded.signers and decoded.signers == (key.public_key,)
    assert decoded.encoded is decoded.encoded and decoded.encoded == stx.encode()
