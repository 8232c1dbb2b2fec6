"""Platform role: coins with policy "platform", the commission rate and the name."""

from __future__ import annotations

from contracts import roles
from contracts.coin import load_asset
from tests.chainkit import Chain, event, key

V0 = key("validator-0")
SHOP = key("shop")
ALICE = key("alice")
LATER = 1_700_000_000_000 + 24 * 3600 * 1000


def chain() -> Chain:
    return Chain([V0], [["roles", [[SHOP.public_key, "Shop", 100]]]])


def test_genesis_grants_platforms() -> None:
    c = chain()
    assert roles.platforms(c.store) == [(SHOP.public_key, "Shop", 100)]
    assert event_names(c) == ["roles.platform_granted"]


def event_names(c: Chain) -> list[str]:
    return [e.name for e in c.events]


def test_platform_creates_a_platform_coin_and_mints_it() -> None:
    c = chain()
    r = c.ok(SHOP, "platform.create_coin", "SHOPC", "Shop coin", 2, 10**12)
    assert event(r, "coin.created").get("policy") == "platform"
    asset = load_asset(c.store, "SHOPC")
    assert asset is not None and asset.issuer == SHOP.public_key and asset.policy == "platform"
    c.ok(SHOP, "coin.mint", "SHOPC", ALICE.public_key, 500)
    assert c.balance(ALICE, "SHOPC") == 500


def test_only_platforms_create_platform_coins() -> None:
    c = chain()
    c.fails("not_platform", ALICE, "platform.create_coin", "ALC", "Alice coin", 2, 100)
    c.ok(SHOP, "platform.create_coin", "SHOPC", "Shop coin", 2, 100)
    c.fails("asset_exists", SHOP, "platform.create_coin", "SHOPC", "Again", 2, 100)
    c.fails("bad_symbol", SHOP, "platform.create_coin", "shop", "Lower", 2, 100)


def test_a_revoked_platform_cannot_mint_its_coin() -> None:
    c = chain()
    c.ok(SHOP, "platform.create_coin", "SHOPC", "Shop coin", 2, 10**9)
    c.ok(V0, "governance.propose", "revoke_platform", [SHOP.public_key], LATER)
    c.fails("not_platform", SHOP, "coin.mint", "SHOPC", ALICE.public_key, 1)


def test_set_commission_is_capped_and_platform_only() -> None:
    c = chain()
    r = c.ok(SHOP, "platform.set_commission", 250)
    assert event(r, "platform.commission_set").get("previous_bps") == 100
    assert roles.commission_bps(c.store, SHOP.public_key) == 250
    c.ok(SHOP, "platform.set_commission", roles.MAX_COMMISSION_BPS)
    c.fails("bad_rate", SHOP, "platform.set_commission", roles.MAX_COMMISSION_BPS + 1)
    c.fails("bad_rate", SHOP, "platform.set_commission", -1)
    c.fails("not_platform", ALICE, "platform.set_commission", 10)


def test_set_name() -> None:
    c = chain()
    c.ok(SHOP, "platform.set_name", "Shop Indonesia")
    assert roles.platform_record(c.store, SHOP.public_key) == ["Shop Indonesia", 100]
    c.fails("bad_args", SHOP, "platform.set_name", "")
    c.fails("not_platform", ALICE, "platform.set_name", "Mine")


def test_bad_genesis_roles_are_refused() -> None:
    import pytest

    from ledger.errors import InvalidBlock

    with pytest.raises(InvalidBlock):
        Chain([V0], [["roles", [[SHOP.public_key, "Shop", 5000]]]])
    with pytest.raises(InvalidBlock):
        Chain([V0], [["roles", [[SHOP.public_key, "A", 1], [SHOP.public_key, "B", 1]]]])
