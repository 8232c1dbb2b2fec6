"""The RPC's counted slots: 503 when the node is full, 429 when one client is."""

from __future__ import annotations

import contextlib

import pytest

from node.rpc.errors import ApiError
from node.rpc.limits import Gate


def test_a_gate_refuses_per_client_then_in_total_and_frees_its_slots() -> None:
    gate = Gate("event_streams", total=3, per_client=2)
    with contextlib.ExitStack() as held:
        held.enter_context(gate.slot("a"))
        held.enter_context(gate.slot("a"))
        with pytest.raises(ApiError) as client_full:
            held.enter_context(gate.slot("a"))
        assert (client_full.value.status, client_full.value.code) == (
            429,
            "too_many_event_streams",
        )
        held.enter_context(gate.slot("b"))
        with pytest.raises(ApiError) as node_full:
            held.enter_context(gate.slot("c"))
        assert (node_full.value.status, node_full.value.code) == (503, "event_streams_full")
        assert node_full.value.headers["Retry-After"]
        assert gate.open == 3
    assert gate.open == 0
    with gate.slot("c"):  # released slots are granted again
        assert gate.open == 1
