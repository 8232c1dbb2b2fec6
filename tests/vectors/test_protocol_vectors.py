"""The protocol test vectors: regenerate them, and re-derive them from first principles.

The first test fails whenever the encoding, hashing or signing changes (rerun
`python tests/vectors/generate.py` only if the change is intended: it is a hard
fork). The others recompute each vector with hashlib, PyNaCl and the rules of
docs/protocol.md, the way a client in another language would.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import nacl.signing
import pytest

from ledger import codec
from ledger.block import Block, BlockHeader, CommitCertificate
from ledger.bundle import (
    BundleError,
    StateBundle,
    TrustAnchor,
    TxBundle,
    decode_bundle,
    verify_state_bundle,
    verify_tx_bundle,
)
from ledger.errors import CodecError
from ledger.genesis import Genesis
from ledger.merkle import InclusionProof, verify_proof
from ledger.state_tree import StateProof
from ledger.tx import SignedTransaction
from tests.vectors.generate import authorization_outcomes, build_vectors, render, untyped

HERE = Path(__file__).resolve().parent


def load(name: str) -> Any:
    return json.loads((HERE / name).read_text(encoding="utf-8"))


def tagged(tag: bytes, data: bytes) -> bytes:
    return hashlib.sha256(bytes([len(tag)]) + tag + data).digest()


def message(domain: bytes, chain_id: str, digest: bytes) -> bytes:
    chain = chain_id.encode()
    return bytes([len(domain)]) + domain + bytes([len(chain)]) + chain + digest


@pytest.mark.parametrize("name", sorted(build_vectors()))
def test_stored_vectors_match_the_code(name: str) -> None:
    assert (HERE / name).read_text(encoding="utf-8") == render(build_vectors()[name])


def test_codec_vectors() -> None:
    vectors = load("codec.json")
    for case in vectors["canonical"]:
        value, data = untyped(case["value"]), bytes.fromhex(case["hex"])
        assert codec.encode(value) == data
        assert codec.decode(data) == value
    for case in vectors["rejected"]:
        with pytest.raises(CodecError):
            codec.decode(bytes.fromhex(case["hex"]))


def test_hashing_vectors() -> None:
    for case in load("hashing.json")["cases"]:
        digest = tagged(case["tag"].encode(), bytes.fromhex(case["data"]))
        assert digest.hex() == case["hash"]


def address(public_key: bytes) -> str:
    checksum = tagged(b"pasar/address", public_key)[:4]
    return "pasar1" + base64.b32encode(public_key + checksum).decode().rstrip("=").lower()


def test_key_vectors() -> None:
    for entry in load("keys.json")["keys"]:
        signing_key = nacl.signing.SigningKey(bytes.fromhex(entry["seed"]))
        public = bytes(signing_key.verify_key)
        assert public.hex() == entry["public_key"]
        assert address(public) == entry["address"]
        sign = entry["sign"]
        expected = message(sign["domain"].encode(), sign["chain_id"], bytes.fromhex(sign["digest"]))
        assert expected.hex() == sign["message"]
        signature = bytes.fromhex(sign["signature"])
        signing_key.verify_key.verify(expected, signature)  # raises if it does not verify
        assert signing_key.sign(expected).signature == signature  # Ed25519 is deterministic


def test_transaction_vectors() -> None:
    for entry in load("transactions.json")["transactions"]:
        fields = untyped(entry["fields"])
        unsigned = codec.encode(fields)
        assert unsigned.hex() == entry["unsigned_hex"]
        tx_hash = tagged(b"pasar/tx", unsigned)
        assert tx_hash.hex() == entry["tx_hash"]
        signing_message = message(b"pasar/tx", fields[2], tx_hash)
        assert signing_message.hex() == entry["signing_message"]
        signature = bytes.fromhex(entry["signature"])
        nacl.signing.VerifyKey(fields[3]).verify(signing_message, signature)
        signed_bytes = codec.encode([2, 1, fields, signature])
        assert signed_bytes.hex() == entry["signed_hex"]
        stx = SignedTransaction.decode(signed_bytes)
        assert stx.hash == tx_hash and stx.verify_signature()


def test_envelope_vectors() -> None:
    vectors = load("envelopes.json")
    unsigned = untyped(vectors["unsigned"])
    tx_hash = tagged(b"pasar/tx", codec.encode(unsigned))
    assert tx_hash.hex() == vectors["tx_hash"]
    signing_message = message(b"pasar/tx", vectors["chain_id"], tx_hash)
    seeds = {
        bytes(nacl.signing.SigningKey(bytes.fromhex(s)).verify_key): bytes.fromhex(s)
        for s in vectors["signer_seeds"].values()
    }
    for entry in vectors["valid"]:
        signers = sorted(bytes.fromhex(signer) for signer in entry["signers"])
        pairs = [
            [signer, nacl.signing.SigningKey(seeds[signer]).sign(signing_message).signature]
            for signer in signers
        ]
        if entry["version"] == 1:
            assert signers == [unsigned[3]]
            expected = codec.encode([2, 1, unsigned, pairs[0][1]])
        else:
            expected = codec.encode([2, 2, unsigned, pairs])
        assert expected.hex() == entry["signed_hex"]
        stx = SignedTransaction.decode(expected)
        assert stx.hash == tx_hash and stx.verify_signature()
    for case in vectors["rejected"]:
        with pytest.raises(CodecError) as caught:
            SignedTransaction.decode(bytes.fromhex(case["hex"]))
        assert caught.value.code == case["code"], case["why"]


def test_authorization_vectors() -> None:
    vectors = load("authorization.json")
    policy = untyped(vectors["policy"])
    transactions = [
        SignedTransaction.decode(bytes.fromhex(case["signed_hex"])) for case in vectors["cases"]
    ]
    assert all(stx.verify_signature() for stx in transactions)
    outcomes = authorization_outcomes(policy, transactions, vectors["timestamp_ms"])
    assert [code for code, _ in outcomes] == [case["code"] for case in vectors["cases"]]


def merkle_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 shape, written out independently of ledger.merkle."""
    if not leaves:
        return bytes(32)
    if len(leaves) == 1:
        return tagged(b"pasar/merkle/leaf", leaves[0])
    split = 1
    while split * 2 < len(leaves):
        split *= 2
    return tagged(b"pasar/merkle/node", merkle_root(leaves[:split]) + merkle_root(leaves[split:]))


def test_merkle_vectors() -> None:
    for tree in load("merkle.json")["trees"]:
        leaves = [bytes.fromhex(leaf) for leaf in tree["leaves"]]
        root = bytes.fromhex(tree["root"])
        assert merkle_root(leaves) == root
        for index, proof in enumerate(tree["proofs"]):
            siblings = [bytes.fromhex(sibling) for sibling in proof]
            assert verify_proof(root, leaves[index], index, len(leaves), siblings)


def audit_path_root(leaf: bytes, index: int, count: int, siblings: list[bytes]) -> bytes | None:
    """RFC 9162 style: the path shape follows from index and count alone."""
    if not 0 <= index < count:
        return None
    sides = []
    while count > 1:
        split = 1
        while split * 2 < count:
            split *= 2
        if index < split:
            sides.append("right")
            count = split
        else:
            sides.append("left")
            index, count = index - split, count - split
    if len(sides) != len(siblings):
        return None
    node = tagged(b"pasar/merkle/leaf", leaf)
    for side, sibling in zip(reversed(sides), siblings, strict=True):
        pair = node + sibling if side == "right" else sibling + node
        node = tagged(b"pasar/merkle/node", pair)
    return node


def check_inclusion(case: dict[str, Any]) -> bool:
    """Decode an InclusionProof and check it as docs/protocol.md §5 says."""
    try:
        fields = codec.decode(bytes.fromhex(case["proof_hex"]))
    except CodecError:
        return False
    if not isinstance(fields, list) or len(fields) != 5 or fields[:2] != [30, 1]:
        return False
    _, _, index, count, siblings = fields
    if type(index) is not int or type(count) is not int or count != case["committed_count"]:
        return False
    if not all(isinstance(s, bytes) and len(s) == 32 for s in siblings):
        return False
    root = audit_path_root(bytes.fromhex(case["leaf"]), index, count, siblings)
    return root is not None and root.hex() == case["root"]


def test_inclusion_proof_vectors() -> None:
    vectors = load("merkle.json")
    for case in vectors["proof_objects"]:
        assert check_inclusion(case)
        proof = InclusionProof.from_list(codec.decode(bytes.fromhex(case["proof_hex"])))
        leaf, root = bytes.fromhex(case["leaf"]), bytes.fromhex(case["root"])
        assert proof.verify(root, leaf, case["committed_count"])
    for case in vectors["rejected"]:
        assert not check_inclusion(case), case["why"]
        try:
            proof = InclusionProof.from_list(codec.decode(bytes.fromhex(case["proof_hex"])))
        except CodecError:
            continue
        leaf, root = bytes.fromhex(case["leaf"]), bytes.fromhex(case["root"])
        assert not proof.verify(root, leaf, case["committed_count"]), case["why"]


def test_block_vectors() -> None:
    vectors = load("blocks.json")
    header_bytes = codec.encode(untyped(vectors["header"]["fields"]))
    assert header_bytes.hex() == vectors["header"]["hex"]
    assert tagged(b"pasar/block", header_bytes).hex() == vectors["header"]["block_hash"]
    block = Block.decode(bytes.fromhex(vectors["block_hex"]))
    assert block.hash.hex() == vectors["header"]["block_hash"]
    validators = [bytes.fromhex(v) for v in vectors["validators"]]
    assert (
        tagged(b"pasar/validators", codec.encode(validators)).hex()
        == (vectors["validator_set_hash"])
    )
    tx_hashes = [bytes.fromhex(h) for h in vectors["tx_hashes"]]
    assert [stx.hash for stx in block.transactions] == tx_hashes
    assert merkle_root(tx_hashes).hex() == vectors["tx_root"] == block.header.tx_root.hex()
    receipts = vectors["receipts"]
    leaves = [bytes.fromhex(r) for r in receipts["receipts_hex"]]
    leaves.append(bytes.fromhex(receipts["end_block_receipt_hex"]))
    assert merkle_root(leaves).hex() == receipts["root"] == block.header.receipts_root.hex()
    assert block.header.tx_count == len(tx_hashes)
    assert block.header.receipts_count == len(leaves)
    for case in vectors["rejected_headers"]:
        header = BlockHeader.decode(bytes.fromhex(case["header_hex"]))
        broken = {
            "bad_tx_count": header.tx_count != len(tx_hashes),
            "bad_tx_root": header.tx_root != block.header.tx_root,
            "bad_receipts_count": header.receipts_count != len(leaves),
            "bad_receipts_root": header.receipts_root.hex() != receipts["root"],
        }
        assert [code for code, bad in broken.items() if bad] == [case["code"]]
    state = vectors["state"]
    entries = [(k, v) for k, v in untyped(state["write_set"]) if v is not None]
    assert state_root_of(entries).hex() == state["state_root"] == block.header.state_root.hex()


def nibble(digest: bytes, index: int) -> int:
    return digest[index // 2] >> 4 if index % 2 == 0 else digest[index // 2] & 15


def node16(bitmap: int, children: list[bytes]) -> bytes:
    return tagged(b"pasar/state/node16", bitmap.to_bytes(2, "big") + b"".join(children))


def smt_root(leaves: list[tuple[bytes, bytes]], depth: int = 0) -> bytes:
    """Radix-16 sparse Merkle tree over (key_hash, value_hash), one leaf floats up alone."""
    if not leaves:
        return bytes(32)
    if len(leaves) == 1:
        return tagged(b"pasar/state/leaf", leaves[0][0] + leaves[0][1])
    groups = [[leaf for leaf in leaves if nibble(leaf[0], depth) == n] for n in range(16)]
    bitmap = sum(1 << n for n, group in enumerate(groups) if group)
    return node16(bitmap, [smt_root(group, depth + 1) for group in groups if group])


def state_root_of(entries: list[tuple[bytes, bytes]]) -> bytes:
    return smt_root(
        [(tagged(b"pasar/state/key", k), tagged(b"pasar/state/value", v)) for k, v in entries]
    )


def is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == 32


def check_state_proof(root: bytes, raw: bytes) -> tuple[bytes, bytes | None] | None:
    """(key, value or None for absence) if the proof holds under `root`, else None."""
    try:
        fields = codec.decode(raw)
    except CodecError:
        return None
    if not isinstance(fields, list) or len(fields) != 6 or fields[:2] != [31, 2]:
        return None
    _, _, key, value, leaf, levels = fields
    if not isinstance(key, bytes) or not (value is None or isinstance(value, bytes)):
        return None
    if not isinstance(levels, list) or len(levels) > 64:
        return None
    for level in levels:
        if not (isinstance(level, list) and len(level) == 2 and isinstance(level[1], list)):
            return None
        bitmap, siblings = level
        if type(bitmap) is not int or not 1 <= bitmap <= 0xFFFF:
            return None
        if len(siblings) > 15 or not all(is_hash(s) for s in siblings):
            return None
    if leaf is not None and not (
        isinstance(leaf, list) and len(leaf) == 2 and all(is_hash(h) for h in leaf)
    ):
        return None
    digest = tagged(b"pasar/state/key", key)
    depth = len(levels)
    if value is not None:
        if leaf != [digest, tagged(b"pasar/state/value", value)]:
            return None
    elif leaf is not None and (
        leaf[0] == digest or any(nibble(leaf[0], i) != nibble(digest, i) for i in range(depth))
    ):
        return None
    node = None if leaf is None else tagged(b"pasar/state/leaf", leaf[0] + leaf[1])
    for index in reversed(range(depth)):
        bitmap, siblings = levels[index]
        ours = nibble(digest, index)
        on_path = node is not None
        if bool(bitmap >> ours & 1) != on_path:
            return None  # the path's child must be in the bitmap exactly when it is not empty
        count = bin(bitmap).count("1")
        if len(siblings) != count - on_path:
            return None
        if count == 1 and on_path and index == depth - 1:
            return None  # a lone leaf is never a node's only child: it floats up
        rest = iter(siblings)
        children = [node if n == ours else next(rest) for n in range(16) if bitmap >> n & 1]
        node = node16(bitmap, children)  # type: ignore[arg-type]
    if node is None:
        node = bytes(32)
    return (key, value) if node == root else None


def test_state_proof_vectors() -> None:
    vectors = load("state_proofs.json")
    for item in vectors["hashing"]:
        key_digest = tagged(b"pasar/state/key", bytes.fromhex(item["key"]))
        value_digest = tagged(b"pasar/state/value", bytes.fromhex(item["value"]))
        assert (key_digest.hex(), value_digest.hex()) == (item["key_hash"], item["value_hash"])
        assert tagged(b"pasar/state/leaf", key_digest + value_digest).hex() == item["leaf_hash"]
    for tree in vectors["trees"]:
        entries = [(bytes.fromhex(k), bytes.fromhex(v)) for k, v in tree["entries"]]
        root = bytes.fromhex(tree["root"])
        assert state_root_of(entries) == root
        for case in tree["proofs"]:
            raw = bytes.fromhex(case["proof_hex"])
            value = None if case["value"] is None else bytes.fromhex(case["value"])
            assert check_state_proof(root, raw) == (bytes.fromhex(case["key"]), value)
            assert StateProof.decode(raw).verify(root)
    for case in vectors["rejected"]:
        root, raw = bytes.fromhex(case["root"]), bytes.fromhex(case["proof_hex"])
        assert check_state_proof(root, raw) is None, case["why"]
        try:
            proof = StateProof.decode(raw)
        except CodecError:
            continue
        assert not proof.verify(root), case["why"]


def test_certificate_vectors() -> None:
    vectors = load("certificates.json")
    block_hash = bytes.fromhex(vectors["block_hash"])
    digest = tagged(b"pasar/commit", codec.encode([vectors["height"], vectors["view"], block_hash]))
    assert digest.hex() == vectors["vote_digest"]
    vote_message = message(b"pasar/commit", vectors["chain_id"], digest)
    assert vote_message.hex() == vectors["vote_signing_message"]
    for item in vectors["signatures"]:
        verify_key = nacl.signing.VerifyKey(bytes.fromhex(item["validator"]))
        verify_key.verify(vote_message, bytes.fromhex(item["signature"]))
    certificate_bytes = bytes.fromhex(vectors["certificate_hex"])
    assert tagged(b"pasar/certificate", certificate_bytes).hex() == vectors["certificate_hash"]
    certificate = CommitCertificate.decode(certificate_bytes)
    validators = [
        bytes(nacl.signing.SigningKey(bytes.fromhex(seed)).verify_key)
        for seed in vectors["validator_seeds"]
    ]
    assert certificate.verify(vectors["chain_id"], validators)
    assert not certificate.verify("another-chain", validators)
    block = Block.decode(bytes.fromhex(vectors["block_with_certificate_hex"]))
    assert block.last_certificate == certificate and block.hash == block_hash


def test_bundle_vectors() -> None:
    vectors = load("bundles.json")
    genesis = Genesis.decode(bytes.fromhex(vectors["genesis_hex"]))
    anchor = TrustAnchor(genesis.chain_id, genesis.validator_keys)
    assert [v.hex() for v in anchor.validators] == vectors["anchor"]["validators"]
    for name in ("tx_bundle", "tx_bundle_after_validator_change", "tx_bundle_skipping"):
        bundle = decode_bundle(bytes.fromhex(vectors[name]["hex"]))
        assert isinstance(bundle, TxBundle)
        verified = verify_tx_bundle(bundle, anchor)
        expected = vectors[name]["expected"]
        assert (verified.height, verified.index) == (expected["height"], expected["index"])
        assert verified.tx_hash.hex() == expected["tx_hash"]
        assert (verified.receipt.ok, verified.receipt.code) == (expected["ok"], expected["code"])
    crossing = vectors["tx_bundle_after_validator_change"]
    bundle = decode_bundle(bytes.fromhex(crossing["hex"]))
    assert [change.header.height for change in bundle.changes] == [crossing["change_height"]]
    skipping = vectors["tx_bundle_skipping"]
    bundle = decode_bundle(bytes.fromhex(skipping["hex"]))
    assert [(type(step).__name__, step.header.height) for step in bundle.changes] == [
        ("ValidatorSkip", skipping["skip_height"])
    ]
    state = decode_bundle(bytes.fromhex(vectors["state_bundle"]["hex"]))
    assert isinstance(state, StateBundle)
    proofs = verify_state_bundle(state, anchor)
    assert [
        {"key": p.key.hex(), "value": None if p.value is None else p.value.hex()} for p in proofs
    ] == vectors["state_bundle"]["expected"]
    for case in vectors["rejected"]:
        with pytest.raises((BundleError, CodecError)):
            rejected = decode_bundle(bytes.fromhex(case["hex"]))
            if isinstance(rejected, TxBundle):
                verify_tx_bundle(rejected, anchor)
            else:
                verify_state_bundle(rejected, anchor)
            pytest.fail(case["why"])
