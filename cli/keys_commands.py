"""`pasar keys new|show|import|export`: key files encrypted at rest.

Keys are encrypted with a passphrase by default (argon2id + secretbox, see
node/keyfile.py); `--insecure-plaintext` writes an unencrypted file, meant only
for throw-away local testnets.

`export --wallet-file FILE` and `import --wallet-file FILE` move a key to and from
the browser wallet in its own encrypted format (node/walletfile.py). Unless
`--wallet-passphrase-file` names another one, the wallet file uses the same
passphrase as the key file, so a key keeps its passphrase when it moves.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from cli.common import (
    CliError,
    Output,
    json_option,
    keys_dir_option,
    passphrase_file_option,
)
from cli.signing import ask_passphrase, key_path, load_key
from ledger.keys import SEED_SIZE, PrivateKey, address_to_text
from node.keyfile import KeyFileError, key_file_info, passphrase_from, write_key_file
from node.walletfile import read_wallet_file, write_wallet_file


@click.group("keys")
def keys() -> None:
    """Create, inspect, import and export account keys."""


def _write(
    target: str,
    keys_dir: Path,
    key: PrivateKey,
    passphrase_file: Path | None,
    insecure_plaintext: bool,
    force: bool,
    json_mode: bool,
    passphrase: str | None = None,
) -> None:
    path = key_path(target, keys_dir)
    if path.exists() and not force:
        raise CliError(f"{path} already exists (use --force to replace it)")
    if insecure_plaintext:
        passphrase = None
    elif passphrase is None:
        passphrase = ask_passphrase(passphrase_file, confirm=True)
    info = write_key_file(
        path, key, passphrase, insecure_plaintext=insecure_plaintext, overwrite=force
    )
    Output(json_mode).emit(
        {
            "path": str(path),
            "address": info.address,
            "public_key": info.public_key.hex(),
            "encrypted": info.encrypted,
        }
    )


plaintext_option = click.option(
    "--insecure-plaintext", is_flag=True, help="store the key unencrypted (local testnets only)"
)
force_option = click.option("--force", is_flag=True, help="replace an existing key file")
wallet_file_help = "the browser wallet's encrypted key file (pasar-key-v1)"
wallet_passphrase_option = click.option(
    "--wallet-passphrase-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="passphrase of the wallet key file (default: the key file's passphrase)",
)


def wallet_passphrase(
    wallet_passphrase_file: Path | None, fallback: Path | None, confirm: bool
) -> str:
    """--wallet-passphrase-file, else the key's own (--passphrase-file, PASAR_PASSPHRASE
    or a prompt)."""
    if wallet_passphrase_file is not None:
        passphrase = passphrase_from(wallet_passphrase_file)
        assert passphrase is not None  # passphrase_from refuses an empty file
        return passphrase
    return ask_passphrase(fallback, confirm=confirm)


@keys.command("new")
@click.argument("target")
@keys_dir_option
@passphrase_file_option
@plaintext_option
@force_option
@json_option
def new(
    target: str,
    keys_dir: Path,
    passphrase_file: Path | None,
    insecure_plaintext: bool,
    force: bool,
    json_mode: bool,
) -> None:
    """Generate a key into TARGET (a path, or a bare name under the keys dir)."""
    _write(
        target,
        keys_dir,
        PrivateKey.generate(),
        passphrase_file,
        insecure_plaintext,
        force,
        json_mode,
    )


@keys.command("show")
@click.argument("target")
@keys_dir_option
@json_option
def show(target: str, keys_dir: Path, json_mode: bool) -> None:
    """Print a key file's address (no passphrase needed)."""
    info = key_file_info(key_path(target, keys_dir))
    Output(json_mode).emit(
        {
            "path": str(info.path),
            "address": info.address,
            "public_key": info.public_key.hex(),
            "encrypted": info.encrypted,
        }
    )


@keys.command("import")
@click.argument("target")
@click.option(
    "--seed-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="file holding the 32-byte seed as 64 hex digits (default: prompt)",
)
@click.option(
    "--wallet-file", type=click.Path(dir_okay=False, path_type=Path), help=wallet_file_help
)
@wallet_passphrase_option
@keys_dir_option
@passphrase_file_option
@plaintext_option
@force_option
@json_option
def import_(
    target: str,
    seed_file: Path | None,
    wallet_file: Path | None,
    wallet_passphrase_file: Path | None,
    keys_dir: Path,
    passphrase_file: Path | None,
    insecure_plaintext: bool,
    force: bool,
    json_mode: bool,
) -> None:
    """Store an existing seed (from `keys export`), or the key of a browser wallet file,
    as a key file TARGET."""
    if wallet_file is not None:
        if seed_file is not None:
            raise CliError("give --seed-file or --wallet-file, not both")
        if key_path(target, keys_dir).exists() and not force:
            raise CliError(
                f"{key_path(target, keys_dir)} already exists (use --force to replace it)"
            )
        passphrase = wallet_passphrase(wallet_passphrase_file, passphrase_file, confirm=False)
        try:
            key = read_wallet_file(wallet_file, passphrase)
        except KeyFileError as exc:
            raise CliError(str(exc)) from exc
        # The key file takes the wallet's passphrase unless the wallet's was given apart.
        _write(
            target,
            keys_dir,
            key,
            passphrase_file,
            insecure_plaintext,
            force,
            json_mode,
            passphrase if wallet_passphrase_file is None else None,
        )
        return
    if seed_file is not None:
        text = seed_file.read_text().strip()
    elif sys.stdin.isatty():
        text = click.prompt("Seed (64 hex digits)", hide_input=True).strip()
    else:
        text = sys.stdin.readline().strip()
    try:
        seed = bytes.fromhex(text)
    except ValueError as exc:
        raise CliError("the seed must be 64 hex digits") from exc
    if len(seed) != SEED_SIZE:
        raise CliError("the seed must be 64 hex digits (32 bytes)")
    _write(
        target,
        keys_dir,
        PrivateKey.from_seed(seed),
        passphrase_file,
        insecure_plaintext,
        force,
        json_mode,
    )


@keys.command("export")
@click.argument("target")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="write the seed to this file (mode 0600) instead of printing it",
)
@click.option(
    "--wallet-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"write {wallet_file_help} instead, for the wallet page's import",
)
@wallet_passphrase_option
@keys_dir_option
@passphrase_file_option
@json_option
def export(
    target: str,
    out: Path | None,
    wallet_file: Path | None,
    wallet_passphrase_file: Path | None,
    keys_dir: Path,
    passphrase_file: Path | None,
    json_mode: bool,
) -> None:
    """Decrypt a key and print its secret seed (hex), or write it as a browser wallet
    key file. Anyone with the seed owns the account."""
    key = load_key(target, keys_dir, passphrase_file)
    if wallet_file is not None:
        if out is not None:
            raise CliError("give --out or --wallet-file, not both")
        passphrase = wallet_passphrase(wallet_passphrase_file, passphrase_file, confirm=True)
        try:
            address = write_wallet_file(wallet_file, key, passphrase)
        except KeyFileError as exc:
            raise CliError(str(exc)) from exc
        Output(json_mode).emit({"address": address, "wallet_file": str(wallet_file)})
        return
    if out is not None:
        if out.exists():
            raise CliError(f"{out} already exists")
        descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(key.seed.hex() + "\n")
        Output(json_mode).emit({"address": address_to_text(key.public_key), "seed_file": str(out)})
        return
    Output(json_mode).emit({"address": address_to_text(key.public_key), "seed": key.seed.hex()})


def register(group: click.Group) -> None:
    group.add_command(keys)
