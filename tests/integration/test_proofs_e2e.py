"""Proofs end to end: four LevelDB validators as real processes, the CLI fetches a
payment's bundle and an account's proven balance, and `pasar verify` checks the
bundle offline against genesis.json alone (and refuses a tampered copy)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.keys import address_to_text
from tests.integration.harness import ROOT, LocalNet, http, wait_until


@pytest.fixture
def net(tmp_path: Path) -> Iterator[LocalNet]:
    local = LocalNet(tmp_path, count=4)
    try:
        local.start_all()
        yield local
    finally:
        local.close()


def pasar(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_payment_bundle_from_a_live_network_verifies_offline(
    net: LocalNet, tmp_path: Path
) -> None:
    stx = net.transfer(0, 1, amount=1234)
    assert net.submit(0, [stx])[0]["accepted"]
    code, outcome = http("GET", net.url(1, f"/v1/txs/{stx.hash.hex()}?wait=20"), timeout=30)
    assert code == 200 and outcome["status"] == "committed", outcome
    height = int(outcome["height"])
    net.submit(0, [net.transfer(2, 3)])  # so that block height+1 exists everywhere
    net.wait_height(range(4), height + 1)
    # Every node now serves for `height` the certificate block height+1 carries.
    certificates = set()
    for index in range(4):
        code, block = http("GET", net.url(index, f"/v1/blocks/{height + 1}"))
        assert code == 200
        certificates.add(block["last_certificate"]["encoded"])
        code, block = http("GET", net.url(index, f"/v1/blocks/{height}"))
        certificates.add(block["certificate"]["encoded"])
    assert len(certificates) == 1

    genesis = str(net.nodes[0].home / "genesis.json")
    bundle_file = tmp_path / "payment.bundle"
    fetched = pasar(
        "query",
        "tx",
        stx.hash.hex(),
        "--prove",
        "--out",
        str(bundle_file),
        "--node",
        net.nodes[2].rpc_url,
    )
    assert fetched.returncode == 0, fetched.stderr
    assert "certificate: next_block" in fetched.stdout
    checked = pasar("verify", str(bundle_file), "--genesis", genesis)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.strip() == (
        f"ok: tx {stx.hash.hex()} is in block {height} at index {outcome['index']}, applied"
    )

    raw = bytearray(bundle_file.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    tampered = tmp_path / "tampered.bundle"
    tampered.write_bytes(bytes(raw))
    refused = pasar("verify", str(tampered), "--genesis", genesis)
    assert refused.returncode == 1
    assert refused.stderr.strip().count("\n") == 0 and "refused:" in refused.stderr
    assert "Traceback" not in refused.stderr

    receiver = address_to_text(net.accounts[1].public_key)
    wait_until(
        lambda: (
            http("GET", net.url(3, f"/v1/accounts/{receiver}"))[1]["balances"].get("IDR")
            == 10**9 + 1234
        ),
        20,
        "node 3 to hold the payment",
    )
    proven = pasar(
        "query",
        "account",
        receiver,
        "--prove",
        "--symbols",
        "GOLD",
        "--genesis",
        genesis,
        "--node",
        net.nodes[3].rpc_url,
    )
    assert proven.returncode == 0, proven.stderr
    assert f"IDR          {10**9 + 1234}" in proven.stdout
    assert "GOLD         absent (0)" in proven.stdout
