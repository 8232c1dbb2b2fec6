"""Properties of execution: determinism across stores, supply conservation, view merging."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import coin
from contracts.registry import APPLICATION
from ledger import codec
from ledger.execution import BlockInfo, apply_block, apply_genesis
from ledger.kv import MemoryStore
from ledger.state import StateView
from ledger.tx import SignedTransaction
from tests.ledgerkit import CHAIN_ID, GENESIS_TIME_MS, key, make_genesis, signed

ACCOUNTS = [key(i) for i in range(1, 5)]
SYMBOLS = ["AAA", "BBB", "CCC"]  # CCC is created by transactions, not genesis
GENESIS = make_genesis(
    balances=[(ACCOUNTS[0].public_key, "AAA", 1_000), (ACCOUNTS[1].public_key, "BBB", 50)],
    assets=[("AAA", ACCOUNTS[0].public_key, 10_000), ("BBB", ACCOUNTS[1].public_key, 2**62)],
)

amounts = st.one_of(
    st.integers(1, 600),
    st.integers(1, 600),
    st.integers(-3, 2_000),
    st.sampled_from([0, 2**62, 2**63 - 1, 2**63, "7"]),
)
by_issuer = st.sampled_from([True, True, True, False])
operation = st.one_of(
    st.tuples(st.just("coin.transfer"), st.sampled_from(SYMBOLS), st.integers(0, 3), amounts),
    st.tuples(
        st.just("coin.mint"), st.sampled_from(SYMBOLS), st.integers(0, 3), amounts, by_issuer
    ),
    st.tuples(st.just("coin.burn"), st.sampled_from(SYMBOLS), amounts, by_issuer),
    st.tuples(
        st.just("coin.create"), st.sampled_from(["CCC", "CCC", "AAA"]), st.integers(1, 2**62)
    ),
)
# (sender index, nonce offset: 0 = the correct nonce, else a reused or skipped one, op)
steps = st.lists(
    st.tuples(st.integers(0, 3), st.sampled_from([0] * 8 + [-1, 1]), operation),
    min_size=1,
    max_size=25,
)
ISSUER_OF = {"AAA": 0, "BBB": 1, "CCC": 2}  # CCC's issuer is whoever creates it first


def build_transactions(plan: list[tuple[int, int, tuple[Any, ...]]]) -> list[SignedTransaction]:
    nonces = [0] * len(ACCOUNTS)
    transactions = []
    for sender, offset, op in plan:
        method = op[0]
        if method == "coin.transfer":
            args: list[Any] = [op[1], ACCOUNTS[op[2]].public_key, op[3]]
        elif method == "coin.mint":
            args = [op[1], ACCOUNTS[op[2]].public_key, op[3]]
            sender = ISSUER_OF[op[1]] if op[4] else sender
        elif method == "coin.burn":
            args = [op[1], op[2]]
            sender = ISSUER_OF[op[1]] if op[3] else sender
        else:
            args = [op[1], "created", 0, op[2]]
        nonce = max(0, nonces[sender] + offset)
        transactions.append(signed(ACCOUNTS[sender], nonce, method, args))
        if nonce == nonces[sender]:
            nonces[sender] += 1  # passes the envelope checks, so the chain consumes it
    return transactions


def genesis_store() -> tuple[MemoryStore, bytes]:
    store = MemoryStore()
    result = apply_genesis(APPLICATION, store, GENESIS)
    store.write(result.state_batch())
    return store, result.state_root


INFO = BlockInfo(CHAIN_ID, 1, GENESIS_TIME_MS + 1_000, ACCOUNTS[0].public_key)


def check_supply(store: MemoryStore) -> dict[str, int]:
    """Sum of balances equals supply for every asset; every stored balance is positive."""
    totals: dict[str, int] = {}
    for key_, raw in store.iterate(coin.BALANCE_PREFIX):
        account_and_symbol = key_[len(coin.BALANCE_PREFIX) :]
        symbol = account_and_symbol[33:].decode()  # 32-byte account, "/", symbol
        amount = codec.decode(raw)
        assert isinstance(amount, int) and amount > 0
        totals[symbol] = totals.get(symbol, 0) + amount
    supplies = {}
    for key_, _ in store.iterate(coin.ASSET_PREFIX):
        asset = coin.load_asset(store, key_[len(coin.ASSET_PREFIX) :].decode())
        assert asset is not None
        assert totals.pop(asset.symbol, 0) == asset.supply <= asset.cap
        supplies[asset.symbol] = asset.supply
    assert totals == {}  # no balance of an asset that does not exist
    return supplies


@settings(max_examples=60, deadline=None)
@given(steps, st.lists(st.integers(1, 6), min_size=1, max_size=25))
def test_supply_changes_only_by_mint_and_burn(
    plan: list[tuple[int, int, tuple[Any, ...]]], block_sizes: list[int]
) -> None:
    store, root = genesis_store()
    expected = check_supply(store)
    transactions = build_transactions(plan)
    height, start = 0, 0
    while start < len(transactions):
        # The transactions go out in blocks of varying size; the invariants are
        # checked after every block.
        size = block_sizes[height % len(block_sizes)]
        block = transactions[start : start + size]
        height, start = height + 1, start + size
        info = BlockInfo(CHAIN_ID, height, GENESIS_TIME_MS + 1_000 * height, INFO.proposer)
        result = apply_block(APPLICATION, store, info, block, root)
        store.write(result.state_batch())
        root = result.state_root
        for stx, receipt in zip(block, result.receipts, strict=True):
            if not receipt.ok:
                continue
            symbol = stx.tx.args[0]
            if stx.tx.method == "coin.mint":
                expected[symbol] += stx.tx.args[2]
            elif stx.tx.method == "coin.burn":
                expected[symbol] -= stx.tx.args[1]
            elif stx.tx.method == "coin.create":
                expected[symbol] = 0
        assert check_supply(store) == expected


@settings(max_examples=40, deadline=None)
@given(steps)
def test_same_block_on_two_fresh_stores_gives_identical_results(
    plan: list[tuple[int, int, tuple[Any, ...]]],
) -> None:
    transactions = build_transactions(plan)
    first_store, first_root = genesis_store()
    second_store, second_root = genesis_store()
    assert first_root == second_root
    first = apply_block(APPLICATION, first_store, INFO, transactions, first_root)
    # Decode the block's transactions afresh on the second "node".
    received = [SignedTransaction.decode(stx.encode()) for stx in transactions]
    second = apply_block(APPLICATION, second_store, INFO, received, second_root)
    assert first == second
    first_store.write(first.state_batch())
    second_store.write(second.state_batch())
    assert list(first_store.iterate(b"")) == list(second_store.iterate(b""))


keys = st.sampled_from([b"k/" + bytes([i]) for i in range(8)] + [b"j/1", b"l/1"])
writes = st.lists(st.tuples(keys, st.one_of(st.none(), st.binary(min_size=1, max_size=3))))


@settings(max_examples=200, deadline=None)
@given(writes, writes, writes, st.booleans(), st.booleans())
def test_view_iteration_matches_a_dict_model(
    base_writes: list[tuple[bytes, bytes | None]],
    parent_writes: list[tuple[bytes, bytes | None]],
    child_writes: list[tuple[bytes, bytes | None]],
    merge: bool,
    reverse: bool,
) -> None:
    store = MemoryStore()
    model: dict[bytes, bytes] = {}
    for key_, value in base_writes:
        store.write({key_: value})
        if value is None:
            model.pop(key_, None)
        else:
            model[key_] = value
    parent = StateView(store)
    child = parent.child()
    child_model = dict(model)
    for view, operations, target in ((parent, parent_writes, model), (child, child_writes, None)):
        for key_, value in operations:
            if value is None:
                view.delete(key_)
            else:
                view.put(key_, value)
            if target is not None:
                if value is None:
                    target.pop(key_, None)
                else:
                    target[key_] = value
        if target is not None:
            child_model = dict(model)
    for key_, value in child_writes:
        if value is None:
            child_model.pop(key_, None)
        else:
            child_model[key_] = value
    if merge:
        child.merge_into_parent()
        model = child_model

    def expected(source: dict[bytes, bytes]) -> list[tuple[bytes, bytes]]:
        items = sorted((k, v) for k, v in source.items() if k.startswith(b"k/"))
        return items[::-1] if reverse else items

    assert list(parent.iterate(b"k/", reverse)) == expected(model)
    assert list(child.iterate(b"k/", reverse)) == expected(child_model)
    for key_ in {k for k, _ in base_writes + parent_writes + child_writes}:
        assert parent.get(key_) == model.get(key_)
        assert child.get(key_) == child_model.get(key_)
