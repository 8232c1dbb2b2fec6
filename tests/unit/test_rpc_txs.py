"""RPC: submitting transactions, encoding for offline signing, outcomes and proofs."""

from __future__ import annotations

import asyncio

from rpc_fake_node import CHAIN_ID, FakeNode
from rpc_helpers import served, transfer

from ledger.block import CommitCertificate
from ledger.keys import address_to_text
from ledger.merkle import verify_proof
from ledger.tx import SignedTransaction, Transaction


async def test_submit_json_then_commit_gives_proof_and_certificate() -> None:
    node = FakeNode()
    a = node.accounts
    stx = transfer(a.alice, a.bob.public_key, 250)
    other = transfer(a.bob, a.alice.public_key, 1)
    async with served(node) as client:
        response = await client.post("/v1/txs", json={"tx": stx.encode().hex()})
        assert response.status == 202
        body = await response.json()
        assert body == {"hash": stx.hash.hex(), "accepted": True, "code": "accepted", "message": ""}
        await client.post("/v1/txs", json={"tx": other.encode().hex()})
        pending = await (await client.get(f"/v1/txs/{stx.hash.hex()}")).json()
        assert pending == {"hash": stx.hash.hex(), "status": "pending"}
        node.commit_pending()
        outcome = await (await client.get(f"/v1/txs/{stx.hash.hex()}")).json()
    assert outcome["status"] == "committed"
    assert (outcome["height"], outcome["index"]) == (1, 0)
    assert outcome["receipt"]["ok"] is True
    event = outcome["receipt"]["events"][0]
    assert event["name"] == "coin.transfer"
    assert event["attributes"]["to"] == {"hex": a.bob.public_key.hex()}
    assert event["attributes"]["amount"] == 250
    proof = outcome["proof"]
    assert verify_proof(
        bytes.fromhex(proof["tx_root"]),
        stx.hash,
        proof["index"],
        proof["count"],
        [bytes.fromhex(s) for s in proof["siblings"]],
    )
    certificate = CommitCertificate.decode(bytes.fromhex(outcome["certificate"]["encoded"]))
    assert certificate.block_hash.hex() == proof["block_hash"]
    assert certificate.verify(CHAIN_ID, [node.node_id])
    assert outcome["tx"]["sender"] == address_to_text(a.alice.public_key)


async def test_rejected_in_block_is_reported_with_its_code() -> None:
    node = FakeNode()
    a = node.accounts
    stx = transfer(a.bob, a.alice.public_key, 10**9)  # bob holds 5,000
    async with served(node) as client:
        assert (await client.post("/v1/txs", json={"tx": stx.encode().hex()})).status == 202
        node.commit_pending()
        outcome = await (await client.get(f"/v1/txs/{stx.hash.hex()}")).json()
    assert outcome["status"] == "rejected"
    assert outcome["receipt"]["code"] == "insufficient_funds"


async def test_submit_raw_msgpack_and_duplicate_is_idempotent() -> None:
    node = FakeNode()
    stx = transfer(node.accounts.alice, node.accounts.bob.public_key, 5)
    headers = {"Content-Type": "application/msgpack"}
    async with served(node) as client:
        first = await client.post("/v1/txs", data=stx.encode(), headers=headers)
        again = await client.post("/v1/txs", data=stx.encode(), headers=headers)
        assert first.status == again.status == 202
        assert (await again.json())["code"] == "duplicate"
    assert [p.hash for p in node.mempool] == [stx.hash]


async def test_wait_long_polls_until_commit() -> None:
    node = FakeNode()
    stx = transfer(node.accounts.alice, node.accounts.bob.public_key, 5)
    async with served(node) as client:
        await client.post("/v1/txs", json={"tx": stx.encode().hex()})
        request = asyncio.ensure_future(client.get(f"/v1/txs/{stx.hash.hex()}?wait=10"))
        await asyncio.sleep(0.05)
        assert not request.done()
        node.commit_pending()
        outcome = await (await request).json()
    assert outcome["status"] == "committed"


async def test_wait_on_unknown_returns_unknown_after_timeout() -> None:
    node = FakeNode()
    async with served(node) as client:
        response = await client.get(f"/v1/txs/{'ab' * 32}?wait=0.05")
        assert response.status == 200
        assert (await response.json())["status"] == "unknown"


async def test_encode_then_sign_offline_then_submit_split_form() -> None:
    node = FakeNode()
    a = node.accounts
    description = {
        "sender": address_to_text(a.alice.public_key),
        "method": "coin.transfer",
        "args": ["IDRA", address_to_text(a.bob.public_key), 77, "thanks"],
    }
    async with served(node) as client:
        response = await client.post("/v1/txs/encode", json=description)
        assert response.status == 200
        encoded = await response.json()
        expected = Transaction(
            CHAIN_ID,
            a.alice.public_key,
            0,
            "coin.transfer",
            ("IDRA", a.bob.public_key, 77, "thanks"),
        )
        assert encoded["unsigned_tx"] == expected.encode().hex()
        assert encoded["hash"] == expected.hash.hex()
        assert encoded["nonce"] == 0 and encoded["chain_id"] == CHAIN_ID
        # Offline: sign the message the node told us, with plain Ed25519.
        import nacl.signing

        signature = (
            nacl.signing.SigningKey(a.alice.seed)
            .sign(bytes.fromhex(encoded["signing_message"]))
            .signature
        )
        submit = await client.post(
            "/v1/txs",
            json={"unsigned_tx": encoded["unsigned_tx"], "signature": signature.hex()},
        )
        assert submit.status == 202
    assert node.mempool[0].verify_signature()
    assert node.mempool[0].hash == expected.hash


async def test_encode_maps_hex_and_address_objects() -> None:
    node = FakeNode()
    a = node.accounts
    async with served(node) as client:
        response = await client.post(
            "/v1/txs/encode",
            json={
                "sender": a.bob.public_key.hex(),
                "method": "coin.transfer",
                "args": ["PTS", {"address": address_to_text(a.alice.public_key)}, 1, "m"],
                "nonce": 7,
                "expiry_ms": 99,
            },
        )
        assert response.status == 200
        tx = Transaction.decode(bytes.fromhex((await response.json())["unsigned_tx"]))
    assert tx.args == ("PTS", a.alice.public_key, 1, "m")
    assert (tx.nonce, tx.expiry_ms) == (7, 99)


async def test_batch_reports_each_admission_in_order() -> None:
    node = FakeNode()
    a = node.accounts
    good = transfer(a.alice, a.bob.public_key, 1)
    forged = SignedTransaction.single(transfer(a.alice, a.bob.public_key, 2, nonce=1).tx, bytes(64))
    async with served(node) as client:
        response = await client.post(
            "/v1/txs/batch", json={"txs": [good.encode().hex(), forged.encode().hex()]}
        )
        assert response.status == 200
        results = (await response.json())["results"]
    assert [r["accepted"] for r in results] == [True, False]
    assert results[1]["code"] == "bad_signature"
    assert results[1]["hash"] == forged.hash.hex()
