"""Redemption: request, settle (burn), reject, the automatic return at the platform's
deadline, the platform's stats with an exact integer median, issuance transparency
and reserve attestations."""

from __future__ import annotations

import statistics

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import coin, deadlines
from contracts import redemption as R
from contracts.vaults import REDEMPTION_VAULT
from tests.commercekit import DAY, HOUR, MINUTE, CommerceChain, event, key

PLATFORM = key(40)
OTHER = key(41)
MERCHANT = key(42)
MERCHANT2 = key(43)
PAYOUT = b"\x11" * 32
BANK = b"\x22" * 32


def market() -> CommerceChain:
    chain = CommerceChain(
        assets=[("OPEN", PLATFORM, 10**12)],
        balances=[(MERCHANT, "OPEN", 1_000)],
        platforms=[(PLATFORM, "shop", 0), (OTHER, "other", 0)],
    )
    chain.ok(PLATFORM, "platform.create_coin", "IDRP", "Rupiah", 2, 10**12)
    chain.ok(PLATFORM, "coin.mint", "IDRP", MERCHANT.public_key, 100_000)
    chain.ok(PLATFORM, "coin.mint", "IDRP", MERCHANT2.public_key, 100_000)
    chain.ok(PLATFORM, "redeem.set_terms", 2 * DAY)
    return chain


def request(chain: CommerceChain, amount: int, who: object = MERCHANT) -> bytes:
    receipt = chain.ok(who, "redeem.request", "IDRP", amount, PAYOUT)  # type: ignore[arg-type]
    return bytes(event(receipt, "redeem.requested").get("id"))


def test_settle_burns_the_coins_and_counts_for_the_platform() -> None:
    chain = market()
    rid = request(chain, 30_000)
    assert chain.balance(MERCHANT, "IDRP") == 70_000
    assert chain.balance(REDEMPTION_VAULT, "IDRP") == 30_000
    assert R.issuance(chain.store, "IDRP")["outstanding_redemptions"] == 30_000
    receipt = chain.ok(PLATFORM, "redeem.settle", rid, BANK, at_ms=chain.time_ms + 3 * HOUR)
    assert event(receipt, "redeem.settled").get("settle_ms") == 3 * HOUR
    item = R.load_redemption(chain.store, rid)
    assert item is not None and (item.state, item.bank_ref) == ("settled", BANK)
    assert chain.balance(REDEMPTION_VAULT, "IDRP") == 0
    asset = coin.load_asset(chain.store, "IDRP")
    assert asset is not None and asset.supply == 170_000
    issued = R.issuance(chain.store, "IDRP")
    assert issued is not None
    totals = ("supply", "burned_by_redemption", "outstanding_redemptions")
    assert [issued[name] for name in totals] == [170_000, 30_000, 0]
    summary = R.redemption_summary(chain.store, PLATFORM.public_key)
    assert (summary["settled_count"], summary["settled_volume"]) == (1, 30_000)
    assert (summary["outstanding_count"], summary["median_settle_ms"]) == (0, 3 * HOUR)
    # No index entry is left behind.
    assert list(chain.store.iterate(deadlines.PREFIX)) == []


def test_reject_returns_the_coins() -> None:
    chain = market()
    rid = request(chain, 5_000)
    chain.rejects("bad_args", PLATFORM, "redeem.reject", rid, "")
    receipt = chain.ok(PLATFORM, "redeem.reject", rid, "payout account closed")
    assert event(receipt, "redeem.rejected").get("reason") == "payout account closed"
    assert chain.balance(MERCHANT, "IDRP") == 100_000
    summary = R.redemption_summary(chain.store, PLATFORM.public_key)
    assert (summary["rejected_count"], summary["outstanding_amount"]) == (1, 0)
    chain.rejects("redemption_closed", PLATFORM, "redeem.settle", rid, BANK)


def test_an_unanswered_request_comes_back_at_the_published_deadline() -> None:
    chain = market()
    rid = request(chain, 7_000)
    item = R.load_redemption(chain.store, rid)
    assert item is not None and item.due_ms == chain.time_ms + 2 * DAY
    chain.rejects(
        "redemption_deadline_passed", PLATFORM, "redeem.settle", rid, BANK, at_ms=item.due_ms
    )
    returned = event(chain.last.block_events if chain.last else [], "redeem.returned")
    assert returned.get("amount") == 7_000
    assert chain.balance(MERCHANT, "IDRP") == 100_000
    found = R.load_redemption(chain.store, rid)
    assert found is not None and found.state == "returned"
    assert R.redemption_summary(chain.store, PLATFORM.public_key)["returned_count"] == 1


def test_terms_apply_to_requests_made_after_them() -> None:
    chain = market()
    chain.ok(PLATFORM, "redeem.set_terms", HOUR)
    rid = request(chain, 1)
    chain.ok(PLATFORM, "redeem.set_terms", 30 * DAY)
    item = R.load_redemption(chain.store, rid)
    assert item is not None and item.due_ms == item.created_ms + HOUR


def test_request_settle_and_attest_rejections() -> None:
    chain = market()
    chain.rejects("not_platform_coin", MERCHANT, "redeem.request", "OPEN", 1, PAYOUT)
    chain.rejects("unknown_asset", MERCHANT, "redeem.request", "NOPE", 1, PAYOUT)
    chain.rejects("bad_amount", MERCHANT, "redeem.request", "IDRP", 0, PAYOUT)
    chain.rejects("insufficient_funds", MERCHANT, "redeem.request", "IDRP", 100_001, PAYOUT)
    chain.rejects("bad_args", MERCHANT, "redeem.request", "IDRP", 1, b"short")
    chain.rejects("self_redemption", PLATFORM, "redeem.request", "IDRP", 1, PAYOUT)
    chain.ok(OTHER, "platform.create_coin", "IDRO", "Other rupiah", 2, 10**9)
    chain.ok(OTHER, "coin.mint", "IDRO", MERCHANT.public_key, 10)
    chain.rejects("no_redemption_terms", MERCHANT, "redeem.request", "IDRO", 1, PAYOUT)
    chain.rejects("bad_window", PLATFORM, "redeem.set_terms", MINUTE)
    chain.rejects("bad_window", PLATFORM, "redeem.set_terms", 31 * DAY)
    chain.rejects("not_platform", MERCHANT, "redeem.set_terms", DAY)
    rid = request(chain, 10)
    chain.rejects("not_issuer", OTHER, "redeem.settle", rid, BANK)
    chain.rejects("not_issuer", MERCHANT, "redeem.reject", rid, "no")
    chain.rejects("unknown_redemption", PLATFORM, "redeem.settle", b"\x00" * 32, BANK)
    chain.rejects("bad_args", PLATFORM, "redeem.settle", rid, b"short")
    chain.rejects("not_issuer", OTHER, "redeem.attest", "IDRP", 1, BANK, "https://a")
    chain.rejects("not_platform_coin", PLATFORM, "redeem.attest", "OPEN", 1, BANK, "https://a")
    chain.rejects("bad_args", PLATFORM, "redeem.attest", "IDRP", 0, BANK, "https://a")
    chain.rejects("bad_args", PLATFORM, "redeem.attest", "IDRP", 1, BANK, "")


def test_reserve_attestations_one_per_period() -> None:
    chain = market()
    receipt = chain.ok(PLATFORM, "redeem.attest", "IDRP", 202611, BANK, "https://audit/2026-11")
    assert event(receipt, "redeem.attested").get("supply") == 200_000
    chain.rejects("attestation_exists", PLATFORM, "redeem.attest", "IDRP", 202611, BANK, "u")
    chain.ok(PLATFORM, "redeem.attest", "IDRP", 202612, b"\x33" * 32, "https://audit/2026-12")
    found = R.attestations(chain.store, "IDRP")
    assert [(a["period"], a["uri"]) for a in found] == [
        (202611, "https://audit/2026-11"),
        (202612, "https://audit/2026-12"),
    ]
    assert [a["period"] for a in R.attestations(chain.store, "IDRP", after_period=202611)] == [
        202612
    ]


@settings(max_examples=12, deadline=None)
@given(st.lists(st.integers(1, 40 * HOUR // MINUTE), min_size=1, max_size=12))
def test_the_median_settle_time_is_exact(minutes: list[int]) -> None:
    chain = market()
    ids = [request(chain, 1 + n % 3, MERCHANT if n % 2 else MERCHANT2) for n in range(len(minutes))]
    settled: list[int] = []
    for rid, wait in zip(ids, minutes, strict=True):
        item = R.load_redemption(chain.store, rid)
        assert item is not None
        # Settle each at its own chosen delay after its request (block times must rise).
        at = max(item.created_ms + wait * MINUTE, chain.time_ms + 1)
        chain.ok(PLATFORM, "redeem.settle", rid, BANK, at_ms=at)
        settled.append(at - item.created_ms)
        expected = statistics.median_low(settled)
        if len(settled) % 2 == 0:
            ordered = sorted(settled)
            middle = len(ordered) // 2
            expected = (ordered[middle - 1] + ordered[middle]) // 2
        assert R.median_settle_ms(chain.store, PLATFORM.public_key) == expected
    summary = R.redemption_summary(chain.store, PLATFORM.public_key)
    assert summary["settled_count"] == len(minutes)
