"""docs/api.md's admission table, through a real validator on LevelDB over HTTP.

What admission answers at once, and what only the block decides: unknown methods
and expired transactions are accepted, then rejected in a block without using the
nonce; a nonce gap stays pending; a second transaction on a pending nonce is
nonce_taken; a re-signed copy of a pending transaction is a duplicate.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.keys import PrivateKey
from ledger.tx import Transaction
from tests.integration.harness import SYMBOL, LocalNet, http, wait_until


@pytest.fixture
def net(tmp_path: Path) -> Iterator[LocalNet]:
    with LocalNet(tmp_path / "net", count=1) as net:
        yield net


def post(net: LocalNet, tx_hex: str) -> tuple[int, Any]:
    return http("POST", net.url(0, "/v1/txs"), {"tx": tx_hex})


def outcome(net: LocalNet, tx_hash: bytes, wait: float = 0) -> dict[str, Any]:
    code, body = http("GET", net.url(0, f"/v1/txs/{tx_hash.hex()}?wait={wait}"), timeout=30)
    assert code == 200, body
    return dict(body)


def nonce_of(net: LocalNet, key: PrivateKey) -> int:
    return int(http("GET", net.url(0, f"/v1/accounts/{key.public_key.hex()}"))[1]["nonce"])


def test_admission_answers_and_what_the_block_decides(net: LocalNet) -> None:
    alice, bob, carol = net.accounts[0], net.accounts[1], net.accounts[2]
    chain = net.chain_id

    def tx(
        key: PrivateKey, nonce: int, method: str, args: tuple[Any, ...], expiry: int = 0
    ) -> Transaction:
        return Transaction(chain, key.public_key, nonce, method, args, expiry)

    unknown = tx(alice, 0, "coin.nothing", ()).sign(alice)
    expired = tx(bob, 0, "coin.transfer", (SYMBOL, alice.public_key, 1), expiry=1).sign(bob)
    gapped = tx(carol, 5, "coin.transfer", (SYMBOL, alice.public_key, 1)).sign(carol)
    for stx in (unknown, expired, gapped):
        code, body = post(net, stx.encode().hex())
        assert (code, body["code"]) == (202, "accepted"), body

    # Taken nonce: a different transaction on carol's pending nonce 5.
    other = tx(carol, 5, "coin.transfer", (SYMBOL, bob.public_key, 2)).sign(carol)
    code, body = post(net, other.encode().hex())
    assert (code, body["error"]["code"]) == (422, "nonce_taken"), body

    # A re-signed copy (same unsigned transaction, another envelope) is a duplicate.
    copy = gapped.tx.sign(carol, bob)
    assert copy.encode() != gapped.encode() and copy.hash == gapped.hash
    code, body = post(net, copy.encode().hex())
    assert (code, body["code"], body["accepted"]) == (202, "duplicate", True), body

    for stx, code_name in ((unknown, "unknown_method"), (expired, "expired")):
        result = wait_until(
            lambda s=stx: outcome(net, s.hash, 1)["status"] == "rejected" and outcome(net, s.hash),
            30,
            f"{code_name} to be rejected in a block",
        )
        assert result["receipt"]["code"] == code_name
    # Neither used its nonce; the gapped one waits for nonces 0..4.
    assert nonce_of(net, alice) == 0 and nonce_of(net, bob) == 0
    assert outcome(net, gapped.hash)["status"] == "pending"
    assert outcome(net, other.hash)["status"] == "unknown"
