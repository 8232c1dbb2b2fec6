"""Exclusive coins: groups, membership, where the coin may go, and how it is earned."""

from __future__ import annotations

import pytest

from contracts import coin, loyalty, policy
from contracts.registry import APPLICATION
from contracts.vaults import EXCHANGE_VAULT
from ledger.errors import InvalidTransaction
from ledger.execution import BlockInfo, apply_block
from ledger.hashing import ZERO_HASH
from tests.loyalty_harness import Harness, account, named

CREATOR, SELLER, OTHER_SELLER, BUYER, STRANGER, ADMIN, VALIDATOR = (account(n) for n in range(1, 8))


def make_group(
    h: Harness,
    mode: str = "members",
    cap: int = 1_000_000,
    rules: list[list[object]] | None = None,
    block_reward: int = 0,
    admins: list[bytes] | None = None,
) -> None:
    h.platform_coin("IDR", {BUYER: 10**9, STRANGER: 10**9})
    h.call(
        CREATOR,
        "loyalty.create",
        "KOPI",
        "Kopi points",
        0,
        cap,
        [SELLER, OTHER_SELLER],
        admins or [],
        [["IDR", 100]] if rules is None else rules,
        block_reward,
        mode,
    )


def test_create_makes_an_exclusive_asset_and_a_group() -> None:
    h = Harness()
    h.platform_coin("IDR", {})
    events = h.call(
        CREATOR, "loyalty.create", "KOPI", "Kopi points", 0, 5000, [SELLER], [ADMIN],
        [["IDR", 250]], 3, "open",
    )  # fmt: skip
    asset = coin.load_asset(h.state, "KOPI")
    assert asset is not None
    assert (asset.policy, asset.issuer, asset.cap, asset.supply) == ("exclusive", CREATOR, 5000, 0)
    group = loyalty.load_group(h.state, "KOPI")
    assert group == loyalty.Group("KOPI", CREATOR, (ADMIN,), "open", (("IDR", 250),), 3)
    assert loyalty.group_members(h.state, "KOPI") == sorted([CREATOR, SELLER])
    assert loyalty.groups_of(h.state, SELLER) == ["KOPI"]
    assert named(events, "loyalty.created")[0]["members"] == 2


def test_creator_administers_when_no_admins_are_named() -> None:
    h = Harness()
    make_group(h)
    group = loyalty.load_group(h.state, "KOPI")
    assert group is not None and group.admins == (CREATOR,)


@pytest.mark.parametrize(
    ("override", "code"),
    [
        ({"mode": "sometimes"}, "bad_args"),
        ({"rules": [["NOPE", 10]]}, "unknown_asset"),
        ({"rules": [["IDR", 10], ["IDR", 20]]}, "bad_args"),
        ({"rules": [["IDR", loyalty.MAX_REWARD_BPS + 1]]}, "bad_rate"),
        ({"rules": [["IDR"]]}, "bad_args"),
        ({"cap": 0}, "bad_amount"),
        ({"block_reward": -1}, "bad_amount"),
        ({"members": [SELLER, SELLER]}, "bad_args"),
        ({"symbol": "idr"}, "bad_symbol"),
        ({"symbol": "IDR"}, "asset_exists"),
    ],
)
def test_create_refusals(override: dict[str, object], code: str) -> None:
    h = Harness()
    h.platform_coin("IDR", {})
    values: dict[str, object] = {
        "symbol": "KOPI",
        "cap": 100,
        "members": [SELLER],
        "rules": [],
        "block_reward": 0,
        "mode": "members",
    }
    values.update(override)
    assert (
        h.reject(
            CREATOR,
            "loyalty.create",
            values["symbol"],
            "Kopi",
            0,
            values["cap"],
            values["members"],
            [],
            values["rules"],
            values["block_reward"],
            values["mode"],
        )  # fmt: skip
        == code
    )
    assert loyalty.load_group(h.state, "KOPI") is None


def test_membership_is_administered_by_admins_only() -> None:
    h = Harness()
    make_group(h, admins=[ADMIN])
    assert h.reject(CREATOR, "loyalty.add_member", "KOPI", STRANGER) == "not_admin"
    assert h.reject(SELLER, "loyalty.remove_member", "KOPI", OTHER_SELLER) == "not_admin"
    assert h.reject(ADMIN, "loyalty.add_member", "KOPI", SELLER) == "already_member"
    assert h.reject(ADMIN, "loyalty.remove_member", "KOPI", STRANGER) == "not_member"
    assert h.reject(ADMIN, "loyalty.add_member", "IDR", STRANGER) == "not_exclusive"
    assert h.reject(ADMIN, "loyalty.add_member", "NONE", STRANGER) == "unknown_asset"
    h.call(ADMIN, "loyalty.add_member", "KOPI", STRANGER)
    assert loyalty.is_member(h.state, "KOPI", STRANGER)
    h.call(ADMIN, "loyalty.remove_member", "KOPI", STRANGER)
    assert not loyalty.is_member(h.state, "KOPI", STRANGER)
    assert loyalty.groups_of(h.state, STRANGER) == []


def test_removal_stops_acceptance_and_keeps_the_balance() -> None:
    h = Harness()
    make_group(h)
    h.call(CREATOR, "coin.mint", "KOPI", SELLER, 40)
    asset = coin.require_asset(h.state, "KOPI")
    policy.check_acceptance(h.state, asset, SELLER)  # accepted while a member
    h.call(CREATOR, "loyalty.remove_member", "KOPI", SELLER)
    assert h.balance(SELLER, "KOPI") == 40
    with pytest.raises(InvalidTransaction) as refused:
        policy.check_acceptance(h.state, asset, SELLER)
    assert refused.value.code == "not_member"
    with pytest.raises(InvalidTransaction) as refused:
        policy.check_can_sell(h.state, SELLER, asset, None)
    assert refused.value.code == "not_member"


def test_acceptance_only_restricts_exclusive_coins() -> None:
    h = Harness()
    make_group(h)
    policy.check_acceptance(h.state, coin.require_asset(h.state, "IDR"), STRANGER)
    policy.check_can_sell(h.state, STRANGER, coin.require_asset(h.state, "IDR"), None)
    policy.check_can_sell(h.state, OTHER_SELLER, coin.require_asset(h.state, "KOPI"), None)


def test_exclusive_coins_are_never_exchangeable() -> None:
    h = Harness()
    make_group(h, mode="open")
    with pytest.raises(InvalidTransaction) as refused:
        policy.check_exchangeable(h.state, coin.require_asset(h.state, "KOPI"))
    assert refused.value.code == "not_exchangeable"
    assert "exclusive" in refused.value.message
    policy.check_exchangeable(h.state, coin.require_asset(h.state, "IDR"))


def give(h: Harness, who: bytes, amount: int) -> None:
    h.call(CREATOR, "coin.mint", "KOPI", who, amount)


def test_members_mode_allows_transfers_touching_a_member() -> None:
    h = Harness()
    make_group(h)
    give(h, BUYER, 50)
    h.call(BUYER, "coin.transfer", "KOPI", SELLER, 10)  # a holder pays a member
    h.call(SELLER, "coin.transfer", "KOPI", STRANGER, 4)  # a member hands coins out
    assert h.reject(BUYER, "coin.transfer", "KOPI", STRANGER, 1) == "transfer_restricted"
    assert h.reject(STRANGER, "coin.transfer", "KOPI", BUYER, 1) == "transfer_restricted"
    assert (h.balance(BUYER, "KOPI"), h.balance(SELLER, "KOPI")) == (40, 6)
    assert h.balance(STRANGER, "KOPI") == 4


def test_a_removed_member_counts_as_a_non_member_for_transfers() -> None:
    h = Harness()
    make_group(h)
    give(h, SELLER, 5)
    h.call(CREATOR, "loyalty.remove_member", "KOPI", SELLER)
    assert h.reject(SELLER, "coin.transfer", "KOPI", BUYER, 1) == "transfer_restricted"
    h.call(SELLER, "coin.transfer", "KOPI", OTHER_SELLER, 5)


def test_open_mode_lets_holders_transfer() -> None:
    h = Harness()
    make_group(h, mode="open")
    give(h, BUYER, 5)
    h.call(BUYER, "coin.transfer", "KOPI", STRANGER, 5)
    assert h.balance(STRANGER, "KOPI") == 5


def test_none_mode_refuses_every_plain_transfer() -> None:
    h = Harness()
    make_group(h, mode="none")
    give(h, SELLER, 5)
    assert h.reject(SELLER, "coin.transfer", "KOPI", OTHER_SELLER, 1) == "transfers_disabled"
    assert h.reject(SELLER, "coin.transfer", "KOPI", BUYER, 1) == "transfers_disabled"


def test_other_coins_are_not_restricted() -> None:
    h = Harness()
    make_group(h, mode="none")
    h.call(BUYER, "coin.transfer", "IDR", STRANGER, 5)
    assert h.balance(STRANGER, "IDR") == 10**9 + 5


def test_an_exclusive_genesis_asset_without_a_group_goes_nowhere() -> None:
    h = Harness()
    asset = coin.create_asset(h.state, "LOST", "lost", 0, 10, CREATOR, "exclusive")
    coin.mint_to(h.state, asset, CREATOR, 10)
    assert h.reject(CREATOR, "coin.transfer", "LOST", SELLER, 1) == "transfers_disabled"
    with pytest.raises(InvalidTransaction) as refused:
        policy.check_acceptance(h.state, asset, CREATOR)
    assert refused.value.code == "not_member"


# --- transaction reward --------------------------------------------------------------


def test_a_sale_at_a_member_rewards_the_buyer_at_the_rate() -> None:
    h = Harness()
    make_group(h, rules=[["IDR", 150]])  # 1.5%
    events = h.sale(SELLER, BUYER, "IDR", 12_345)
    assert h.balance(BUYER, "KOPI") == 12_345 * 150 // 10_000 == 185
    assert h.supply("KOPI") == 185
    reward = named(events, "loyalty.reward")[0]
    assert (reward["kind"], reward["due"], reward["minted"]) == ("sale", 185, 185)


def test_no_reward_for_non_members_other_coins_or_self_purchases() -> None:
    h = Harness()
    make_group(h, rules=[["IDR", 150]])
    h.platform_coin("USD", {BUYER: 1000})
    h.sale(STRANGER, BUYER, "IDR", 10_000)  # seller outside the group
    h.sale(SELLER, BUYER, "USD", 1000)  # no rule for USD
    h.call(CREATOR, "loyalty.remove_member", "KOPI", OTHER_SELLER)
    h.sale(OTHER_SELLER, BUYER, "IDR", 10_000)  # removed before the sale
    h.platform_coin("EUR", {SELLER: 10_000})
    h.call(CREATOR, "loyalty.set_rewards", "KOPI", [["EUR", 100]], 0)
    h.sale(SELLER, SELLER, "EUR", 10_000)  # buying from oneself
    assert h.balance(BUYER, "KOPI") == 0
    assert h.balance(SELLER, "KOPI") == 0
    assert h.supply("KOPI") == 0


def test_a_tiny_sale_rounds_the_reward_down_to_nothing() -> None:
    h = Harness()
    make_group(h, rules=[["IDR", 100]])
    assert named(h.sale(SELLER, BUYER, "IDR", 99), "loyalty.reward") == []
    assert h.supply("KOPI") == 0


def test_at_the_cap_the_reward_mints_what_fits_and_never_rejects_the_sale() -> None:
    h = Harness()
    make_group(h, cap=150, rules=[["IDR", 100]])
    h.sale(SELLER, BUYER, "IDR", 10_000)  # 100
    events = h.sale(SELLER, BUYER, "IDR", 10_000)  # 100 due, 50 fit
    assert named(events, "loyalty.reward")[0]["minted"] == 50
    events = h.sale(SELLER, BUYER, "IDR", 10_000)  # at the cap: sale settles, nothing minted
    assert named(events, "loyalty.reward")[0]["minted"] == 0
    assert h.balance(SELLER, "IDR") == 30_000
    assert h.supply("KOPI") == 150 == h.balance(BUYER, "KOPI")


def test_a_seller_in_two_groups_earns_the_buyer_both_coins() -> None:
    h = Harness()
    make_group(h, rules=[["IDR", 100]])
    h.call(SELLER, "loyalty.create", "TEH", "Teh", 0, 10**6, [], [], [["IDR", 300]], 0, "members")
    h.sale(SELLER, BUYER, "IDR", 1000)
    assert (h.balance(BUYER, "KOPI"), h.balance(BUYER, "TEH")) == (10, 30)


def test_set_rewards_is_for_admins_and_changes_the_rate() -> None:
    h = Harness()
    make_group(h, rules=[["IDR", 100]])
    assert h.reject(SELLER, "loyalty.set_rewards", "KOPI", [["IDR", 500]], 0) == "not_admin"
    h.call(CREATOR, "loyalty.set_rewards", "KOPI", [["IDR", 500]], 7)
    h.sale(SELLER, BUYER, "IDR", 1000)
    assert h.balance(BUYER, "KOPI") == 50


# --- mining reward -------------------------------------------------------------------


def test_a_member_validator_earns_the_block_reward() -> None:
    h = Harness()
    make_group(h, block_reward=7)
    events = h.end_block(SELLER)
    assert h.balance(SELLER, "KOPI") == 7
    reward = named(events, "loyalty.reward")[0]
    assert (reward["kind"], reward["to"], reward["minted"]) == ("block", SELLER, 7)
    h.end_block(STRANGER)  # not a member, not bound: nothing
    assert h.supply("KOPI") == 7


def test_a_bound_validator_pays_its_operating_member() -> None:
    h = Harness()
    make_group(h, block_reward=5)
    assert h.reject(VALIDATOR, "loyalty.bind_validator", "KOPI", STRANGER) == "not_member"
    assert h.reject(VALIDATOR, "loyalty.unbind_validator", "KOPI") == "not_bound"
    h.call(VALIDATOR, "loyalty.bind_validator", "KOPI", OTHER_SELLER)
    h.end_block(VALIDATOR)  # asked, not yet approved: the validator is no member, no reward
    assert h.supply("KOPI") == 0
    assert h.reject(VALIDATOR, "loyalty.approve_binding", "KOPI", VALIDATOR) == "not_admin"
    assert h.reject(CREATOR, "loyalty.approve_binding", "KOPI", STRANGER) == "no_pending_binding"
    h.call(CREATOR, "loyalty.approve_binding", "KOPI", VALIDATOR)
    assert h.reject(CREATOR, "loyalty.approve_binding", "KOPI", VALIDATOR) == "no_pending_binding"
    h.end_block(VALIDATOR)
    assert (h.balance(OTHER_SELLER, "KOPI"), h.balance(VALIDATOR, "KOPI")) == (5, 0)
    h.call(CREATOR, "loyalty.remove_member", "KOPI", OTHER_SELLER)
    h.end_block(VALIDATOR)  # the operator left the group: no reward
    assert h.supply("KOPI") == 5
    h.call(CREATOR, "loyalty.add_member", "KOPI", OTHER_SELLER)
    h.call(VALIDATOR, "loyalty.unbind_validator", "KOPI")
    h.end_block(VALIDATOR)
    assert h.supply("KOPI") == 5


def test_a_binding_overrides_a_member_validator_paying_itself() -> None:
    h = Harness()
    make_group(h, block_reward=5)
    h.call(SELLER, "loyalty.bind_validator", "KOPI", OTHER_SELLER)
    h.end_block(SELLER)  # not approved yet: the member validator still earns for itself
    assert (h.balance(SELLER, "KOPI"), h.balance(OTHER_SELLER, "KOPI")) == (5, 0)
    h.call(CREATOR, "loyalty.approve_binding", "KOPI", SELLER)
    h.end_block(SELLER)
    assert (h.balance(SELLER, "KOPI"), h.balance(OTHER_SELLER, "KOPI")) == (5, 5)


def test_an_approval_needs_the_operator_still_in_the_group() -> None:
    h = Harness()
    make_group(h, block_reward=5)
    h.call(VALIDATOR, "loyalty.bind_validator", "KOPI", OTHER_SELLER)
    h.call(CREATOR, "loyalty.remove_member", "KOPI", OTHER_SELLER)
    assert h.reject(CREATOR, "loyalty.approve_binding", "KOPI", VALIDATOR) == "not_member"
    h.call(VALIDATOR, "loyalty.unbind_validator", "KOPI")  # withdraws the waiting request
    assert loyalty.pending_binding(h.state, VALIDATOR, "KOPI") is None


def test_block_rewards_stop_at_the_cap_and_zero_reward_mints_nothing() -> None:
    h = Harness()
    make_group(h, cap=12, block_reward=5)
    for _ in range(4):
        h.end_block(SELLER)
    assert h.supply("KOPI") == 12
    h.call(CREATOR, "loyalty.set_rewards", "KOPI", [], 0)
    assert h.end_block(SELLER) == []


def test_the_registered_hook_runs_in_apply_block_for_the_proposer() -> None:
    h = Harness()
    make_group(h, block_reward=9)
    h.store.write(dict(h.state.write_set()))
    info = BlockInfo("loyalty-test", 2, 2000, SELLER)
    result = apply_block(APPLICATION, h.store, info, [], ZERO_HASH)
    h.store.write(result.state_batch())
    assert coin.balance(h.store, SELLER, "KOPI") == 9
    assert [event.name for event in result.block_events] == ["loyalty.reward"]


def test_mint_of_an_exclusive_coin_outside_the_exchange_vault() -> None:
    # The exchange vault is not a member: an exclusive coin can never be parked there.
    h = Harness()
    make_group(h)
    give(h, BUYER, 3)
    assert h.reject(BUYER, "coin.transfer", "KOPI", EXCHANGE_VAULT, 3) == "transfer_restricted"
