"""Run the JavaScript library's tests (web/tests, node's own test runner) under pytest.

The browser pages, the JS verifier and the merchant SDK share web/lib; its tests
check every protocol vector in tests/vectors/ the way the Python side does. They
need Node.js 20 or newer: a missing `node` is a failure, not a skip, so the suite
cannot pass without having run them. A second test feeds the same random values,
mutated encodings and byte-flipped objects to both implementations and requires
the same answer for every input.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

from ledger import codec
from ledger.block import MAX_BLOCK_BYTES, BlockHeader
from ledger.errors import CodecError
from ledger.genesis import Genesis
from ledger.keys import PrivateKey
from ledger.merkle import InclusionProof
from ledger.receipt import Event, Receipt
from ledger.tx import SignedTransaction, Transaction
from tests.ledgerkit import make_genesis

ROOT = Path(__file__).resolve().parents[2]


def test_js_library_passes_its_node_tests() -> None:
    node = shutil.which("node")
    assert node is not None, "Node.js 20 or newer is needed to test web/lib (node --test)"
    result = subprocess.run(
        [node, "--test", "web/tests/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert "# fail 0" in result.stdout and "# pass 0" not in result.stdout


def _run_oracle(tmp_path: Path, cases: dict[str, list[str]]) -> dict[str, list[dict[str, Any]]]:
    node = shutil.which("node")
    assert node is not None, "Node.js 20 or newer is needed to test web/lib (node --test)"
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(cases), encoding="utf-8")
    result = subprocess.run(
        [node, "web/tests/oracle.js", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    answers: dict[str, list[dict[str, Any]]] = json.loads(result.stdout)
    return answers


INT_EDGES = [0, 1, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**53, 2**53 + 1]
INT_EDGES += [2**63 - 1, 2**63, 2**64 - 1, -1, -32, -33, -128, -129, -32768, -32769]
INT_EDGES += [-(2**31), -(2**31) - 1, -(2**53) - 1, -(2**63)]


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.choice(["int", "int", "bytes", "str", "bool", "nil", "list", "list"])
    if kind == "int":
        return rng.choice(INT_EDGES) if rng.random() < 0.5 else rng.randint(-(2**63), 2**64 - 1)
    if kind == "bytes":
        return rng.randbytes(rng.choice([0, 1, 31, 32, 33, 255, 256, 300]))
    if kind == "str":
        alphabet = ["a", "é", "€", "\U0001f600", "\x00", "\ufeff", "7"]
        return "".join(rng.choice(alphabet) for _ in range(rng.choice([0, 3, 31, 32, 40])))
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "nil":
        return None
    if depth >= 3:
        return []
    return [_random_value(rng, depth + 1) for _ in range(rng.choice([0, 1, 2, 15, 16, 17]))]


def _mutants(rng: random.Random, data: bytes, count: int) -> list[bytes]:
    out = []
    for _ in range(count):
        at = rng.randrange(len(data))
        how = rng.choice(["flip", "delete", "insert", "truncate"])
        if how == "flip":
            out.append(data[:at] + bytes([rng.randrange(256)]) + data[at + 1 :])
        elif how == "delete":
            out.append(data[:at] + data[at + 1 :])
        elif how == "insert":
            out.append(data[:at] + bytes([rng.randrange(256)]) + data[at:])
        else:
            out.append(data[:at])
    return [m for m in out if m]


def _every_byte_flipped(data: bytes) -> list[bytes]:
    return [data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :] for i in range(len(data))]


REFUSED = object()


def _python(decoder: Any, data: bytes) -> Any:
    try:
        return decoder(data)
    except CodecError:
        return REFUSED


def _inclusion(data: bytes) -> InclusionProof:
    return InclusionProof.from_list(codec.decode(data))


def _header(data: bytes) -> BlockHeader:
    return BlockHeader.from_list(codec.decode(data, MAX_BLOCK_BYTES))


def _nested(depth: int) -> bytes:
    return b"\x91" * depth + b"\x90"


def test_js_and_python_accept_and_refuse_the_same_bytes(tmp_path: Path) -> None:
    rng = random.Random(20261129)
    values = [_random_value(rng) for _ in range(300)]
    encodings = [codec.encode(value) for value in values]
    inputs = list(encodings) + [_nested(31), _nested(32), _nested(33), bytes.fromhex("ddffffffff")]
    for data in encodings:
        inputs += _mutants(rng, data, 4)

    key = PrivateKey.from_seed(bytes(range(32)))
    phone, laptop = PrivateKey.from_seed(bytes(32)), PrivateKey.from_seed(bytes([9]) * 32)
    tx = Transaction("pasar-x", key.public_key, 7, "coin.transfer", ("IDR", key.public_key, 2**63))
    single, multi = tx.sign(key).encode(), tx.sign(phone, laptop).encode()
    # A small-order key with an R = identity, S = 0 signature: libsodium refuses it,
    # plain WebCrypto accepts it for any message.
    weak = Transaction("pasar-x", bytes([1]) + bytes(31), 0, "coin.transfer", ())
    forged = codec.encode([2, 1, weak.to_list(), bytes([1]) + bytes(63)])
    txs = [single, multi, forged] + _every_byte_flipped(single) + _every_byte_flipped(multi)

    event = Event("coin.transfer", (("symbol", "IDR"), ("amount", 2**64 - 1), ("to", bytes(32))))
    receipt = Receipt(bytes(range(32)), True, "ok", "", (event,)).encode()
    header = bytes.fromhex(
        json.loads((ROOT / "tests/vectors/blocks.json").read_text())["header"]["hex"]
    )
    genesis = make_genesis([(key.public_key, "IDR", 5)], [("IDR", key.public_key, 10**12)]).encode()

    proof_case = json.loads((ROOT / "tests/vectors/merkle.json").read_text(encoding="utf-8"))[
        "proof_objects"
    ][-1]
    root, leaf = bytes.fromhex(proof_case["root"]), bytes.fromhex(proof_case["leaf"])
    proofs = [bytes.fromhex(proof_case["proof_hex"])]
    proofs += _every_byte_flipped(proofs[0])
    inclusion = [
        {"proof_hex": p.hex(), "root": root.hex(), "leaf": leaf.hex(), "count": count}
        for p in proofs
        for count in (proof_case["committed_count"], proof_case["committed_count"] + 1)
    ]

    cases = {
        "decode": [data.hex() for data in inputs],
        "signed_txs": [data.hex() for data in txs],
        "receipts": [data.hex() for data in [receipt, *_every_byte_flipped(receipt)]],
        "headers": [data.hex() for data in [header, *_every_byte_flipped(header)]],
        "genesis": [data.hex() for data in [genesis, *_every_byte_flipped(genesis)]],
        "inclusion": inclusion,
    }
    answers = _run_oracle(tmp_path, cases)

    accepted = 0
    for data, answer in zip(inputs, answers["decode"], strict=True):
        ours = _python(codec.decode, data)
        assert answer["ok"] == (ours is not REFUSED), data.hex()
        if answer["ok"]:
            accepted += 1
            assert answer["hex"] == data.hex()
    assert accepted > len(encodings)  # some mutants are themselves canonical values
    for data, answer in zip(txs, answers["signed_txs"], strict=True):
        stx = _python(SignedTransaction.decode, data)
        assert answer["ok"] == (stx is not REFUSED), data.hex()
        if stx is not REFUSED:
            assert answer["hash"] == stx.hash.hex()
            assert answer["valid"] == stx.verify_signature(), data.hex()
            assert answer["hex"] == data.hex()
    assert answers["signed_txs"][0]["valid"] and answers["signed_txs"][1]["valid"]
    assert answers["signed_txs"][2] == {
        "ok": True,
        "hash": weak.hash.hex(),
        "valid": False,
        "hex": forged.hex(),
    }
    for data, answer in zip(cases["receipts"], answers["receipts"], strict=True):
        assert answer["ok"] == (_python(Receipt.decode, bytes.fromhex(data)) is not REFUSED), data
    for data, answer in zip(cases["headers"], answers["headers"], strict=True):
        parsed = _python(_header, bytes.fromhex(data))
        assert answer["ok"] == (parsed is not REFUSED), data
        if parsed is not REFUSED:
            assert answer["hash"] == parsed.hash.hex()
    for data, answer in zip(cases["genesis"], answers["genesis"], strict=True):
        parsed = _python(Genesis.decode, bytes.fromhex(data))
        assert answer["ok"] == (parsed is not REFUSED), data
        if parsed is not REFUSED:
            assert answer["hash"] == parsed.hash.hex()
    assert answers["inclusion"][0] == {"ok": True, "valid": True}
    for item, answer in zip(inclusion, answers["inclusion"], strict=True):
        proof = _python(_inclusion, bytes.fromhex(item["proof_hex"]))
        assert answer["ok"] == (proof is not REFUSED), item
        if proof is not REFUSED:
            assert answer["valid"] == proof.verify(root, leaf, item["count"]), item
