"""The browser wallet's key file (`pasar-key-v1`), read and written in Python.

The wallet page (web/pages/vault.js) keeps a key as this JSON document, and
`pasar keys export --wallet-file` / `pasar keys import --wallet-file` use the same
format, so one key moves between the browser and the command line:

    {"format": "pasar-key-v1", "address": "pasar1...",
     "kdf": {"name": "PBKDF2", "hash": "SHA-256", "iterations": int, "salt": hex16},
     "cipher": {"name": "AES-GCM", "iv": hex12},
     "ciphertext": hex}                  (AES-256-GCM of the 32-byte seed, with its tag)

PBKDF2-HMAC-SHA-256 (hashlib) turns the passphrase into the AES-256 key; the address
text is the additional authenticated data, so a file whose address was edited does
not decrypt. The limits are the page's: at least 8 characters of passphrase when
writing, 100,000 to 10,000,000 iterations when reading (a hostile file must not make
us spin for minutes, nor be trivially cheap to guess).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import nacl.bindings
import nacl.exceptions
import nacl.utils

from ledger.keys import SEED_SIZE, PrivateKey, address_to_text
from node.keyfile import KeyFileError

FORMAT = "pasar-key-v1"
ITERATIONS = 600_000  # what the page uses: OWASP's 2023 figure for PBKDF2-HMAC-SHA256
MIN_ITERATIONS = 100_000
MAX_ITERATIONS = 10_000_000
MIN_PASSPHRASE = 8
SALT_SIZE = 16
IV_SIZE = 12
TAG_SIZE = 16
MAX_FILE_BYTES = 64 * 1024


def _aes_key(passphrase: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", passphrase.encode("utf-8"), salt, iterations, 32)


def wallet_document(
    key: PrivateKey, passphrase: str, iterations: int = ITERATIONS
) -> dict[str, Any]:
    """The wallet key file of `key` sealed under `passphrase`."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise KeyFileError(f"the passphrase must be at least {MIN_PASSPHRASE} characters")
    if not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
        raise KeyFileError(f"iterations must be {MIN_ITERATIONS}..{MAX_ITERATIONS}")
    salt = nacl.utils.random(SALT_SIZE)
    iv = nacl.utils.random(IV_SIZE)
    address = address_to_text(key.public_key)
    try:
        sealed = nacl.bindings.crypto_aead_aes256gcm_encrypt(
            key.seed, address.encode(), iv, _aes_key(passphrase, salt, iterations)
        )
    except nacl.exceptions.UnavailableError as exc:
        raise KeyFileError("this machine's libsodium has no AES-GCM (no AES-NI)") from exc
    return {
        "format": FORMAT,
        "address": address,
        "kdf": {"name": "PBKDF2", "hash": "SHA-256", "iterations": iterations, "salt": salt.hex()},
        "cipher": {"name": "AES-GCM", "iv": iv.hex()},
        "ciphertext": sealed.hex(),
    }


def _hex(container: Any, name: str, where: str, length: int | None = None) -> bytes:
    value = container.get(name) if isinstance(container, dict) else None
    if not isinstance(value, str):
        raise KeyFileError(f"{where} is damaged: field {name!r} is missing")
    try:
        data = bytes.fromhex(value)
    except ValueError as exc:
        raise KeyFileError(f"{where} is damaged: field {name!r} is not hex") from exc
    if length is not None and len(data) != length:
        raise KeyFileError(f"{where} is damaged: field {name!r} has the wrong length")
    return data


def open_wallet_document(document: Any, passphrase: str, where: str = "the file") -> PrivateKey:
    """The key in a wallet key file; KeyFileError says what is wrong in one line."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        if isinstance(document, dict) and document.get("kind") == "pasar-ed25519-key":
            raise KeyFileError(
                f"{where} is a `pasar keys` file, not a wallet key file: "
                "export it with `pasar keys export NAME --wallet-file FILE`"
            )
        raise KeyFileError(f"{where} is not a pasar wallet key file ({FORMAT})")
    kdf = document.get("kdf")
    cipher = document.get("cipher")
    if (
        not isinstance(kdf, dict)
        or not isinstance(cipher, dict)
        or kdf.get("name") != "PBKDF2"
        or kdf.get("hash") != "SHA-256"
        or cipher.get("name") != "AES-GCM"
    ):
        raise KeyFileError(f"{where} uses a key derivation or cipher pasar does not know")
    iterations = kdf.get("iterations")
    if (
        isinstance(iterations, bool)
        or not isinstance(iterations, int)
        or not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS
    ):
        raise KeyFileError(
            f"{where} has an iteration count outside {MIN_ITERATIONS}..{MAX_ITERATIONS}"
        )
    address = document.get("address")
    if not isinstance(address, str):
        raise KeyFileError(f"{where} is damaged: field 'address' is missing")
    salt = _hex(kdf, "salt", where)
    iv = _hex(cipher, "iv", where, IV_SIZE)
    ciphertext = _hex(document, "ciphertext", where, SEED_SIZE + TAG_SIZE)
    try:
        seed = nacl.bindings.crypto_aead_aes256gcm_decrypt(
            ciphertext, address.encode(), iv, _aes_key(passphrase, salt, iterations)
        )
    except nacl.exceptions.UnavailableError as exc:
        raise KeyFileError("this machine's libsodium has no AES-GCM (no AES-NI)") from exc
    except nacl.exceptions.CryptoError as exc:
        # GCM cannot tell a wrong passphrase from an edited file: both leave no usable key.
        raise KeyFileError(f"cannot open {where}: wrong passphrase or a damaged file") from exc
    key = PrivateKey.from_seed(seed)
    if address_to_text(key.public_key) != address:
        raise KeyFileError(f"{where} is damaged: its address does not match its key")
    return key


def read_wallet_file(path: Path, passphrase: str) -> PrivateKey:
    """Load and open the wallet key file at `path`."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise KeyFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(raw) > MAX_FILE_BYTES:
        raise KeyFileError(f"{path} is too large to be a wallet key file")
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KeyFileError(f"{path} is not a pasar wallet key file (not JSON)") from exc
    return open_wallet_document(document, passphrase, str(path))


def write_wallet_file(
    path: Path, key: PrivateKey, passphrase: str, iterations: int = ITERATIONS
) -> str:
    """Write `key` as a wallet key file (mode 0600, never replacing a file); its address."""
    document = wallet_document(key, passphrase, iterations)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise KeyFileError(f"{path} already exists") from exc
    except OSError as exc:
        raise KeyFileError(f"cannot write {path}: {exc.strerror or exc}") from exc
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(document, handle)
        handle.write("\n")
    return str(document["address"])
