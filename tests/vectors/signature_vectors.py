"""Signature vectors: what the Ed25519 rule of docs/protocol.md §4 accepts and refuses.

Run from the repository root:  python tests/vectors/signature_vectors.py
It writes signatures.json; test_signature_vectors.py checks that the file equals
what this module builds and that `ledger.keys.verify` gives each vector's answer.

The rule is strict RFC 8032 verification as libsodium applies it
(`crypto_sign_open`): besides the equation, it refuses a signature whose scalar S
is not reduced (S >= L), a public key or R of small order, a non-canonical point
encoding, and wrong lengths. The crafted vectors satisfy the verification
equation, so each fails for exactly the rule it names: a permissive verifier
(no reduction or small-order checks) accepts them.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ledger.hashing import TX, tagged_hash  # noqa: E402
from ledger.keys import PrivateKey, signing_message  # noqa: E402

HERE = Path(__file__).resolve().parent
# The order of the Ed25519 base point.
L = 2**252 + 27742317777372353535851937790883648493
CHAIN_ID = "pasar-vectors"
# The identity point (order 1): y = 1, x = 0.
IDENTITY = bytes([1]) + bytes(31)
# A point of order 8 (one of the well-known small-order encodings).
ORDER_8 = bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")


def _case(
    name: str, public_key: bytes, digest: bytes, signature: bytes, valid: bool, why: str
) -> dict[str, Any]:
    return {
        "name": name,
        "domain": TX.decode(),
        "chain_id": CHAIN_ID,
        "digest": digest.hex(),
        "public_key": public_key.hex(),
        "signature": signature.hex(),
        "valid": valid,
        "why": why,
    }


def challenge(r: bytes, public_key: bytes, digest: bytes) -> int:
    """k = SHA-512(R ‖ A ‖ message) mod L, as RFC 8032 verification computes it."""
    message = signing_message(TX, CHAIN_ID, digest)
    return int.from_bytes(hashlib.sha512(r + public_key + message).digest(), "little") % L


def secret_scalar(seed: bytes) -> int:
    h = bytearray(hashlib.sha512(seed).digest()[:32])
    h[0] &= 248
    h[31] &= 127
    h[31] |= 64
    return int.from_bytes(h, "little")


def build() -> dict[str, Any]:
    seed = bytes([7]) * 32
    key = PrivateKey.from_seed(seed)
    public = key.public_key
    digest = tagged_hash(TX, b"signature vectors")
    signature = key.sign(TX, CHAIN_ID, digest)
    r, s = signature[:32], int.from_bytes(signature[32:], "little")
    unreduced = r + (s + L).to_bytes(32, "little")
    # R = identity with S = k·a: the equation [S]B = R + [k]A holds, R has order 1.
    k = challenge(IDENTITY, public, digest)
    identity_r = IDENTITY + (k * secret_scalar(seed) % L).to_bytes(32, "little")
    # A of order 8, R = identity, S = 0: the equation holds when 8 divides k.
    order_8_digest = next(
        d
        for d in (tagged_hash(TX, b"order 8 %d" % i) for i in range(1000))
        if challenge(IDENTITY, ORDER_8, d) % 8 == 0
    )
    cases = [
        _case("valid", public, digest, signature, True, "a signature made by ledger.keys"),
        _case("other_message", public, tagged_hash(TX, b"x"), signature, False, "other digest"),
        _case(
            "other_chain",
            public,
            digest,
            key.sign(TX, "another-chain", digest),
            False,
            "signed for another chain id (the message binds the chain)",
        ),
        _case(
            "non_canonical_s",
            public,
            digest,
            unreduced,
            False,
            "S + L: the equation holds, but S is not reduced below L",
        ),
        _case(
            "small_order_key_identity",
            IDENTITY,
            digest,
            IDENTITY + bytes(32),
            False,
            "public key and R are the identity and S = 0: the equation holds for every "
            "message; only the small-order rule refuses it",
        ),
        _case(
            "small_order_key_order_8",
            ORDER_8,
            order_8_digest,
            IDENTITY + bytes(32),
            False,
            "public key of order 8, R = identity, S = 0, and 8 divides k: the equation "
            "holds; only the small-order rule refuses it",
        ),
        _case(
            "small_order_r",
            public,
            digest,
            identity_r,
            False,
            "R = identity and S = k·a for the real key: the equation holds; only the "
            "small-order rule on R refuses it",
        ),
        _case("short_signature", public, digest, signature[:63], False, "63-byte signature"),
        _case("long_signature", public, digest, signature + b"\0", False, "65-byte signature"),
        _case("short_key", public[:31], digest, signature, False, "31-byte public key"),
        _case("empty_signature", public, digest, b"", False, "no signature at all"),
    ]
    return {
        "description": (
            "Ed25519 as docs/protocol.md section 4 states it (strict RFC 8032, as "
            "libsodium's crypto_sign_open applies it): one valid signature and refused "
            "variants, each with the reason; the crafted ones satisfy the verification "
            "equation and fail only the rule named. message = signing_message(domain, "
            "chain_id, digest)."
        ),
        "cases": cases,
    }


def render(content: dict[str, Any]) -> str:
    return json.dumps(content, indent=1) + "\n"


def main() -> None:
    (HERE / "signatures.json").write_text(render(build()), encoding="utf-8")
    print("wrote tests/vectors/signatures.json")


if __name__ == "__main__":
    main()
