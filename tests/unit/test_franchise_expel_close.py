"""A franchisor expels a franchisee or closes a program: its listings stop taking
orders (open orders run on), joining is refused, and the franchisee can read why."""

from __future__ import annotations

from contracts import franchise
from tests.loyalty_harness import Harness, named
from tests.unit.test_franchise import (
    ADMIN,
    FRANCHISEE,
    OWNER,
    POOR,
    SUB_FRANCHISEE,
    SUB_OWNER,
    can_sell,
    open_sub,
    setup_program,
)


def status(h: Harness, program: bytes, account: bytes) -> dict[str, object]:
    found = franchise.franchisee_status(h.state, program, account)
    assert found is not None
    return found


def test_expelling_stops_the_franchisee_selling_and_says_why() -> None:
    h = Harness()
    program = setup_program(h)
    h.call(FRANCHISEE, "franchise.join", program)
    assert can_sell(h, FRANCHISEE, program) == "ok"
    assert status(h, program, FRANCHISEE)["active"] is True
    assert h.reject(ADMIN, "franchise.expel", program, FRANCHISEE, "late fees") == "not_owner"
    assert h.reject(OWNER, "franchise.expel", program, POOR, "x") == "not_franchisee"
    assert h.reject(OWNER, "franchise.expel", program, FRANCHISEE, "") == "bad_args"
    events = h.call(OWNER, "franchise.expel", program, FRANCHISEE, "late fees")
    assert named(events, "franchise.expelled")[0]["reason"] == "late fees"
    assert can_sell(h, FRANCHISEE, program) == "franchisee_expelled"
    assert not franchise.is_franchisee(h.state, program, FRANCHISEE)
    assert h.reject(FRANCHISEE, "franchise.join", program) == "franchisee_expelled"
    seen = status(h, program, FRANCHISEE)
    assert seen["active"] is False and seen["reasons"] == ["franchisee_expelled"]
    assert seen["expelled"] == {"time_ms": seen["expelled"]["time_ms"], "reason": "late fees"}  # type: ignore[index]


def test_closing_a_program_closes_its_sub_franchises_too() -> None:
    h = Harness()
    root = setup_program(h)
    sub = open_sub(h, root)
    h.call(SUB_FRANCHISEE, "franchise.join", sub)
    assert can_sell(h, SUB_FRANCHISEE, sub) == "ok"
    assert h.reject(SUB_OWNER, "franchise.close", root, "no") == "not_owner"
    h.call(OWNER, "franchise.close", root, "brand retired")
    assert h.reject(OWNER, "franchise.close", root, "again") == "program_closed"
    assert can_sell(h, SUB_FRANCHISEE, sub) == "program_closed"
    assert can_sell(h, SUB_OWNER, root) == "program_closed"
    assert h.reject(FRANCHISEE, "franchise.join", root) == "program_closed"
    assert h.reject(FRANCHISEE, "franchise.join", sub) == "program_closed"
    seen = status(h, sub, SUB_FRANCHISEE)
    assert seen["reasons"] == ["program_closed"]
    assert seen["closed"] == {
        "program": root.hex(),
        "time_ms": seen["closed"]["time_ms"],  # type: ignore[index]
        "reason": "brand retired",
    }


def test_status_lists_every_reason() -> None:
    h = Harness()
    program = setup_program(h)
    seen = status(h, program, POOR)
    assert seen["reasons"] == ["not_franchisee", "below_threshold"]
    assert (seen["balance"], seen["t1"]) == (99, 100)
    assert franchise.franchisee_status(h.state, b"\x00" * 32, POOR) is None
