"""`pasar up`: network.toml, first-start homes and keys, reuse, reset, process control."""

from __future__ import annotations

import json
import os
import signal
import socket
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


def test_run_streams_logs_and_stops_children_on_sigint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Stand-in children that log and sleep: every one is stopped by PID on Ctrl-C."""
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
    for node in nodes:
        node.home.mkdir()

    def stop_when_started() -> None:
        for _ in range(500):
            if len(list(pid_dir.iterdir())) == 2:
                break
            threading.Event().wait(0.02)
        signal.raise_signal(signal.SIGINT)

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


def test_up_from_any_directory_makes_absolute_homes_and_children_start_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative --network resolves from the current directory; homes are absolute."""
    shop = tmp_path / "shop"
    shop.mkdir()
    (shop / "network.toml").write_text(NETWORK.read_text())
    monkeypatch.chdir(shop)
    result = CliRunner().invoke(cli, ["up", "--network", "network.toml", "--init-only"])
    assert result.exit_code == 0, result.output
    record = json.loads((shop / ".pasar" / "network.json").read_text())
    homes = [Path(node["home"]) for node in record["nodes"]]
    assert homes == [
        shop / ".pasar" / "nodes" / n for n in ("platform-a", "platform-b", "seller", "buyer")
    ]
    assert all(home.is_absolute() and (home / "config.toml").is_file() for home in homes)
    monkeypatch.chdir(tmp_path)  # the record, not the current directory, finds the homes
    nodes = up_command.prepare(
        load_network(shop / "network.toml"), shop / "network.toml", shop / ".pasar"
    )
    assert [node.home for node in nodes] == homes
    assert up_command.node_command(homes[0])[-2:] == ["--home", str(homes[0])]


@pytest.mark.parametrize(
    ("edit", "difference"),
    [
        (('chain_id = "pasar-local"', 'chain_id = "other-chain"'), "chain_id"),
        (("base_port = 26600", "base_port = 26700"), "ports"),
        (("amount = 50_000_000 ", "amount = 50_000_001 "), "genesis app_state"),
        (('name = "buyer"\n\n[[accounts]]', 'name = "shopper"\n\n[[accounts]]'), "validators"),
    ],
)
def test_up_refuses_a_data_dir_holding_another_chain(
    tmp_path: Path, edit: tuple[str, str], difference: str
) -> None:
    network = tmp_path / "network.toml"
    network.write_text(NETWORK.read_text())
    first = CliRunner().invoke(cli, ["up", "--network", str(network), "--init-only"])
    assert first.exit_code == 0, first.output
    before = (tmp_path / ".pasar" / "network.json").read_text()
    changed = NETWORK.read_text().replace(*edit, 1)
    assert changed != NETWORK.read_text()
    network.write_text(changed)
    again = CliRunner().invoke(cli, ["up", "--network", str(network), "--init-only"])
    assert again.exit_code != 0
    assert "holds another chain" in again.output and difference in again.output
    assert "--reset" in again.output
    assert (tmp_path / ".pasar" / "network.json").read_text() == before


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_node_defaults_to_this_directorys_testnet_then_pasar_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The URL a command tries shows in its one-line error (nothing listens there)."""
    base_port, env_port = unused_port(), unused_port()
    monkeypatch.chdir(tmp_path)
    env = {"PASAR_NODE": f"http://127.0.0.1:{env_port}"}
    # No testnet here: PASAR_NODE, else the first validator of the default network.toml.
    answer = CliRunner().invoke(cli, ["query", "status"], env=env)
    assert answer.exit_code != 0 and f"127.0.0.1:{env_port}" in answer.output
    answer = CliRunner().invoke(cli, ["query", "status"], env={"PASAR_NODE": ""})
    assert answer.exit_code != 0 and "127.0.0.1:26600" in answer.output
    # `pasar up` here recorded its nodes: the first validator is the default.
    (tmp_path / "network.toml").write_text(
        NETWORK.read_text()
        .replace("base_port = 26600", f"base_port = {base_port}")
        .replace('data_dir = ".pasar"', 'data_dir = "chain"')
    )
    assert CliRunner().invoke(cli, ["up", "--init-only"]).exit_code == 0
    answer = CliRunner().invoke(cli, ["query", "status"], env=env)
    assert answer.exit_code != 0 and f"127.0.0.1:{base_port}" in answer.output, answer.output
    explicit = CliRunner().invoke(cli, ["query", "status", "--node", env["PASAR_NODE"]])
    assert f"127.0.0.1:{env_port}" in explicit.output
    # --keys-dir defaults to that testnet's keys: `--from buyer` is found offline.
    signed = CliRunner().invoke(
        cli,
        ["tx", "transfer", "--from", "buyer", "--to", "seller", "--asset", "IDRA"]
        + ["--amount", "1", "--unsigned", "--nonce", "0", "--chain-id", "pasar-local"],
    )
    assert signed.exit_code == 0, signed.output
    assert "unsigned_tx" in signed.output
