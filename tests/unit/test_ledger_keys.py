"""Ed25519 keys, domain-bound signatures and the address text form."""

from __future__ import annotations

import ctypes
import string
from concurrent.futures import ThreadPoolExecutor

import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import keys
from ledger.hashing import BLOCK, TX
from ledger.keys import PrivateKey, signing_message

SEED = bytes(range(32))
DIGEST = bytes(32)


def test_seed_must_be_32_bytes() -> None:
    with pytest.raises(ValueError):
        keys.PrivateKey.from_seed(b"short")


def test_same_seed_same_key_and_generated_keys_differ() -> None:
    assert keys.PrivateKey.from_seed(SEED).public_key == keys.PrivateKey.from_seed(SEED).public_key
    assert keys.PrivateKey.generate().public_key != keys.PrivateKey.generate().public_key


def test_repr_shows_no_key_material() -> None:
    key = keys.PrivateKey.from_seed(SEED)
    assert SEED.hex() not in repr(key) and repr(SEED) not in repr(key)
    assert keys.address_to_text(key.public_key) in repr(key)


def test_signing_message_layout() -> None:
    message = keys.signing_message(TX, "main", DIGEST)
    assert message == b"\x08pasar/tx" + b"\x04main" + DIGEST
    with pytest.raises(ValueError):
        keys.signing_message(TX, "x" * 256, DIGEST)


def test_signature_binds_key_domain_chain_and_digest() -> None:
    key = keys.PrivateKey.from_seed(SEED)
    other = keys.PrivateKey.from_seed(bytes(32))
    signature = key.sign(TX, "main", DIGEST)
    assert len(signature) == keys.SIGNATURE_SIZE
    assert keys.verify(key.public_key, TX, "main", DIGEST, signature)
    assert not keys.verify(other.public_key, TX, "main", DIGEST, signature)
    assert not keys.verify(key.public_key, BLOCK, "main", DIGEST, signature)
    assert not keys.verify(key.public_key, TX, "test", DIGEST, signature)
    assert not keys.verify(key.public_key, TX, "main", b"\x01" * 32, signature)
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    assert not keys.verify(key.public_key, TX, "main", DIGEST, flipped)


def test_verify_refuses_wrong_sizes_and_invalid_points() -> None:
    key = keys.PrivateKey.from_seed(SEED)
    signature = key.sign(TX, "main", DIGEST)
    assert not keys.verify(key.public_key[:31], TX, "main", DIGEST, signature)
    assert not keys.verify(key.public_key, TX, "main", DIGEST, signature[:63])
    assert not keys.verify(b"\xff" * 32, TX, "main", DIGEST, signature)


def test_verify_many_keeps_order_with_and_without_an_executor() -> None:
    key = keys.PrivateKey.from_seed(SEED)
    checks = []
    for i in range(200):
        digest = i.to_bytes(32, "big")
        signature = key.sign(TX, "main", digest)
        if i % 7 == 3:
            signature = bytes(64)
        checks.append((key.public_key, TX, "main", digest, signature))
    expected = [i % 7 != 3 for i in range(200)]
    assert keys.verify_many(checks) == expected
    with ThreadPoolExecutor(max_workers=2) as executor:
        assert keys.verify_many(checks, executor) == expected
        assert keys.verify_many(checks[:5], executor) == expected[:5]
    assert keys.verify_many([]) == []


def test_address_text_round_trip_and_shape() -> None:
    public = keys.PrivateKey.from_seed(SEED).public_key
    text = keys.address_to_text(public)
    assert text.startswith("pasar1") and len(text) == 64
    assert set(text[6:]) <= set(string.ascii_lowercase + "234567")
    assert keys.address_from_text(text) == public
    assert keys.address_from_text("  " + text.upper().replace("PASAR1", "pasar1") + "\n") == public
    assert keys.address_from_text(public.hex()) == public
    with pytest.raises(ValueError):
        keys.address_to_text(public[:31])


def test_address_text_is_the_same_from_any_bytes_like_key_and_when_remembered() -> None:
    """Text forms are kept for recent accounts: a key given as a bytearray or a
    memoryview (unhashable, or hashable but not equal as a dict key would need)
    gets the same text, and a remembered answer is the one computed afresh."""
    public = keys.PrivateKey.from_seed(bytes(range(32))).public_key
    first = keys.address_to_text(public)
    assert keys.address_to_text(bytearray(public)) == first
    assert keys.address_to_text(memoryview(public)) == first
    assert keys.address_to_text(public) == first
    others = [keys.PrivateKey.from_seed(bytes([n]) * 32).public_key for n in range(1, 40)]
    texts = [keys.address_to_text(key) for key in others]
    assert len(set(texts)) == len(others)
    assert [keys.address_from_text(text) for text in texts] == others


def test_every_single_character_typo_is_caught() -> None:
    public = keys.PrivateKey.from_seed(SEED).public_key
    text = keys.address_to_text(public)
    alphabet = string.ascii_lowercase + "234567"
    for position in range(len("pasar1"), len(text)):
        for char in alphabet:
            if char == text[position]:
                continue
            typo = text[:position] + char + text[position + 1 :]
            with pytest.raises(ValueError):
                keys.address_from_text(typo)


def test_swapped_neighbours_are_caught() -> None:
    public = keys.PrivateKey.from_seed(SEED).public_key
    text = keys.address_to_text(public)
    for position in range(len("pasar1"), len(text) - 1):
        if text[position] == text[position + 1]:
            continue
        swapped = text[:position] + text[position + 1] + text[position] + text[position + 2 :]
        with pytest.raises(ValueError):
            keys.address_from_text(swapped)


@pytest.mark.parametrize(
    "text",
    ["", "pasar1", "cosmos1abc", "pasar1!!!!", "pasar1" + "a" * 10, "z" * 64, "pasar1" + "a" * 80],
)
def test_malformed_addresses_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        keys.address_from_text(text)


@settings(max_examples=50, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32), digest=st.binary(min_size=32, max_size=32))
def test_a_key_signs_as_its_seed_does_and_keeps_its_pair(seed: bytes, digest: bytes) -> None:
    """The key pair is derived once and kept: public key and signatures are still
    exactly what a signing key made from the seed gives, first use or later."""
    reference = nacl.signing.SigningKey(seed)
    key = PrivateKey.from_seed(seed)
    for _ in range(2):
        assert key.public_key == bytes(reference.verify_key)
        expected = reference.sign(signing_message(b"domain", "chain", digest)).signature
        assert key.sign(b"domain", "chain", digest) == expected
    assert key == PrivateKey.from_seed(seed) and hash(key) == hash(PrivateKey.from_seed(seed))


# the order of Ed25519's prime subgroup: a signature's S must be below it
GROUP_ORDER = 2**252 + 27742317777372353535851937790883648493
# encodings of points of small order (and a non-canonical one): keys no check accepts
SMALL_ORDER_KEYS = [
    bytes(32),
    b"\x01" + bytes(31),
    bytes(31) + b"\x80",
    b"\xec" + b"\xff" * 30 + b"\x7f",
    b"\xee" + b"\xff" * 30 + b"\x7f",
]


def signature_cases() -> list[tuple[bytes, bytes, str, bytes, bytes]]:
    """Good checks, and bad ones of every kind a forger might try."""
    key = keys.PrivateKey.from_seed(SEED)
    good = key.sign(TX, "main", DIGEST)
    cases = [(key.public_key, TX, "main", DIGEST, good)]
    for index in range(64):  # each byte of the signature
        forged = bytearray(good)
        forged[index] ^= 1 << (index % 8)
        cases.append((key.public_key, TX, "main", DIGEST, bytes(forged)))
    for index in range(32):  # each byte of the key
        other = bytearray(key.public_key)
        other[index] ^= 1 << (index % 8)
        cases.append((bytes(other), TX, "main", DIGEST, good))
    s = int.from_bytes(good[32:], "little") + GROUP_ORDER  # the same S, not reduced
    cases.append((key.public_key, TX, "main", DIGEST, good[:32] + s.to_bytes(32, "little")))
    cases += [(small, TX, "main", DIGEST, good) for small in SMALL_ORDER_KEYS]
    cases += [(small, TX, "main", DIGEST, small + bytes(32)) for small in SMALL_ORDER_KEYS]
    cases += [
        (key.public_key, TX, "main", DIGEST, bytes(64)),
        (key.public_key, TX, "main", DIGEST, b"\xff" * 64),
        (key.public_key, TX, "main", DIGEST, good[:63]),
        (key.public_key[:31], TX, "main", DIGEST, good),
        (key.public_key, BLOCK, "main", DIGEST, good),
        (key.public_key, TX, "test", DIGEST, good),
        (key.public_key, TX, "main", b"\x01" * 32, good),
    ]
    return cases


def test_the_inline_check_takes_exactly_the_signatures_the_pool_takes() -> None:
    # The event loop checks a few signatures itself with libsodium's function called
    # with the interpreter lock held; the pool's threads through PyNaCl. A signature
    # one of them took and the other refused would split the validators' mempools.
    held = keys._VERIFY_HOLDING_THE_LOCK
    assert held is not None  # loaded where validators run
    # called as a Python API function: ctypes keeps the interpreter lock through the
    # call (a plain CDLL function would give it up, and the event loop would wait)
    assert held._flags_ & ctypes._FUNCFLAG_PYTHONAPI  # type: ignore[attr-defined]
    cases = signature_cases()
    expected = [keys.verify(*case) for case in cases]
    assert expected[0] and not any(expected[1:])
    assert [keys.verify_inline(*case) for case in cases] == expected
    assert keys.verify_each_inline(cases) == expected
    assert keys.verify_each_inline([]) == []


@settings(max_examples=200, deadline=None)
@given(
    seed=st.binary(min_size=32, max_size=32),
    digest=st.binary(min_size=32, max_size=32),
    noise=st.binary(min_size=64, max_size=64),
    forge=st.booleans(),
)
def test_the_inline_check_agrees_with_verify_on_any_input(
    seed: bytes, digest: bytes, noise: bytes, forge: bool
) -> None:
    key = keys.PrivateKey.from_seed(seed)
    signature = noise if forge else key.sign(TX, "main", digest)
    for public_key in (key.public_key, noise[:32]):
        check = (public_key, TX, "main", digest, signature)
        assert keys.verify_inline(*check) == keys.verify(*check)


def test_without_the_lock_holding_function_the_inline_check_is_verify(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(keys, "_VERIFY_HOLDING_THE_LOCK", None)
    cases = signature_cases()
    assert keys.verify_each_inline(cases) == [keys.verify(*case) for case in cases]
