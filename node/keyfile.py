"""Ed25519 key files, encrypted at rest with a passphrase.

A key file is a small JSON document. The 32-byte Ed25519 seed is sealed with
`nacl.secret.SecretBox` (XSalsa20-Poly1305) under a key derived from the
passphrase with argon2id; the salt, KDF cost and nonce are stored next to the
ciphertext so the file alone (plus the passphrase) is enough to recover the key.
The public key and address are stored in clear so `pasar keys show` and node
configuration can name an account without asking for the passphrase; after
decryption the derived public key must match them, which catches a file whose
fields were mixed up or edited.

    {"version": 1, "kind": "pasar-ed25519-key", "encrypted": true,
     "public_key": hex, "address": "pasar1...",
     "kdf": {"name": "argon2id", "opslimit": int, "memlimit": int, "salt": hex},
     "cipher": {"name": "xsalsa20-poly1305", "nonce": hex, "ciphertext": hex}}

Unencrypted files (`"encrypted": false` with a `"seed"` in hex) exist only for
local throw-away testnets and are written only when the caller passes
`insecure_plaintext=True`.

Key files are written with mode 0600, and reading the secret refuses a file that
group or others may read (`chmod 600 FILE`, or set PASAR_ALLOW_READABLE_KEYS=1 to
accept it anyway): even encrypted, a readable file invites offline guessing.
Validator keys, derived once at node start, use a stronger Argon2id cost
(`VALIDATOR_OPSLIMIT`/`VALIDATOR_MEMLIMIT`) than interactive account keys.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.pwhash
import nacl.secret
import nacl.utils

from ledger.keys import SEED_SIZE, PrivateKey, address_to_text

KEYFILE_VERSION = 1
KEYFILE_KIND = "pasar-ed25519-key"
KDF_NAME = "argon2id"
CIPHER_NAME = "xsalsa20-poly1305"
MAX_KEYFILE_BYTES = 64 * 1024

# Cost of deriving the file key. The defaults take a fraction of a second on a
# laptop, which is fine for a command that signs one transaction.
DEFAULT_OPSLIMIT = nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE
DEFAULT_MEMLIMIT = nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE
# A validator key is decrypted once when the node starts, so it can afford libsodium's
# "moderate" cost (a few times the interactive one in time, 256 MiB of memory).
VALIDATOR_OPSLIMIT = nacl.pwhash.argon2id.OPSLIMIT_MODERATE
VALIDATOR_MEMLIMIT = nacl.pwhash.argon2id.MEMLIMIT_MODERATE
# Cheapest parameters libsodium accepts: for tests only (they make brute force easy).
TEST_OPSLIMIT = nacl.pwhash.argon2id.OPSLIMIT_MIN
TEST_MEMLIMIT = nacl.pwhash.argon2id.MEMLIMIT_MIN
# A hostile file must not make us allocate gigabytes or spin for minutes.
MAX_OPSLIMIT = nacl.pwhash.argon2id.OPSLIMIT_SENSITIVE
MAX_MEMLIMIT = nacl.pwhash.argon2id.MEMLIMIT_SENSITIVE


ALLOW_READABLE_ENV = "PASAR_ALLOW_READABLE_KEYS"


class KeyFileError(Exception):
    """A key file that cannot be read, written or decrypted; the message says why."""


@dataclass(frozen=True, slots=True)
class KeyFileInfo:
    """What a key file says about itself without being decrypted."""

    path: Path
    public_key: bytes
    encrypted: bool

    @property
    def address(self) -> str:
        return address_to_text(self.public_key)


def _derive_key(passphrase: str, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    return bytes(
        nacl.pwhash.argon2id.kdf(
            nacl.secret.SecretBox.KEY_SIZE,
            passphrase.encode("utf-8"),
            salt,
            opslimit=opslimit,
            memlimit=memlimit,
        )
    )


def key_file_document(
    key: PrivateKey,
    passphrase: str | None,
    *,
    insecure_plaintext: bool = False,
    opslimit: int = DEFAULT_OPSLIMIT,
    memlimit: int = DEFAULT_MEMLIMIT,
) -> dict[str, Any]:
    """The JSON document for `key`: encrypted with `passphrase`, or plaintext if allowed."""
    public_key = key.public_key
    document: dict[str, Any] = {
        "version": KEYFILE_VERSION,
        "kind": KEYFILE_KIND,
        "public_key": public_key.hex(),
        "address": address_to_text(public_key),
    }
    if passphrase is None:
        if not insecure_plaintext:
            raise KeyFileError(
                "a passphrase is required; plaintext key files need the explicit insecure flag"
            )
        document["encrypted"] = False
        document["seed"] = key.seed.hex()
        return document
    if not passphrase:
        raise KeyFileError("the passphrase must not be empty")
    salt = nacl.utils.random(nacl.pwhash.argon2id.SALTBYTES)
    nonce = nacl.utils.random(nacl.secret.SecretBox.NONCE_SIZE)
    box = nacl.secret.SecretBox(_derive_key(passphrase, salt, opslimit, memlimit))
    ciphertext = box.encrypt(key.seed, nonce).ciphertext
    document["encrypted"] = True
    document["kdf"] = {
        "name": KDF_NAME,
        "opslimit": opslimit,
        "memlimit": memlimit,
        "salt": salt.hex(),
    }
    document["cipher"] = {"name": CIPHER_NAME, "nonce": nonce.hex(), "ciphertext": ciphertext.hex()}
    return document


def write_key_file(
    path: str | Path,
    key: PrivateKey,
    passphrase: str | None,
    *,
    insecure_plaintext: bool = False,
    overwrite: bool = False,
    opslimit: int = DEFAULT_OPSLIMIT,
    memlimit: int = DEFAULT_MEMLIMIT,
) -> KeyFileInfo:
    """Write `key` to `path` (mode 0600, atomically); refuse to replace a file unless told."""
    target = Path(path)
    if target.exists() and not overwrite:
        raise KeyFileError(f"{target} already exists; refusing to overwrite a key")
    document = key_file_document(
        key,
        passphrase,
        insecure_plaintext=insecure_plaintext,
        opslimit=opslimit,
        memlimit=memlimit,
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(target.name + ".tmp")
    # Create with 0600 from the start so the secret is never world-readable, even briefly.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, target)
    return KeyFileInfo(target, key.public_key, passphrase is not None)


def _load_document(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_KEYFILE_BYTES + 1)
    except FileNotFoundError as exc:
        raise KeyFileError(f"key file {path} does not exist") from exc
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror or exc}") from exc
    if len(raw) > MAX_KEYFILE_BYTES:
        raise KeyFileError(f"{path} is too large to be a key file")
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KeyFileError(f"{path} is not a key file (not valid JSON)") from exc
    if not isinstance(document, dict) or document.get("kind") != KEYFILE_KIND:
        raise KeyFileError(f"{path} is not a pasar key file")
    if document.get("version") != KEYFILE_VERSION:
        raise KeyFileError(f"{path} has unsupported key file version {document.get('version')!r}")
    return document


def _hex_field(container: Any, name: str, path: Path, length: int | None = None) -> bytes:
    value = container.get(name) if isinstance(container, dict) else None
    if not isinstance(value, str):
        raise KeyFileError(f"key file {path} is corrupt: field {name!r} is missing")
    try:
        data = bytes.fromhex(value)
    except ValueError as exc:
        raise KeyFileError(f"key file {path} is corrupt: field {name!r} is not hex") from exc
    if length is not None and len(data) != length:
        raise KeyFileError(f"key file {path} is corrupt: field {name!r} has the wrong length")
    return data


def _int_field(container: dict[str, Any], name: str, low: int, high: int, path: Path) -> int:
    value = container.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise KeyFileError(f"key file {path} has an invalid {name!r} (allowed {low}..{high})")
    return value


def key_file_info(path: str | Path) -> KeyFileInfo:
    """The public key and encryption state of a key file, without decrypting it."""
    source = Path(path)
    document = _load_document(source)
    public_key = _hex_field(document, "public_key", source, 32)
    encrypted = document.get("encrypted")
    if not isinstance(encrypted, bool):
        raise KeyFileError(f"key file {source} is corrupt: field 'encrypted' is missing")
    return KeyFileInfo(source, public_key, encrypted)


def check_private(path: Path, environ: dict[str, str] | None = None) -> None:
    """Refuse a key file that group or others may read, unless explicitly allowed."""
    variables = os.environ if environ is None else environ
    if variables.get(ALLOW_READABLE_ENV, "") not in ("", "0"):
        return
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError as exc:
        raise KeyFileError(f"key file {path} does not exist") from exc
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror or exc}") from exc
    if mode & 0o077:
        raise KeyFileError(
            f"key file {path} is readable by group or others (mode {mode:04o}): "
            f"run `chmod 600 {path}` (or set {ALLOW_READABLE_ENV}=1 to use it anyway)"
        )


def read_key_file(path: str | Path, passphrase: str | None) -> PrivateKey:
    """Load and decrypt a key file; a wrong passphrase, a damaged file or a file others
    may read (see `check_private`) is a KeyFileError."""
    source = Path(path)
    check_private(source)
    document = _load_document(source)
    info = key_file_info(source)
    if not info.encrypted:
        key = PrivateKey.from_seed(_hex_field(document, "seed", source, SEED_SIZE))
    else:
        if passphrase is None:
            raise KeyFileError(f"key file {source} is encrypted: a passphrase is needed")
        kdf = document.get("kdf")
        cipher = document.get("cipher")
        if not isinstance(kdf, dict) or kdf.get("name") != KDF_NAME:
            raise KeyFileError(f"key file {source} uses an unsupported key derivation")
        if not isinstance(cipher, dict) or cipher.get("name") != CIPHER_NAME:
            raise KeyFileError(f"key file {source} uses an unsupported cipher")
        opslimit = _int_field(kdf, "opslimit", TEST_OPSLIMIT, MAX_OPSLIMIT, source)
        memlimit = _int_field(kdf, "memlimit", TEST_MEMLIMIT, MAX_MEMLIMIT, source)
        salt = _hex_field(kdf, "salt", source, nacl.pwhash.argon2id.SALTBYTES)
        nonce = _hex_field(cipher, "nonce", source, nacl.secret.SecretBox.NONCE_SIZE)
        ciphertext = _hex_field(cipher, "ciphertext", source)
        box = nacl.secret.SecretBox(_derive_key(passphrase, salt, opslimit, memlimit))
        try:
            seed = box.decrypt(ciphertext, nonce)
        except nacl.exceptions.CryptoError as exc:
            # Authenticated encryption cannot tell a wrong passphrase from a
            # tampered ciphertext; both mean the key is not usable.
            raise KeyFileError(
                f"cannot decrypt {source}: wrong passphrase or the file is corrupt"
            ) from exc
        if len(seed) != SEED_SIZE:
            raise KeyFileError(f"key file {source} is corrupt: the key has the wrong length")
        key = PrivateKey.from_seed(seed)
    if key.public_key != info.public_key:
        raise KeyFileError(f"key file {source} is corrupt: the key does not match its public key")
    return key


PASSPHRASE_ENV = "PASAR_PASSPHRASE"


def passphrase_from(
    passphrase_file: str | Path | None = None, environ: dict[str, str] | None = None
) -> str | None:
    """A passphrase from a file (first line) or the PASAR_PASSPHRASE variable, else None.

    The node and the CLI share this so an operator configures it one way for both;
    the CLI prompts when this returns None and a terminal is attached.
    """
    if passphrase_file is not None:
        try:
            text = Path(passphrase_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise KeyFileError(
                f"cannot read passphrase file {passphrase_file}: {exc.strerror or exc}"
            ) from exc
        lines = text.splitlines()
        passphrase = lines[0] if lines else ""
        if not passphrase:
            raise KeyFileError(f"passphrase file {passphrase_file} is empty")
        return passphrase
    variables = os.environ if environ is None else environ
    value = variables.get(PASSPHRASE_ENV)
    return value if value else None
