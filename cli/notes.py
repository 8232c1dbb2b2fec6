"""Encrypted order notes: sealed boxes to an account's key, made and opened on the client.

An account is an Ed25519 public key. The same key pair converts to X25519
(libsodium's birational map), so a buyer can encrypt a shipping address to the
seller and to the arbiter knowing only their accounts, and each opens its copy
with the Ed25519 seed it already holds. A sealed box (ephemeral X25519 key,
XSalsa20-Poly1305) hides the sender and cannot be opened by anyone else, the
buyer included, so the buyer keeps its own plaintext.

Only the ciphertext goes on the ledger (`order.place` note arguments, at most
`MAX_NOTE_BYTES` each).
"""

from __future__ import annotations

import nacl.bindings
import nacl.exceptions
import nacl.public

from contracts.escrow import MAX_NOTE_BYTES
from ledger.keys import PUBLIC_KEY_SIZE, PrivateKey

SEAL_OVERHEAD = nacl.bindings.crypto_box_SEALBYTES
MAX_NOTE_PLAINTEXT = MAX_NOTE_BYTES - SEAL_OVERHEAD


class NoteError(ValueError):
    """A note that cannot be sealed (too long, bad key) or opened (not for this key)."""


def _x25519_public(account: bytes) -> nacl.public.PublicKey:
    if len(account) != PUBLIC_KEY_SIZE:
        raise NoteError("an account is a 32-byte public key")
    try:
        return nacl.public.PublicKey(nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(account))
    except (nacl.exceptions.RuntimeError, nacl.exceptions.ValueError) as exc:
        raise NoteError("this account key has no X25519 form") from exc


def _x25519_private(key: PrivateKey) -> nacl.public.PrivateKey:
    # libsodium's Ed25519 secret key is seed ‖ public key.
    secret = nacl.bindings.crypto_sign_ed25519_sk_to_curve25519(key.seed + key.public_key)
    return nacl.public.PrivateKey(secret)


def seal_note(plaintext: bytes, recipient: bytes) -> bytes:
    """Encrypt `plaintext` so that only the holder of account `recipient` can read it."""
    if len(plaintext) > MAX_NOTE_PLAINTEXT:
        raise NoteError(f"a note is at most {MAX_NOTE_PLAINTEXT} bytes, got {len(plaintext)}")
    return bytes(nacl.public.SealedBox(_x25519_public(recipient)).encrypt(plaintext))


def open_note(ciphertext: bytes, key: PrivateKey) -> bytes:
    """Decrypt a note sealed to `key`'s account; NoteError if it was sealed to another."""
    try:
        return bytes(nacl.public.SealedBox(_x25519_private(key)).decrypt(ciphertext))
    except nacl.exceptions.CryptoError as exc:
        raise NoteError("this note was not sealed to this key (or was altered)") from exc


def seal_for_order(plaintext: bytes, seller: bytes, arbiter: bytes) -> tuple[bytes, bytes]:
    """The two ciphertexts `order.place` takes: for the seller, for the arbiter."""
    return seal_note(plaintext, seller), seal_note(plaintext, arbiter)


def open_order_note(
    key: PrivateKey, for_seller: bytes | None, for_arbiter: bytes | None
) -> bytes | None:
    """Whichever of an order's notes `key` can open, or None if neither is for it."""
    for ciphertext in (for_seller, for_arbiter):
        if ciphertext is None:
            continue
        try:
            return open_note(ciphertext, key)
        except NoteError:
            continue
    return None
