"""The CLI against a real RPC server (FakeNode behind aiohttp on loopback)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from rpc_fake_node import CHAIN_ID, FakeNode
from rpc_helpers import ThreadedServer

from cli.main import cli
from contracts.coin import balances_of
from ledger.keys import address_to_text
from ledger.tx import SignedTransaction, Transaction
from node.keyfile import TEST_MEMLIMIT, TEST_OPSLIMIT, write_key_file


@pytest.fixture
def server() -> Iterator[ThreadedServer]:
    with ThreadedServer(FakeNode()) as running:
        yield running


@pytest.fixture
def keys_dir(tmp_path: Path, server: ThreadedServer) -> Path:
    directory = tmp_path / "keys"
    accounts = server.node.accounts
    write_key_file(directory / "alice.json", accounts.alice, None, insecure_plaintext=True)
    write_key_file(
        directory / "bob.json",
        accounts.bob,
        "bob's secret",
        opslimit=TEST_OPSLIMIT,
        memlimit=TEST_MEMLIMIT,
    )
    return directory


def run(args: list[str], env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, args, env=env, input=stdin, catch_exceptions=False)


def test_transfer_by_name_then_wait_and_query(server: ThreadedServer, keys_dir: Path) -> None:
    common = ["--node", server.url, "--keys-dir", str(keys_dir)]
    result = run(
        ["tx", "transfer", "--from", "alice", "--to", "bob", "--asset", "IDRA", "--amount", "40"]
        + common
        + ["--json"]
    )
    assert result.exit_code == 0, result.output
    submitted = json.loads(result.output)
    assert submitted["accepted"] is True
    server.commit()
    outcome = run(["query", "tx", submitted["hash"], "--node", server.url, "--wait", "5"])
    assert outcome.exit_code == 0, outcome.output
    assert "committed" in outcome.output and "coin.transfer" in outcome.output
    bob = server.node.accounts.bob.public_key
    assert f"to={address_to_text(bob)}" in outcome.output
    assert dict(balances_of(server.node.store, bob))["IDRA"] == 5_040
    account = run(["query", "account", "alice", *common])
    assert "9,999.60 IDRA" in account.output and "nonce 1" in account.output


def test_back_to_back_sends_take_the_next_free_nonce(
    server: ThreadedServer, keys_dir: Path
) -> None:
    args = ["tx", "transfer", "--from", "alice", "--to", "bob", "--asset", "IDRA"]
    args += ["--node", server.url, "--keys-dir", str(keys_dir), "--amount"]
    for amount in ("1", "2", "3"):
        assert run([*args, amount]).exit_code == 0
    assert [stx.tx.nonce for stx in server.node.mempool] == [0, 1, 2]
    explicit = run([*args, "4", "--nonce", "0"])
    assert explicit.exit_code != 0 and "nonce_taken" in explicit.output
    server.commit()
    bob = server.node.accounts.bob.public_key
    assert dict(balances_of(server.node.store, bob))["IDRA"] == 5_006


def test_encrypted_key_needs_its_passphrase(server: ThreadedServer, keys_dir: Path) -> None:
    args = ["tx", "transfer", "--from", "bob", "--to", "alice", "--asset", "PTS", "--amount", "1"]
    args += ["--node", server.url, "--keys-dir", str(keys_dir)]
    wrong = run(args, env={"PASAR_PASSPHRASE": "nope"})
    assert wrong.exit_code != 0
    assert "wrong passphrase" in wrong.output and "Traceback" not in wrong.output
    assert server.node.mempool == []
    right = run(args, env={"PASAR_PASSPHRASE": "bob's secret"})
    assert right.exit_code == 0, right.output
    assert len(server.node.mempool) == 1


def test_wait_reports_a_rejection_as_an_error(server: ThreadedServer, keys_dir: Path) -> None:
    import threading

    args = ["tx", "burn", "--from", "alice", "--asset", "PTS", "--amount", "1", "--wait", "10"]
    timer = threading.Timer(0.3, server.commit)
    timer.start()
    result = run(args + ["--node", server.url, "--keys-dir", str(keys_dir)])
    timer.join()
    assert result.exit_code != 0
    assert "not_issuer" in result.output


def test_generic_call_with_address_arguments(server: ThreadedServer, keys_dir: Path) -> None:
    bob = address_to_text(server.node.accounts.bob.public_key)
    result = run(
        ["tx", "call", "coin.transfer", "--from", "alice"]
        + ["--arg", "IDRA", "--arg", bob, "--arg", "12", "--arg", "note"]
        + ["--node", server.url, "--keys-dir", str(keys_dir)]
    )
    assert result.exit_code == 0, result.output
    (stx,) = server.node.mempool
    assert stx.tx.args == ("IDRA", server.node.accounts.bob.public_key, 12, "note")


def test_offline_flow_unsigned_sign_submit(server: ThreadedServer, keys_dir: Path) -> None:
    common = ["--keys-dir", str(keys_dir)]
    unsigned = run(
        ["tx", "mint", "--from", "bob", "--asset", "PTS", "--to", "alice", "--amount", "5"]
        + ["--unsigned", "--json", "--node", server.url, *common]
    )
    assert unsigned.exit_code == 0, unsigned.output
    unsigned_hex = json.loads(unsigned.output)["unsigned_tx"]
    assert Transaction.decode(bytes.fromhex(unsigned_hex)).method == "coin.mint"
    signed = run(
        ["tx", "sign", unsigned_hex, "--from", "bob", "--json", *common],
        env={"PASAR_PASSPHRASE": "bob's secret"},
    )
    assert signed.exit_code == 0, signed.output
    signed_hex = json.loads(signed.output)["signed_tx"]
    assert SignedTransaction.decode(bytes.fromhex(signed_hex)).verify_signature()
    submitted = run(["tx", "submit", signed_hex, "--node", server.url])
    assert submitted.exit_code == 0, submitted.output
    assert "accepted" in submitted.output


def test_offline_signing_needs_no_node(keys_dir: Path) -> None:
    result = run(
        ["tx", "transfer", "--from", "alice", "--to", "bob", "--asset", "IDRA", "--amount", "1"]
        + ["--offline", "--chain-id", CHAIN_ID, "--nonce", "3", "--json"]
        + ["--keys-dir", str(keys_dir), "--node", "http://127.0.0.1:9"]
    )
    assert result.exit_code == 0, result.output
    stx = SignedTransaction.decode(bytes.fromhex(json.loads(result.output)["signed_tx"]))
    assert stx.tx.nonce == 3 and stx.verify_signature()


def test_queries_render_for_people_and_scripts(server: ThreadedServer, keys_dir: Path) -> None:
    url = ["--node", server.url]
    status = run(["query", "status", *url, "--json"])
    assert json.loads(status.output)["chain_id"] == CHAIN_ID
    assets = run(["query", "assets", *url])
    assert "IDRA" in assets.output and "PTS" in assets.output
    validators = run(["query", "validators", *url])
    assert "quorum 1" in validators.output
    run(
        ["tx", "transfer", "--from", "alice", "--to", "bob", "--asset", "IDRA", "--amount", "1"]
        + url
        + ["--keys-dir", str(keys_dir)]
    )
    server.commit()
    block = run(["query", "block", "1", *url])
    assert "block 1" in block.output and "coin.transfer" in block.output
    latest = run(["query", "block", *url, "--json"])
    assert json.loads(latest.output)["height"] == 1


def test_events_replay_from_a_cursor(server: ThreadedServer, keys_dir: Path) -> None:
    common = ["--node", server.url, "--keys-dir", str(keys_dir)]
    for amount in ("1", "2"):
        sent = run(
            ["tx", "transfer", "--from", "alice", "--to", "bob", "--asset", "IDRA", "--amount"]
            + [amount, *common]
        )
        assert sent.exit_code == 0, sent.output
    server.commit()
    people = run(["query", "events", "--cursor", "0", "--limit", "3", *common])
    assert people.exit_code == 0, people.output
    lines = people.output.splitlines()
    assert lines[0].startswith("[1] block 1") and "(2 txs)" in lines[0]
    assert lines[1].startswith("[1/0] tx") and lines[1].endswith("committed")
    scripts = run(["query", "events", "--cursor", "1/0", "--limit", "1", "--json", *common])
    (event,) = [json.loads(line) for line in scripts.output.splitlines()]
    assert event["id"] == "1/1" and event["data"]["index"] == 1
    bad = run(["query", "events", "--cursor", "x", *common])
    assert bad.exit_code != 0 and "bad_cursor" in bad.output


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


DOWN = "http://127.0.0.1:{port}"


@pytest.mark.parametrize(
    "args, expected",
    [
        (["query", "status", "--node", DOWN], "cannot reach node at " + DOWN),
        (["query", "block", "99", "--node", "{url}"], "no committed block at height 99"),
        (["query", "tx", "xyz", "--node", "{url}"], "(bad_hex, HTTP 400)"),
        (["query", "account", "nobody", "--node", "{url}"], "neither a valid address"),
        (["tx", "transfer", "--to", "bob", "--asset", "I", "--amount", "1"], "--from NAME"),
        (["tx", "sign", "00", "--from", "alice"], "not an unsigned transaction"),
        (["tx", "submit", "zz", "--node", "{url}"], "not a signed transaction"),
        (["tx", "call", "coin.transfer", "--from", "alice", "--arg", "1.5"], "integers"),
        (["keys", "show", "missing"], "does not exist"),
        (["up", "--network", "missing.toml"], "cannot read missing.toml"),
    ],
)
def test_errors_are_one_line_without_traceback(
    server: ThreadedServer, keys_dir: Path, args: list[str], expected: str
) -> None:
    port = free_port()
    filled = [arg.format(port=port, url=server.url) for arg in args]
    result = run(filled, env={"PASAR_KEYS_DIR": str(keys_dir)})
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert expected.format(port=port) in lines[0]
