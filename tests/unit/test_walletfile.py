"""The browser wallet's key file in Python (node/walletfile.py), checked against the
page's own code (web/pages/vault.js run by Node.js) in both directions."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ledger.keys import PrivateKey, address_to_text
from node.keyfile import KeyFileError, key_file_document
from node.walletfile import (
    MIN_ITERATIONS,
    open_wallet_document,
    read_wallet_file,
    wallet_document,
    write_wallet_file,
)

ROOT = Path(__file__).resolve().parents[2]
PASSPHRASE = "correct horse battery"
# The page's vault.js, run by Node.js: seal a seed, or open a file and print the seed.
VAULT = """
import { readFileSync } from "node:fs";
import { fromHex, toHex } from "./web/lib/bytes.js";
import { PrivateKey } from "./web/lib/keys.js";
import { open, seal } from "./web/pages/vault.js";
const [mode, arg, passphrase] = process.argv.slice(1);
if (mode === "seal") {
  const key = await PrivateKey.fromSeed(fromHex(arg));
  console.log(JSON.stringify(await seal(key, passphrase, 100000)));
} else {
  try {
    const key = await open(JSON.parse(readFileSync(arg, "utf8")), passphrase);
    console.log(JSON.stringify({ seed: toHex(key.seed) }));
  } catch (error) {
    console.log(JSON.stringify({ error: error.message }));
  }
}
"""


def vault(*args: str) -> Any:
    node = shutil.which("node")
    assert node is not None, "Node.js 20 or newer runs the page's vault.js"
    result = subprocess.run(
        [node, "--input-type=module", "-e", VAULT, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_file_written_in_python_opens_in_the_page_code(tmp_path: Path) -> None:
    key = PrivateKey.generate()
    path = tmp_path / "wallet.json"
    address = write_wallet_file(path, key, PASSPHRASE, iterations=MIN_ITERATIONS)
    assert address == address_to_text(key.public_key)
    assert path.stat().st_mode & 0o077 == 0
    assert vault("open", str(path), PASSPHRASE) == {"seed": key.seed.hex()}
    assert "wrong passphrase" in vault("open", str(path), "not the passphrase")["error"]


def test_a_file_sealed_by_the_page_code_opens_in_python() -> None:
    key = PrivateKey.generate()
    document = vault("seal", key.seed.hex(), PASSPHRASE)
    assert document["format"] == "pasar-key-v1" and key.seed.hex() not in json.dumps(document)
    assert open_wallet_document(document, PASSPHRASE).seed == key.seed
    with pytest.raises(KeyFileError, match="wrong passphrase"):
        open_wallet_document(document, "not the passphrase")


def sealed() -> tuple[PrivateKey, dict[str, Any]]:
    key = PrivateKey.generate()
    return key, wallet_document(key, PASSPHRASE, MIN_ITERATIONS)


def edited(document: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(document))
    target = copy
    for name in path[:-1]:
        target = target[name]
    target[path[-1]] = value
    return copy


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        (("format",), "pasar-key-v2", "not a pasar wallet key file"),
        (("address",), address_to_text(PrivateKey.generate().public_key), "wrong passphrase"),
        (("kdf", "name"), "scrypt", "does not know"),
        (("kdf", "iterations"), 1000, "iteration count"),
        (("kdf", "iterations"), 10**9, "iteration count"),
        (("kdf", "iterations"), "600000", "iteration count"),
        (("kdf", "salt"), "zz", "not hex"),
        (("cipher", "iv"), "00" * 8, "wrong length"),
        (("ciphertext",), "00" * 48, "wrong passphrase"),
    ],
)
def test_an_edited_file_is_refused_with_a_reason(
    path: tuple[str, ...], value: Any, reason: str
) -> None:
    _, document = sealed()
    with pytest.raises(KeyFileError, match=reason):
        open_wallet_document(edited(document, path, value), PASSPHRASE)


def test_other_files_are_named_for_what_they_are(tmp_path: Path) -> None:
    cli_file = key_file_document(PrivateKey.generate(), None, insecure_plaintext=True)
    with pytest.raises(KeyFileError, match="--wallet-file"):
        open_wallet_document(cli_file, PASSPHRASE)
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    with pytest.raises(KeyFileError, match="not JSON"):
        read_wallet_file(junk, PASSPHRASE)


def test_writing_needs_a_long_passphrase_and_never_replaces_a_file(tmp_path: Path) -> None:
    key = PrivateKey.generate()
    with pytest.raises(KeyFileError, match="at least 8"):
        wallet_document(key, "short")
    path = tmp_path / "w.json"
    path.write_text("keep")
    with pytest.raises(KeyFileError, match="already exists"):
        write_wallet_file(path, key, PASSPHRASE, MIN_ITERATIONS)
    assert path.read_text() == "keep"
