"""signatures.json: the node's signature check gives every vector's documented answer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ledger.keys import verify
from tests.vectors.signature_vectors import HERE, L, build, render


def cases() -> list[dict[str, Any]]:
    return list(json.loads((HERE / "signatures.json").read_text(encoding="utf-8"))["cases"])


def test_stored_signature_vectors_match_the_generator() -> None:
    assert (HERE / "signatures.json").read_text(encoding="utf-8") == render(build())


@pytest.mark.parametrize("case", cases(), ids=lambda case: str(case["name"]))
def test_ledger_keys_verify_answers_each_vector(case: dict[str, Any]) -> None:
    answer = verify(
        bytes.fromhex(case["public_key"]),
        case["domain"].encode(),
        case["chain_id"],
        bytes.fromhex(case["digest"]),
        bytes.fromhex(case["signature"]),
    )
    assert answer is case["valid"], case["why"]


def test_the_refused_vectors_cover_the_rule() -> None:
    by_name = {case["name"]: case for case in cases()}
    assert {
        "valid",
        "non_canonical_s",
        "small_order_key_identity",
        "small_order_key_order_8",
        "small_order_r",
        "short_signature",
        "long_signature",
        "short_key",
    } <= set(by_name)
    valid, unreduced = by_name["valid"], by_name["non_canonical_s"]
    # Same R and the same S modulo L: only the reduction rule tells them apart.
    assert unreduced["signature"][:64] == valid["signature"][:64]
    s_valid = int.from_bytes(bytes.fromhex(valid["signature"])[32:], "little")
    s_unreduced = int.from_bytes(bytes.fromhex(unreduced["signature"])[32:], "little")
    assert s_unreduced == s_valid + L and s_valid < L <= s_unreduced
