"""`pasar keys`: encrypted by default, plaintext on request, round trips, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import node.keyfile
import node.walletfile
from cli.main import cli
from ledger.keys import PrivateKey, address_to_text
from node.keyfile import key_file_info, read_key_file


@pytest.fixture(autouse=True)
def cheap_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep argon2id cheap in tests (the defaults are tuned for real keys)."""
    monkeypatch.setattr(node.keyfile, "DEFAULT_OPSLIMIT", node.keyfile.TEST_OPSLIMIT)
    monkeypatch.setattr(node.keyfile, "DEFAULT_MEMLIMIT", node.keyfile.TEST_MEMLIMIT)
    defaults = node.keyfile.write_key_file.__kwdefaults__
    monkeypatch.setitem(defaults, "opslimit", node.keyfile.TEST_OPSLIMIT)
    monkeypatch.setitem(defaults, "memlimit", node.keyfile.TEST_MEMLIMIT)


def run(args: list[str], env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, args, env=env, input=stdin)


def test_new_is_encrypted_with_the_passphrase_file(tmp_path: Path) -> None:
    secret = tmp_path / "pass"
    secret.write_text("hunter22\n")
    result = run(
        ["keys", "new", "alice", "--keys-dir", str(tmp_path), "--passphrase-file", str(secret)]
        + ["--json"]
    )
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)
    info = key_file_info(tmp_path / "alice.json")
    assert info.encrypted and created["address"] == info.address
    key = read_key_file(tmp_path / "alice.json", "hunter22")
    assert address_to_text(key.public_key) == created["address"]
    shown = run(["keys", "show", str(tmp_path / "alice.json")])
    assert created["address"] in shown.output and "encrypted: yes" in shown.output


def test_new_without_passphrase_and_without_terminal_fails_clearly(tmp_path: Path) -> None:
    result = run(["keys", "new", "k", "--keys-dir", str(tmp_path)], env={"PASAR_PASSPHRASE": ""})
    assert result.exit_code != 0
    assert "a passphrase is needed" in result.output
    assert not (tmp_path / "k.json").exists()


def test_plaintext_only_with_flag_and_no_silent_overwrite(tmp_path: Path) -> None:
    first = run(["keys", "new", "dev", "--keys-dir", str(tmp_path), "--insecure-plaintext"])
    assert first.exit_code == 0, first.output
    assert not key_file_info(tmp_path / "dev.json").encrypted
    before = (tmp_path / "dev.json").read_text()
    again = run(["keys", "new", "dev", "--keys-dir", str(tmp_path), "--insecure-plaintext"])
    assert again.exit_code != 0 and "already exists" in again.output
    assert (tmp_path / "dev.json").read_text() == before


def test_export_then_import_round_trip(tmp_path: Path) -> None:
    key = PrivateKey.generate()
    env = {"PASAR_PASSPHRASE": "pw-one"}
    seed_file = tmp_path / "seed.txt"
    seed_file.write_text(key.seed.hex())
    imported = run(
        ["keys", "import", "k", "--keys-dir", str(tmp_path), "--seed-file", str(seed_file)],
        env=env,
    )
    assert imported.exit_code == 0, imported.output
    exported = run(["keys", "export", "k", "--keys-dir", str(tmp_path), "--json"], env=env)
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.output)["seed"] == key.seed.hex()
    wrong = run(["keys", "export", "k", "--keys-dir", str(tmp_path)], env={"PASAR_PASSPHRASE": "x"})
    assert wrong.exit_code != 0 and "wrong passphrase" in wrong.output
    out = tmp_path / "exported"
    to_file = run(["keys", "export", "k", "--keys-dir", str(tmp_path), "--out", str(out)], env=env)
    assert to_file.exit_code == 0 and out.read_text().strip() == key.seed.hex()
    assert key.seed.hex() not in to_file.output


def test_import_refuses_a_bad_seed(tmp_path: Path) -> None:
    result = run(
        ["keys", "import", "k", "--keys-dir", str(tmp_path), "--insecure-plaintext"],
        stdin="abcd\n",
    )
    assert result.exit_code != 0 and "64 hex digits" in result.output
    assert not (tmp_path / "k.json").exists()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_key_file_others_can_read_is_refused_until_chmod_600(tmp_path: Path, mode: int) -> None:
    key = PrivateKey.generate()
    path = tmp_path / "k.json"
    node.keyfile.write_key_file(path, key, None, insecure_plaintext=True)
    path.chmod(mode)
    refused = run(["keys", "export", "k", "--keys-dir", str(tmp_path)])
    assert refused.exit_code != 0
    assert f"chmod 600 {path}" in refused.output and key.seed.hex() not in refused.output
    assert len(refused.output.strip().splitlines()) == 1
    # the explicit override, then the fix the message names
    allowed = run(
        ["keys", "export", "k", "--keys-dir", str(tmp_path)],
        env={"PASAR_ALLOW_READABLE_KEYS": "1"},
    )
    assert allowed.exit_code == 0, allowed.output
    path.chmod(0o600)
    fixed = run(["keys", "export", "k", "--keys-dir", str(tmp_path)])
    assert fixed.exit_code == 0 and key.seed.hex() in fixed.output


def test_a_node_refuses_a_validator_key_others_can_read(tmp_path: Path) -> None:
    created = run(
        ["testnet", "--validators", "1", "--out", str(tmp_path), "--insecure-plaintext-keys"]
    )
    assert created.exit_code == 0, created.output
    (tmp_path / "v0" / "validator.key").chmod(0o644)
    refused = run(["node", "--home", str(tmp_path / "v0")])
    assert refused.exit_code != 0 and "chmod 600" in refused.output


def test_wallet_file_export_and_import_round_trip(tmp_path: Path) -> None:
    key = PrivateKey.generate()
    node.keyfile.write_key_file(tmp_path / "k.json", key, "pw-long-enough")
    env = {"PASAR_PASSPHRASE": "pw-long-enough"}
    wallet = tmp_path / "wallet.json"
    exported = run(
        ["keys", "export", "k", "--keys-dir", str(tmp_path), "--wallet-file", str(wallet)]
        + ["--json"],
        env=env,
    )
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.output)["address"] == address_to_text(key.public_key)
    assert key.seed.hex() not in wallet.read_text() + exported.output
    assert json.loads(wallet.read_text())["format"] == "pasar-key-v1"
    # Back into the CLI under another name, keeping the same passphrase.
    imported = run(
        ["keys", "import", "back", "--keys-dir", str(tmp_path), "--wallet-file", str(wallet)],
        env=env,
    )
    assert imported.exit_code == 0, imported.output
    assert read_key_file(tmp_path / "back.json", "pw-long-enough").seed == key.seed
    # With a wallet passphrase of its own, and the key file's from the environment.
    other = tmp_path / "other-pass"
    other.write_text("a different passphrase\n")
    second = tmp_path / "second.json"
    assert (
        run(
            ["keys", "export", "k", "--keys-dir", str(tmp_path), "--wallet-file", str(second)]
            + ["--wallet-passphrase-file", str(other)],
            env=env,
        ).exit_code
        == 0
    )
    again = run(
        ["keys", "import", "again", "--keys-dir", str(tmp_path), "--wallet-file", str(second)]
        + ["--wallet-passphrase-file", str(other)],
        env={"PASAR_PASSPHRASE": "a third passphrase"},
    )
    assert again.exit_code == 0, again.output
    assert read_key_file(tmp_path / "again.json", "a third passphrase").seed == key.seed


def one_line_error(result: Result) -> str:
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def test_wallet_file_import_errors_are_one_line_and_write_nothing(tmp_path: Path) -> None:
    key = PrivateKey.generate()
    wallet = tmp_path / "wallet.json"
    node.walletfile.write_wallet_file(wallet, key, "right passphrase", 100_000)
    command = ["keys", "import", "k", "--keys-dir", str(tmp_path), "--wallet-file"]
    wrong = run([*command, str(wallet)], env={"PASAR_PASSPHRASE": "wrong passphrase"})
    assert "wrong passphrase" in one_line_error(wrong)
    junk = tmp_path / "junk.json"
    junk.write_text("[1, 2")
    assert "not a pasar wallet key file" in one_line_error(
        run([*command, str(junk)], env={"PASAR_PASSPHRASE": "right passphrase"})
    )
    cli_key = tmp_path / "cli.json"
    node.keyfile.write_key_file(cli_key, key, None, insecure_plaintext=True)
    assert "--wallet-file" in one_line_error(
        run([*command, str(cli_key)], env={"PASAR_PASSPHRASE": "right passphrase"})
    )
    missing = run([*command, str(tmp_path / "nope.json")], env={"PASAR_PASSPHRASE": "x" * 8})
    assert "cannot read" in one_line_error(missing)
    assert not (tmp_path / "k.json").exists()


def test_wallet_file_export_refuses_a_short_passphrase_and_an_existing_file(
    tmp_path: Path,
) -> None:
    key = PrivateKey.generate()
    node.keyfile.write_key_file(tmp_path / "k.json", key, None, insecure_plaintext=True)
    wallet = tmp_path / "wallet.json"
    command = ["keys", "export", "k", "--keys-dir", str(tmp_path), "--wallet-file", str(wallet)]
    assert "at least 8" in one_line_error(run(command, env={"PASAR_PASSPHRASE": "short"}))
    assert not wallet.exists()
    wallet.write_text("keep")
    assert "already exists" in one_line_error(run(command, env={"PASAR_PASSPHRASE": "x" * 8}))
    assert wallet.read_text() == "keep"
