"""Properties of account policies over random policies, signer sets and schedules."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.account import load_pending_recovery, load_policy, operation_class
from ledger.keys import PrivateKey
from tests.accountkit import HOUR_MS, IDR, coin_state, cosign, policy
from tests.chainkit import Chain, key

OWNER, BOB, OUTSIDER = key("owner"), key("bob"), key("outsider")
KEYS = [key(f"device-{i}") for i in range(5)]
ACCOUNT = OWNER.public_key
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def fresh() -> Chain:
    return Chain(app_state=coin_state([ACCOUNT, BOB.public_key]))


@st.composite
def policies(draw: st.DrawFn) -> tuple[list[tuple[PrivateKey, int]], tuple[int, int, int], int]:
    count = draw(st.integers(1, 4))
    weights = draw(st.lists(st.integers(1, 4), min_size=count, max_size=count))
    keys = list(zip(KEYS[:count], weights, strict=True))
    total = sum(weights)
    levels = sorted(draw(st.lists(st.integers(1, total), min_size=3, max_size=3)))
    large = draw(st.sampled_from([0, 50, 500]))
    return keys, (levels[0], levels[1], levels[2]), large


@SETTINGS
@given(
    policies(),
    st.lists(st.integers(0, 4), min_size=1, max_size=5, unique=True),
    st.booleans(),
    st.sampled_from([10, 100, 1000]),
)
def test_a_tx_executes_iff_distinct_known_signers_reach_its_threshold(
    drawn: tuple[list[tuple[PrivateKey, int]], tuple[int, int, int], int],
    picks: list[int],
    add_outsider: bool,
    amount: int,
) -> None:
    keys, thresholds, large = drawn
    chain = fresh()
    assert cosign(chain, ACCOUNT, [OWNER], "account.set_policy", policy(keys, thresholds, large)).ok
    signers = [KEYS[i] for i in picks] + ([OUTSIDER] if add_outsider else [])
    weights = {k.public_key: w for k, w in keys}
    known = all(s.public_key in weights for s in signers)
    weight = sum(weights.get(s.public_key, 0) for s in signers)
    args = (IDR, BOB.public_key, amount)
    level = operation_class("coin.transfer", args, large)
    needed = {"low": thresholds[0], "medium": thresholds[1], "high": thresholds[2]}[level]
    receipt = cosign(chain, ACCOUNT, signers, "coin.transfer", *args)
    assert receipt.ok == (known and weight >= needed), receipt.message
    assert chain.balance(BOB, IDR) == 1_000_000 + (amount if receipt.ok else 0)
    if not receipt.ok:
        assert receipt.code == ("insufficient_signatures" if known else "unknown_signer")


CANDIDATES = [
    "coin.transfer",
    "escrow.ship",
    "invoice.cancel",
    "invoice.create",
    "listing.withdraw",
]
OTHERS = ["account.set_policy", "coin.mint", "escrow.confirm", "exchange.order", "payment.pay"]


@SETTINGS
@given(
    st.lists(st.sampled_from(CANDIDATES), min_size=1, max_size=5, unique=True),
    st.sampled_from(CANDIDATES + OTHERS),
    st.one_of(st.none(), st.integers(0, 500)),
)
def test_a_scoped_key_never_executes_a_method_outside_its_list(
    allowed: list[str], method: str, allowance: int | None
) -> None:
    shop = KEYS[4]
    chain = fresh()
    scoped = policy([(OWNER, 1)], (1, 1, 1), scoped=[(shop, allowed, allowance)])
    assert cosign(chain, ACCOUNT, [OWNER], "account.set_policy", scoped).ok
    before = chain.snapshot()
    args = (IDR, BOB.public_key, 100) if method == "coin.transfer" else (IDR, 1, 2, 3, 4)
    receipt = cosign(chain, ACCOUNT, [shop], method, *args)
    if method not in allowed:
        assert receipt.code == "key_scope"
        assert chain.snapshot() == before
    elif method == "coin.transfer":
        assert receipt.ok == (allowance is None or allowance >= 100)
        left = load_policy(chain.store, ACCOUNT).scoped[0].allowance
        assert left == (None if allowance is None else allowance - 100 * receipt.ok)


@SETTINGS
@given(
    st.integers(1_000, 72 * HOUR_MS),
    st.lists(st.integers(1, 12 * HOUR_MS), min_size=1, max_size=8),
    st.one_of(st.none(), st.integers(0, 7)),
)
def test_recovery_waits_for_its_delay_and_cancel_wins_before_it(
    delay_ms: int, steps: list[int], cancel_at: int | None
) -> None:
    friend, spare = KEYS[0], KEYS[1]
    chain = fresh()
    guarded = policy([(OWNER, 1)], (1, 1, 1), recovery=([(friend, 1)], 1, delay_ms))
    assert cosign(chain, ACCOUNT, [OWNER], "account.set_policy", guarded).ok
    replacement = policy([(spare, 1)], (1, 1, 1))
    started = cosign(chain, ACCOUNT, [friend], "account.recover", replacement)
    assert started.ok, started.message
    effective = chain.time_ms + delay_ms
    cancelled = False
    for index, step in enumerate(steps):
        if cancel_at == index and chain.time_ms + 1_000 < effective:
            assert cosign(chain, ACCOUNT, [OWNER], "account.cancel_recovery").ok
            cancelled = True
        chain.block(advance_ms=step)
        recovered = load_policy(chain.store, ACCOUNT).keys[0][0] == spare.public_key
        assert recovered == (not cancelled and chain.time_ms >= effective)
        if cancelled:
            assert load_pending_recovery(chain.store, ACCOUNT) is None
