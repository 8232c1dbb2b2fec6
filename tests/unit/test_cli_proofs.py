"""`pasar verify FILE`: offline checks of a bundle against genesis or a trusted set."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cli.main import cli
from ledger.genesis import Genesis
from ledger.keys import address_to_text
from ledger.kv import MemoryStore
from ledger.prover import state_bundle, tx_bundle
from node.home import write_genesis
from tests.ledgerkit import VALIDATOR_KEYS, Chain, key, make_genesis, signed

ALICE, BOB = key(1), key(2)
VECTORS = Path(__file__).resolve().parents[1] / "vectors"


def chain_with_payment(tmp_path: Path) -> tuple[Chain, bytes, Path]:
    genesis = make_genesis([(ALICE.public_key, "IDR", 1_000)], [("IDR", ALICE.public_key, 10**9)])
    chain = Chain(MemoryStore(), genesis)
    stx = signed(ALICE, 0, "coin.transfer", ["IDR", BOB.public_key, 5])
    chain.commit([stx])
    chain.commit([])
    genesis_file = tmp_path / "genesis.json"
    write_genesis(genesis_file, genesis)
    return chain, stx.hash, genesis_file


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_verify_accepts_a_real_bundle_raw_or_hex(tmp_path: Path) -> None:
    chain, tx_hash, genesis = chain_with_payment(tmp_path)
    raw = tx_bundle(chain.store, tx_hash).encode()
    (tmp_path / "b.bin").write_bytes(raw)
    (tmp_path / "b.hex").write_text(raw.hex() + "\n")
    for name in ("b.bin", "b.hex"):
        code, out, _ = run("verify", str(tmp_path / name), "--genesis", str(genesis))
        assert code == 0
        assert out == f"ok: tx {tx_hash.hex()} is in block 1 at index 0, applied\n"
    trusted = ",".join(address_to_text(k.public_key) for k in VALIDATOR_KEYS)
    code, out, _ = run(
        "verify", str(tmp_path / "b.bin"), "--validators", trusted, "--chain-id", "pasar-test"
    )
    assert code == 0 and out.startswith("ok: tx")
    state = state_bundle(chain.store, [b"acct/nonce/" + ALICE.public_key, b"none"]).encode()
    (tmp_path / "s.bin").write_bytes(state)
    code, out, _ = run("verify", str(tmp_path / "s.bin"), "--genesis", str(genesis))
    assert (code, out) == (0, "ok: 2 state keys at block 2 (1 present, 1 absent)\n")


def test_verify_refuses_tampering_and_wrong_trust_in_one_line(tmp_path: Path) -> None:
    chain, tx_hash, genesis = chain_with_payment(tmp_path)
    raw = bytearray(tx_bundle(chain.store, tx_hash).encode())
    raw[-40] ^= 0x04  # inside the certificate's last signature
    (tmp_path / "bad.bin").write_bytes(bytes(raw))
    code, out, err = run("verify", str(tmp_path / "bad.bin"), "--genesis", str(genesis))
    assert code == 1 and out == ""
    assert err.startswith("Error: refused: ") and err.count("\n") == 1
    other = ",".join(address_to_text(k.public_key) for k in VALIDATOR_KEYS[:3])
    good = tmp_path / "good.bin"
    good.write_bytes(tx_bundle(chain.store, tx_hash).encode())
    code, _, err = run("verify", str(good), "--validators", other, "--chain-id", "pasar-test")
    assert code == 1 and "another validator set" in err
    (tmp_path / "junk.bin").write_bytes(b"\x00junk")
    code, _, err = run("verify", str(tmp_path / "junk.bin"), "--genesis", str(genesis))
    assert code == 1 and "malformed bundle" in err and err.count("\n") == 1


def test_verify_usage_errors_are_one_line(tmp_path: Path) -> None:
    _, _, genesis = chain_with_payment(tmp_path)
    cases = [
        ("verify", str(tmp_path / "missing.bin"), "--genesis", str(genesis)),
        ("verify", str(genesis)),
        ("verify", str(genesis), "--genesis", str(tmp_path / "nope.json")),
        ("verify", str(genesis), "--validators", "pasar1bad", "--chain-id", "x"),
    ]
    for args in cases:
        code, _, err = run(*args)
        assert code != 0 and err.count("\n") == 1 and "Traceback" not in err, args


def test_verify_follows_a_skip_and_refuses_one_too_few_trusted_signed(tmp_path: Path) -> None:
    vectors = json.loads((VECTORS / "bundles.json").read_text())
    genesis = tmp_path / "genesis.json"
    write_genesis(genesis, Genesis.decode(bytes.fromhex(vectors["genesis_hex"])))
    skipping = vectors["tx_bundle_skipping"]
    (tmp_path / "skip.hex").write_text(skipping["hex"])
    code, out, _ = run("verify", str(tmp_path / "skip.hex"), "--genesis", str(genesis))
    expected = skipping["expected"]
    assert (code, out) == (
        0,
        f"ok: tx {expected['tx_hash']} is in block {expected['height']} at index 0, applied\n",
    )
    (taken,) = [case for case in vectors["rejected"] if "one of four trusted" in case["why"]]
    (tmp_path / "taken.hex").write_text(taken["hex"])
    code, _, err = run("verify", str(tmp_path / "taken.hex"), "--genesis", str(genesis))
    assert code == 1 and "skipping needs more than a third" in err and err.count("\n") == 1
