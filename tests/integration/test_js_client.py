"""The JavaScript library against a real node: submit, wait, prove, follow events.

`web/tests/live.js` uses only web/lib (client.js, tx.js, proof.js) to sign and
submit a transfer to a real validator process, wait for its commit, fetch the
transaction's proof bundle and the account's balance proof and verify both
against the genesis validator set, and follow the event stream. The bundles it
verified are then checked again by the Python verifier, so the two agree on
bundles a live node produced, not only on the vectors.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.bundle import (
    StateBundle,
    TrustAnchor,
    TxBundle,
    decode_bundle,
    verify_state_bundle,
    verify_tx_bundle,
)
from node.home import load_home
from tests.integration.harness import ROOT, LocalNet


@pytest.fixture
def net(tmp_path: Path) -> Iterator[LocalNet]:
    local = LocalNet(tmp_path, count=1, accounts=2)
    try:
        local.start_all()
        yield local
    finally:
        local.close()


def run_live(net: LocalNet) -> dict[str, Any]:
    node = shutil.which("node")
    assert node is not None, "Node.js 20 or newer is needed to test web/lib"
    genesis = load_home(net.nodes[0].home).genesis
    sender, receiver = net.accounts
    result = subprocess.run(
        [
            node,
            "web/tests/live.js",
            net.nodes[0].rpc_url,
            genesis.encode().hex(),
            sender.seed.hex(),
            receiver.public_key.hex(),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def test_js_client_submits_proves_and_follows_a_real_node(net: LocalNet) -> None:
    out = run_live(net)
    assert out["same_anchor"] is True
    assert out["wrong_pin"] == "200 wrong_genesis"
    assert out["submitted"]["accepted"] and out["duplicate"] == "duplicate"
    assert out["forged"] == "422 bad_signature"
    assert out["bad_hash"].startswith("400 ")
    assert out["status"] == "committed"
    tx_hash = out["submitted"]["hash"]
    assert out["proven"] == {"height": out["height"], "index": 0, "code": "ok", "tx_hash": tx_hash}
    assert out["tampered"] in ("ProofError", "CodecError")
    assert out["foreign_anchor"] == "ProofError"
    assert out["proven_balance"] == str(10**9 - 12345) == out["answer_balance"]
    assert out["proven_nonce"] == "1"
    assert out["proven_nope"] is None  # proven absent
    assert out["event"] == {
        "id": f"{out['height']}/0",
        "status": "committed",
        "height": out["height"],
    }

    genesis = load_home(net.nodes[0].home).genesis
    anchor = TrustAnchor(genesis.chain_id, genesis.validator_keys)
    bundle = decode_bundle(bytes.fromhex(out["tx_bundle"]))
    assert isinstance(bundle, TxBundle)
    assert verify_tx_bundle(bundle, anchor).tx_hash.hex() == tx_hash
    state = decode_bundle(bytes.fromhex(out["state_bundle"]))
    assert isinstance(state, StateBundle)
    assert len(verify_state_bundle(state, anchor)) == 3
