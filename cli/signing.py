"""Finding keys and accounts by name or path, and asking for passphrases.

A key is named either by a path to a key file or by a bare name (no "/" and
no "."), which means `<keys dir>/<name>.json`; `pasar up` writes the testnet's
named accounts there, so `--from buyer` works in a second terminal.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cli.common import CliError
from ledger.keys import PrivateKey, address_from_text
from node.keyfile import KeyFileError, key_file_info, passphrase_from, read_key_file


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
        return address_from_text(text)
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
