"""Governance: 2/3 of the current validators grant and revoke roles and change the set."""

from __future__ import annotations

from contracts import governance, roles
from ledger.validators import validator_schedule, validators_at
from tests.chainkit import Chain, event, events, key

V = [key(f"validator-{i}") for i in range(4)]
ALICE = key("alice")
SHOP = key("shop")
LATER = 1_700_000_000_000 + 24 * 3600 * 1000  # a day after genesis


def chain(validators: int = 4) -> Chain:
    return Chain(V[:validators])


def test_approvals_needed_is_two_thirds_rounded_up() -> None:
    assert [governance.approvals_needed(n) for n in (1, 2, 3, 4, 5, 6, 7, 10)] == [
        1,
        2,
        2,
        3,
        4,
        4,
        5,
        7,
    ]


def test_grant_platform_needs_three_of_four() -> None:
    c = chain()
    params = [SHOP.public_key, "Shop", 150]
    r = c.ok(V[0], "governance.propose", "grant_platform", params, LATER)
    assert event(r, "governance.proposed").get("id") == 1
    c.ok(V[1], "governance.approve", 1)
    assert not roles.is_platform(c.store, SHOP.public_key)
    r = c.ok(V[2], "governance.approve", 1)
    assert event(r, "governance.executed").get("action") == "grant_platform"
    assert roles.platform_record(c.store, SHOP.public_key) == ["Shop", 150]
    proposal = governance.load_proposal(c.store, 1)
    assert proposal is not None and proposal.status == governance.EXECUTED
    c.fails("proposal_closed", V[3], "governance.approve", 1)


def test_single_validator_proposal_executes_at_once() -> None:
    c = chain(1)
    c.ok(V[0], "governance.propose", "grant_platform", [SHOP.public_key, "Shop", 0], LATER)
    assert roles.is_platform(c.store, SHOP.public_key)


def test_only_validators_propose_and_approve() -> None:
    c = chain()
    c.fails(
        "not_validator",
        ALICE,
        "governance.propose",
        "grant_platform",
        [SHOP.public_key, "Shop", 0],
        LATER,
    )
    c.ok(V[0], "governance.propose", "grant_platform", [SHOP.public_key, "Shop", 0], LATER)
    c.fails("not_validator", ALICE, "governance.approve", 1)


def test_double_approval_unknown_and_expired_proposals() -> None:
    c = chain()
    c.fails("unknown_proposal", V[1], "governance.approve", 7)
    expiry = c.time_ms + 3_500
    c.ok(V[0], "governance.propose", "grant_platform", [SHOP.public_key, "Shop", 0], expiry)
    c.fails("already_approved", V[0], "governance.approve", 1)
    c.ok(V[1], "governance.approve", 1)  # block time before expiry: still open
    c.fails("proposal_expired", V[2], "governance.approve", 1)
    proposal = governance.load_proposal(c.store, 1)
    assert proposal is not None and proposal.status_at(c.time_ms) == governance.EXPIRED
    assert not roles.is_platform(c.store, SHOP.public_key)


def test_bad_proposals_are_rejected() -> None:
    c = chain()
    c.fails("unknown_action", V[0], "governance.propose", "mint_money", [], LATER)
    c.fails("bad_args", V[0], "governance.propose", "grant_platform", "x", LATER)
    c.fails("bad_expiry", V[0], "governance.propose", "revoke_platform", [SHOP.public_key], 5)
    too_far = c.time_ms + governance.MAX_PROPOSAL_TTL_MS + 10_000
    c.fails(
        "bad_expiry",
        V[0],
        "governance.propose",
        "grant_platform",
        [SHOP.public_key, "S", 0],
        too_far,
    )
    c.fails(
        "bad_rate",
        V[0],
        "governance.propose",
        "grant_platform",
        [SHOP.public_key, "S", 2001],
        LATER,
    )
    c.fails("not_platform", V[0], "governance.propose", "revoke_platform", [SHOP.public_key], LATER)
    c.fails("bad_args", V[0], "governance.propose", "grant_platform", [b"short", "S", 1], LATER)


def test_revoke_platform() -> None:
    c = Chain(V[:1], [["roles", [[SHOP.public_key, "Shop", 100]]]])
    assert roles.commission_bps(c.store, SHOP.public_key) == 100
    c.fails(
        "already_platform",
        V[0],
        "governance.propose",
        "grant_platform",
        [SHOP.public_key, "S", 1],
        LATER,
    )
    r = c.ok(V[0], "governance.propose", "revoke_platform", [SHOP.public_key], LATER)
    assert event(r, "roles.platform_revoked").get("account") == SHOP.public_key
    assert not roles.is_platform(c.store, SHOP.public_key)
    assert roles.commission_bps(c.store, SHOP.public_key) == 0


def test_execution_rechecks_the_state() -> None:
    c = chain()
    params = [SHOP.public_key, "Shop", 0]
    c.ok(V[0], "governance.propose", "grant_platform", params, LATER)
    c.ok(V[1], "governance.propose", "grant_platform", params, LATER)
    c.ok(V[2], "governance.approve", 1)
    c.ok(V[3], "governance.approve", 1)
    c.ok(V[2], "governance.approve", 2)
    c.fails("already_platform", V[3], "governance.approve", 2)


def test_add_validator_takes_effect_at_the_stated_height() -> None:
    c = chain()
    newcomer = key("validator-new").public_key
    effective = c.height + 5
    c.ok(V[0], "governance.propose", "add_validator", [newcomer, effective], LATER)
    c.ok(V[1], "governance.approve", 1)
    r = c.ok(V[2], "governance.approve", 1)
    scheduled = event(r, "governance.validators_scheduled")
    assert scheduled.get("start_height") == effective
    assert validators_at(c.store, effective - 1) == tuple(v.public_key for v in V)
    assert validators_at(c.store, effective) == (*(v.public_key for v in V), newcomer)


def test_remove_validator_and_then_its_votes_stop_counting() -> None:
    c = chain()
    gone = V[3].public_key
    effective = c.height + 4
    c.ok(V[0], "governance.propose", "remove_validator", [gone, effective], LATER)
    c.ok(V[1], "governance.approve", 1)
    c.ok(V[2], "governance.approve", 1)
    assert validators_at(c.store, effective) == tuple(v.public_key for v in V[:3])
    assert validators_at(c.store, effective - 1) == tuple(v.public_key for v in V)
    c.block()  # the next block runs at the effective height
    c.fails(
        "not_validator", V[3], "governance.propose", "revoke_platform", [SHOP.public_key], LATER
    )
    # With 3 validators, 2 approvals pass.
    c.ok(V[0], "governance.propose", "grant_platform", [SHOP.public_key, "S", 0], LATER)
    c.ok(V[1], "governance.approve", 2)
    assert roles.is_platform(c.store, SHOP.public_key)


def test_validator_change_rules() -> None:
    c = chain(1)
    newcomer = key("validator-new").public_key
    c.block()
    c.fails(
        "effective_height_passed",
        V[0],
        "governance.propose",
        "add_validator",
        [newcomer, c.height],
        LATER,
    )
    c.fails(
        "already_validator",
        V[0],
        "governance.propose",
        "add_validator",
        [V[0].public_key, 9],
        LATER,
    )
    c.fails(
        "unknown_validator", V[0], "governance.propose", "remove_validator", [newcomer, 9], LATER
    )
    c.fails(
        "last_validator",
        V[0],
        "governance.propose",
        "remove_validator",
        [V[0].public_key, 9],
        LATER,
    )


def test_a_change_before_a_scheduled_one_keeps_both() -> None:
    c = chain(1)
    a, b = key("validator-a").public_key, key("validator-b").public_key
    c.ok(V[0], "governance.propose", "add_validator", [a, 100], LATER)
    r = c.ok(V[0], "governance.propose", "add_validator", [b, 50], LATER)
    assert len(events(r, "governance.validators_scheduled")) == 2
    schedule = validator_schedule(c.store)
    assert schedule[-2:] == [(50, (V[0].public_key, b)), (100, (V[0].public_key, a, b))]
    # Removing b from 20 on also removes it from the later entries.
    c.ok(V[0], "governance.propose", "remove_validator", [a, 120], LATER)
    assert validators_at(c.store, 130) == (V[0].public_key, b)
    assert validators_at(c.store, 110) == (V[0].public_key, a, b)


def test_proposals_query_pages_by_id() -> None:
    c = chain()
    for name in ("a", "b", "c"):
        c.ok(V[0], "governance.propose", "grant_platform", [key(name).public_key, name, 0], LATER)
    first = governance.proposals(c.store, limit=2)
    assert [p.id for p in first] == [1, 2]
    assert [p.id for p in governance.proposals(c.store, after_id=2)] == [3]
