"""`pasar up`: network.toml, first-start homes and keys, reuse, reset, process control."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import up_command
from cli.main import cli
from cli.network import load_network, network_app_state
from cli.up_command import LocalNode, run
from contracts.coin import balances_of, load_asset
from contracts.registry import APPLICATION
from contracts.roles import is_platform
from ledger.execution import apply_genesis
from ledger.kv import MemoryStore
from node.home import load_home
from node.keyfile import key_file_info

ROOT = Path(__file__).resolve().parents[2]
NETWORK = ROOT / "network.toml"


def test_repo_network_describes_the_papers_four_participants() -> None:
    network = load_network(NETWORK)
    names = [v.name for v in network.validators]
    assert names == ["platform-a", "platform-b", "seller", "buyer"]
    assert {a.name for a in network.accounts} == set(names)
    assert {a.policy for a in network.assets} == {"platform"}


def test_init_only_creates_homes_keys_and_a_working_genesis(tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = CliRunner().invoke(
        cli, ["up", "--network", str(NETWORK), "--data-dir", str(data), "--init-only"]
    )
    assert result.exit_code == 0, result.output
    assert "rpc=http://127.0.0.1:26600" in result.output
    homes = [load_home(data / "nodes" / name) for name in ("platform-a", "buyer")]
    assert homes[0].genesis == homes[1].genesis
    assert homes[1].config.rpc_port == 26606
    genesis = homes[0].genesis
    store = MemoryStore()
    store.write(apply_genesis(APPLICATION, store, genesis).state_batch())
    buyer = key_file_info(data / "keys" / "buyer.json")
    platform_a = key_file_info(data / "keys" / "platform-a.json")
    assert not buyer.encrypted
    assert dict(balances_of(store, buyer.public_key)) == {"IDRA": 50_000_000, "IDRB": 20_000_000}
    assert is_platform(store, platform_a.public_key)
    asset = load_asset(store, "IDRA")
    assert asset is not None and asset.issuer == platform_a.public_key
    # A second start reuses the same chain rather than making a new one.
    again = CliRunner().invoke(
        cli, ["up", "--network", str(NETWORK), "--data-dir", str(data), "--init-only"]
    )
    assert again.exit_code == 0, again.output
    assert load_home(data / "nodes" / "buyer").genesis == genesis
    # --reset starts a new chain with new validator keys.
    reset = CliRunner().invoke(
        cli, ["up", "--network", str(NETWORK), "--data-dir", str(data), "--init-only", "--reset"]
    )
    assert reset.exit_code == 0, reset.output
    assert load_home(data / "nodes" / "buyer").genesis != genesis


def test_reset_refuses_a_directory_it_did_not_create(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("do not delete")
    result = CliRunner().invoke(
        cli, ["up", "--network", str(NETWORK), "--data-dir", str(precious), "--reset"]
    )
    assert result.exit_code != 0 and "refusing to wipe" in result.output
    assert (precious / "thesis.tex").exists()


def test_network_errors_name_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "network.toml"
    bad.write_text(NETWORK.read_text().replace('policy = "platform"', "policy = 5", 1))
    result = CliRunner().invoke(cli, ["up", "--network", str(bad), "--init-only"])
    assert result.exit_code != 0 and "assets.0.policy" in result.output
    unknown = tmp_path / "unknown.toml"
    unknown.write_text(NETWORK.read_text().replace('issuer = "platform-a"', 'issuer = "x"'))
    network = load_network(unknown)
    with pytest.raises(Exception, match="unknown account 'x'"):
        network_app_state(network)


def test_run_streams_logs_and_stops_children_on_sigterm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Stand-in children that log and sleep: every one is stopped by PID on SIGTERM."""
    script = tmp_path / "child.py"
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    script.write_text(
        "import os, sys, time, pathlib\n"
        "pathlib.Path(sys.argv[1], str(os.getpid())).write_text('')\n"
        "print('hello from', sys.argv[2], flush=True)\n"
        "time.sleep(60)\n"
    )
    monkeypatch.setattr(
        up_command,
        "node_command",
        lambda home: [sys.executable, str(script), str(pid_dir), home.name],
    )
    nodes = [
        LocalNode(name, tmp_path / name, f"http://127.0.0.1:{n}")
        for n, name in enumerate(["a", "bb"])
    ]

    def stop_when_started() -> None:
        for _ in range(500):
            if len(list(pid_dir.iterdir())) == 2:
                break
            threading.Event().wait(0.02)
        signal.raise_signal(signal.SIGTERM)

    trigger = threading.Thread(target=stop_when_started)
    trigger.start()
    code = run(nodes)
    trigger.join()
    output = capsys.readouterr().out
    assert code == 0
    assert "a  | hello from a" in output and "bb | hello from bb" in output
    assert "rpc http://127.0.0.1:1" in output
    for pid_file in pid_dir.iterdir():
        with pytest.raises(ProcessLookupError):
            os.kill(int(pid_file.name), 0)
