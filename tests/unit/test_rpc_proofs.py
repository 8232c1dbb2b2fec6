"""RPC: proof bundles for transactions, accounts and state keys, checked offline."""

from __future__ import annotations

from rpc_fake_node import CHAIN_ID, FakeNode
from rpc_helpers import served, snapshot, transfer

from contracts.coin import balance_key
from ledger import codec
from ledger.bundle import (
    StateBundle,
    TrustAnchor,
    TxBundle,
    decode_bundle,
    verify_state_bundle,
    verify_tx_bundle,
)
from ledger.keys import address_to_text


def anchor(node: FakeNode) -> TrustAnchor:
    return TrustAnchor(CHAIN_ID, (node.node_id,))


async def test_tx_bundle_verifies_and_its_certificate_becomes_the_next_blocks() -> None:
    node = FakeNode()
    a = node.accounts
    stx = transfer(a.alice, a.bob.public_key, 250)
    async with served(node) as client:
        await client.post("/v1/txs", json={"tx": stx.encode().hex()})
        node.commit_pending()
        pending = await (await client.get(f"/v1/txs/{stx.hash.hex()}?prove=true")).json()
        node.commit_pending()  # block 2 now carries block 1's certificate
        final = await (await client.get(f"/v1/txs/{stx.hash.hex()}?prove=true")).json()
        skipping = await (await client.get(f"/v1/txs/{stx.hash.hex()}?prove=true&skip=1")).json()
        plain = await (await client.get(f"/v1/txs/{stx.hash.hex()}")).json()
    assert (pending["certificate"], final["certificate"]) == ("pending", "next_block")
    assert "bundle" not in plain and plain["status"] == "committed"
    bundle = decode_bundle(bytes.fromhex(final["bundle"]))
    assert isinstance(bundle, TxBundle)
    verified = verify_tx_bundle(bundle, anchor(node))
    assert (verified.height, verified.tx_hash, verified.receipt.ok) == (1, stx.hash, True)
    assert final["status"] == "committed" and final["index"] == 0 and final["height"] == 1
    # No set change since genesis: skipping has nothing to cross, the bundle is the same.
    assert (skipping["validator_changes"], skipping["validator_skips"]) == (0, 0)
    assert skipping["bundle"] == final["bundle"]


async def test_account_and_state_bundles_prove_values_and_absence() -> None:
    node = FakeNode()
    a = node.accounts
    async with served(node) as client:
        await client.post(
            "/v1/txs", json={"tx": transfer(a.alice, a.bob.public_key, 7).encode().hex()}
        )
        node.commit_pending()
        address = address_to_text(a.bob.public_key)
        account = await (await client.get(f"/v1/accounts/{address}?prove=true&symbols=GOLD")).json()
        key = balance_key(a.bob.public_key, "IDRA")
        state = await (await client.get(f"/v1/state/{key.hex()}?prove=true")).json()
        raw = await (await client.get(f"/v1/state/{key.hex()}")).json()
    bundle = decode_bundle(bytes.fromhex(account["bundle"]))
    assert isinstance(bundle, StateBundle)
    proofs = {proof.key: proof.value for proof in verify_state_bundle(bundle, anchor(node))}
    assert proofs[balance_key(a.bob.public_key, "GOLD")] is None  # proven absent
    assert codec.decode(proofs[key] or b"") == 5_007
    assert "GOLD" in account["proven_symbols"] and account["address"] == address
    single = decode_bundle(bytes.fromhex(state["bundle"]))
    assert isinstance(single, StateBundle)
    (proof,) = verify_state_bundle(single, anchor(node))
    assert proof.value is not None and proof.value.hex() == raw["value"]


async def test_bad_proof_requests_are_4xx_and_change_nothing() -> None:
    node = FakeNode()
    before = snapshot(node)
    async with served(node) as client:
        unknown = await client.get(f"/v1/txs/{'11' * 32}?prove=true")
        assert unknown.status == 200 and (await unknown.json())["status"] == "unknown"
        nothing_yet = await client.get("/v1/state/00?prove=true")
        assert nothing_yet.status == 404
        cases = [
            ("/v1/state/zz?prove=true", "key"),
            ("/v1/state/00?prove=maybe", "prove"),
            ("/v1/state/00?prove=true&trusted_height=0", "trusted_height"),
            ("/v1/state/00?prove=true&skip=maybe", "skip"),
            (f"/v1/txs/{'11' * 32}?prove=true&skip=2", "skip"),
            (f"/v1/state/{'00' * 1025}", "key"),
        ]
        for path, field in cases:
            response = await client.get(path)
            assert response.status == 400, path
            assert (await response.json())["error"]["field"] == field
    assert snapshot(node) == before
