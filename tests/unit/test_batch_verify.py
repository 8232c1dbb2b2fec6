"""Signature checks in batches (ledger/_batch_verify.c through `keys.verify_batch`): the
same answer as one `keys.verify` per signature, whatever the input, in order."""

from __future__ import annotations

import threading

import pytest

from ledger import keys
from ledger.hashing import TX
from ledger.keys import PrivateKey, SignatureCheck, verify, verify_batch

L = (1 << 252) + 27742317777372353535851937790883648493
KEY = PrivateKey.from_seed(bytes(range(32)))
OTHER = PrivateKey.from_seed(bytes([7]) * 32)

needs_extension = pytest.mark.skipif(
    keys._batch_check is None, reason="ledger/_batch_verify.c was not built (no C compiler)"
)


def _signed(index: int, key: PrivateKey = KEY, chain: str = "main") -> SignatureCheck:
    digest = index.to_bytes(32, "big")
    return (key.public_key, TX, chain, digest, key.sign(TX, chain, digest))


def _flipped(data: bytes, position: int) -> bytes:
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]


def _cases() -> list[SignatureCheck]:
    good = _signed(1)
    public_key, domain, chain, digest, signature = good
    cases = [good, _signed(2, OTHER), _signed(3, chain="x" * 255)]
    cases += [(public_key, domain, chain, digest, _flipped(signature, i)) for i in (0, 31, 32, 63)]
    cases += [(_flipped(public_key, i), domain, chain, digest, signature) for i in (0, 31)]
    cases += [(public_key, domain, chain, _flipped(digest, 5), signature)]
    cases += [(public_key, b"pasar/block", chain, digest, signature)]  # another domain
    cases += [(OTHER.public_key, domain, chain, digest, signature)]  # another key
    # S + L is the same scalar, not the canonical encoding: refused
    s = int.from_bytes(signature[32:], "little") + L
    cases += [(public_key, domain, chain, digest, signature[:32] + s.to_bytes(32, "little"))]
    # a key of small order with R = identity, S = 0 verifies any message under a
    # cofactored or lenient check; libsodium refuses it
    small = bytes([1]) + bytes(31)
    cases += [(small, domain, chain, digest, small + bytes(32))]
    # wrong sizes and a domain too long to sign are refused, not raised
    cases += [(public_key[:31], domain, chain, digest, signature)]
    cases += [(public_key, domain, chain, digest, signature + b"\x00")]
    cases += [(public_key, b"d" * 256, chain, digest, signature)]
    # a message too long for a record's length field is checked on its own
    long_digest = bytes(70_000)
    cases += [(public_key, domain, chain, long_digest, KEY.sign(domain, chain, long_digest))]
    return cases


def test_a_batch_answers_as_one_check_per_signature_in_order() -> None:
    cases = _cases()
    expected = [verify(*case) for case in cases]
    assert expected[:3] == [True, True, True] and expected[-1] is True
    assert not any(expected[3:-1])  # every other case is refused
    assert verify_batch(cases) == expected
    assert verify_batch(list(reversed(cases))) == list(reversed(expected))
    assert verify_batch([]) == []


def test_without_the_extension_the_answers_are_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    cases = _cases()
    expected = verify_batch(cases)
    monkeypatch.setattr(keys, "_batch_check", None)
    assert verify_batch(cases) == expected
    assert keys.verify_many(cases) == expected


def test_a_libsodium_without_the_function_leaves_one_check_per_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_library(path: str) -> None:
        raise OSError(f"cannot load {path}")

    monkeypatch.setattr(keys.ctypes, "CDLL", no_library)
    assert keys._batch_checker() is None


@needs_extension
def test_records_that_do_not_parse_raise_and_check_nothing() -> None:
    from ledger import _batch_verify

    public_key, _, _, _, signature = _signed(1)
    message = b"m" * 10
    record = public_key + signature + len(message).to_bytes(2, "big") + message
    assert _batch_verify.check(record * 3) == bytes(3)  # parses; signed another message
    for bad in (record[:-1], record + record[:50], record[:97]):
        with pytest.raises(ValueError, match="do not parse"):
            _batch_verify.check(bad)
    with pytest.raises(TypeError):
        _batch_verify.check("text")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        _batch_verify.use(0)


@needs_extension
def test_many_threads_check_batches_at_once() -> None:
    cases = [_signed(i) for i in range(200)] + [_cases()[3]]
    answers: list[list[bool]] = []

    def run() -> None:
        answers.append(verify_batch(cases))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [[True] * 200 + [False]] * 4
