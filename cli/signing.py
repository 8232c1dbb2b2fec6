"""Finding keys and accounts by name or path, asking for passphrases, signing files.

A key is named either by a path to a key file or by a bare name (no "/" and
no "."), which means `<keys dir>/<name>.json`; `pasar up` writes the testnet's
named accounts there, so `--from buyer` works in a second terminal.

A **signing file** carries one transaction between machines while its signatures
are gathered (as Bitcoin's partially signed transactions do): `--unsigned --out
FILE` writes it, `pasar tx sign FILE --key NAME` adds one signature (on whichever
machine holds that key), `pasar tx submit FILE` sends it. It is JSON:

    {"format": "pasar-signing-file", "version": 1, "unsigned_tx": "<hex>",
     "hash": "<tx hash>", "chain_id", "sender", "nonce", "method", "args",
     "expiry_ms",                                   (for people to read)
     "signatures": [{"signer": "pasar1...", "signature": "<hex>"}, ...]}

`unsigned_tx` is what counts: on reading, the hash must match it and every
signature must verify over it, so a tampered file is refused, not signed.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from cli.common import CliError, hex_digits
from ledger.errors import CodecError
from ledger.hashing import TX
from ledger.keys import PrivateKey, address_from_text, address_to_text, verify
from ledger.tx import Signature, SignedTransaction, Transaction
from node.keyfile import KeyFileError, key_file_info, passphrase_from, read_key_file
from node.rpc.values import to_json

SIGNING_FILE_FORMAT = "pasar-signing-file"
MAX_SIGNING_FILE_BYTES = 1 << 20


def key_path(target: str, keys_dir: Path) -> Path:
    """A bare name means <keys_dir>/<name>.json; anything else is a path."""
    if "/" not in target and "." not in target and "\\" not in target:
        return keys_dir / f"{target}.json"
    return Path(target)


def ask_passphrase(passphrase_file: Path | None, confirm: bool = False) -> str:
    """From --passphrase-file, PASAR_PASSPHRASE, or a prompt when a terminal is attached."""
    passphrase = passphrase_from(passphrase_file)
    if passphrase is not None:
        return passphrase
    if not sys.stdin.isatty():
        raise CliError(
            "a passphrase is needed: use --passphrase-file, PASAR_PASSPHRASE, or a terminal"
        )
    value: str = click.prompt("Key passphrase", hide_input=True, confirmation_prompt=confirm)
    return value


def load_key(target: str, keys_dir: Path, passphrase_file: Path | None) -> PrivateKey:
    path = key_path(target, keys_dir)
    info = key_file_info(path)
    passphrase = ask_passphrase(passphrase_file) if info.encrypted else None
    return read_key_file(path, passphrase)


def resolve_account(text: str, keys_dir: Path, what: str = "account") -> bytes:
    """An address (pasar1... or 64 hex digits) or the name/path of a key file."""
    try:
        return address_from_text(hex_digits(text) if text[:2] in ("0x", "0X") else text)
    except ValueError as address_error:
        path = key_path(text, keys_dir)
        if not path.exists():
            raise CliError(
                f"{what} {text!r} is neither a valid address ({address_error}) "
                f"nor a key in {path.parent}"
            ) from address_error
        try:
            return key_file_info(path).public_key
        except KeyFileError as exc:
            raise CliError(str(exc)) from exc


def signing_file_json(tx: Transaction, signatures: list[Signature]) -> dict[str, Any]:
    return {
        "format": SIGNING_FILE_FORMAT,
        "version": 1,
        "hash": tx.hash.hex(),
        "chain_id": tx.chain_id,
        "sender": address_to_text(tx.sender),
        "nonce": tx.nonce,
        "method": tx.method,
        "args": to_json(list(tx.args)),
        "expiry_ms": tx.expiry_ms,
        "unsigned_tx": tx.encode().hex(),
        "signatures": [
            {"signer": address_to_text(key), "signature": signature.hex()}
            for key, signature in sorted(signatures)
        ],
    }


def write_signing_file(path: Path, tx: Transaction, signatures: list[Signature]) -> None:
    """Write atomically: a crash never leaves half a file (signatures would be lost)."""
    text = json.dumps(signing_file_json(tx, signatures), indent=2) + "\n"
    temporary = path.with_name(path.name + ".tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from exc


def is_signing_file(target: str) -> bool:
    """A signing file path (`*.json` or an existing file), as opposed to hex."""
    if target.endswith(".json"):
        return True
    try:
        return Path(target).is_file()
    except OSError:  # e.g. transaction hex longer than a file name may be
        return False


def read_signing_file(path: Path) -> tuple[Transaction, list[Signature]]:
    """The transaction and the signatures gathered so far, all checked."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(raw) > MAX_SIGNING_FILE_BYTES:
        raise CliError(f"{path} is too large to be a signing file")
    try:
        body = json.loads(raw)
        if body.get("format") != SIGNING_FILE_FORMAT or body.get("version") != 1:
            raise CliError(f"{path} is not a pasar signing file (version 1)")
        tx = Transaction.decode(bytes.fromhex(body["unsigned_tx"]))
        entries = body["signatures"]
        signatures = [
            (address_from_text(entry["signer"]), bytes.fromhex(entry["signature"]))
            for entry in entries
        ]
    except CliError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, CodecError) as exc:
        raise CliError(f"{path} is not a valid signing file: {exc}") from exc
    if body.get("hash") != tx.hash.hex():
        raise CliError(f"{path}: the hash does not match the transaction (edited file?)")
    for key, signature in signatures:
        if not verify(key, TX, tx.chain_id, tx.hash, signature):
            raise CliError(
                f"{path}: the signature of {address_to_text(key)} does not verify for this"
                " transaction (edited file?)"
            )
    return tx, signatures


def signed_from_file(path: Path) -> SignedTransaction:
    tx, signatures = read_signing_file(path)
    if not signatures:
        raise CliError(
            f"{path} has no signatures yet: add them with `pasar tx sign {path} --key NAME`"
        )
    try:
        return SignedTransaction.build(tx, signatures)
    except CodecError as exc:
        raise CliError(f"{path}: {exc.message}") from exc


def signer_names(signatures: list[Signature]) -> str:
    return ", ".join(address_to_text(key) for key, _ in sorted(signatures)) or "none"
