"""Key files: encryption at rest, plaintext only on request, clear errors."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from ledger.keys import PrivateKey, address_to_text
from node.keyfile import (
    TEST_MEMLIMIT,
    TEST_OPSLIMIT,
    KeyFileError,
    key_file_info,
    passphrase_from,
    read_key_file,
    write_key_file,
)

FAST = {"opslimit": TEST_OPSLIMIT, "memlimit": TEST_MEMLIMIT}


def write(path: Path, key: PrivateKey, passphrase: str | None = "correct horse", **kw: object):
    return write_key_file(path, key, passphrase, **FAST, **kw)  # type: ignore[arg-type]


def test_encrypted_round_trip_and_no_secret_in_clear(tmp_path: Path) -> None:
    key = PrivateKey.generate()
    path = tmp_path / "k.json"
    info = write(path, key)
    assert info.encrypted and info.public_key == key.public_key
    text = path.read_text()
    assert key.seed.hex() not in text
    document = json.loads(text)
    assert document["address"] == address_to_text(key.public_key)
    assert document["kdf"]["name"] == "argon2id"
    assert read_key_file(path, "correct horse") == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_two_files_for_one_key_use_fresh_salt_and_nonce(tmp_path: Path) -> None:
    key = PrivateKey.generate()
    write(tmp_path / "a", key)
    write(tmp_path / "b", key)
    a = json.loads((tmp_path / "a").read_text())
    b = json.loads((tmp_path / "b").read_text())
    assert a["kdf"]["salt"] != b["kdf"]["salt"]
    assert a["cipher"]["ciphertext"] != b["cipher"]["ciphertext"]


def test_wrong_passphrase_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    write(path, PrivateKey.generate())
    with pytest.raises(KeyFileError, match="wrong passphrase"):
        read_key_file(path, "incorrect horse")
    with pytest.raises(KeyFileError, match="passphrase is needed"):
        read_key_file(path, None)


def test_tampered_ciphertext_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    write(path, PrivateKey.generate())
    document = json.loads(path.read_text())
    ciphertext = bytearray(bytes.fromhex(document["cipher"]["ciphertext"]))
    ciphertext[0] ^= 1
    document["cipher"]["ciphertext"] = ciphertext.hex()
    path.write_text(json.dumps(document))
    with pytest.raises(KeyFileError, match="corrupt"):
        read_key_file(path, "correct horse")


def test_swapped_public_key_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    write(path, PrivateKey.generate())
    document = json.loads(path.read_text())
    document["public_key"] = PrivateKey.generate().public_key.hex()
    path.write_text(json.dumps(document))
    with pytest.raises(KeyFileError, match="does not match"):
        read_key_file(path, "correct horse")


def test_plaintext_needs_the_explicit_flag(tmp_path: Path) -> None:
    key = PrivateKey.generate()
    with pytest.raises(KeyFileError, match="insecure"):
        write(tmp_path / "k.json", key, None)
    assert not (tmp_path / "k.json").exists()
    info = write(tmp_path / "k.json", key, None, insecure_plaintext=True)
    assert not info.encrypted
    assert read_key_file(tmp_path / "k.json", None) == key
    assert read_key_file(tmp_path / "k.json", "ignored") == key
    assert key_file_info(tmp_path / "k.json").address == address_to_text(key.public_key)


def test_refuses_to_overwrite_unless_told(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    first = PrivateKey.generate()
    write(path, first)
    with pytest.raises(KeyFileError, match="already exists"):
        write(path, PrivateKey.generate())
    assert read_key_file(path, "correct horse") == first
    second = PrivateKey.generate()
    write(path, second, overwrite=True)
    assert read_key_file(path, "correct horse") == second


def test_empty_passphrase_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="empty"):
        write(tmp_path / "k.json", PrivateKey.generate(), "")


@pytest.mark.parametrize(
    "content, message",
    [
        (b"\xff\xfe", "not valid JSON"),
        (b"{not json", "not valid JSON"),
        (b"[]", "not a pasar key file"),
        (b'{"kind": "pasar-ed25519-key", "version": 9}', "unsupported key file version"),
        (b'{"kind": "pasar-ed25519-key", "version": 1}', "public_key"),
        (
            b'{"kind": "pasar-ed25519-key", "version": 1, "public_key": "zz", "encrypted": true}',
            "not hex",
        ),
    ],
)
def test_garbage_files_give_clear_errors(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "k.json"
    path.write_bytes(content)
    path.chmod(0o600)  # a private file: the content, not the mode, is what is wrong
    with pytest.raises(KeyFileError, match=message):
        read_key_file(path, "x")


def test_missing_file_and_hostile_kdf_cost(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="does not exist"):
        read_key_file(tmp_path / "nope.json", "x")
    path = tmp_path / "k.json"
    write(path, PrivateKey.generate())
    document = json.loads(path.read_text())
    document["kdf"]["memlimit"] = 1 << 40
    path.write_text(json.dumps(document))
    with pytest.raises(KeyFileError, match="memlimit"):
        read_key_file(path, "correct horse")


def test_passphrase_sources(tmp_path: Path) -> None:
    file = tmp_path / "pass"
    file.write_text("from file\nsecond line\n")
    assert passphrase_from(file, {"PASAR_PASSPHRASE": "env"}) == "from file"
    assert passphrase_from(None, {"PASAR_PASSPHRASE": "env"}) == "env"
    assert passphrase_from(None, {}) is None
    (tmp_path / "empty").write_text("")
    with pytest.raises(KeyFileError, match="empty"):
        passphrase_from(tmp_path / "empty", {})
    with pytest.raises(KeyFileError, match="cannot read"):
        passphrase_from(tmp_path / "missing", {})
