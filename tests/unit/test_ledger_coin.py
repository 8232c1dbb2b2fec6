"""The coin contract: create, mint, burn, transfer, genesis, and every rejection code."""

from __future__ import annotations

from typing import Any

import pytest

from contracts import coin
from contracts.amounts import MAX_AMOUNT, check_amount, checked_add
from contracts.registry import APPLICATION
from ledger import codec
from ledger.errors import CodecError, InvalidBlock, InvalidTransaction
from ledger.execution import apply_genesis
from ledger.genesis import Genesis
from ledger.kv import MemoryStore
from ledger.state import StateView
from tests.chainkit import CHAIN_ID, GENESIS_TIME_MS, Chain, event, key

ISSUER = key("issuer")
ALICE = key("alice")
BOB = key("bob")
CAP = 1_000_000


def chain_with_asset(cap: int = CAP, alice: int = 500) -> Chain:
    assets = [["IDR", "rupiah", 2, ISSUER.public_key, cap, "open"]]
    balances = [[ALICE.public_key, "IDR", alice]] if alice else []
    return Chain(app_state=[["coin", [assets, balances]]])


def supply(chain: Chain, symbol: str = "IDR") -> int:
    asset = coin.load_asset(chain.store, symbol)
    assert asset is not None
    return asset.supply


def test_create_registers_an_asset_with_the_sender_as_issuer() -> None:
    chain = Chain()
    receipt = chain.ok(ALICE, "coin.create", "GOLD", "Gold grams", 3, 10_000)
    assert coin.load_asset(chain.store, "GOLD") == coin.Asset(
        "GOLD", "Gold grams", 3, ALICE.public_key, 10_000, 0, "open"
    )
    created = event(receipt, "coin.created")
    assert created.get("symbol") == "GOLD" and created.get("issuer") == ALICE.public_key
    assert created.get("cap") == 10_000 and created.get("policy") == "open"


@pytest.mark.parametrize("symbol", ["gold", "G", "GOLDGOLDGOLDX", "1GOLD", "GO-LD", "", 5, b"GOLD"])
def test_bad_symbol(symbol: Any) -> None:
    Chain().fails("bad_symbol", ALICE, "coin.create", symbol, "name", 2, 100)


def test_asset_exists() -> None:
    chain = chain_with_asset()
    chain.fails("asset_exists", BOB, "coin.create", "IDR", "again", 2, 100)


@pytest.mark.parametrize(
    "args, code",
    [
        (("GOLD", "name", 2), "bad_args"),
        (("GOLD", "name", 2, 100, "extra"), "bad_args"),
        (("GOLD", "", 2, 100), "bad_args"),
        (("GOLD", "n" * 65, 2, 100), "bad_args"),
        (("GOLD", "name", 19, 100), "bad_args"),
        (("GOLD", "name", -1, 100), "bad_args"),
        (("GOLD", "name", True, 100), "bad_args"),
        (("GOLD", "name", 2, 0), "bad_amount"),
        (("GOLD", "name", 2, -5), "bad_amount"),
        (("GOLD", "name", 2, "100"), "bad_amount"),
        (("GOLD", "name", 2, MAX_AMOUNT + 1), "amount_overflow"),
    ],
)
def test_create_argument_rules(args: tuple[Any, ...], code: str) -> None:
    Chain().fails(code, ALICE, "coin.create", *args)


def test_mint_by_issuer_within_cap() -> None:
    chain = chain_with_asset(alice=0)
    receipt = chain.ok(ISSUER, "coin.mint", "IDR", BOB.public_key, 700)
    assert chain.balance(BOB, "IDR") == 700 and supply(chain) == 700
    minted = event(receipt, "coin.minted")
    assert (minted.get("to"), minted.get("amount")) == (BOB.public_key, 700)
    chain.ok(ISSUER, "coin.mint", "IDR", BOB.public_key, CAP - 700)  # exactly to the cap
    assert supply(chain) == CAP
    chain.fails("cap_exceeded", ISSUER, "coin.mint", "IDR", BOB.public_key, 1)


def test_mint_rejections() -> None:
    chain = chain_with_asset()
    chain.fails("not_issuer", ALICE, "coin.mint", "IDR", ALICE.public_key, 1)
    chain.fails("unknown_asset", ISSUER, "coin.mint", "USD", ALICE.public_key, 1)
    chain.fails("bad_symbol", ISSUER, "coin.mint", "usd", ALICE.public_key, 1)
    chain.fails("bad_args", ISSUER, "coin.mint", "IDR", b"short", 1)
    chain.fails("bad_args", ISSUER, "coin.mint", "IDR", ALICE.public_key)
    chain.fails("bad_amount", ISSUER, "coin.mint", "IDR", ALICE.public_key, 0)
    chain.fails("bad_amount", ISSUER, "coin.mint", "IDR", ALICE.public_key, False)
    chain.fails("amount_overflow", ISSUER, "coin.mint", "IDR", ALICE.public_key, MAX_AMOUNT + 1)
    big = chain_with_asset(cap=MAX_AMOUNT, alice=0)
    big.ok(ISSUER, "coin.mint", "IDR", ALICE.public_key, MAX_AMOUNT)
    big.fails("cap_exceeded", ISSUER, "coin.mint", "IDR", ALICE.public_key, 1)


def test_burn_from_the_issuers_own_balance() -> None:
    chain = chain_with_asset(alice=0)
    chain.ok(ISSUER, "coin.mint", "IDR", ISSUER.public_key, 100)
    receipt = chain.ok(ISSUER, "coin.burn", "IDR", 40)
    assert chain.balance(ISSUER, "IDR") == 60 and supply(chain) == 60
    burned = event(receipt, "coin.burned")
    assert (burned.get("from"), burned.get("amount")) == (ISSUER.public_key, 40)
    chain.fails("insufficient_funds", ISSUER, "coin.burn", "IDR", 61)
    chain.fails("not_issuer", ALICE, "coin.burn", "IDR", 1)
    chain.fails("unknown_asset", ISSUER, "coin.burn", "USD", 1)
    chain.fails("bad_amount", ISSUER, "coin.burn", "IDR", -1)
    chain.fails("bad_args", ISSUER, "coin.burn", "IDR")
    chain.ok(ISSUER, "coin.burn", "IDR", 60)
    assert chain.balance(ISSUER, "IDR") == 0 and supply(chain) == 0
    # An emptied balance leaves no key behind.
    assert chain.store.get(coin.balance_key(ISSUER.public_key, "IDR")) is None


def test_transfer_moves_funds_and_reports_the_memo() -> None:
    chain = chain_with_asset()
    receipt = chain.ok(ALICE, "coin.transfer", "IDR", BOB.public_key, 120, "invoice 7")
    assert (chain.balance(ALICE, "IDR"), chain.balance(BOB, "IDR")) == (380, 120)
    moved = event(receipt, "coin.transfer")
    assert (moved.get("from"), moved.get("to"), moved.get("amount")) == (
        ALICE.public_key,
        BOB.public_key,
        120,
    )
    assert moved.get("memo") == "invoice 7"
    receipt = chain.ok(ALICE, "coin.transfer", "IDR", BOB.public_key, 380)
    assert event(receipt, "coin.transfer").get("memo") == ""
    assert chain.balance(ALICE, "IDR") == 0 and supply(chain) == 500


def test_transfer_rejections() -> None:
    chain = chain_with_asset()
    chain.fails("insufficient_funds", ALICE, "coin.transfer", "IDR", BOB.public_key, 501)
    chain.fails("insufficient_funds", BOB, "coin.transfer", "IDR", ALICE.public_key, 1)
    chain.fails("self_transfer", ALICE, "coin.transfer", "IDR", ALICE.public_key, 1)
    chain.fails("unknown_asset", ALICE, "coin.transfer", "USD", BOB.public_key, 1)
    chain.fails("bad_symbol", ALICE, "coin.transfer", None, BOB.public_key, 1)
    chain.fails("bad_amount", ALICE, "coin.transfer", "IDR", BOB.public_key, 0)
    chain.fails("bad_amount", ALICE, "coin.transfer", "IDR", BOB.public_key, "5")
    chain.fails("amount_overflow", ALICE, "coin.transfer", "IDR", BOB.public_key, 1 << 63)
    chain.fails("bad_args", ALICE, "coin.transfer", "IDR", BOB.public_key.hex(), 1)
    chain.fails("bad_args", ALICE, "coin.transfer", "IDR", BOB.public_key, 1, "m" * 257)
    chain.fails("bad_args", ALICE, "coin.transfer", "IDR", BOB.public_key, 1, b"memo")
    chain.fails("bad_args", ALICE, "coin.transfer", "IDR", BOB.public_key, 1, "", "extra")
    chain.fails("bad_args", ALICE, "coin.transfer", "IDR")
    assert chain.balance(ALICE, "IDR") == 500


def test_balances_of_lists_every_nonzero_balance() -> None:
    chain = chain_with_asset()
    chain.ok(ISSUER, "coin.mint", "IDR", BOB.public_key, 9)
    chain.ok(BOB, "coin.create", "GOLD", "gold", 0, 10)
    chain.ok(BOB, "coin.mint", "GOLD", BOB.public_key, 3)
    assert coin.balances_of(chain.store, BOB.public_key) == [("GOLD", 3), ("IDR", 9)]
    assert coin.balances_of(chain.store, key("nobody").public_key) == []


def test_move_credit_debit_helpers() -> None:
    state = StateView(MemoryStore())
    coin.credit(state, ALICE.public_key, "IDR", 10)
    coin.move(state, "IDR", ALICE.public_key, BOB.public_key, 0)  # no-op
    coin.move(state, "IDR", ALICE.public_key, ALICE.public_key, 10)  # no-op
    coin.move(state, "IDR", ALICE.public_key, BOB.public_key, 4)
    assert coin.balance(state, ALICE.public_key, "IDR") == 6
    assert coin.balance(state, BOB.public_key, "IDR") == 4
    with pytest.raises(InvalidTransaction) as caught:
        coin.debit(state, BOB.public_key, "IDR", 5)
    assert caught.value.code == "insufficient_funds"
    coin.credit(state, BOB.public_key, "IDR", MAX_AMOUNT - 4)
    with pytest.raises(InvalidTransaction) as caught:
        coin.credit(state, BOB.public_key, "IDR", 1)
    assert caught.value.code == "amount_overflow"


def test_create_asset_policy_rule() -> None:
    state = StateView(MemoryStore())
    with pytest.raises(InvalidTransaction) as caught:
        coin.create_asset(state, "GOLD", "gold", 2, 10, ALICE.public_key, "secret")
    assert caught.value.code == "bad_policy"
    asset = coin.create_asset(state, "GOLD", "gold", 2, 10, ALICE.public_key, "platform")
    assert asset.policy == "platform" and asset.supply == 0


def test_amount_helpers() -> None:
    assert check_amount(1) == 1 and check_amount(0, allow_zero=True) == 0
    assert check_amount(MAX_AMOUNT) == MAX_AMOUNT
    assert checked_add(MAX_AMOUNT - 1, 1) == MAX_AMOUNT
    for value, code in [(0, "bad_amount"), (True, "bad_amount"), (1.0, "bad_amount")]:
        with pytest.raises(InvalidTransaction) as caught:
            check_amount(value)
        assert caught.value.code == code
    with pytest.raises(InvalidTransaction) as caught:
        checked_add(MAX_AMOUNT, 1)
    assert caught.value.code == "amount_overflow"


def genesis_with(app_state: Any) -> Genesis:
    return Genesis(CHAIN_ID, GENESIS_TIME_MS, ((ISSUER.public_key, "v0"),), app_state)


def test_genesis_balances_count_as_minted_supply() -> None:
    chain = chain_with_asset(alice=500)
    assert supply(chain) == 500 and chain.balance(ALICE, "IDR") == 500


@pytest.mark.parametrize(
    "app_state",
    [
        "not a list",
        [["coin", "not a pair"]],
        [["coin", [[["IDR", "r", 2, ISSUER.public_key, 10]], []]]],  # missing policy
        [
            [
                "coin",
                [[["IDR", "r", 2, ISSUER.public_key, 10, "open"]], [[ALICE.public_key, "IDR", 11]]],
            ]
        ],
        [["coin", [[], [[ALICE.public_key, "IDR", 1]]]]],  # unknown asset
        [["coin", [[["idr", "r", 2, ISSUER.public_key, 10, "open"]], []]]],
    ],
)
def test_bad_genesis_sections_are_refused(app_state: Any) -> None:
    with pytest.raises(InvalidBlock) as caught:
        apply_genesis(APPLICATION, MemoryStore(), genesis_with(app_state))
    assert caught.value.code == "bad_genesis"


def test_genesis_without_a_coin_section_creates_nothing() -> None:
    result = apply_genesis(APPLICATION, MemoryStore(), genesis_with([["other", 1]]))
    assert all(not k.startswith(coin.ASSET_PREFIX) for k, _ in result.write_set)


def test_a_genesis_larger_than_the_default_decode_limit_round_trips_and_applies() -> None:
    # A platform moving 30,000 customers' balances onto the chain (over 1 MiB encoded):
    # stored, read back (chainstore decodes it) and applied like a small one.
    holders = [bytes([i >> 8, i & 0xFF]) + bytes(30) for i in range(30_000)]
    app_state = [
        [
            "coin",
            [
                [["IDR", "r", 2, ISSUER.public_key, 10**15, "open"]],
                [[holder, "IDR", 1_000 + index] for index, holder in enumerate(holders)],
            ],
        ]
    ]
    genesis = genesis_with(app_state)
    encoded = genesis.encode()
    assert len(encoded) > codec.MAX_DECODE_BYTES
    assert Genesis.decode(encoded) == genesis
    with pytest.raises(CodecError):  # other values keep the default limit
        codec.decode(encoded)
    result = apply_genesis(APPLICATION, MemoryStore(), Genesis.decode(encoded))
    balances = [k for k, _ in result.write_set if k.startswith(coin.BALANCE_PREFIX)]
    assert len(balances) == 30_000
