"""Arbiter fee schedules: only platforms publish, terms are bounded, fees are clamped."""

from __future__ import annotations

from contracts import arbiter
from contracts.amounts import MAX_AMOUNT
from contracts.arbiter import ArbiterTerms
from tests.commercekit import DAY, MINUTE, Market, event


def test_publish_and_load() -> None:
    m = Market()
    schedule = arbiter.load_schedule(m.chain.store, m.arbiter.public_key)
    assert schedule is not None
    assert schedule.fee_bps == 500 and schedule.ruling_ms == 3 * DAY
    assert schedule.terms_for("IDR") == ArbiterTerms(500, 100, 5_000, 3 * DAY)
    assert schedule.terms_for("USD") == ArbiterTerms(500, 0, MAX_AMOUNT, 3 * DAY)
    assert schedule.to_json()["coin_bounds"] == [{"symbol": "IDR", "min_fee": 100, "max_fee": 5000}]


def test_republish_replaces_and_emits() -> None:
    m = Market()
    receipt = m.chain.ok(m.arbiter, "arbiter.publish", 100, 10 * MINUTE)
    assert event(receipt, "arbiter.published").get("fee_bps") == 100
    schedule = arbiter.load_schedule(m.chain.store, m.arbiter.public_key)
    assert schedule is not None and schedule.coin_bounds == ()


def test_rejections() -> None:
    m = Market()
    c = m.chain
    c.rejects("not_platform", m.seller, "arbiter.publish", 100, DAY)
    c.rejects("bad_rate", m.arbiter, "arbiter.publish", 2_001, DAY)
    c.rejects("bad_rate", m.arbiter, "arbiter.publish", -1, DAY)
    c.rejects("bad_window", m.arbiter, "arbiter.publish", 100, MINUTE - 1)
    c.rejects("bad_window", m.arbiter, "arbiter.publish", 100, 31 * DAY)
    c.rejects("bad_args", m.arbiter, "arbiter.publish", 100, "1d")
    c.rejects("bad_fee_bounds", m.arbiter, "arbiter.publish", 100, DAY, [["IDR", 10, 9]])
    c.rejects("unknown_asset", m.arbiter, "arbiter.publish", 100, DAY, [["NOPE", 1, 9]])
    c.rejects("bad_args", m.arbiter, "arbiter.publish", 100, DAY, [["IDR", 1, 9], ["IDR", 1, 9]])
    c.rejects("bad_args", m.arbiter, "arbiter.publish", 100)
    c.rejects("no_schedule", m.platform, "arbiter.retire")


def test_retire_removes_schedule() -> None:
    m = Market()
    receipt = m.chain.ok(m.arbiter2, "arbiter.retire")
    assert event(receipt, "arbiter.retired").get("arbiter") == m.arbiter2.public_key
    assert arbiter.load_schedule(m.chain.store, m.arbiter2.public_key) is None


def test_fee_formula_clamps_and_never_exceeds_held() -> None:
    terms = ArbiterTerms(fee_bps=500, min_fee=100, max_fee=5_000, ruling_ms=DAY)
    assert terms.fee(10_000) == 500  # 5%
    assert terms.fee(1_000) == 100  # the minimum
    assert terms.fee(1_000_000) == 5_000  # the maximum
    assert terms.fee(60) == 60  # never more than what is held
    assert ArbiterTerms(333, 0, MAX_AMOUNT, DAY).fee(1_000) == 33  # rounds down
