"""`pasar testnet` writes loadable homes."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from cli.main import cli
from node.home import load_home


def test_testnet_command_writes_homes(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["testnet", "--validators", "2", "--out", str(tmp_path), "--insecure-plaintext-keys"],
    )
    assert result.exit_code == 0, result.output
    assert "v0" in result.output and "v1" in result.output
    assert load_home(tmp_path / "v1").config.rpc_port == 26602


def test_testnet_command_reports_errors_in_one_line(tmp_path: Path) -> None:
    args = ["testnet", "--validators", "2", "--names", "a", "--out", str(tmp_path)]
    result = CliRunner().invoke(cli, [*args, "--insecure-plaintext-keys"])
    assert result.exit_code != 0
    assert "Traceback" not in result.output and "names" in result.output
