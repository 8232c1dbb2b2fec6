"""Franchise programs: opening, joining, sub-franchises, listing thresholds, royalties."""

from __future__ import annotations

import pytest

from contracts import coin, franchise, policy
from ledger.errors import InvalidTransaction
from tests.loyalty_harness import Harness, account, named

OWNER, ADMIN, FRANCHISEE, SUB_OWNER, SUB_FRANCHISEE, BUYER, POOR = (
    account(n) for n in range(20, 27)
)
T1, T2 = 100, 300


def setup_program(h: Harness, royalty: int = 500) -> bytes:
    """KOPI (owner OWNER, admin ADMIN) with a program; returns the program id."""
    h.platform_coin("IDR", {BUYER: 10**9})
    h.call(
        OWNER, "loyalty.create", "KOPI", "Kopi", 0, 10**6, [], [OWNER, ADMIN],
        [["IDR", 100]], 0, "members",
    )  # fmt: skip
    for who, amount in ((FRANCHISEE, 150), (SUB_OWNER, 400), (SUB_FRANCHISEE, 250), (POOR, 99)):
        h.call(OWNER, "coin.mint", "KOPI", who, amount)
    events = h.call(OWNER, "franchise.open_program", "KOPI", ["latte", "mocha"], T1, T2, royalty)
    program_id: bytes = named(events, "franchise.opened")[0]["program"]
    return program_id


def open_sub(h: Harness, root: bytes, royalty: int = 200) -> bytes:
    h.call(SUB_OWNER, "franchise.join", root)
    events = h.call(SUB_OWNER, "franchise.open_sub", root, ["latte"], 200, 400, royalty)
    sub_id: bytes = named(events, "franchise.opened")[0]["program"]
    return sub_id


def can_sell(h: Harness, seller: bytes, program: bytes, product: str | None = None) -> str:
    """'ok' or the refusal code of a franchise listing in IDR."""
    try:
        policy.check_can_sell(h.state, seller, coin.require_asset(h.state, "IDR"), program, product)
    except InvalidTransaction as exc:
        return exc.code
    return "ok"


def test_open_program_records_the_franchisor_and_rules() -> None:
    h = Harness()
    program_id = setup_program(h)
    program = franchise.load_program(h.state, program_id)
    assert program == franchise.Program(
        program_id, "KOPI", OWNER, b"", 0, ("latte", "mocha"), T1, T2, 500
    )
    assert franchise.programs_of_coin(h.state, "KOPI") == [program_id]


def test_a_group_admin_may_open_a_program_too() -> None:
    h = Harness()
    setup_program(h)
    h.call(ADMIN, "franchise.open_program", "KOPI", ["teh"], 1, 1, 0)
    assert len(franchise.programs_of_coin(h.state, "KOPI")) == 2


@pytest.mark.parametrize(
    ("sender", "symbol", "products", "t1", "t2", "royalty", "code"),
    [
        (FRANCHISEE, "KOPI", ["latte"], 1, 2, 10, "not_owner"),
        (OWNER, "IDR", ["latte"], 1, 2, 10, "not_exclusive"),
        (OWNER, "KOPI", [], 1, 2, 10, "bad_args"),
        (OWNER, "KOPI", ["latte", "latte"], 1, 2, 10, "bad_args"),
        (OWNER, "KOPI", [""], 1, 2, 10, "bad_args"),
        (OWNER, "KOPI", ["latte"], 5, 4, 10, "bad_threshold"),
        (OWNER, "KOPI", ["latte"], 0, 4, 10, "bad_amount"),
        (OWNER, "KOPI", ["latte"], 1, 10**6 + 1, 10, "bad_threshold"),
        (OWNER, "KOPI", ["latte"], 1, 2, franchise.MAX_CHAIN_ROYALTY_BPS + 1, "bad_rate"),
    ],
)
def test_open_program_refusals(
    sender: bytes, symbol: str, products: list[str], t1: int, t2: int, royalty: int, code: str
) -> None:
    h = Harness()
    setup_program(h)
    assert h.reject(sender, "franchise.open_program", symbol, products, t1, t2, royalty) == code


def test_joining_needs_t1_once() -> None:
    h = Harness()
    program_id = setup_program(h)
    assert h.reject(POOR, "franchise.join", program_id) == "below_threshold"
    assert h.reject(OWNER, "franchise.join", program_id) == "is_franchisor"
    assert h.reject(FRANCHISEE, "franchise.join", bytes(32)) == "unknown_program"
    assert h.reject(FRANCHISEE, "franchise.join", b"short") == "bad_args"
    h.call(FRANCHISEE, "franchise.join", program_id)
    assert h.reject(FRANCHISEE, "franchise.join", program_id) == "already_franchisee"
    assert franchise.franchisees(h.state, program_id) == [FRANCHISEE]
    assert franchise.programs_joined(h.state, FRANCHISEE) == [program_id]


def test_a_franchise_listing_needs_t1_when_used() -> None:
    h = Harness()
    program_id = setup_program(h)
    assert can_sell(h, FRANCHISEE, program_id) == "not_franchisee"
    h.call(FRANCHISEE, "franchise.join", program_id)
    assert can_sell(h, FRANCHISEE, program_id, "latte") == "ok"
    assert can_sell(h, FRANCHISEE, program_id, "espresso") == "not_program_product"
    assert can_sell(h, FRANCHISEE, bytes(32)) == "unknown_program"
    h.call(FRANCHISEE, "coin.transfer", "KOPI", OWNER, 51)  # spends below T1 = 100
    assert can_sell(h, FRANCHISEE, program_id, "latte") == "below_threshold"
    h.call(OWNER, "coin.transfer", "KOPI", FRANCHISEE, 1)  # holds enough again
    assert can_sell(h, FRANCHISEE, program_id, "latte") == "ok"


def test_a_franchise_listing_priced_in_the_exclusive_coin_needs_membership_too() -> None:
    h = Harness()
    program_id = setup_program(h)
    h.call(FRANCHISEE, "franchise.join", program_id)
    kopi = coin.require_asset(h.state, "KOPI")
    with pytest.raises(InvalidTransaction) as refused:
        policy.check_can_sell(h.state, FRANCHISEE, kopi, program_id)
    assert refused.value.code == "not_member"


def test_a_sub_franchise_opens_with_t2_under_its_parent() -> None:
    h = Harness()
    root = setup_program(h)
    sub = open_sub(h, root)
    program = franchise.load_program(h.state, sub)
    assert program is not None
    assert (program.owner, program.parent, program.depth, program.products) == (
        SUB_OWNER,
        root,
        1,
        ("latte",),
    )
    assert franchise.sub_programs(h.state, root) == [sub]
    # an empty product list inherits the parent's products
    h.call(SUB_FRANCHISEE, "franchise.join", sub)
    h.call(OWNER, "coin.mint", "KOPI", SUB_FRANCHISEE, 200)
    events = h.call(SUB_FRANCHISEE, "franchise.open_sub", sub, [], 200, 400, 100)
    deeper = franchise.load_program(h.state, named(events, "franchise.opened")[0]["program"])
    assert deeper is not None and deeper.products == ("latte",) and deeper.depth == 2


def test_open_sub_refusals() -> None:
    h = Harness()
    root = setup_program(h, royalty=4000)
    assert h.reject(SUB_OWNER, "franchise.open_sub", root, [], 200, 400, 0) == "not_franchisee"
    h.call(FRANCHISEE, "franchise.join", root)
    assert h.reject(FRANCHISEE, "franchise.open_sub", root, [], 200, 400, 0) == "below_threshold"
    h.call(SUB_OWNER, "franchise.join", root)
    for products, t1, t2, royalty, code in (
        ([], 99, 400, 0, "bad_threshold"),  # T1 below the parent's T1
        ([], 300, 200, 0, "bad_threshold"),
        (["espresso"], 200, 400, 0, "not_program_product"),
        ([], 200, 400, 1001, "royalty_too_high"),  # 4000 + 1001 > 5000
    ):
        assert h.reject(SUB_OWNER, "franchise.open_sub", root, products, t1, t2, royalty) == code
    h.call(SUB_OWNER, "franchise.open_sub", root, [], 200, 400, 1000)
    assert (
        h.reject(SUB_OWNER, "franchise.open_sub", root, [], 200, 400, 0) == "already_sub_franchisor"
    )


def test_chains_are_bounded_in_depth() -> None:
    h = Harness()
    root = setup_program(h, royalty=0)
    sub = open_sub(h, root, royalty=0)
    h.call(OWNER, "coin.mint", "KOPI", SUB_FRANCHISEE, 1000)
    h.call(SUB_FRANCHISEE, "franchise.join", sub)
    events = h.call(SUB_FRANCHISEE, "franchise.open_sub", sub, [], 200, 400, 0)
    deepest = named(events, "franchise.opened")[0]["program"]
    h.call(OWNER, "coin.mint", "KOPI", FRANCHISEE, 1000)
    h.call(FRANCHISEE, "franchise.join", deepest)
    assert h.reject(FRANCHISEE, "franchise.open_sub", deepest, [], 200, 400, 0) == "too_deep"


def test_a_sub_franchisor_below_t2_suspends_its_franchisees() -> None:
    h = Harness()
    root = setup_program(h)
    sub = open_sub(h, root)
    h.call(SUB_FRANCHISEE, "franchise.join", sub)
    assert can_sell(h, SUB_FRANCHISEE, sub, "latte") == "ok"
    h.call(SUB_OWNER, "coin.transfer", "KOPI", OWNER, 101)  # 299 < root T2 of 300
    assert can_sell(h, SUB_FRANCHISEE, sub, "latte") == "sub_franchise_suspended"
    assert can_sell(h, SUB_OWNER, root, "latte") == "ok"  # still a franchisee of the root
    h.call(OWNER, "coin.mint", "KOPI", POOR, 300)
    assert h.reject(POOR, "franchise.join", sub) == "sub_franchise_suspended"
    tree = franchise.program_tree(h.state, root)
    assert tree is not None and tree.active and not tree.subs[0].active
    assert [f.active for f in tree.subs[0].franchisees] == [False]


def test_program_tree_reports_everyone_and_their_status() -> None:
    h = Harness()
    root = setup_program(h)
    sub = open_sub(h, root)
    h.call(FRANCHISEE, "franchise.join", root)
    h.call(SUB_FRANCHISEE, "franchise.join", sub)
    h.call(FRANCHISEE, "coin.transfer", "KOPI", OWNER, 60)  # 90 < T1
    tree = franchise.program_tree(h.state, root)
    assert tree is not None
    assert tree.program.owner == OWNER and tree.active
    statuses = {f.account: (f.balance, f.active) for f in tree.franchisees}
    assert statuses == {FRANCHISEE: (90, False), SUB_OWNER: (400, True)}
    (sub_tree,) = tree.subs
    assert sub_tree.program.program_id == sub and sub_tree.active
    assert [(f.account, f.active) for f in sub_tree.franchisees] == [(SUB_FRANCHISEE, True)]
    assert franchise.program_tree(h.state, bytes(32)) is None


def test_royalties_flow_up_the_chain_from_the_seller_proceeds() -> None:
    h = Harness()
    root = setup_program(h, royalty=500)  # 5% to OWNER
    sub = open_sub(h, root, royalty=200)  # 2% to SUB_OWNER
    h.call(SUB_FRANCHISEE, "franchise.join", sub)
    events = h.sale(SUB_FRANCHISEE, BUYER, "IDR", 10_001, program=sub)
    assert h.balance(SUB_OWNER, "IDR") == 200
    assert h.balance(OWNER, "IDR") == 500
    assert h.balance(SUB_FRANCHISEE, "IDR") == 10_001 - 700
    royalties = named(events, "franchise.royalty")
    assert [(r["level"], r["to"], r["due"], r["paid"]) for r in royalties] == [
        (0, SUB_OWNER, 200, 200),
        (1, OWNER, 500, 500),
    ]
    # Each names the seller it was taken from, so the seller's event stream carries it.
    assert [r["from"] for r in royalties] == [SUB_FRANCHISEE, SUB_FRANCHISEE]


def test_sales_outside_a_program_pay_no_royalty() -> None:
    h = Harness()
    setup_program(h)
    events = h.sale(FRANCHISEE, BUYER, "IDR", 10_000)
    assert named(events, "franchise.royalty") == []
    assert h.balance(FRANCHISEE, "IDR") == 10_000
    events = h.sale(FRANCHISEE, BUYER, "IDR", 10_000, program=bytes(32))  # unknown program
    assert named(events, "franchise.royalty") == []


def test_royalties_never_exceed_what_the_seller_holds() -> None:
    # A settlement path paying the seller less than the sale amount must not fail.
    h = Harness()
    root = setup_program(h, royalty=5000)
    h.call(FRANCHISEE, "franchise.join", root)
    child = h.state.child()
    ctx = h.context(child, BUYER)
    coin.move(child, "IDR", BUYER, FRANCHISEE, 100)
    from contracts.sales import Sale, sale_completed

    sale_completed(ctx, Sale("order", b"r", FRANCHISEE, BUYER, "IDR", 1000, None, None, root))
    paid = [dict(e.attributes)["paid"] for e in ctx.events if e.name == "franchise.royalty"]
    assert paid == [100]
    assert coin.balance(child, FRANCHISEE, "IDR") == 0


def test_leaving_ends_the_right_to_sell() -> None:
    h = Harness()
    root = setup_program(h)
    h.call(FRANCHISEE, "franchise.join", root)
    h.call(FRANCHISEE, "franchise.leave", root)
    assert can_sell(h, FRANCHISEE, root) == "not_franchisee"
    assert h.reject(FRANCHISEE, "franchise.leave", root) == "not_franchisee"
