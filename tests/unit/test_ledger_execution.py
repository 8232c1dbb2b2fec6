"""apply_tx / apply_block: envelope rejections, rejection atomicity, nonces, hooks, roots."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest

from ledger import codec
from ledger.errors import InvalidTransaction
from ledger.execution import (
    BLOCK_EVENTS_HASH,
    END_BLOCK_CODE,
    Application,
    BlockInfo,
    BlockResult,
    Context,
    account_nonce,
    apply_block,
    apply_tx,
    end_block_receipt,
    nonce_key,
    receipts_root,
    tx_root,
    verify_signatures,
)
from ledger.hashing import ZERO_HASH
from ledger.kv import MemoryStore
from ledger.merkle import merkle_root
from ledger.receipt import Event
from ledger.state import StateView
from ledger.state_tree import StateProof, TreeError, prove, update_tree
from ledger.tx import SignedTransaction, Transaction
from tests.ledgerkit import CHAIN_ID, key, signed

ALICE = key(1)
BOB = key(2)
INFO = BlockInfo(CHAIN_ID, 5, 10_000, key(1000).public_key)


def put_handler(ctx: Context, args: tuple[Any, ...]) -> None:
    """test.put(key, value): writes, emits, and rejects the value b"bad" after writing."""
    name, value = args
    ctx.state.put(b"t/" + name, value)
    ctx.emit("test.put", ("key", name))
    if value == b"bad":
        raise InvalidTransaction("bad_value", "value is bad")


def decode_handler(ctx: Context, args: tuple[Any, ...]) -> None:
    ctx.state.put(b"t/decoded", b"1")
    codec.expect_int(args[0], "n")


def crash_handler(ctx: Context, args: tuple[Any, ...]) -> None:
    raise RuntimeError("a bug")


def end_block_hook(ctx: Context) -> None:
    ctx.state.put(b"t/height", codec.encode(ctx.block.height))
    ctx.emit("test.end", ("height", ctx.block.height))


APP = Application(
    {"test.put": put_handler, "test.decode": decode_handler, "test.crash": crash_handler}
)
HOOKED = Application(APP.handlers, end_block_hooks=(end_block_hook,))


def run(stx: SignedTransaction, state: StateView, signature_ok: bool = True) -> Any:
    return apply_tx(APP, state, stx, INFO, signature_ok)


def test_applied_transaction_writes_emits_and_consumes_its_nonce() -> None:
    state = StateView(MemoryStore())
    receipt = run(signed(ALICE, 0, "test.put", [b"a", b"1"]), state)
    assert (receipt.ok, receipt.code, receipt.message) == (True, "ok", "")
    assert receipt.events == (Event("test.put", (("key", b"a"),)),)
    assert state.get(b"t/a") == b"1"
    assert account_nonce(state, ALICE.public_key) == 1
    assert state.get(nonce_key(ALICE.public_key)) == codec.encode(1)


@pytest.mark.parametrize(
    "stx, signature_ok, code",
    [
        (signed(ALICE, 0, "test.put", [b"a", b"1"], chain_id="other"), True, "wrong_chain"),
        (signed(ALICE, 0, "test.put", [b"a", b"1"]), False, "bad_signature"),
        (signed(ALICE, 0, "test.put", [b"a", b"1"], expiry_ms=9_999), True, "expired"),
        (signed(ALICE, 1, "test.put", [b"a", b"1"]), True, "nonce_gap"),
        (signed(ALICE, 0, "test.nothing", []), True, "unknown_method"),
    ],
)
def test_envelope_rejections_change_nothing_not_even_the_nonce(
    stx: SignedTransaction, signature_ok: bool, code: str
) -> None:
    state = StateView(MemoryStore())
    receipt = run(stx, state, signature_ok)
    assert (receipt.ok, receipt.code, receipt.events) == (False, code, ())
    assert receipt.tx_hash == stx.hash and receipt.message
    assert state.write_set() == []


def test_reused_nonce() -> None:
    state = StateView(MemoryStore())
    assert run(signed(ALICE, 0, "test.put", [b"a", b"1"]), state).ok
    receipt = run(signed(ALICE, 0, "test.put", [b"b", b"2"]), state)
    assert receipt.code == "nonce_reused" and state.get(b"t/b") is None


def test_expiry_is_inclusive_and_zero_never_expires() -> None:
    state = StateView(MemoryStore())
    assert run(signed(ALICE, 0, "test.put", [b"a", b"1"], expiry_ms=INFO.timestamp_ms), state).ok
    assert run(signed(ALICE, 1, "test.put", [b"a", b"1"], expiry_ms=0), state).ok


def test_contract_rejection_drops_writes_and_events_but_consumes_the_nonce() -> None:
    state = StateView(MemoryStore())
    receipt = run(signed(ALICE, 0, "test.put", [b"a", b"bad"]), state)
    assert (receipt.ok, receipt.code, receipt.message, receipt.events) == (
        False,
        "bad_value",
        "value is bad",
        (),
    )
    assert state.write_set() == [(nonce_key(ALICE.public_key), codec.encode(1))]


def test_codec_error_in_a_handler_is_bad_args() -> None:
    state = StateView(MemoryStore())
    receipt = run(signed(ALICE, 0, "test.decode", ["not an int"]), state)
    assert receipt.code == "bad_args" and state.get(b"t/decoded") is None
    assert account_nonce(state, ALICE.public_key) == 1


def test_any_other_exception_is_a_node_fault() -> None:
    with pytest.raises(RuntimeError):
        run(signed(ALICE, 0, "test.crash", []), StateView(MemoryStore()))


def test_apply_block_touches_no_store_and_reports_roots() -> None:
    store = MemoryStore()
    txs = [
        signed(ALICE, 0, "test.put", [b"a", b"1"]),
        signed(ALICE, 1, "test.put", [b"b", b"bad"]),
        signed(BOB, 5, "test.put", [b"c", b"1"]),
    ]
    result = apply_block(APP, store, INFO, txs, ZERO_HASH)
    assert len(store) == 0
    assert [r.code for r in result.receipts] == ["ok", "bad_value", "nonce_gap"]
    assert result.block_events == []
    assert result.tx_root == merkle_root([stx.hash for stx in txs]) == tx_root(txs)
    assert result.receipts_root == merkle_root([r.encode() for r in result.receipts])
    assert result.write_set == [
        (nonce_key(ALICE.public_key), codec.encode(2)),
        (b"t/a", b"1"),
    ]
    root, writes = update_tree(store, INFO.height, ZERO_HASH, result.write_set)
    assert (result.state_root, result.tree_writes) == (root, writes)
    proof = prove_in(result, b"t/a", b"1")
    assert proof.verify(result.state_root)


def test_a_bad_signature_in_a_block_is_rejected_and_the_rest_applies() -> None:
    good = signed(ALICE, 0, "test.put", [b"a", b"1"])
    forged = SignedTransaction.single(
        Transaction(CHAIN_ID, BOB.public_key, 0, "test.put", (b"b", b"1")), good.signatures[0][1]
    )
    result = apply_block(APP, MemoryStore(), INFO, [forged, good], ZERO_HASH)
    assert [r.code for r in result.receipts] == ["bad_signature", "ok"]


def test_verified_keys_skip_the_signature_check() -> None:
    good = signed(ALICE, 0, "test.put", [b"a", b"1"])
    unsigned = SignedTransaction.single(good.tx, bytes(64))
    assert verify_signatures([good, unsigned]) == [True, False]
    assert verify_signatures([unsigned], verified={unsigned.verification_key}) == [True]
    # Knowing the transaction (its hash) with a good signature says nothing about
    # another copy of it with a bad one: the cache is keyed by hash AND signature.
    assert good.hash == unsigned.hash
    assert verify_signatures([good, unsigned], verified={good.verification_key}) == [True, False]
    assert verify_signatures([unsigned], verified={good.hash}) == [False]


def test_executor_gives_the_same_result() -> None:
    txs = [signed(key(10 + i), 0, "test.put", [bytes([i]), b"v"]) for i in range(150)]
    txs[77] = SignedTransaction.single(txs[77].tx, bytes(64))
    plain = apply_block(APP, MemoryStore(), INFO, txs, ZERO_HASH)
    with ThreadPoolExecutor(max_workers=2) as executor:
        threaded = apply_block(APP, MemoryStore(), INFO, txs, ZERO_HASH, executor)
    assert plain == threaded
    assert plain.receipts[77].code == "bad_signature"


def test_end_block_hooks_emit_into_a_pseudo_receipt() -> None:
    result = apply_block(HOOKED, MemoryStore(), INFO, [], ZERO_HASH)
    assert result.block_events == [Event("test.end", (("height", 5),))]
    assert (b"t/height", codec.encode(5)) in result.write_set
    pseudo = end_block_receipt(result.block_events)
    assert (pseudo.tx_hash, pseudo.ok, pseudo.code) == (BLOCK_EVENTS_HASH, True, END_BLOCK_CODE)
    assert result.receipts_root == merkle_root([pseudo.encode()])
    assert receipts_root([], []) == ZERO_HASH


def prove_in(result: BlockResult, key_: bytes, value: bytes | None) -> StateProof:
    store = MemoryStore()
    store.write(result.state_batch())
    return prove(store, INFO.height, result.state_root, key_, value)


def test_empty_block_keeps_the_state_root_and_writes_its_version() -> None:
    store = MemoryStore()
    first = apply_block(
        APP, store, replace(INFO, height=1), [signed(ALICE, 0, "test.put", [b"a", b"1"])], ZERO_HASH
    )
    store.write(first.state_batch())
    result = apply_block(APP, store, replace(INFO, height=2), [], first.state_root)
    assert result.write_set == [] and result.tx_root == ZERO_HASH
    assert result.state_root == first.state_root != ZERO_HASH
    store.write(result.state_batch())
    assert prove(store, 2, result.state_root, b"t/a", b"1").verify(result.state_root)


def test_a_wrong_previous_root_is_refused() -> None:
    store = MemoryStore()
    first = apply_block(
        APP, store, replace(INFO, height=1), [signed(ALICE, 0, "test.put", [b"a", b"1"])], ZERO_HASH
    )
    store.write(first.state_batch())
    with pytest.raises(TreeError):
        apply_block(APP, store, replace(INFO, height=2), [], b"\x01" * 32)


def test_account_nonce_reads_stores_and_views() -> None:
    store = MemoryStore()
    store.write({nonce_key(ALICE.public_key): codec.encode(7)})
    assert account_nonce(store, ALICE.public_key) == 7
    assert account_nonce(StateView(store), BOB.public_key) == 0
