"""Admission of co-signed transactions, the policy JSON and the CLI signing file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.common import CliError
from cli.signing import (
    is_signing_file,
    read_signing_file,
    signed_from_file,
    write_signing_file,
)
from contracts.account import policy_key
from contracts.registry import APPLICATION
from ledger import codec
from ledger.execution import BlockInfo
from ledger.kv import MemoryStore
from ledger.tx import Transaction
from node.mempool import authorization_refusal
from node.rpc.account_policy import account_policy_json
from tests.accountkit import policy
from tests.chainkit import CHAIN_ID, key

OWNER, PHONE, LAPTOP, SHOP = key("owner"), key("phone"), key("laptop"), key("shop")
INFO = BlockInfo(CHAIN_ID, 9, 1_700_000_000_000, bytes(32))
TRANSFER = Transaction(CHAIN_ID, OWNER.public_key, 0, "coin.transfer", ("IDR", SHOP.public_key, 5))


def two_of_three() -> MemoryStore:
    store = MemoryStore()
    rules = policy(
        [(OWNER, 1), (PHONE, 1), (LAPTOP, 1)],
        (1, 2, 2),
        scoped=[(SHOP, ["invoice.create"], 300)],
    )
    store.write({policy_key(OWNER.public_key): codec.encode(rules)})
    return store


def test_admission_refuses_partial_signatures_naming_the_weights() -> None:
    store = two_of_three()
    refusal = authorization_refusal(APPLICATION, store, INFO, TRANSFER.sign(PHONE))
    assert refusal is not None
    code, message = refusal
    assert code == "insufficient_signatures"
    assert "weight 1 of 2" in message and "pasar1" in message
    assert authorization_refusal(APPLICATION, store, INFO, TRANSFER.sign(PHONE, LAPTOP)) is None
    scoped = authorization_refusal(APPLICATION, store, INFO, TRANSFER.sign(SHOP))
    assert scoped is not None and scoped[0] == "key_scope"
    # a one-key account is admitted exactly as before
    assert authorization_refusal(APPLICATION, MemoryStore(), INFO, TRANSFER.sign(OWNER)) is None


def test_the_policy_json_shows_keys_thresholds_and_scoped_keys() -> None:
    shown = account_policy_json(two_of_three(), OWNER.public_key)
    assert shown["default"] is False
    assert shown["thresholds"] == {"low": 1, "medium": 2, "high": 2}
    assert len(shown["keys"]) == 3 and {k["weight"] for k in shown["keys"]} == {1}
    assert shown["scoped_keys"][0]["methods"] == ["invoice.create"]
    assert shown["scoped_keys"][0]["allowance"] == 300
    assert shown["recovery"] is None and shown["pending_recovery"] is None
    plain = account_policy_json(MemoryStore(), OWNER.public_key)
    assert plain["default"] is True and plain["thresholds"] == {"low": 1, "medium": 1, "high": 1}


def test_a_signing_file_gathers_signatures_and_refuses_tampering(tmp_path: Path) -> None:
    path = tmp_path / "pay.json"
    write_signing_file(path, TRANSFER, [])
    assert is_signing_file(str(path)) and not is_signing_file(TRANSFER.encode().hex())
    with pytest.raises(CliError, match="no signatures yet"):
        signed_from_file(path)
    write_signing_file(path, TRANSFER, [TRANSFER.signature_by(PHONE)])
    write_signing_file(path, TRANSFER, [*read_signing_file(path)[1], TRANSFER.signature_by(LAPTOP)])
    stx = signed_from_file(path)
    assert stx == TRANSFER.sign(LAPTOP, PHONE)

    body = json.loads(path.read_text())
    body["signatures"][0]["signature"] = "00" * 64
    path.write_text(json.dumps(body))
    with pytest.raises(CliError, match="does not verify"):
        read_signing_file(path)

    body = json.loads(path.read_text())
    body["unsigned_tx"] = Transaction(CHAIN_ID, OWNER.public_key, 1, "coin.burn", ()).encode().hex()
    path.write_text(json.dumps(body))
    with pytest.raises(CliError, match="hash does not match"):
        read_signing_file(path)
    path.write_text("{not json")
    with pytest.raises(CliError, match="not a valid signing file"):
        read_signing_file(path)
