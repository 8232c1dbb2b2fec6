"""The account contract: weighted keys, operation classes, scoped keys and recovery."""

from __future__ import annotations

import pytest

from contracts.account import (
    HIGH,
    LOW,
    MEDIUM,
    OPERATION_CLASSES,
    load_pending_recovery,
    load_policy,
    operation_class,
)
from contracts.registry import APPLICATION
from ledger.execution import account_nonce
from tests.accountkit import HOUR_MS, IDR, coin_state, cosign, policy
from tests.chainkit import Chain, event, key

OWNER, PHONE, LAPTOP, SPARE = key("owner"), key("phone"), key("laptop"), key("spare")
SHOP, FRIEND1, FRIEND2, BOB = key("shop"), key("friend1"), key("friend2"), key("bob")
ACCOUNT = OWNER.public_key


def two_of_three(large_amount: int = 0) -> list[object]:
    return policy([(OWNER, 1), (PHONE, 1), (LAPTOP, 1)], (1, 2, 3), large_amount)


def fresh(initial_policy: list[object] | None = None) -> Chain:
    chain = Chain(app_state=coin_state([ACCOUNT, BOB.public_key]))
    if initial_policy is not None:
        receipt = cosign(chain, ACCOUNT, [OWNER], "account.set_policy", initial_policy)
        assert receipt.ok, receipt.message
    return chain


def transfer(chain: Chain, signers: list, amount: int = 100) -> object:  # type: ignore[type-arg]
    return cosign(chain, ACCOUNT, signers, "coin.transfer", IDR, BOB.public_key, amount)


def test_the_table_covers_registered_methods_only() -> None:
    assert set(OPERATION_CLASSES) <= set(APPLICATION.handlers)
    assert operation_class("coin.transfer", (IDR, b"", 5), 0) == MEDIUM
    assert operation_class("coin.transfer", (IDR, b"", 5), 4) == HIGH
    assert operation_class("coin.transfer", (IDR, b"", 4), 4) == MEDIUM
    assert operation_class("invoice.create", (), 0) == LOW
    assert operation_class("account.set_policy", (), 0) == HIGH


def test_a_one_key_account_is_unchanged() -> None:
    chain = fresh()
    assert load_policy(chain.store, ACCOUNT).keys == ((ACCOUNT, 1),)
    assert transfer(chain, [OWNER]).ok
    foreign = transfer(chain, [PHONE])
    assert foreign.code == "unknown_signer"
    assert transfer(chain, [OWNER, PHONE]).code == "unknown_signer"
    assert account_nonce(chain.store, ACCOUNT) == 1  # refusals used no nonce


def test_two_of_three_needs_two_keys_and_names_the_weights() -> None:
    chain = fresh(two_of_three())
    assert chain.balance(BOB, IDR) == 1_000_000
    alone = transfer(chain, [PHONE])
    assert alone.code == "insufficient_signatures"
    assert "weight 1 of 2" in alone.message and "medium operation coin.transfer" in alone.message
    assert transfer(chain, [PHONE, LAPTOP]).ok
    assert transfer(chain, [OWNER, LAPTOP]).ok
    assert chain.balance(BOB, IDR) == 1_000_200
    # a low-class operation needs weight 1
    created = cosign(
        chain, ACCOUNT, [LAPTOP], "invoice.create", IDR, 500, chain.time_ms + HOUR_MS, "r1", b""
    )
    assert created.ok, created.message


def test_a_large_transfer_is_high_class() -> None:
    chain = fresh(two_of_three(large_amount=1_000))
    assert transfer(chain, [PHONE, LAPTOP], 1_000).ok
    big = transfer(chain, [PHONE, LAPTOP], 1_001)
    assert big.code == "insufficient_signatures" and "weight 2 of 3" in big.message
    assert transfer(chain, [OWNER, PHONE, LAPTOP], 1_001).ok


def test_a_leaked_key_is_rotated_out() -> None:
    chain = fresh(two_of_three())
    rotated = policy([(OWNER, 1), (PHONE, 1), (SPARE, 1)], (1, 2, 2))
    assert cosign(chain, ACCOUNT, [LAPTOP], "account.set_policy", rotated).code == (
        "insufficient_signatures"
    )
    assert cosign(chain, ACCOUNT, [OWNER, PHONE, LAPTOP], "account.set_policy", rotated).ok
    assert transfer(chain, [LAPTOP, PHONE]).code == "unknown_signer"
    assert transfer(chain, [SPARE, PHONE]).ok


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (policy([(OWNER, 1)], (1, 1, 2)), "bad_policy"),  # unreachable
        (policy([(OWNER, 2)], (2, 1, 2)), "bad_policy"),  # low > medium
        ([[[PHONE.public_key, 1], [OWNER.public_key, 1]][::-1], [1, 1, 1], 0, [], None], None),
        (policy([(OWNER, 1)], (1, 1, 1), scoped=[(SHOP, ["account.set_policy"], None)]), None),
        (policy([(OWNER, 1)], (1, 1, 1), scoped=[(SHOP, ["escrow.confirm"], None)]), None),
        (policy([(OWNER, 1)], (1, 1, 1), scoped=[(OWNER, ["invoice.create"], None)]), None),
        (policy([(OWNER, 1)], (1, 1, 1), recovery=([(FRIEND1, 1)], 2, HOUR_MS)), "bad_args"),
        (policy([(OWNER, 1)], (1, 1, 1), recovery=([(FRIEND1, 1)], 1, 10)), "bad_args"),
    ],
)
def test_policies_that_could_lock_or_confuse_are_refused(bad: list[object], code: str) -> None:
    chain = fresh()
    receipt = cosign(chain, ACCOUNT, [OWNER], "account.set_policy", bad)
    assert not receipt.ok
    if code is not None:
        assert receipt.code == code, receipt.message
    assert load_policy(chain.store, ACCOUNT) == load_policy(Chain().store, ACCOUNT)


def test_a_shop_key_creates_invoices_and_is_refused_transfers() -> None:
    shop_policy = policy([(OWNER, 1)], (1, 1, 1), scoped=[(SHOP, ["invoice.create"], None)])
    chain = fresh(shop_policy)
    created = cosign(
        chain, ACCOUNT, [SHOP], "invoice.create", IDR, 500, chain.time_ms + HOUR_MS, "r", b""
    )
    assert created.ok, created.message
    refused = transfer(chain, [SHOP])
    assert refused.code == "key_scope" and "invoice.create" in refused.message
    assert transfer(chain, [SHOP, OWNER]).code == "bad_signers"
    assert cosign(chain, ACCOUNT, [SHOP], "account.set_policy", shop_policy).code == "key_scope"


def test_a_scoped_allowance_decreases_as_it_spends() -> None:
    allowance = policy([(OWNER, 1)], (1, 1, 1), scoped=[(SHOP, ["coin.transfer"], 100)])
    chain = fresh(allowance)
    assert transfer(chain, [SHOP], 60).ok
    assert transfer(chain, [SHOP], 50).code == "allowance_exceeded"
    # a transfer the coin contract refuses does not use the allowance
    broke = cosign(chain, ACCOUNT, [SHOP], "coin.transfer", IDR, ACCOUNT, 10)
    assert broke.code == "self_transfer"
    assert load_policy(chain.store, ACCOUNT).scoped[0].allowance == 40
    assert transfer(chain, [SHOP], 40).ok
    assert transfer(chain, [SHOP], 1).code == "allowance_exceeded"
    assert chain.balance(BOB, IDR) == 1_000_100


def recoverable() -> Chain:
    chain = fresh(
        policy(
            [(OWNER, 1), (PHONE, 1)],
            (1, 1, 2),
            recovery=([(FRIEND1, 1), (FRIEND2, 1)], 2, 48 * HOUR_MS),
        )
    )
    return chain


NEW_POLICY = policy([(SPARE, 1)], (1, 1, 1))


def test_recovery_takes_effect_only_after_the_delay() -> None:
    chain = recoverable()
    assert cosign(chain, ACCOUNT, [FRIEND1], "account.recover", NEW_POLICY).code == (
        "insufficient_signatures"
    )
    assert cosign(chain, ACCOUNT, [FRIEND1, SPARE], "account.recover", NEW_POLICY).code == (
        "unknown_signer"
    )
    started = cosign(chain, ACCOUNT, [FRIEND1, FRIEND2], "account.recover", NEW_POLICY)
    assert started.ok, started.message
    effective = event(started, "account.recovery_started").attributes[1][1]
    assert effective == chain.time_ms + 48 * HOUR_MS
    again = cosign(chain, ACCOUNT, [FRIEND1, FRIEND2], "account.recover", NEW_POLICY)
    assert again.code == "recovery_pending"
    chain.block(advance_ms=48 * HOUR_MS - 3_000)  # the next block is the last before the time
    assert transfer(chain, [OWNER]).ok  # still the old policy
    assert load_pending_recovery(chain.store, ACCOUNT) is not None
    chain.block()
    assert [e.name for e in chain.block_events] == ["account.recovered"]
    assert transfer(chain, [OWNER]).code == "unknown_signer"
    assert transfer(chain, [SPARE]).ok
    assert load_pending_recovery(chain.store, ACCOUNT) is None


def test_any_current_key_cancels_a_recovery() -> None:
    chain = recoverable()
    assert cosign(chain, ACCOUNT, [FRIEND1, FRIEND2], "account.recover", NEW_POLICY).ok
    assert cosign(chain, ACCOUNT, [FRIEND1], "account.cancel_recovery").code == "unknown_signer"
    assert cosign(chain, ACCOUNT, [PHONE], "account.cancel_recovery").ok
    assert cosign(chain, ACCOUNT, [PHONE], "account.cancel_recovery").code == (
        "no_pending_recovery"
    )
    chain.block(advance_ms=49 * HOUR_MS)
    assert transfer(chain, [OWNER]).ok
    assert load_policy(chain.store, ACCOUNT).keys[0][0] in (OWNER.public_key, PHONE.public_key)


def test_an_account_without_recovery_keys_cannot_be_recovered() -> None:
    chain = fresh(two_of_three())
    receipt = cosign(chain, ACCOUNT, [FRIEND1, FRIEND2], "account.recover", NEW_POLICY)
    assert receipt.code == "no_recovery"


def test_setting_the_default_policy_leaves_no_trace() -> None:
    chain = fresh(two_of_three())
    default = policy([(OWNER, 1)], (1, 1, 1))
    assert cosign(chain, ACCOUNT, [OWNER, PHONE, LAPTOP], "account.set_policy", default).ok
    assert not [k for k, _ in chain.store.iterate(b"account/")]
    assert transfer(chain, [OWNER]).ok
